//! Store outages, end to end: the store is taken away from a running backend (a TCP proxy between
//! them is cut), requests that need it answer `503 store_unavailable` quickly instead of hanging,
//! liveness stays up, and the backend recovers by itself once the store is back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use adapters_postgres::MIGRATOR;
use contract_tests::ecs::EcsTarget;
use contract_tests::lambda::{DynamoTimeouts, LambdaEventTarget, PayloadFormat};
use contract_tests::proxy::TcpProxy;
use contract_tests::target::{HttpTarget, TestRequest, TestResponse};
use serde_json::json;
use test_support::dynamodb_endpoint;
use test_support::postgres::TestDatabase;

/// How long a backend waits for its store here: small, these tests are about giving up on it.
/// Answers are expected within [`ANSWER_WITHIN`], a wide margin over it.
const STORE_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest a `503` may take during the outage.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);

fn start_request(user: &str) -> TestRequest {
    TestRequest::post_json("/api/runs/start", &json!({ "sensorIds": ["s1"] })).user(user)
}

/// `host:port` of a URL (`scheme://[user:pass@]host:port[/…]`).
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// The same URL pointing at the proxy.
fn through(url: &str, proxy: &TcpProxy) -> String {
    url.replacen(authority(url), &format!("127.0.0.1:{}", proxy.port()), 1)
}

/// The outage, then the recovery, on a backend whose store goes through `proxy`.
async fn outage_and_recovery(t: &dyn HttpTarget, proxy: &TcpProxy) {
    assert_eq!(t.send(start_request("before")).await.status, 201);
    assert_eq!(t.send(TestRequest::get("/ready")).await.status, 200);

    proxy.cut();
    for request in [
        start_request("during"),
        TestRequest::get("/ready"),
        TestRequest::get("/api/runs"),
    ] {
        let asked = Instant::now();
        let r: TestResponse = t.send(request).await;
        assert_eq!(
            (r.status, r.error_code().as_str(), &r.json()["reason"]),
            (503, "store_unavailable", &serde_json::json!("unavailable")),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            asked.elapsed() < ANSWER_WITHIN,
            "took {:?}",
            asked.elapsed()
        );
        assert!(r.header("x-request-id").is_some());
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert_eq!(
        t.send(TestRequest::get("/health")).await.status,
        200,
        "liveness needs no store"
    );

    proxy.restore().await;
    let deadline = Instant::now() + test_support::PATIENT;
    loop {
        let r = t.send(start_request("after")).await;
        if r.status == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery: last answer {}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cap = t.send(TestRequest::get("/api/runs/can-start")).await.json();
    assert_eq!(
        cap["currentRunning"],
        json!(2),
        "nothing lost or doubled: {cap}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ecs_on_postgres_answers_503_during_an_outage_and_recovers_by_itself() {
    let Some(database) = TestDatabase::migrated(&MIGRATOR).await else {
        return;
    };
    let proxy = TcpProxy::start(authority(&database.url)).await;
    let url = through(&database.url, &proxy);
    let target = EcsTarget::on_postgres_at(url, database, STORE_TIMEOUT).await;
    outage_and_recovery(&*target, &proxy).await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lambda_on_dynamodb_answers_503_during_an_outage_and_recovers_by_itself() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let proxy = TcpProxy::start(authority(&endpoint)).await;
    let timeouts = DynamoTimeouts {
        operation: STORE_TIMEOUT,
        attempt: STORE_TIMEOUT / 2,
    };
    let target = LambdaEventTarget::at(
        PayloadFormat::HttpApiV2,
        &through(&endpoint, &proxy),
        timeouts,
    )
    .await;
    outage_and_recovery(&*target, &proxy).await;
    target.cleanup().await;
}
