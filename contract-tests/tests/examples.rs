//! The embedding examples of `iot-http` (`http-api/examples/`), compiled in here and driven as a
//! client would: the API under `/iot` beside the host's own routes, on the in-memory store and
//! on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use test_support::postgres::TestDatabase;
use tower::ServiceExt as _;

// `embed_postgres` includes `embed.rs` itself (as `embed_postgres::embed`).
#[path = "../../http-api/examples/embed_postgres.rs"]
#[allow(dead_code)] // the examples' `main`s
mod embed_postgres;

use embed_postgres::embed;

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String, Option<String>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap(), location)
}

/// Starts a run through the prefix; returns its id.
async fn start_run(app: &Router) -> String {
    let start = Request::post("/iot/api/runs/start")
        .header("x-user", "alice")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"sensorIds":["s-1"],"duration":30}"#))
        .unwrap();
    let (status, body, location) = send(app, start).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(
        location.as_deref(),
        Some(format!("/iot/api/runs/{id}").as_str()),
        "Location keeps the mount prefix"
    );
    id
}

async fn get(app: &Router, path: &str) -> (StatusCode, String) {
    let (status, body, _) = send(app, Request::get(path).body(Body::empty()).unwrap()).await;
    (status, body)
}

#[tokio::test]
async fn the_embedded_api_lives_under_its_prefix_beside_the_host_routes() {
    let store = std::sync::Arc::new(iot_core::memory::InMemoryStore::new());
    let app = embed::host_app(store.clone(), store);

    let id = start_run(&app).await;
    assert_eq!(
        get(&app, &format!("/iot/api/runs/{id}")).await.0,
        StatusCode::OK
    );

    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("host application"), "{body}");

    // Outside the prefix the API does not exist.
    assert_eq!(
        get(&app, "/api/runs/running").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_postgres_example_keeps_its_runs_in_the_database() {
    let Some(database) = TestDatabase::create().await else {
        eprintln!("SKIPPED: TEST_DATABASE_URL is not set");
        return;
    };
    let app = embed_postgres::host_app(&database.url).await.unwrap();
    let id = start_run(&app).await;

    // A second host on the same database (another instance, or after a restart) sees the run.
    let other = embed_postgres::host_app(&database.url).await.unwrap();
    let (status, body) = get(&other, &format!("/iot/api/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""status":"RUNNING""#), "{body}");
    database.drop().await;
}
