//! The host application of `examples/embed.rs` on PostgreSQL: the API under `/iot`, its runs and
//! readings in the database of `DATABASE_URL` (the schema is created or updated at start).
//!
//! ```text
//! DATABASE_URL=postgres://user:pass@127.0.0.1:5432/iot cargo run -p iot-http --example embed_postgres
//! curl -X POST localhost:3000/iot/api/runs/start -H 'X-User: alice' \
//!      -H 'Content-Type: application/json' -d '{"sensorIds":["s-1"]}'
//! ```

use std::sync::Arc;

use adapters_postgres::{PgOptions, PgStore};
use anyhow::Context as _;
use axum::Router;

#[path = "embed.rs"]
#[allow(dead_code)] // its `main` is the other example's
pub(crate) mod embed;

/// Connects to `database_url`, brings its schema up to date, and mounts the API on it.
pub async fn host_app(database_url: &str) -> anyhow::Result<Router> {
    let store = Arc::new(PgStore::connect(database_url, &PgOptions::default()).await?);
    store.migrate().await?;
    Ok(embed::host_app(store.clone(), store))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").context("set DATABASE_URL to a PostgreSQL URL")?;
    embed::serve(host_app(&url).await?).await
}
