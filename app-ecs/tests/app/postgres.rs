//! (d) PostgreSQL: a round trip on a fresh database; 503 `store_unavailable` fast when the
//! database cannot be reached.

use std::time::{Duration, Instant};

use adapters_postgres::MIGRATOR;
use serde_json::json;
use test_support::postgres::TestDatabase;
use test_support::{PATIENT, then_clean_up};

use crate::common::*;

/// The longest a `503` may take when the database is unreachable: a wide margin over the
/// 500 ms acquire timeout, and well below a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn round_trip_on_postgres() {
    let Some(database) = TestDatabase::migrated(&MIGRATOR).await else {
        return;
    };
    let url = database.url.clone();
    then_clean_up(round_trip(url), database.drop()).await;
}

async fn round_trip(url: String) {
    let mut config = config();
    config.database_url = Some(url);
    config.db_acquire_timeout_ms = u64::try_from(PATIENT.as_millis()).unwrap();
    let app = Running::start(&config).await; // finds the schema up to date
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

/// Nothing listens on port 1: every store call fails within the pool's acquire timeout, here a
/// small one; the answers must come well before the request timeout (30 s) would end a hang.
#[tokio::test]
async fn unreachable_database_answers_503_fast() {
    let mut config = config();
    config.database_url = Some("postgres://iot:iot@127.0.0.1:1/x".into());
    config.migrate = false;
    config.db_acquire_timeout_ms = 500;
    let app = Running::start(&config).await;
    let c = client();

    let started = Instant::now();
    let ready = c.get(app.url("/ready")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["error"], "store_unavailable");
    assert!(took < ANSWER_WITHIN, "/ready took {took:?}");

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
    assert!(took < ANSWER_WITHIN, "start took {took:?}");

    // Liveness never touches the store.
    assert_eq!(
        c.get(app.url("/health")).send().await.unwrap().status(),
        200
    );
    app.stop().await;
}
