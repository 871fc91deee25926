//! The Lambda function through `App::handle`, the JSON in and out that the runtime exchanges:
//! the scheduled sweep, the EMF lines of HTTP requests, REST events on a named stage, identity
//! from a JWT authorizer claim. The whole HTTP contract runs through Lambda events in
//! `contract-tests` (`tests/http_lambda.rs`).
//!
//! Tests that store something need the DynamoDB emulator: `source scripts/lib/services.sh &&
//! ensure_moto` exports `TEST_DYNAMODB_ENDPOINT`; unset, they skip, unless `CI` or
//! `CI_SERVICES_REQUIRED` is set, and then they fail. Each test works on fresh random tables and
//! deletes them afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Duration;

use app_lambda::{App, Config};
use iot_core::model::{RunId, RunStatus};
use iot_core::ports::RunStore as _;
use serde_json::{Value, json};
use test_support::emf::SharedBuffer;
use test_support::{PATIENT, TableNames, dynamodb_endpoint, then_clean_up};

/// The contract settings (grace 0, small limits) on fresh tables of the emulator.
fn config(endpoint: &str, extra: &[&str]) -> Config {
    let patient = PATIENT.as_millis().to_string();
    let mut args = vec!["app-lambda".to_string()];
    args.extend(TableNames::unique("al").app_lambda_args(endpoint));
    args.extend(
        [
            "--dynamodb-operation-timeout-ms",
            &patient,
            "--dynamodb-attempt-timeout-ms",
            &patient,
            "--run-timeout-grace-secs",
            "0",
            "--max-runs-per-user",
            "3",
            "--admin-users",
            "admin",
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(str::to_string),
    );
    Config::from_args_without_env(args).unwrap()
}

/// Runs `scenario` on an app with fresh tables, deleted afterwards even when it panics.
async fn with_app<F, Fut>(extra: &[&str], scenario: F)
where
    F: FnOnce(App, SharedBuffer) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let emf = SharedBuffer::default();
    let app = app_lambda::build_with_emf_writer(&config(&endpoint, extra), Box::new(emf.clone()))
        .await
        .expect("build the app");
    then_clean_up(scenario(app.clone(), emf), async {
        app.store().delete_tables().await.expect("delete tables");
    })
    .await;
}

/// An API Gateway HTTP API (payload v2) event on the `$default` stage.
fn v2(method: &str, path: &str, user: Option<&str>, body: Option<&Value>) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = json!({ "host": "api.example", "x-forwarded-proto": "https" });
    if let Some(user) = user {
        headers["x-user"] = json!(user);
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example",
            "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": "$default", "stage": "$default",
            "http": { "method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1" }
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

fn scheduled_event() -> Value {
    serde_json::from_str(include_str!("../events/scheduled-sweep.json")).unwrap()
}

fn body_of(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().expect("a text body")).expect("a JSON body")
}

