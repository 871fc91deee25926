//! (d) PostgreSQL: a round trip on a fresh database; 503 `store_unavailable` fast when the
//! database cannot be reached.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection as _;

use crate::common::*;

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[tokio::test]
async fn round_trip_on_postgres() {
    let admin_url = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            assert!(
                !services_required(),
                "TEST_DATABASE_URL is not set but CI/CI_SERVICES_REQUIRED is: \
                 run `source scripts/lib/services.sh && ensure_postgres`"
            );
            eprintln!("SKIPPED: TEST_DATABASE_URL not set");
            return;
        }
    };
    let name = format!("iot_ecs_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at TEST_DATABASE_URL: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = with_database(&admin_url, &name);

    let outcome = tokio::spawn(round_trip(url)).await;

    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    admin.close().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    dropped.unwrap();
}

async fn round_trip(url: String) {
    let mut config = config();
    config.database_url = Some(url);
    let app = Running::start(&config).await; // migrates
    let c = client();
    assert_eq!(c.get(app.url("/ready")).send().await.unwrap().status(), 200);

    let run = start_run(&app, "dave", &["s-1"]).await;
    let reading = json!({"sensorId": "s-1", "type": "temperature", "reading": 20.5,
                         "timestamp": "2026-11-25T10:00:00.123456Z"});
    assert_eq!(post_reading(&app, "dave", &run, reading.clone()).await, 201);
    // A retry is answered from the store, not stored twice.
    assert_eq!(post_reading(&app, "dave", &run, reading).await, 200);

    let page: serde_json::Value = c
        .get(app.url(&format!("/api/runs/{run}/readings")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["reading"], 20.5);
    assert_eq!(items[0]["timestamp"], "2026-11-25T10:00:00.123456Z");

    let text = scrape(&app, "/metrics").await;
    let labels = sensor_labels("s-1", "temperature", "dave", &run);
    assert!(
        text.contains(&format!("sensor_data_ingested_total{labels} 1")),
        "{text}"
    );
    assert!(text.contains(
        r#"store_operation_duration_seconds_count{operation="insert_reading",outcome="ok"}"#
    ));

    finish_run(&app, "dave", &run).await;
    let stored: serde_json::Value = c
        .get(app.url(&format!("/api/runs/{run}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], "SUCCESS");
    app.stop().await;
}

/// Nothing listens on port 1: every store call fails within the pool's acquire timeout (2 s).
#[tokio::test]
async fn unreachable_database_answers_503_fast() {
    let mut config = config();
    config.database_url = Some("postgres://iot:iot@127.0.0.1:1/x".into());
    config.migrate = false;
    let app = Running::start(&config).await;
    let c = client();

    let started = Instant::now();
    let ready = c.get(app.url("/ready")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["error"], "store_unavailable");
    assert!(took < Duration::from_millis(3500), "/ready took {took:?}");

    let started = Instant::now();
    let start = c
        .post(app.url("/api/runs/start"))
        .header("X-User", "erin")
        .json(&json!({"sensorIds": ["s-1"]}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(start.status(), 503);
    let body: serde_json::Value = start.json().await.unwrap();
    assert_eq!(body["error"], "store_unavailable");
    assert!(took < Duration::from_millis(3500), "start took {took:?}");

    // Liveness never touches the store.
    assert_eq!(
        c.get(app.url("/health")).send().await.unwrap().status(),
        200
    );
    app.stop().await;
}
