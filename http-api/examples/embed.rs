//! Another axum service embedding the iot-playground API under `/iot`, beside its own routes, on
//! the in-memory store.
//!
//! ```text
//! cargo run -p iot-http --example embed        # listens on 127.0.0.1:3000 (PORT overrides)
//! curl localhost:3000/
//! curl -X POST localhost:3000/iot/api/runs/start -H 'X-User: alice' \
//!      -H 'Content-Type: application/json' -d '{"sensorIds":["s-1"]}'
//! ```
//!
//! `examples/embed_postgres.rs` mounts the same host application on PostgreSQL.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use iot_core::memory::InMemoryStore;
use iot_core::ports::{NoMetrics, ReadingStore, RunStore};
use iot_core::service::RunConfig;
use iot_http::identity::UserHeader;
use iot_http::{AppState, HttpConfig};

/// Where the API is mounted in the host application.
pub const PREFIX: &str = "/iot";

/// The host application: its own `GET /`, and API v1 under [`PREFIX`] (e.g.
/// `POST /iot/api/runs/start`) on the given store, with default settings.
pub fn host_app(runs: Arc<dyn RunStore>, readings: Arc<dyn ReadingStore>) -> Router {
    let state = AppState::new(
        runs,
        readings,
        Arc::new(NoMetrics),
        RunConfig::default(),
        Arc::new(UserHeader),
    );
    Router::new()
        .route(
            "/",
            get(|| async { "host application; the IoT API lives under /iot\n" }),
        )
        .nest(PREFIX, iot_http::router(state, &HttpConfig::default()))
}

/// Serves `app` on 127.0.0.1:`PORT` (default 3000) until Ctrl-C.
pub async fn serve(app: Router) -> anyhow::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse().context("PORT must be a port number")?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("embedded API on http://{}{PREFIX}/", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store = Arc::new(InMemoryStore::new());
    serve(host_app(store.clone(), store)).await
}
