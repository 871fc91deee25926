//! The router of `examples/embed.rs`: the API under `/iot` beside the host's own `/`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

async fn body_text(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn embedded_router_serves_the_api_under_its_prefix() {
    let router = app_ecs::embed::embedded_router();

    let start = Request::post("/iot/api/runs/start")
        .header("x-user", "alice")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"sensorIds":["s-1"],"duration":30}"#))
        .unwrap();
    let response = router.clone().oneshot(start).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let run: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(run["status"], "RUNNING");
    let id = run["id"].as_str().unwrap();
    assert_eq!(
        location,
        format!("/iot/api/runs/{id}"),
        "Location keeps the mount prefix"
    );

    // Same store behind the nested routes.
    let get = Request::get(format!("/iot/api/runs/{id}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router.clone().oneshot(get).await.unwrap().status(),
        StatusCode::OK
    );

    let host = Request::get("/").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(host).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body_text(response).await.contains("host application"));

    // Outside the prefix the API does not exist.
    let outside = Request::get("/api/runs/running")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router.oneshot(outside).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}
