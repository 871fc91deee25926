//! (c) graceful shutdown: in-flight requests finish, bounded by the shutdown timeout.

use std::time::{Duration, Instant};

use app_ecs::build_app;
use axum::routing::get;

use crate::common::*;

/// The app of the binary plus a slow test-only route.
async fn app_with_slow_route(config: &app_ecs::Config, delay: Duration) -> Running {
    let mut app = build_app(config).await.unwrap();
    app.router = app.router.route(
        "/test/slow",
        get(move || async move {
            tokio::time::sleep(delay).await;
            "done"
        }),
    );
    Running::start_app(app).await
}

#[tokio::test]
async fn in_flight_request_completes_after_the_signal() {
    let mut app = app_with_slow_route(&config(), Duration::from_millis(1500)).await;
    let url = app.url("/test/slow");
    let health = app.url("/health");
    let slow = tokio::spawn(async move {
        let response = client().get(url).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    app.signal();

    let (status, body) = slow.await.unwrap();
    assert_eq!((status.as_u16(), body.as_str()), (200, "done"));
    app.stop_within(Duration::from_secs(5)).await.unwrap();
    assert!(signalled.elapsed() >= Duration::from_millis(1000));
    // No longer listening.
    assert!(client().get(health).send().await.is_err());
}

#[tokio::test]
async fn shutdown_timeout_bounds_the_drain() {
    let mut config = config();
    config.shutdown_timeout_secs = 1;
    let mut app = app_with_slow_route(&config, Duration::from_secs(60)).await;
    let url = app.url("/test/slow");
    let _stuck = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    app.signal();
    app.stop_within(Duration::from_secs(5)).await.unwrap();
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "serve returned after {took:?}"
    );
}
