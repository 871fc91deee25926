//! Embedding the API in another axum service (see the README, "Embedding the library"): the router of `iot-http`, on the
//! in-memory store, mounted under `/iot` next to the host application's own routes.
//!
//! `examples/embed.rs` serves [`embedded_router`]; the tests exercise the same router.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app_ecs::embed::embedded_router()).await
//! # }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use iot_core::memory::InMemoryStore;
use iot_core::ports::NoMetrics;
use iot_core::service::RunConfig;
use iot_http::identity::UserHeader;
use iot_http::{AppState, HttpConfig};

/// Where the API is mounted in the host application.
pub const PREFIX: &str = "/iot";

/// A host application: its own `GET /`, and API v1 under [`PREFIX`] (e.g.
/// `POST /iot/api/runs/start`) on a fresh in-memory store with default settings.
pub fn embedded_router() -> Router {
    let store = Arc::new(InMemoryStore::new());
    let state = AppState::new(
        store.clone(),
        store,
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
