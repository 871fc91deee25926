//! Backpressure of `app-ecs` on PostgreSQL: many concurrent requests of every kind queue in front
//! of the pool and are all served while the store is up; beyond the configured line, requests
//! are refused at once with `503 store_unavailable` (`reason` `busy`) and `Retry-After`, without
//! waiting for the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contract_tests::ecs::EcsTarget;
use contract_tests::target::{HttpTarget, TestRequest, TestResponse};
use serde_json::json;
use sqlx::Connection as _;
use tokio::task::JoinSet;

/// Concurrent requests of the mixed load.
const CONCURRENT: usize = 500;

fn start(user: &str) -> TestRequest {
    TestRequest::post_json(
        "/api/runs/start",
        &json!({ "sensorIds": ["s1", "s2"], "duration": 3600 }),
    )
    .user(user)
}

/// Instant `n` of a run, one second apart, in 2026.
fn at(n: usize) -> String {
    let (minute, second) = (n / 60 % 60, n % 60);
    format!("2026-11-25T{:02}:{minute:02}:{second:02}Z", n / 3600)
}

/// The `i`-th request of the mix, for the runs `runs` of users `user{k}`.
fn mixed(i: usize, runs: &[String]) -> (&'static str, TestRequest) {
    let k = i % runs.len();
    let (user, run) = (format!("user{k}"), &runs[k]);
    match i % 20 {
        // 12 of 20: single readings, each at an instant of its own.
        0..=11 => (
            "single",
            TestRequest::post_json(
                "/api/sensors/data",
                &json!({ "sensorId": "s1", "type": "temperature", "reading": 20.5,
                         "timestamp": at(i) }),
            )
            .user(&user)
            .header("X-Run-Id", run),
        ),
        // 2 of 20: batches of 10 readings of the other sensor.
        12 | 13 => {
            let readings: Vec<_> = (0..10)
                .map(|j| {
                    json!({ "sensorId": "s2", "type": "humidity", "reading": 40.0,
                            "timestamp": at(i * 10 + j) })
                })
                .collect();
            (
                "batch",
                TestRequest::post_json(
                    &format!("/api/runs/{run}/readings"),
                    &json!({ "readings": readings }),
                )
                .user(&user),
            )
        }
        14 | 15 => (
            "page",
            TestRequest::get(&format!("/api/runs/{run}/readings?limit=50")).user(&user),
        ),
        16 | 17 => (
            "summary",
            TestRequest::get(&format!("/api/runs/{run}/summary")).user(&user),
        ),
        18 => ("runs", TestRequest::get("/api/runs?limit=20").user(&user)),
        // Starts by users without a run: admitted while capacity lasts, then refused (429).
        _ => ("start", start(&format!("starter{i}"))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ecs_serves_500_concurrent_mixed_requests_without_503() {
    // The production wait for a connection (a request in its turn finds one at once), and a
    // patient line: no request may give up waiting for the pool.
    let patient = test_support::PATIENT.as_millis().to_string();
    let flags = [
        ("--db-acquire-timeout-ms", "2000"),
        ("--db-queue-timeout-ms", patient.as_str()),
    ];
    let Some(target) = EcsTarget::on_postgres_with(&flags).await else {
        return;
    };
    let mut runs = Vec::new();
    for k in 0..2 {
        let r = target.send(start(&format!("user{k}"))).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        runs.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let target = Arc::new(target);
    let mut requests = JoinSet::new();
    for i in 0..CONCURRENT {
        let (kind, request) = mixed(i, &runs);
        let target = target.clone();
        requests.spawn(async move { (kind, target.send(request).await) });
    }
    let mut statuses: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    let mut stored = 0;
    while let Some(answer) = requests.join_next().await {
        let (kind, r) = answer.unwrap();
        let expected = match kind {
            "single" | "batch" => r.status == 201,
            "start" => {
                r.status == 201
                    || (r.status, r.error_code().as_str()) == (429, "capacity_exhausted")
            }
            _ => r.status == 200,
        };
        assert!(
            expected,
            "{kind}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        if kind == "single" {
            stored += 1;
        } else if kind == "batch" {
            stored += r.json()["accepted"].as_u64().unwrap();
        }
        *statuses.entry((kind, r.status)).or_default() += 1;
    }
    eprintln!("answers by kind and status: {statuses:?}");
    // Every acknowledged reading is there.
    let mut counted = 0;
    for (k, run) in runs.iter().enumerate() {
        let summary = target
            .send(TestRequest::get(&format!("/api/runs/{run}/summary")).user(&format!("user{k}")))
            .await
            .json();
        counted += summary["sensors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["count"].as_u64().unwrap_or(0))
            .sum::<u64>();
    }
    assert_eq!(counted, stored);
    Arc::into_inner(target).unwrap().cleanup().await;
}

/// Whether a statement of the app is waiting on a lock.
async fn app_waits_on_a_lock(db: &mut sqlx::PgConnection) -> bool {
    sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE application_name = 'iot-playground' AND wait_event_type = 'Lock'",
    )
    .fetch_one(db)
    .await
    .unwrap()
        > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ecs_refuses_at_once_beyond_its_line_and_serves_the_line() {
    let patient = test_support::PATIENT.as_millis().to_string();
    let flags = [
        ("--db-max-in-flight", "1"),
        ("--db-max-waiting", "1"),
        ("--db-queue-timeout-ms", patient.as_str()),
        ("--db-statement-timeout-ms", patient.as_str()),
    ];
    let Some(target) = EcsTarget::on_postgres_with(&flags).await else {
        return;
    };
    let target = Arc::new(target);
    let list = || TestRequest::get("/api/runs").user("alice");
    assert_eq!(target.send(list()).await.status, 200);

    // A second session locks the runs table: the app's only turn is held by a blocked request.
    let mut db = sqlx::PgConnection::connect(target.database_url().unwrap())
        .await
        .unwrap();
    let mut lock = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let blocked = tokio::spawn({
        let target = target.clone();
        async move { target.send(list()).await }
    });
    let mut watcher = sqlx::PgConnection::connect(target.database_url().unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + test_support::PATIENT;
    while !app_waits_on_a_lock(&mut watcher).await {
        assert!(
            Instant::now() < deadline,
            "the request never reached the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // One more fits in line; the others are refused while the store is still blocked.
    let mut others = JoinSet::new();
    for _ in 0..12 {
        let target = target.clone();
        others.spawn(async move { target.send(list()).await });
    }
    let mut refused: Vec<TestResponse> = Vec::new();
    while refused.len() < 11 {
        let r = tokio::time::timeout(test_support::PATIENT, others.join_next())
            .await
            .expect("11 requests refused while the store is blocked")
            .unwrap()
            .unwrap();
        refused.push(r);
    }
    assert!(
        !blocked.is_finished(),
        "the blocked request is still waiting"
    );
    assert!(app_waits_on_a_lock(&mut watcher).await);
    for r in &refused {
        assert_eq!(
            (r.status, r.error_code().as_str(), &r.json()["reason"]),
            (503, "store_unavailable", &serde_json::json!("busy")),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert_eq!(
        target.send(TestRequest::get("/ready")).await.status,
        200,
        "readiness does not wait in the line"
    );

    // Once the store moves again, the blocked request and the one in line are served.
    lock.rollback().await.unwrap();
    assert_eq!(blocked.await.unwrap().status, 200);
    let queued = others.join_next().await.unwrap().unwrap();
    assert_eq!(
        queued.status,
        200,
        "{}",
        String::from_utf8_lossy(&queued.body)
    );
    assert!(others.join_next().await.is_none());
    Arc::into_inner(target).unwrap().cleanup().await;
}
