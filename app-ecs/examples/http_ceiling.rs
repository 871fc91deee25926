//! The HTTP ceiling of this machine for the benchmarks: a trivial axum handler that accepts a
//! JSON reading and answers `201` with a small JSON body, with no store and no middleware.
//! `bench/run` measures it next to `app-ecs` so that figures are ratios, not absolute numbers.
//!
//! `cargo run --release -p app-ecs --example http_ceiling -- 18081`

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "18081".into());
    let app = Router::new().route(
        "/api/sensors/data",
        post(|body: axum::body::Bytes| async move {
            (
                StatusCode::CREATED,
                format!("{{\"received\":{}}}", body.len()),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await
}