fn metric_names(doc: &Value) -> Vec<String> {
    doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_event_sweeps_timed_out_runs() {
    with_app(&[], |app, emf| async move {
        let started = app
            .handle(v2(
                "POST",
                "/api/runs/start",
                Some("alice"),
                Some(&json!({ "sensorIds": ["s1"], "duration": 1 })),
            ))
            .await;
        assert_eq!(started["statusCode"], 201, "{started}");
        let id = body_of(&started)["id"].as_str().unwrap().to_string();
        let run_id = RunId::parse("id", &id).unwrap();

        // Nothing to expire yet.
        assert_eq!(
            app.handle(scheduled_event()).await,
            json!({ "expired": 0, "purged": 0 })
        );
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        assert_eq!(
            app.handle(scheduled_event()).await,
            json!({ "expired": 1, "purged": 0 })
        );
        let stored = app.store().get_run(run_id).await.unwrap().unwrap();
        assert_eq!(
            stored.status,
            RunStatus::Timeout,
            "persisted, not only observed"
        );
        assert_eq!(stored.finished_at, Some(stored.deadline));

        let got = app
            .handle(v2("GET", &format!("/api/runs/{id}"), None, None))
            .await;
        assert_eq!(got["statusCode"], 200);
        assert_eq!(body_of(&got)["status"], json!("TIMEOUT"));
        assert_eq!(
            app.handle(scheduled_event()).await,
            json!({ "expired": 0, "purged": 0 })
        );

        let finished: Vec<Value> = emf
            .take_documents()
            .into_iter()
            .filter(|d| d.get("RunsFinished").is_some())
            .collect();
        assert_eq!(finished.len(), 1, "{finished:?}");
        assert_eq!(finished[0]["Status"], json!("TIMEOUT"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_write_the_expected_emf_lines() {
    with_app(&[], |app, emf| async move {
        let health = app.handle(v2("GET", "/health", None, None)).await;
        assert_eq!(health["statusCode"], 200);
        let docs = emf.take_documents();
        assert_eq!(docs.len(), 1, "{docs:?}");
        assert_eq!(metric_names(&docs[0]), ["ColdStart"]);
        assert_eq!(docs[0]["ColdStart"], json!(1));
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            json!("IoTPlayground/Sensors")
        );

        let started = app
            .handle(v2(
                "POST",
                "/api/runs/start",
                Some("alice"),
                Some(&json!({ "sensorIds": ["s1", "s2"] })),
            ))
            .await;
        assert_eq!(started["statusCode"], 201);
        let id = body_of(&started)["id"].as_str().unwrap().to_string();
        let docs = emf.take_documents();
        assert_eq!(docs.len(), 1, "no second ColdStart: {docs:?}");
        assert_eq!(metric_names(&docs[0]), ["RunsStarted"]);

        let batch = json!({ "readings": [
            { "sensorId": "s1", "type": "temperature", "reading": 20.5, "timestamp": "2026-11-25T10:00:00Z" },
            { "sensorId": "s1", "type": "temperature", "reading": 21.5, "timestamp": "2026-11-25T10:00:01Z" },
            { "sensorId": "s1", "type": "temperature", "reading": 21.5, "timestamp": "2026-11-25T10:00:01Z" },
            { "sensorId": "s2", "type": "humidity", "reading": 40.0, "timestamp": "2026-11-25T10:00:00Z" },
        ]});
        let stored = app
            .handle(v2(
                "POST",
                &format!("/api/runs/{id}/readings"),
                Some("alice"),
                Some(&batch),
            ))
            .await;
        assert_eq!(stored["statusCode"], 201, "{stored}");
        assert_eq!(
            body_of(&stored),
            json!({ "accepted": 3, "duplicates": 1 })
        );
        let docs = emf.take_documents();
        assert_eq!(docs.len(), 2, "one line per sensor and type: {docs:?}");
        for doc in &docs {
            assert_eq!(metric_names(doc), ["SensorReading", "DataIngested"]);
            assert_eq!(
                doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([["SensorId", "User", "RunId", "Type"]])
            );
            assert_eq!((doc["User"].clone(), doc["RunId"].clone()), (json!("alice"), json!(id)));
        }
        let s1 = docs.iter().find(|d| d["SensorId"] == "s1").unwrap();
        assert_eq!(
            (s1["Type"].clone(), s1["SensorReading"].clone(), s1["DataIngested"].clone()),
            (json!("temperature"), json!([20.5, 21.5]), json!(2))
        );
        let s2 = docs.iter().find(|d| d["SensorId"] == "s2").unwrap();
        assert_eq!(
            (s2["Type"].clone(), s2["SensorReading"].clone(), s2["DataIngested"].clone()),
            (json!("humidity"), json!(40.0), json!(1))
        );

        // A replay stores nothing and writes no metric.
        let replay = app
            .handle(v2(
                "POST",
                &format!("/api/runs/{id}/readings"),
                Some("alice"),
                Some(&batch),
            ))
            .await;
        assert_eq!(replay["statusCode"], 200);
        assert!(emf.take_documents().is_empty());

        let mut event = v2(
            "POST",
            "/api/sensors/data",
            Some("alice"),
            Some(&json!({ "sensorId": "s2", "type": "pressure", "reading": 1013.25 })),
        );
        event["headers"]["x-run-id"] = json!(id);
        let single = app.handle(event).await;
        assert_eq!(single["statusCode"], 201, "{single}");
        let docs = emf.take_documents();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["SensorReading"], json!(1013.25));
        assert_eq!(docs[0]["DataIngested"], json!(1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_events_on_a_named_stage_route_without_the_stage() {
    with_app(&[], |app, _emf| async move {
        let mut event: Value =
            serde_json::from_str(include_str!("../events/apigw-v1-stage-running.json")).unwrap();
        let answer = app.handle(event.clone()).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        assert_eq!(body_of(&answer), json!([]));
        assert!(
            answer["multiValueHeaders"]["x-request-id"].is_array(),
            "a REST response carries multiValueHeaders: {answer}"
        );
        event["path"] = json!("/api/runs/start");
        event["httpMethod"] = json!("POST");
        event["requestContext"]["httpMethod"] = json!("POST");
        event["requestContext"]["path"] = json!("/serverless-dev/api/runs/start");
        event["multiValueHeaders"]["Content-Type"] = json!(["application/json"]);
        event["multiValueHeaders"]["X-User"] = json!(["alice", "bob"]);
        event["headers"]["Content-Type"] = json!("application/json");
        event["headers"]["X-User"] = json!("bob");
        event["body"] = json!(json!({ "sensorIds": ["s1"] }).to_string());
        let answer = app.handle(event.clone()).await;
        assert_eq!(answer["statusCode"], 401, "a repeated X-User: {answer}");
        assert_eq!(body_of(&answer)["error"], json!("invalid_user"));
        event["multiValueHeaders"]["X-User"] = json!(["bob"]);
        let answer = app.handle(event).await;
        assert_eq!(answer["statusCode"], 201, "{answer}");
        assert_eq!(body_of(&answer)["username"], json!("bob"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_claims_are_the_identity_and_x_user_is_ignored() {
    with_app(
        &["--identity", "jwt-claim", "--identity-claim", "username"],
        |app, _emf| async move {
            let with_claim = |user: Option<&str>, claim: Option<&str>| {
                let mut event = v2(
                    "POST",
                    "/api/runs/start",
                    user,
                    Some(&json!({ "sensorIds": ["s1"] })),
                );
                if let Some(claim) = claim {
                    event["requestContext"]["authorizer"] =
                        json!({ "jwt": { "claims": { "username": claim, "sub": "x" }, "scopes": null } });
                }
                event
            };
            let answer = app.handle(with_claim(Some("mallory"), Some("carol"))).await;
            assert_eq!(answer["statusCode"], 201, "{answer}");
            assert_eq!(body_of(&answer)["username"], json!("carol"));
            let answer = app.handle(with_claim(Some("mallory"), None)).await;
            assert_eq!(answer["statusCode"], 401, "X-User is not an identity here");
            let answer = app.handle(with_claim(None, Some("no way"))).await;
            assert_eq!(answer["statusCode"], 401);
            assert_eq!(body_of(&answer)["error"], json!("invalid_user"));
        },
    )
    .await;
}

/// No store call is needed: the function rejects what it does not understand, and serves the
/// liveness route, before DynamoDB is ever reached.
#[tokio::test]
async fn other_payloads_are_invocation_errors() {
    let config = Config::from_args_without_env([
        "app-lambda",
        "--dynamodb-endpoint",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
    ])
    .unwrap();
    let emf = SharedBuffer::default();
    let app = app_lambda::build_with_emf_writer(&config, Box::new(emf.clone()))
        .await
        .unwrap();
    for event in [
        json!({}),
        json!({ "Records": [{ "eventSource": "aws:sqs" }] }),
        json!({ "source": "aws.events", "detail-type": "Object Created" }),
    ] {
        let answer = app.handle(event.clone()).await;
        assert_eq!(answer["errorType"], json!("UnsupportedEvent"), "{event}");
        assert!(
            answer["errorMessage"]
                .as_str()
                .unwrap()
                .contains("unsupported event")
        );
    }
    let health: Value =
        serde_json::from_str(include_str!("../events/apigw-v2-health.json")).unwrap();
    let answer = app.handle(health).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(body_of(&answer)["status"], json!("UP"));
    assert_eq!(answer["isBase64Encoded"], json!(false));
    assert!(answer["headers"]["x-request-id"].is_string());
    assert_eq!(emf.take_documents().len(), 1, "ColdStart only");
}
