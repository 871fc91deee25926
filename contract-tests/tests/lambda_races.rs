//! Write-once readings over HTTP with several `app-lambda` instances behind one runtime emulator,
//! so that conflicting requests really run at the same time in different processes:
//! `cargo nextest run -p contract-tests --test lambda_races`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use contract_tests::lambda::EmulatorTarget;
use contract_tests::target::{HttpTarget, TestRequest, TestResponse};
use futures::future::join_all;
use serde_json::{Value, json};

/// Function processes polling the emulator: one request each at a time.
const INSTANCES: usize = 4;
/// Rounds of each race, each on fresh keys.
const ROUNDS: usize = 4;
const READINGS: usize = 50;

fn at(round: usize, i: usize) -> String {
    format!("2026-11-25T10:{:02}:00.{:06}Z", round, i)
}

fn batch(round: usize, value: impl Fn(usize) -> f64) -> Value {
    let readings: Vec<Value> = (0..READINGS)
        .map(|i| {
            json!({"sensorId": "s1", "type": "temperature", "reading": value(i), "timestamp": at(round, i)})
        })
        .collect();
    json!({ "readings": readings })
}

async fn start_run(t: &dyn HttpTarget) -> String {
    let response = t
        .send(
            TestRequest::post_json(
                "/api/runs/start",
                &json!({"sensorIds": ["s1"], "duration": 3600}),
            )
            .user("alice"),
        )
        .await;
    assert_eq!(response.status, 201, "start: {:?}", response.json());
    response.json()["id"].as_str().unwrap().to_string()
}

fn post_batch(run: &str, body: &Value) -> TestRequest {
    TestRequest::post_json(&format!("/api/runs/{run}/readings"), body).user("alice")
}

/// The stored value of every reading of round `round`, by index.
async fn stored(t: &dyn HttpTarget, run: &str, round: usize) -> BTreeMap<usize, f64> {
    let from = at(round, 0);
    let to = at(round, READINGS);
    let response = t
        .send(TestRequest::get(&format!(
            "/api/runs/{run}/readings?sensorId=s1&from={from}&to={to}&limit=1000"
        )))
        .await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert!(body.get("nextCursor").is_none_or(Value::is_null));
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let ts = item["timestamp"].as_str().unwrap();
            let index = (0..READINGS).find(|i| at(round, *i) == ts).unwrap();
            (index, item["reading"].as_f64().unwrap())
        })
        .collect()
}

fn acknowledged(response: &TestResponse) -> bool {
    match response.status {
        200 | 201 => true,
        409 => {
            assert_eq!(response.error_code(), "reading_conflict");
            false
        }
        other => panic!("unexpected {other}: {:?}", response.json()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conflicting_batches_across_lambda_instances_acknowledge_at_most_one() {
    let Some(target) = EmulatorTarget::start_instances(INSTANCES).await else {
        return;
    };
    let t: &dyn HttpTarget = &*target;
    let run = start_run(t).await;
    let value = |b: usize, i: usize| b as f64 + i as f64 / 1000.0;
    for round in 0..ROUNDS {
        let bodies: Vec<Value> = (0..INSTANCES)
            .map(|b| batch(round, |i| value(b, i)))
            .collect();
        let responses = join_all(bodies.iter().map(|body| t.send(post_batch(&run, body)))).await;
        let winners: Vec<usize> = (0..INSTANCES)
            .filter(|b| acknowledged(&responses[*b]))
            .collect();
        assert!(
            winners.len() <= 1,
            "round {round}: acknowledged {winners:?}"
        );
        let stored = stored(t, &run, round).await;
        match winners.first() {
            Some(&b) => {
                let expected: BTreeMap<usize, f64> =
                    (0..READINGS).map(|i| (i, value(b, i))).collect();
                assert_eq!(stored, expected, "round {round}: not exactly batch {b}");
            }
            None => assert!(
                stored.is_empty(),
                "round {round}: refused batches left {stored:?}"
            ),
        }
    }
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_reading_racing_a_batch_across_lambda_instances_has_one_winner() {
    let Some(target) = EmulatorTarget::start_instances(2).await else {
        return;
    };
    let t: &dyn HttpTarget = &*target;
    let run = start_run(t).await;
    for round in 0..ROUNDS {
        let body = batch(round, |i| 100.0 + i as f64);
        let single = TestRequest::post_json(
            "/api/sensors/data",
            &json!({"sensorId": "s1", "type": "temperature", "reading": -1.0, "timestamp": at(round, 25)}),
        )
        .user("alice")
        .header("X-Run-Id", &run);
        let (single, batch) = futures::join!(t.send(single), t.send(post_batch(&run, &body)));
        let stored = stored(t, &run, round).await;
        match (acknowledged(&single), acknowledged(&batch)) {
            (true, false) => assert_eq!(stored, BTreeMap::from([(25, -1.0)]), "round {round}"),
            (false, true) => {
                let expected: BTreeMap<usize, f64> =
                    (0..READINGS).map(|i| (i, 100.0 + i as f64)).collect();
                assert_eq!(stored, expected, "round {round}");
            }
            other => panic!("round {round}: expected exactly one winner, got {other:?}"),
        }
    }
    target.cleanup().await;
}
