//! Another axum service embedding the iot-playground API under `/iot` (see the README, "Embedding the library").
//!
//! ```text
//! cargo run -p app-ecs --example embed          # listens on 127.0.0.1:3000 (PORT overrides)
//! curl localhost:3000/
//! curl -X POST localhost:3000/iot/api/runs/start -H 'X-User: alice' \
//!      -H 'Content-Type: application/json' -d '{"sensorIds":["s-1"]}'
//! ```

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse().context("PORT must be a port number")?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("embedded API on http://{}/iot", listener.local_addr()?);
    axum::serve(listener, app_ecs::embed::embedded_router())
        .with_graceful_shutdown(app_ecs::shutdown_signal())
        .await?;
    Ok(())
}
