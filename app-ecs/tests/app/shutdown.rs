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

/// SIGTERM under load, behind a load balancer: `/ready` turns `503` at once, the server keeps
/// serving during the drain with `Connection: close`, and a client that stops sending when
/// readiness fails (as a load balancer does) sees no failed request.
#[tokio::test]
async fn sigterm_drains_without_failing_a_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let mut config = config();
    config.shutdown_drain_secs = 3;
    let mut app = Running::start(&config).await;
    let run = start_run(&app, "erin", &["s-1"]).await;
    let deregistered = Arc::new(AtomicBool::new(false));
    let (ok, failed, closing) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );

    let load: Vec<_> = (0..32)
        .map(|_| {
            let (url, client) = (app.url(&format!("/api/runs/{run}")), client());
            let (deregistered, ok, failed, closing) = (
                deregistered.clone(),
                ok.clone(),
                failed.clone(),
                closing.clone(),
            );
            tokio::spawn(async move {
                while !deregistered.load(Ordering::SeqCst) {
                    match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            if r.headers().get("connection").is_some_and(|v| v == "close") {
                                closing.fetch_add(1, Ordering::SeqCst);
                            }
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    let balancer = {
        let (url, deregistered) = (app.url("/ready"), deregistered.clone());
        tokio::spawn(async move {
            let client = client();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let ready = client.get(&url).send().await;
                if !ready.is_ok_and(|r| r.status() == 200) {
                    deregistered.store(true, Ordering::SeqCst);
                    return Instant::now();
                }
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_signal = ok.load(Ordering::SeqCst);
    let signalled = Instant::now();
    app.signal();
    let noticed = balancer.await.unwrap();
    for task in load {
        task.await.unwrap();
    }
    app.stop_within(Duration::from_secs(20)).await.unwrap();

    assert_eq!(failed.load(Ordering::SeqCst), 0);
    assert!(before_signal > 0);
    assert!(noticed.duration_since(signalled) < Duration::from_secs(2));
    // Serving went on after the signal, and those answers asked to close the connection.
    assert!(ok.load(Ordering::SeqCst) > before_signal);
    assert!(closing.load(Ordering::SeqCst) > 0);
    assert!(signalled.elapsed() >= Duration::from_secs(3));
}

/// During the drain `/ready` answers `503 draining` with the usual headers while the API still
/// answers; new connections are still accepted.
#[tokio::test]
async fn ready_answers_503_as_soon_as_the_drain_starts() {
    let mut config = config();
    config.shutdown_drain_secs = 2;
    let mut app = Running::start(&config).await;
    app.signal();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let ready = client().get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.headers().contains_key("x-request-id"));
    assert_eq!(ready.headers()["connection"], "close");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["error"], "draining");
    let health = client().get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop_within(Duration::from_secs(20)).await.unwrap();
}
