//! (a) start, ingest, scrape, finish, prune on the in-memory store; (b) promtool.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn start_ingest_scrape_and_series_gone_after_finish() {
    let mut config = config();
    config.metrics_retention_secs = 0;
    let app = Running::start(&config).await;
    let c = client();

    let health = c.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let run = start_run(&app, "alice", &["s-1", "s-2"]).await;
    let reading = json!({"sensorId": "s-1", "type": "temperature", "reading": 21.5});
    assert_eq!(post_reading(&app, "alice", &run, reading).await, 201);
    let reading = json!({"sensorId": "s-2", "type": "humidity", "reading": 40});
    assert_eq!(post_reading(&app, "alice", &run, reading).await, 201);
    let get = c
        .get(app.url(&format!("/api/runs/{run}")))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let missing = c.get(app.url("/no/such/path")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    for path in ["/metrics", "/actuator/prometheus"] {
        let text = scrape(&app, path).await;
        let s1 = sensor_labels("s-1", "temperature", "alice", &run);
        let s2 = sensor_labels("s-2", "humidity", "alice", &run);
        for line in [
            format!("sensor_data_value{s1} 21.5"),
            format!("sensor_data_ingested_total{s1} 1"),
            format!("sensor_data_value{s2} 40.0"),
            format!("sensor_data_ingested_total{s2} 1"),
            "runs_started_total 1".to_owned(),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
        // HTTP timings by route template, never by raw path.
        for route in [
            r#"route="/api/runs/start",status="201""#,
            r#"route="/api/sensors/data",status="201""#,
            r#"route="/api/runs/{id}",status="200""#,
            r#"route="unmatched",status="404""#,
        ] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with("http_request_duration_seconds_count")
                        && l.contains(route)),
                "{route} missing in:\n{text}"
            );
        }
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("http_request")
                    && (l.contains(&run) || l.contains("/no/such"))),
            "raw paths in the HTTP metrics:\n{text}"
        );
        assert!(text.contains(
            r#"store_operation_duration_seconds_count{operation="create_run",outcome="ok"}"#
        ));
    }

    finish_run(&app, "alice", &run).await;
    // Retention 0: the render of the scrape prunes the finished run's series.
    let text = scrape(&app, "/metrics").await;
    assert!(
        !text.lines().any(|l| l.contains(&format!(r#"run="{run}""#))),
        "series of the finished run still exposed:\n{text}"
    );
    assert!(text.contains(r#"runs_finished_total{status="SUCCESS"} 1"#));
    assert_eq!(app.metrics.tracked_runs(), 0);
    app.stop().await;
}

#[tokio::test]
async fn finished_run_series_kept_within_retention_then_pruned() {
    let app = Running::start(&config()).await; // retention 300 s
    let run = start_run(&app, "bob", &["s-1"]).await;
    let other = start_run(&app, "bob", &["s-1"]).await;
    for id in [&run, &other] {
        let reading = json!({"sensorId": "s-1", "type": "pressure", "reading": 1013.25});
        assert_eq!(post_reading(&app, "bob", id, reading).await, 201);
    }
    finish_run(&app, "bob", &run).await;
    let finished = Instant::now();

    let text = scrape(&app, "/metrics").await;
    let labels = sensor_labels("s-1", "pressure", "bob", &run);
    assert!(
        text.contains(&format!("sensor_data_value{labels} 1013.25")),
        "{text}"
    );

    assert_eq!(app.metrics.prune(finished + Duration::from_secs(299)), 0);
    assert_eq!(app.metrics.prune(finished + Duration::from_secs(301)), 1);
    let text = scrape(&app, "/metrics").await;
    assert!(!text.contains(&format!(r#"run="{run}""#)), "{text}");
    // The running run keeps its series.
    let labels = sensor_labels("s-1", "pressure", "bob", &other);
    assert!(
        text.contains(&format!("sensor_data_ingested_total{labels} 1")),
        "{text}"
    );
    app.stop().await;
}

/// `promtool check metrics` on an exposition holding every metric family with samples.
#[tokio::test]
async fn exposition_passes_promtool() {
    let version = Command::new("promtool").arg("--version").output();
    if version.is_err() {
        assert!(
            !test_support::services_required(),
            "promtool is not on PATH but CI/CI_SERVICES_REQUIRED is set: \
             run `source scripts/lib/services.sh && ensure_promtool`"
        );
        eprintln!("SKIPPED: promtool not on PATH (set CI_SERVICES_REQUIRED=1 to make this fail)");
        return;
    }
    let app = Running::start(&config()).await;
    let c = client();
    let run = start_run(&app, "carol", &["s-1"]).await;
    let reading = json!({"sensorId": "s-1", "type": "temperature", "reading": -3.5,
                         "timestamp": "2026-11-25T10:00:00Z"});
    assert_eq!(post_reading(&app, "carol", &run, reading).await, 201);
    let batch = c
        .post(app.url(&format!("/api/runs/{run}/readings")))
        .header("X-User", "carol")
        .json(&json!({"readings": [
            {"sensorId": "s-1", "type": "humidity", "reading": 55.5},
            {"sensorId": "s-1", "type": "pressure", "reading": 990}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 201);
    let bad = c.get(app.url("/api/runs/not-a-uuid")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let other = start_run(&app, "carol", &["s-9"]).await;
    finish_run(&app, "carol", &other).await;

    let text = scrape(&app, "/metrics").await;
    for family in [
        "sensor_data_value{",
        "sensor_data_ingested_total{",
        "runs_started_total ",
        "runs_finished_total{",
        "store_operation_duration_seconds_bucket{",
        "http_request_duration_seconds_bucket{",
        "sensor_series_evicted_total ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(family)),
            "{family} missing:\n{text}"
        );
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed: {findings}\n{text}"
    );
    assert!(findings.trim().is_empty(), "promtool findings: {findings}");
    app.stop().await;
}

/// `--web-dir`: files at `/`, the API and its JSON 404 unchanged.
#[tokio::test]
async fn web_dir_is_served_at_the_root() {
    let dir = std::env::temp_dir().join(format!("app-ecs-web-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>IoT Playground</h1>").unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
    let mut config = config();
    config.web_dir = Some(dir.clone());
    let app = Running::start(&config).await;
    let c = client();

    let index = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.headers().contains_key("x-request-id"));
    assert_eq!(index.text().await.unwrap(), "<h1>IoT Playground</h1>");
    let js = c.get(app.url("/assets/app.js")).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        c.get(app.url("/health")).send().await.unwrap().status(),
        200
    );

    let missing = c.get(app.url("/api/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "route_not_found");
    let post = c
        .post(app.url("/nope"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 404);

    app.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

/// The OpenAPI document of the ECS binary also lists its own routes, `/metrics` and its alias.
#[tokio::test]
async fn the_openapi_document_lists_the_metrics_routes() {
    let app = Running::start(&config()).await;
    let doc: serde_json::Value = client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in ["/metrics", "/actuator/prometheus", "/api/runs/start"] {
        assert!(
            doc["paths"][path]["get"].is_object() || doc["paths"][path]["post"].is_object(),
            "{path}"
        );
    }
    app.stop().await;
}

/// `app-ecs --health-check` (the image's HEALTHCHECK) sees a live instance as healthy and a closed
/// port as not.
#[tokio::test]
async fn the_health_probe_tells_a_live_port_from_a_closed_one() {
    let app = Running::start(&config()).await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    assert!(app_ecs::probe_health(port, Duration::from_secs(2)).await);
    app.stop().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    assert!(!app_ecs::probe_health(closed_port, Duration::from_secs(2)).await);
}
