//! The HTTP contract: the API of `docs/api.md` as scenarios, one per behaviour, run against every binary through
//! an [`HttpTarget`]. Every target runs the API with [`contract_config`](crate::target::contract_config)
//! on a fresh, empty store.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::target::contract_config::{GRAFANA_URL, MAX_CONCURRENT_RUNS, MAX_RUNS_PER_USER};
use crate::target::{ALLOWED_ORIGIN, HttpTarget, TestRequest, TestResponse};

// ---------------------------------------------------------------------------------------------
// helpers

async fn start(t: &dyn HttpTarget, user: &str, sensors: &[&str]) -> Value {
    let r = t
        .send(
            TestRequest::post_json(
                "/api/runs/start",
                &json!({ "sensorIds": sensors, "duration": 600, "interval": 0.2 }),
            )
            .user(user),
        )
        .await;
    assert_eq!(
        r.status,
        201,
        "start failed: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

async fn start_short(t: &dyn HttpTarget, user: &str) -> Value {
    let r = t
        .send(
            TestRequest::post_json(
                "/api/runs/start",
                &json!({ "sensorIds": ["s1"], "duration": 1 }),
            )
            .user(user),
        )
        .await;
    assert_eq!(r.status, 201);
    r.json()
}

fn id_of(run: &Value) -> String {
    run["id"].as_str().expect("run id").to_string()
}

/// Every reading stored for a run (up to 1000), ascending.
async fn stored_readings(t: &dyn HttpTarget, run_id: &str) -> Vec<Value> {
    let page = t
        .send(TestRequest::get(&format!(
            "/api/runs/{run_id}/readings?limit=1000"
        )))
        .await
        .json();
    page["items"].as_array().cloned().unwrap_or_default()
}

fn reading_request(user: &str, run_id: &str, body: &Value) -> TestRequest {
    TestRequest::post_json("/api/sensors/data", body)
        .user(user)
        .header("x-run-id", run_id)
}

async fn send_reading(t: &dyn HttpTarget, user: &str, run_id: &str, body: &Value) -> TestResponse {
    t.send(reading_request(user, run_id, body)).await
}

async fn batch(t: &dyn HttpTarget, user: &str, run_id: &str, readings: &Value) -> TestResponse {
    t.send(
        TestRequest::post_json(
            &format!("/api/runs/{run_id}/readings"),
            &json!({ "readings": readings }),
        )
        .user(user),
    )
    .await
}

async fn finish(t: &dyn HttpTarget, user: &str, run_id: &str, body: &Value) -> TestResponse {
    t.send(TestRequest::post_json(&format!("/api/runs/{run_id}/finish"), body).user(user))
        .await
}

fn assert_error(r: &TestResponse, status: u16, code: &str) {
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (status, code),
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
    let body = r.json();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error carries a message"
    );
    assert!(
        r.header("x-request-id").is_some(),
        "errors carry X-Request-Id too"
    );
}

fn assert_field(r: &TestResponse, status: u16, field: &str) {
    assert_eq!(
        r.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        r.json()["field"],
        json!(field),
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
}

/// `2026-11-25T10:00:00.000000Z`.
fn is_micros_utc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 27
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[26] == b'Z'
        && b[20..26].iter().all(u8::is_ascii_digit)
}

const RANDOM_ID: &str = "00000000-0000-4000-8000-000000000000";

// ---------------------------------------------------------------------------------------------
// runs

/// `POST /api/runs/start` answers `201`, `Location` and the full run JSON with defaults.
pub async fn start_answers_201_with_location_and_the_run(t: &dyn HttpTarget) {
    let r = t
        .send(
            TestRequest::post_json("/api/runs/start", &json!({ "sensorIds": ["s1", "s2"] }))
                .user("alice"),
        )
        .await;
    assert_eq!(r.status, 201);
    let run = r.json();
    let id = id_of(&run);
    assert_eq!(
        r.header("location"),
        Some(format!("/api/runs/{id}").as_str())
    );
    assert_eq!(run["runId"], json!(id));
    assert_eq!(run["params"]["runId"], json!(id));
    assert_eq!(run["params"]["sensorIds"], json!(["s1", "s2"]));
    assert_eq!(
        (run["duration"].clone(), run["interval"].clone()),
        (json!(60), json!(5.0))
    );
    assert_eq!(
        (
            run["params"]["duration"].clone(),
            run["params"]["interval"].clone()
        ),
        (json!(60), json!(5.0))
    );
    assert_eq!(run["status"], json!("RUNNING"));
    assert_eq!(run["username"], json!("alice"));
    assert!(is_micros_utc(run["startedAt"].as_str().unwrap()), "{run}");
    assert_eq!(run["finishedAt"], Value::Null);
    assert!(run["grafanaUrl"].as_str().unwrap().starts_with(GRAFANA_URL));
    assert!(r.header("x-request-id").is_some());
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let got = t.send(TestRequest::get(&format!("/api/runs/{id}"))).await;
    assert_eq!((got.status, got.json()), (200, run));
}

/// `null` optional fields are the same as absent ones, and fractional intervals are kept.
pub async fn start_treats_null_as_absent_and_keeps_fractional_intervals(t: &dyn HttpTarget) {
    let r = t
        .send(
            TestRequest::post_json(
                "/api/runs/start",
                &json!({ "sensorIds": ["s1"], "duration": null, "interval": null }),
            )
            .user("alice"),
        )
        .await;
    assert_eq!((r.status, r.json()["duration"].clone()), (201, json!(60)));
    let r = t
        .send(
            TestRequest::post_json(
                "/api/runs/start",
                &json!({ "sensorIds": ["s1"], "interval": 0.2 }),
            )
            .user("alice"),
        )
        .await;
    assert_eq!((r.status, r.json()["interval"].clone()), (201, json!(0.2)));
}

/// `duration` is an integer as JSON Schema counts them: any number with an integral value (`60.0`,
/// `6e1`); a fraction is `400` naming the field.
pub async fn start_takes_integral_durations_in_any_number_form(t: &dyn HttpTarget) {
    let start_for = |duration: &str| {
        TestRequest::new("POST", "/api/runs/start")
            .header("content-type", "application/json")
            .user("alice")
            .raw_body(format!(r#"{{"sensorIds":["s1"],"duration":{duration}}}"#).into_bytes())
    };
    for (text, expected) in [("120.0", 120), ("1.2e2", 120), ("6E1", 60)] {
        let r = t.send(start_for(text)).await;
        assert_eq!(
            (r.status, r.json()["duration"].clone()),
            (201, json!(expected)),
            "{text}"
        );
        let id = id_of(&r.json());
        let finished = t
            .send(
                TestRequest::post_json(&format!("/api/runs/{id}/finish"), &json!({})).user("alice"),
            )
            .await;
        assert_eq!(finished.status, 200);
    }
    for text in ["60.5", "1e300", "0.0"] {
        assert_field(&t.send(start_for(text)).await, 400, "duration");
    }
}

/// Identity: missing `X-User` is `401 missing_user`; malformed or repeated is `401 invalid_user`
/// naming the header (it authenticates no one either), also on reads; never a default user.
pub async fn identity_is_required_validated_and_single(t: &dyn HttpTarget) {
    let body = json!({ "sensorIds": ["s1"] });
    let r = t
        .send(TestRequest::post_json("/api/runs/start", &body))
        .await;
    assert_error(&r, 401, "missing_user");
    for bad in ["", "ab", "a b", "alice!", "abcdefghijklmnopqrstu", "élodie"] {
        let r = t
            .send(TestRequest::post_json("/api/runs/start", &body).user(bad))
            .await;
        assert_error(&r, 401, "invalid_user");
        assert_eq!(r.json()["field"], json!("X-User"), "{bad:?}");
    }
    if t.keeps_repeated_headers() {
        let r = t
            .send(
                TestRequest::post_json("/api/runs/start", &body)
                    .user("alice")
                    .user("bob"),
            )
            .await;
        assert_error(&r, 401, "invalid_user");
    }
    // GET endpoints need no identity but validate one that is sent.
    assert_eq!(
        t.send(TestRequest::get("/api/runs/can-start")).await.status,
        200
    );
    let r = t
        .send(TestRequest::get("/api/runs/running").user("x"))
        .await;
    assert_error(&r, 401, "invalid_user");
    if t.keeps_repeated_headers() {
        let r = t
            .send(TestRequest::get("/api/runs").user("alice").user("alice"))
            .await;
        assert_error(&r, 401, "invalid_user");
    }
}

/// Bad start bodies are `400` naming the field; malformed JSON is `invalid_json`.
pub async fn start_rejects_bad_bodies_naming_the_field(t: &dyn HttpTarget) {
    let cases = [
        (json!({}), "sensorIds"),
        (json!({ "sensorIds": [] }), "sensorIds"),
        (json!({ "sensorIds": "s1" }), "sensorIds"),
        (json!({ "sensorIds": ["s1", "s1"] }), "sensorIds[1]"),
        (json!({ "sensorIds": ["ok", "bad id"] }), "sensorIds[1]"),
        (
            json!({ "sensorIds": [(0..101).map(|i| format!("s{i}")).collect::<Vec<_>>()] }),
            "sensorIds[0]",
        ),
        (
            json!({ "sensorIds": (0..101).map(|i| format!("s{i}")).collect::<Vec<_>>() }),
            "sensorIds",
        ),
        (json!({ "sensorIds": ["s1"], "duration": 1.5 }), "duration"),
        (json!({ "sensorIds": ["s1"], "duration": "60" }), "duration"),
        (json!({ "sensorIds": ["s1"], "duration": 0 }), "duration"),
        (
            json!({ "sensorIds": ["s1"], "duration": 86_401 }),
            "duration",
        ),
        (json!({ "sensorIds": ["s1"], "interval": 0 }), "interval"),
        (
            json!({ "sensorIds": ["s1"], "interval": 0.0009 }),
            "interval",
        ),
        (
            json!({ "sensorIds": ["s1"], "interval": 5e-324 }),
            "interval",
        ),
        (json!({ "sensorIds": ["s1"], "interval": 3601 }), "interval"),
        (json!({ "sensorIds": ["s1"], "interval": -1 }), "interval"),
    ];
    for (body, field) in cases {
        let r = t
            .send(TestRequest::post_json("/api/runs/start", &body).user("alice"))
            .await;
        assert_field(&r, 400, field);
    }
    for raw in [
        &b"{not json"[..],
        b"",
        b"[1,2]",
        b"{\"sensorIds\":[\"s1\"]} trailing",
    ] {
        let r = t
            .send(
                TestRequest::new("POST", "/api/runs/start")
                    .header("content-type", "application/json")
                    .user("alice")
                    .raw_body(raw.to_vec()),
            )
            .await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(raw));
    }
    if t.carries_non_utf8_bodies() {
        // Bytes that are not UTF-8 are not JSON: `400 invalid_json`, never a 5xx.
        let r = t
            .send(
                TestRequest::new("POST", "/api/runs/start")
                    .header("content-type", "application/json")
                    .user("alice")
                    .raw_body(b"\xff\xfe{\"sensorIds\":[\"s1\"]}".to_vec()),
            )
            .await;
        assert_error(&r, 400, "invalid_json");
    }
    let r = t
        .send(
            TestRequest::new("POST", "/api/runs/start")
                .header("content-type", "text/plain")
                .user("alice")
                .raw_body(br#"{"sensorIds":["s1"]}"#.to_vec()),
        )
        .await;
    assert_error(&r, 415, "unsupported_media_type");
    let list = t.send(TestRequest::get("/api/runs")).await.json();
    assert_eq!(list["items"], json!([]), "nothing was started");
}

/// Bodies over 16 KiB are `413`, checked before identity.
pub async fn oversized_bodies_are_413_before_anything_else(t: &dyn HttpTarget) {
    let big = json!({ "sensorIds": ["s1"], "padding": "x".repeat(17 * 1024) });
    let r = t
        .send(TestRequest::post_json("/api/runs/start", &big))
        .await;
    assert_error(&r, 413, "payload_too_large");
    let run = start(t, "alice", &["s1"]).await;
    let r = t
        .send(TestRequest::post_json("/api/sensors/data", &big).header("x-run-id", "nonsense"))
        .await;
    assert_error(&r, 413, "payload_too_large");
    let huge: Vec<Value> = (0..1000)
        .map(|_| json!({ "sensorId": "s1", "type": "temperature", "reading": 1.0, "timestamp": "2026-11-25T10:00:00.000000Z", "pad": "x".repeat(1100) }))
        .collect();
    let r = batch(t, "alice", &id_of(&run), &json!(huge)).await;
    assert_error(&r, 413, "payload_too_large");
}

/// The order of checks: size, identity, body, run exists and is owned, run running, sensor.
pub async fn checks_happen_in_the_documented_order(t: &dyn HttpTarget) {
    let run = start(t, "alice", &["s1"]).await;
    let id = id_of(&run);
    // identity before body
    let r = t
        .send(
            TestRequest::new("POST", "/api/sensors/data")
                .header("content-type", "application/json")
                .raw_body(b"{bad".to_vec()),
        )
        .await;
    assert_error(&r, 401, "missing_user");
    // body before run
    let r = send_reading(
        t,
        "alice",
        RANDOM_ID,
        &json!({ "sensorId": "s1", "type": "wind", "reading": 1 }),
    )
    .await;
    assert_field(&r, 400, "type");
    // run owned before sensor
    let r = send_reading(
        t,
        "bob",
        &id,
        &json!({ "sensorId": "nope", "type": "temperature", "reading": 1 }),
    )
    .await;
    assert_error(&r, 404, "run_not_found");
    // running before sensor
    let finished = finish(t, "alice", &id, &json!({})).await;
    assert_eq!(finished.status, 200);
    let r = send_reading(
        t,
        "alice",
        &id,
        &json!({ "sensorId": "nope", "type": "temperature", "reading": 1 }),
    )
    .await;
    assert_error(&r, 409, "run_not_running");
}

/// A full global capacity is `429` with scope `global`, figures and `Retry-After`.
pub async fn a_full_global_capacity_is_429_with_retry_after(t: &dyn HttpTarget) {
    for i in 0..MAX_CONCURRENT_RUNS {
        start(t, &format!("user{i}"), &["s1"]).await;
    }
    let r = t
        .send(
            TestRequest::post_json("/api/runs/start", &json!({ "sensorIds": ["s1"] }))
                .user("latecomer"),
        )
        .await;
    assert_error(&r, 429, "capacity_exhausted");
    let body = r.json();
    assert_eq!(body["scope"], json!("global"));
    assert_eq!(body["currentRunning"], json!(MAX_CONCURRENT_RUNS));
    assert_eq!(body["maxAllowed"], json!(MAX_CONCURRENT_RUNS));
    let retry: u32 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let cap = t.send(TestRequest::get("/api/runs/can-start")).await.json();
    assert_eq!(
        cap,
        json!({ "canStart": false, "currentRunning": MAX_CONCURRENT_RUNS, "maxAllowed": MAX_CONCURRENT_RUNS, "available": 0 })
    );
}

/// A user at their own limit gets `429` with scope `user` while others may still start.
pub async fn a_full_user_capacity_is_429_scoped_to_the_user(t: &dyn HttpTarget) {
    for _ in 0..MAX_RUNS_PER_USER {
        start(t, "alice", &["s1"]).await;
    }
    let r = t
        .send(
            TestRequest::post_json("/api/runs/start", &json!({ "sensorIds": ["s1"] }))
                .user("alice"),
        )
        .await;
    assert_error(&r, 429, "capacity_exhausted");
    assert_eq!(r.json()["scope"], json!("user"));
    assert_eq!(r.json()["maxAllowed"], json!(MAX_RUNS_PER_USER));
    let cap = t
        .send(TestRequest::get("/api/runs/can-start").user("alice"))
        .await
        .json();
    assert_eq!(cap["canStart"], json!(false));
    assert_eq!(cap["userRunning"], json!(MAX_RUNS_PER_USER));
    assert_eq!(cap["userMaxAllowed"], json!(MAX_RUNS_PER_USER));
    assert_eq!(
        cap["available"],
        json!(MAX_CONCURRENT_RUNS - MAX_RUNS_PER_USER)
    );
    let bob = t
        .send(TestRequest::get("/api/runs/can-start").user("bob"))
        .await
        .json();
    assert_eq!(
        (bob["canStart"].clone(), bob["userRunning"].clone()),
        (json!(true), json!(0))
    );
    start(t, "bob", &["s1"]).await;
}

/// 32 concurrent starts at capacity admit exactly the limit; the others get `429`.
pub async fn concurrent_starts_never_exceed_capacity(t: &dyn HttpTarget) {
    let requests = (0..32).map(|i| {
        t.send(
            TestRequest::post_json("/api/runs/start", &json!({ "sensorIds": ["s1"] }))
                .user(&format!("racer{i:02}")),
        )
    });
    let statuses: Vec<u16> = join_all(requests).await.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        MAX_CONCURRENT_RUNS as usize,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 429),
        "{statuses:?}"
    );
    let running = t.send(TestRequest::get("/api/runs/running")).await.json();
    assert_eq!(
        running.as_array().unwrap().len(),
        MAX_CONCURRENT_RUNS as usize
    );
}

/// `GET /api/runs/running` lists running runs of all users, newest first.
pub async fn running_lists_every_users_running_runs_newest_first(t: &dyn HttpTarget) {
    let a = start(t, "alice", &["s1"]).await;
    let b = start(t, "bob", &["s1"]).await;
    let c = start(t, "carol", &["s1"]).await;
    assert_eq!(finish(t, "bob", &id_of(&b), &json!({})).await.status, 200);
    let running = t.send(TestRequest::get("/api/runs/running")).await;
    assert_eq!(running.status, 200);
    let ids: Vec<String> = running
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![id_of(&c), id_of(&a)]);
}

/// `GET /api/runs` pages newest first with an opaque cursor, filters by user and status; `/all`
/// is a bare array.
pub async fn runs_page_with_a_cursor_and_filter(t: &dyn HttpTarget) {
    let mut ids = Vec::new();
    for user in ["alice", "bob", "alice", "carol", "alice"] {
        let run = start(t, user, &["s1"]).await;
        ids.push(id_of(&run));
        if user == "carol" {
            assert_eq!(
                finish(t, "carol", &id_of(&run), &json!({"status": "FAILED"}))
                    .await
                    .status,
                200
            );
        }
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut path = "/api/runs?limit=2".to_string();
    loop {
        let page = t.send(TestRequest::get(&path)).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(id_of));
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/runs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let alice = t
        .send(TestRequest::get("/api/runs?user=alice"))
        .await
        .json();
    assert_eq!(alice["items"].as_array().unwrap().len(), 3);
    assert!(alice.get("nextCursor").is_none());
    let failed = t
        .send(TestRequest::get("/api/runs?status=FAILED"))
        .await
        .json();
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);
    let all = t.send(TestRequest::get("/api/runs/all")).await.json();
    assert_eq!(
        all.as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>(),
        ids
    );
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "cursor=zz",
        "status=DONE",
        "user=a",
    ] {
        let r = t.send(TestRequest::get(&format!("/api/runs?{bad}"))).await;
        assert_eq!(r.status, 400, "{bad}");
    }
}

/// An unknown run is `404 run_not_found`; a malformed id is `400 invalid_run_id`.
pub async fn unknown_and_malformed_run_ids(t: &dyn HttpTarget) {
    let r = t
        .send(TestRequest::get(&format!("/api/runs/{RANDOM_ID}")))
        .await;
    assert_error(&r, 404, "run_not_found");
    for path in [
        "/api/runs/not-a-uuid",
        "/api/runs/123/summary",
        "/api/runs/xyz/readings",
    ] {
        let r = t.send(TestRequest::get(path)).await;
        assert_error(&r, 400, "invalid_run_id");
    }
    let r = finish(t, "alice", "not-a-uuid", &json!({})).await;
    assert_error(&r, 400, "invalid_run_id");
    let r = t
        .send(TestRequest::get(&format!("/api/runs/{RANDOM_ID}/summary")))
        .await;
    assert_error(&r, 404, "run_not_found");
}

/// Finish: empty body is SUCCESS (whitespace is malformed JSON); FAILED keeps `errorMessage`
/// (over `message`); only the owner; a finished run is `409`; a bad status is `400`.
pub async fn finish_follows_ownership_and_status_rules(t: &dyn HttpTarget) {
    let a = id_of(&start(t, "alice", &["s1"]).await);
    let r = t
        .send(TestRequest::new("POST", &format!("/api/runs/{a}/finish")).user("alice"))
        .await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("SUCCESS"))
    );
    assert!(is_micros_utc(r.json()["finishedAt"].as_str().unwrap()));
    assert_error(
        &finish(t, "alice", &a, &json!({})).await,
        409,
        "run_not_running",
    );

    let b = id_of(&start(t, "alice", &["s1"]).await);
    assert_error(
        &finish(t, "mallory", &b, &json!({})).await,
        404,
        "run_not_found",
    );
    // Whitespace is not an empty body: under a JSON content type it is malformed JSON.
    let r = t
        .send(
            TestRequest::new("POST", &format!("/api/runs/{b}/finish"))
                .user("alice")
                .header("content-type", "application/json")
                .raw_body(b"\t".to_vec()),
        )
        .await;
    assert_error(&r, 400, "invalid_json");
    assert_field(
        &finish(t, "alice", &b, &json!({"status": "DONE"})).await,
        400,
        "status",
    );
    let r = finish(
        t,
        "alice",
        &b,
        &json!({"status": "FAILED", "message": "m", "errorMessage": "sensor lost — capteur perdu"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], json!("FAILED"));
    assert_eq!(
        r.json()["errorMessage"],
        json!("sensor lost — capteur perdu")
    );

    let c = id_of(&start(t, "alice", &["s1"]).await);
    let r = finish(
        t,
        "alice",
        &c,
        &json!({"status": "FAILED", "message": "abandoned"}),
    )
    .await;
    assert_eq!(r.json()["errorMessage"], json!("abandoned"));
    let r = t
        .send(TestRequest::new("POST", &format!("/api/runs/{c}/finish")))
        .await;
    assert_error(&r, 401, "missing_user");
}

/// Interrupt-all cancels the caller's running runs; an admin's cancels everyone's.
pub async fn interrupt_all_cancels_own_runs_and_admins_cancel_all(t: &dyn HttpTarget) {
    let a = id_of(&start(t, "alice", &["s1"]).await);
    let b = id_of(&start(t, "bob", &["s1"]).await);
    let r = t
        .send(TestRequest::new("POST", "/api/runs/interrupt-all").user("alice"))
        .await;
    assert_eq!((r.status, r.json()["interrupted"].clone()), (200, json!(1)));
    assert!(r.json()["message"].is_string());
    let status = |id: String| async move {
        t.send(TestRequest::get(&format!("/api/runs/{id}")))
            .await
            .json()["status"]
            .clone()
    };
    assert_eq!(status(a).await, json!("CANCELED"));
    assert_eq!(status(b.clone()).await, json!("RUNNING"));
    let r = t
        .send(TestRequest::new("POST", "/api/runs/interrupt-all").user("admin"))
        .await;
    assert_eq!(r.json()["interrupted"], json!(1));
    assert_eq!(status(b).await, json!("CANCELED"));
    let r = t
        .send(TestRequest::new("POST", "/api/runs/interrupt-all"))
        .await;
    assert_error(&r, 401, "missing_user");
}

/// A run past its duration (grace 0) reads as TIMEOUT, frees capacity, refuses readings and
/// finishes.
pub async fn a_timed_out_run_is_timeout_everywhere(t: &dyn HttpTarget) {
    let run = start_short(t, "alice").await;
    let id = id_of(&run);
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    let got = t
        .send(TestRequest::get(&format!("/api/runs/{id}")))
        .await
        .json();
    assert_eq!(got["status"], json!("TIMEOUT"));
    assert!(got["finishedAt"].is_string());
    let cap = t
        .send(TestRequest::get("/api/runs/can-start").user("alice"))
        .await
        .json();
    assert_eq!(
        (cap["currentRunning"].clone(), cap["userRunning"].clone()),
        (json!(0), json!(0))
    );
    let r = send_reading(
        t,
        "alice",
        &id,
        &json!({ "sensorId": "s1", "type": "temperature", "reading": 20 }),
    )
    .await;
    assert_error(&r, 409, "run_not_running");
    assert_eq!(r.json()["status"], json!("TIMEOUT"));
    assert_error(
        &finish(t, "alice", &id, &json!({})).await,
        409,
        "run_not_running",
    );
    let running = t.send(TestRequest::get("/api/runs/running")).await.json();
    assert_eq!(running, json!([]));
}

// ---------------------------------------------------------------------------------------------
// readings

/// One reading is `201` with the stored reading; the alias `/sensors/data` behaves the same.
pub async fn a_reading_is_stored_and_echoed(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1", "s2"]).await);
    let r = send_reading(
        t,
        "alice",
        &id,
        &json!({ "sensorId": "s1", "type": "temperature", "reading": 21.5 }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let stored = r.json();
    assert_eq!(stored["runId"], json!(id));
    assert_eq!(stored["sensorId"], json!("s1"));
    assert_eq!(stored["type"], json!("temperature"));
    assert_eq!(stored["reading"], json!(21.5));
    assert_eq!(stored["user"], json!("alice"));
    assert!(is_micros_utc(stored["timestamp"].as_str().unwrap()));
    let r = t
        .send(
            TestRequest::post_json("/sensors/data", &json!({ "sensorId": "s2", "type": "humidity", "reading": 40, "timestamp": "2026-11-25T11:00:00.5+01:00" }))
                .user("alice")
                .header("x-run-id", &id),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["timestamp"], json!("2026-11-25T10:00:00.500000Z"));
}

/// A retry with the same timestamp and value is `200` with the stored reading; another value is
/// `409 reading_conflict`; nothing is doubled.
pub async fn readings_with_a_timestamp_are_idempotent(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1"]).await);
    let body = json!({ "sensorId": "s1", "type": "temperature", "reading": 21.5, "timestamp": "2026-11-25T10:00:00.123456Z" });
    let first = send_reading(t, "alice", &id, &body).await;
    assert_eq!(first.status, 201);
    let again = send_reading(t, "alice", &id, &body).await;
    assert_eq!((again.status, again.json()), (200, first.json()));
    let mut other = body.clone();
    other["reading"] = json!(22.0);
    assert_error(
        &send_reading(t, "alice", &id, &other).await,
        409,
        "reading_conflict",
    );
    let mut humidity = body.clone();
    humidity["type"] = json!("humidity");
    assert_eq!(send_reading(t, "alice", &id, &humidity).await.status, 201);
    assert_eq!(stored_readings(t, &id).await.len(), 2);
}

/// `X-Run-Id` is required, a UUID, sent once; the run must exist and be the caller's.
pub async fn readings_need_a_valid_run_of_the_caller(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1"]).await);
    let body = json!({ "sensorId": "s1", "type": "temperature", "reading": 20 });
    let r = t
        .send(TestRequest::post_json("/api/sensors/data", &body).user("alice"))
        .await;
    assert_error(&r, 400, "missing_run_id");
    let r = send_reading(t, "alice", "run-20261125-alice", &body).await;
    assert_error(&r, 400, "invalid_run_id");
    if t.keeps_repeated_headers() {
        let r = t
            .send(reading_request("alice", &id, &body).header("x-run-id", &id))
            .await;
        assert_error(&r, 400, "invalid_run_id");
    }
    assert_error(
        &send_reading(t, "alice", RANDOM_ID, &body).await,
        404,
        "run_not_found",
    );
    assert_error(
        &send_reading(t, "mallory", &id, &body).await,
        404,
        "run_not_found",
    );
    let r = send_reading(
        t,
        "alice",
        &id,
        &json!({ "sensorId": "s9", "type": "temperature", "reading": 20 }),
    )
    .await;
    assert_error(&r, 409, "unknown_sensor");
    let r = batch(t, "mallory", &id, &json!([body])).await;
    assert_error(&r, 404, "run_not_found");
}

/// Bad reading values are `400` naming the field: types, unknown enum values, NaN/Infinity,
/// huge numbers, out-of-range values, over-precise timestamps.
pub async fn bad_readings_are_400_naming_the_field(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1"]).await);
    let cases = [
        (json!({ "type": "temperature", "reading": 1 }), "sensorId"),
        (json!({ "sensorId": "s1", "reading": 1 }), "type"),
        (
            json!({ "sensorId": "s1", "type": "temperature" }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "wind", "reading": 1 }),
            "type",
        ),
        (
            json!({ "sensorId": "s1", "type": "temperature", "reading": "hot" }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "temperature", "reading": true }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "humidity", "reading": 5e-324 }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "temperature", "reading": -9.9e-131 }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "temperature", "reading": 1e300 }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "humidity", "reading": 100.5 }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "temperature", "reading": -300 }),
            "reading",
        ),
        (
            json!({ "sensorId": "s1", "type": "temperature", "reading": 1, "timestamp": "yesterday" }),
            "timestamp",
        ),
        (
            json!({ "sensorId": "s1", "type": "temperature", "reading": 1, "timestamp": "2026-11-25T10:00:00.1234567Z" }),
            "timestamp",
        ),
        (
            json!({ "sensorId": "bad id", "type": "temperature", "reading": 1 }),
            "sensorId",
        ),
        (
            json!({ "sensorId": 7, "type": "temperature", "reading": 1 }),
            "sensorId",
        ),
    ];
    for (body, field) in cases {
        let r = send_reading(t, "alice", &id, &body).await;
        assert_field(&r, 400, field);
    }
    for raw in [
        "{\"sensorId\":\"s1\",\"type\":\"temperature\",\"reading\":NaN}",
        "{\"sensorId\":\"s1\",\"type\":\"temperature\",\"reading\":Infinity}",
    ] {
        let r = t
            .send(
                TestRequest::new("POST", "/api/sensors/data")
                    .header("content-type", "application/json")
                    .user("alice")
                    .header("x-run-id", &id)
                    .raw_body(raw.as_bytes().to_vec()),
            )
            .await;
        assert_eq!(r.status, 400, "{raw}");
    }
    let r = t
        .send(
            TestRequest::new("POST", "/api/sensors/data")
                .header("content-type", "application/json")
                .user("alice")
                .header("x-run-id", &id)
                .raw_body(br#"{"sensorId":"s1","type":"temperature","reading":1e400}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(stored_readings(t, &id).await.is_empty());
}

/// The smallest magnitudes a reading may have (0, ±1e-130) and the shortest interval are stored
/// and read back exactly, on every store.
pub async fn the_smallest_accepted_values_are_kept_exactly(t: &dyn HttpTarget) {
    let r = t
        .send(
            TestRequest::post_json(
                "/api/runs/start",
                &json!({ "sensorIds": ["s1"], "duration": 600, "interval": 0.001 }),
            )
            .user("alice"),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["interval"].clone()),
        (201, json!(0.001))
    );
    let id = id_of(&r.json());
    let sent = [
        ("humidity", 0.0, "2026-11-25T10:00:00Z"),
        ("humidity", 1e-130, "2026-11-25T10:00:01Z"),
        ("temperature", -1e-130, "2026-11-25T10:00:02Z"),
        (
            "pressure",
            1.000_000_000_000_000_2e-130,
            "2026-11-25T10:00:03Z",
        ),
    ];
    for (kind, value, at) in sent {
        let body = json!({ "sensorId": "s1", "type": kind, "reading": value, "timestamp": at });
        let r = send_reading(t, "alice", &id, &body).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let stored: Vec<(String, f64)> = stored_readings(t, &id)
        .await
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap_or_default().to_string(),
                r["reading"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    let expected: Vec<(String, f64)> = sent
        .iter()
        .map(|(k, v, _)| ((*k).to_string(), *v))
        .collect();
    assert_eq!(stored, expected);
    let run = t.send(TestRequest::get(&format!("/api/runs/{id}"))).await;
    assert_eq!(run.json()["interval"], json!(0.001));
}

/// A batch answers `201 {accepted, duplicates}`, `200` when everything was already stored, and
/// a batch is validated as a whole (`readings[i].field`).
pub async fn batches_count_duplicates_and_validate_as_a_whole(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1", "s2"]).await);
    let readings = json!([
        { "sensorId": "s1", "type": "temperature", "reading": 20.0, "timestamp": "2026-11-25T10:00:00Z" },
        { "sensorId": "s1", "type": "temperature", "reading": 20.0, "timestamp": "2026-11-25T10:00:00Z" },
        { "sensorId": "s2", "type": "humidity", "reading": 40.0, "timestamp": "2026-11-25T10:00:00Z" },
        { "sensorId": "s2", "type": "pressure", "reading": 1013.0 },
    ]);
    let r = batch(t, "alice", &id, &readings).await;
    assert_eq!(
        (r.status, r.json()),
        (201, json!({ "accepted": 3, "duplicates": 1 }))
    );
    let client_stamped = json!(readings.as_array().unwrap()[..3]);
    let r = batch(t, "alice", &id, &client_stamped).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({ "accepted": 0, "duplicates": 3 }))
    );
    let invalid = json!([
        { "sensorId": "s1", "type": "temperature", "reading": 20.5, "timestamp": "2026-11-25T10:00:01Z" },
        { "sensorId": "s1", "type": "wind", "reading": 1 },
    ]);
    assert_field(
        &batch(t, "alice", &id, &invalid).await,
        400,
        "readings[1].type",
    );
    let repeated = json!([
        { "sensorId": "s1", "type": "temperature", "reading": 20.5, "timestamp": "2026-11-25T10:00:02Z" },
        { "sensorId": "s1", "type": "temperature", "reading": 21.5, "timestamp": "2026-11-25T10:00:02Z" },
    ]);
    assert_field(&batch(t, "alice", &id, &repeated).await, 400, "readings[1]");
    assert_field(&batch(t, "alice", &id, &json!([])).await, 400, "readings");
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({ "sensorId": "s1", "type": "temperature", "reading": 1 }))
        .collect();
    assert_field(
        &batch(t, "alice", &id, &json!(too_many)).await,
        400,
        "readings",
    );
    let r = batch(
        t,
        "alice",
        &id,
        &json!([{ "sensorId": "s9", "type": "temperature", "reading": 1 }]),
    )
    .await;
    assert_error(&r, 409, "unknown_sensor");
    assert_eq!(stored_readings(t, &id).await.len(), 3);
}

/// A batch conflicting with a stored value is `409` and stores nothing; 1000 readings fit.
pub async fn a_conflicting_batch_stores_nothing_and_1000_fit(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1", "s2"]).await);
    let stored = json!({ "sensorId": "s2", "type": "temperature", "reading": 20.0, "timestamp": "2026-11-25T10:00:00Z" });
    assert_eq!(send_reading(t, "alice", &id, &stored).await.status, 201);
    let mut readings: Vec<Value> = (0..999)
        .map(|i| json!({ "sensorId": "s1", "type": "temperature", "reading": 20.0, "timestamp": format!("2026-11-25T10:00:00.{i:06}Z") }))
        .collect();
    readings.push(json!({ "sensorId": "s2", "type": "temperature", "reading": 25.0, "timestamp": "2026-11-25T10:00:00Z" }));
    assert_error(
        &batch(t, "alice", &id, &json!(readings)).await,
        409,
        "reading_conflict",
    );
    let page = t
        .send(TestRequest::get(&format!(
            "/api/runs/{id}/readings?limit=1000"
        )))
        .await
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    readings.pop();
    readings.push(stored);
    let r = batch(t, "alice", &id, &json!(readings)).await;
    assert_eq!(
        (r.status, r.json()),
        (201, json!({ "accepted": 999, "duplicates": 1 }))
    );
}

/// Readings list ascending with filters, `from` inclusive and `to` exclusive, and a cursor.
pub async fn readings_list_with_filters_and_a_cursor(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1", "s2"]).await);
    let readings: Vec<Value> = (0..5)
        .flat_map(|i| {
            let at = format!("2026-11-25T10:00:0{i}Z");
            vec![
                json!({ "sensorId": "s2", "type": "temperature", "reading": f64::from(i), "timestamp": at }),
                json!({ "sensorId": "s1", "type": "temperature", "reading": f64::from(i), "timestamp": at }),
            ]
        })
        .collect();
    assert_eq!(batch(t, "alice", &id, &json!(readings)).await.status, 201);
    let mut seen = Vec::new();
    let base = format!("/api/runs/{id}/readings?limit=3");
    let mut path = base.clone();
    loop {
        let page = t.send(TestRequest::get(&path)).await.json();
        for item in page["items"].as_array().unwrap() {
            seen.push(format!(
                "{}/{}",
                item["timestamp"].as_str().unwrap(),
                item["sensorId"].as_str().unwrap()
            ));
        }
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("{base}&cursor={c}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!((seen.len(), &seen), (10, &sorted));
    let window = t
        .send(TestRequest::get(&format!("/api/runs/{id}/readings?sensorId=s2&type=temperature&from=2026-11-25T10:00:01Z&to=2026-11-25T10:00:03Z")))
        .await
        .json();
    let values: Vec<f64> = window["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reading"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![1.0, 2.0]);
    for bad in [
        "limit=0",
        "type=wind",
        "from=today",
        "cursor=abc",
        "sensorId=bad%20id",
    ] {
        let r = t
            .send(TestRequest::get(&format!("/api/runs/{id}/readings?{bad}")))
            .await;
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = t
        .send(TestRequest::get(&format!("/api/runs/{RANDOM_ID}/readings")))
        .await;
    assert_error(&r, 404, "run_not_found");
}

/// The compatibility listing: newest first, `{items, count}`, `runId` required and known.
pub async fn the_compatibility_listing_is_newest_first_with_a_count(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1", "s2"]).await);
    let readings: Vec<Value> = (0..4)
        .map(|i| {
            let sensor = ["s1", "s2"][i % 2];
            json!({ "sensorId": sensor, "type": "temperature", "reading": i, "timestamp": format!("2026-11-25T10:00:0{i}Z") })
        })
        .collect();
    batch(t, "alice", &id, &json!(readings)).await;
    let r = t
        .send(TestRequest::get(&format!(
            "/api/sensors/data?runId={id}&limit=3"
        )))
        .await
        .json();
    assert_eq!(r["count"], json!(3));
    let values: Vec<i64> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reading"].as_f64().unwrap() as i64)
        .collect();
    assert_eq!(values, vec![3, 2, 1]);
    let r = t
        .send(TestRequest::get(&format!(
            "/api/sensors/data?runId={id}&sensorId=s1"
        )))
        .await
        .json();
    assert_eq!(r["count"], json!(2));
    assert_field(
        &t.send(TestRequest::get("/api/sensors/data")).await,
        400,
        "runId",
    );
    assert_error(
        &t.send(TestRequest::get(&format!(
            "/api/sensors/data?runId={RANDOM_ID}"
        )))
        .await,
        404,
        "run_not_found",
    );
}

/// The summary gives count, min, max, avg, first and last per sensor and type.
pub async fn the_summary_aggregates_per_sensor_and_type(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1"]).await);
    let readings = json!([
        { "sensorId": "s1", "type": "temperature", "reading": 10.0, "timestamp": "2026-11-25T10:00:02Z" },
        { "sensorId": "s1", "type": "temperature", "reading": 30.0, "timestamp": "2026-11-25T10:00:01Z" },
        { "sensorId": "s1", "type": "humidity", "reading": 50.0, "timestamp": "2026-11-25T10:00:03Z" },
    ]);
    batch(t, "alice", &id, &readings).await;
    let r = t
        .send(TestRequest::get(&format!("/api/runs/{id}/summary")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({ "runId": id, "sensors": [
            { "sensorId": "s1", "type": "humidity", "count": 1, "min": 50.0, "max": 50.0, "avg": 50.0,
              "first": "2026-11-25T10:00:03.000000Z", "last": "2026-11-25T10:00:03.000000Z" },
            { "sensorId": "s1", "type": "temperature", "count": 2, "min": 10.0, "max": 30.0, "avg": 20.0,
              "first": "2026-11-25T10:00:01.000000Z", "last": "2026-11-25T10:00:02.000000Z" },
        ]})
    );
}

// ---------------------------------------------------------------------------------------------
// operations

/// Health, readiness and their aliases answer `200`; unknown routes are JSON `404`s; every
/// response has an `X-Request-Id`.
pub async fn operations_and_unknown_routes(t: &dyn HttpTarget) {
    for path in ["/health", "/actuator/health", "/ready"] {
        let r = t.send(TestRequest::get(path)).await;
        assert_eq!(
            (r.status, r.json()["status"].clone()),
            (200, json!("UP")),
            "{path}"
        );
        assert!(r.header("x-request-id").is_some());
    }
    assert_error(
        &t.send(TestRequest::get("/api/nothing-here")).await,
        404,
        "route_not_found",
    );
    assert_error(
        &t.send(TestRequest::new("DELETE", "/api/runs/running"))
            .await,
        405,
        "method_not_allowed",
    );
    let ids: std::collections::HashSet<String> =
        join_all((0..3).map(|_| t.send(TestRequest::get("/health"))))
            .await
            .iter()
            .map(|r| r.header("x-request-id").unwrap().to_string())
            .collect();
    assert_eq!(ids.len(), 3, "request ids are unique");
}

/// CORS: a preflight from an allowed origin succeeds on every route with the documented headers;
/// a foreign origin gets no `Access-Control-*` header at all.
pub async fn cors_allows_listed_origins_only(t: &dyn HttpTarget) {
    for path in [
        "/api/runs/start",
        "/api/sensors/data",
        &format!("/api/runs/{RANDOM_ID}/readings"),
        "/api/runs/can-start",
    ] {
        let r = t
            .send(
                TestRequest::new("OPTIONS", path)
                    .header("origin", ALLOWED_ORIGIN)
                    .header("access-control-request-method", "POST")
                    .header(
                        "access-control-request-headers",
                        "content-type,x-user,x-run-id,idempotency-key",
                    ),
            )
            .await;
        assert!((200..300).contains(&r.status), "{path}: {}", r.status);
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some(ALLOWED_ORIGIN)
        );
        let headers = r
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        for h in ["content-type", "x-user", "x-run-id", "idempotency-key"] {
            assert!(headers.contains(h), "{h} in {headers}");
        }
        assert_eq!(r.header("access-control-max-age"), Some("3600"));
        assert!(r.header("access-control-allow-credentials").is_none());
    }
    let foreign = t
        .send(
            TestRequest::new("OPTIONS", "/api/runs/start")
                .header("origin", "http://evil.example")
                .header("access-control-request-method", "POST"),
        )
        .await;
    let cors_headers: Vec<&(String, String)> = foreign
        .headers
        .iter()
        .filter(|(n, _)| n.starts_with("access-control-"))
        .collect();
    assert!(cors_headers.is_empty(), "{cors_headers:?}");
    let simple = t
        .send(TestRequest::get("/api/runs/can-start").header("origin", ALLOWED_ORIGIN))
        .await;
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    let exposed = simple
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("location"),
        "{exposed}"
    );
}

/// The OpenAPI document lists every route and alias of API v1 (a binary may document routes of its
/// own, such as `/metrics`), and every listed operation is served.
pub async fn the_openapi_document_lists_every_route(t: &dyn HttpTarget) {
    let r = t.send(TestRequest::get("/api/openapi.json")).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut listed: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                listed.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    listed.sort();
    let mut expected: Vec<String> = [
        "POST /api/runs/start",
        "GET /api/runs/can-start",
        "GET /api/runs/running",
        "GET /api/runs",
        "GET /api/runs/all",
        "GET /api/runs/{id}",
        "POST /api/runs/{id}/finish",
        "POST /api/runs/interrupt-all",
        "GET /api/runs/{id}/summary",
        "POST /api/sensors/data",
        "POST /sensors/data",
        "POST /api/runs/{id}/readings",
        "GET /api/runs/{id}/readings",
        "GET /api/sensors/data",
        "GET /health",
        "GET /actuator/health",
        "GET /ready",
        "GET /api/openapi.json",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    expected.sort();
    for op in &expected {
        assert!(
            listed.contains(op),
            "{op} is served but not documented: {listed:?}"
        );
    }
    for op in &listed {
        let (method, path) = op.split_once(' ').unwrap();
        let r = t
            .send(TestRequest::new(method, &path.replace("{id}", RANDOM_ID)))
            .await;
        assert_ne!(
            r.error_code(),
            "route_not_found",
            "{op} is documented but not served"
        );
        assert_ne!(r.status, 405, "{op}");
    }
}

/// The entries of a response's `Server-Timing` header, name → `dur` (every entry has one).
fn server_timing(r: &TestResponse) -> std::collections::BTreeMap<String, f64> {
    let value = r
        .header("server-timing")
        .unwrap_or_else(|| panic!("no Server-Timing on a {} response", r.status));
    value
        .split(',')
        .map(|entry| {
            let mut fields = entry.trim().split(';');
            let name = fields.next().unwrap().trim().to_string();
            let dur = fields
                .find_map(|f| f.trim().strip_prefix("dur="))
                .unwrap_or_else(|| panic!("{name} has no dur in {value}"))
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{name}: {e} in {value}"));
            assert!(dur.is_finite() && dur >= 0.0, "{name}={dur} in {value}");
            (name, dur)
        })
        .collect()
}

/// Every response (success, error, export) reports `app` and `store` time in `Server-Timing`,
/// liveness spends no store time, store time never exceeds the handler's, and the header is
/// exposed to pages through CORS.
pub async fn every_response_reports_server_timing(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1"]).await);
    let reading = json!({ "sensorId": "s1", "type": "temperature", "reading": 20.5 });
    let responses = [
        send_reading(t, "alice", &id, &reading).await,
        t.send(TestRequest::get(&format!("/api/runs/{id}/summary")))
            .await,
        t.send(TestRequest::get(&format!("/api/runs/{RANDOM_ID}")))
            .await,
        t.send(TestRequest::get(&format!("/api/runs/{id}/readings")).header("accept", "text/csv"))
            .await,
        t.send(TestRequest::get("/api/runs/can-start").header("origin", ALLOWED_ORIGIN))
            .await,
    ];
    for r in &responses {
        let timing = server_timing(r);
        let (app, store) = (timing["app"], timing["store"]);
        assert!(
            store <= app,
            "store {store} ms > app {app} ms ({})",
            r.status
        );
        for units in ["rcu", "wcu"] {
            if let Some(n) = timing.get(units) {
                assert!(*n > 0.0, "{units} is reported only when consumed");
            }
        }
    }
    assert_eq!(
        (responses[0].status, responses[2].status),
        (201, 404),
        "the requests above did what they were meant to"
    );
    let health = server_timing(&t.send(TestRequest::get("/health")).await);
    assert_eq!(health["store"], 0.0, "liveness never calls the store");
    let exposed = responses[4]
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("server-timing"), "{exposed}");
}

/// `cold` appears on no response but an instance's first (a server that never cold-starts per
/// request, such as `app-ecs`, never sends it).
pub async fn cold_is_reported_at_most_on_an_instances_first_response(t: &dyn HttpTarget) {
    let colds: Vec<bool> = {
        let mut colds = Vec::new();
        for _ in 0..3 {
            let r = t.send(TestRequest::get("/api/runs/can-start")).await;
            colds.push(server_timing(&r).contains_key("cold"));
        }
        colds
    };
    assert_eq!(&colds[1..], &[false, false], "{colds:?}");
}

/// A run whose readings span more than one store page of the export (250), in two batches.
async fn run_with_260_readings(t: &dyn HttpTarget) -> (String, Vec<Value>) {
    let id = id_of(&start(t, "alice", &["s1", "s2"]).await);
    for half in 0..2 {
        let readings: Vec<Value> = (0..130)
            .map(|i| {
                let n = half * 130 + i;
                json!({
                    "sensorId": if n % 2 == 0 { "s1" } else { "s2" },
                    "type": if n % 3 == 0 { "humidity" } else { "temperature" },
                    "reading": f64::from(n % 400) / 8.0,
                    "timestamp": format!("2026-11-25T10:{:02}:{:02}.{:06}Z", n / 600, n / 10 % 60, n % 10),
                })
            })
            .collect();
        let r = batch(t, "alice", &id, &json!(readings)).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = t
            .send(TestRequest::get(&format!(
                "/api/runs/{id}/readings?limit=100{cursor}"
            )))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let page = r.json();
        listed.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(listed.len(), 260);
    (id, listed)
}

/// `Accept: text/csv` streams every reading of the run (beyond one page) in listing order as
/// RFC 4180 CSV with a header row and the API's timestamp format; a missing run is still a
/// JSON `404`.
pub async fn csv_export_streams_every_reading_with_a_header_row(t: &dyn HttpTarget) {
    let (id, listed) = run_with_260_readings(t).await;
    let r = t
        .send(TestRequest::get(&format!("/api/runs/{id}/readings")).header("accept", "text/csv"))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/csv"),
        "{:?}",
        r.header("content-type")
    );
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(text.ends_with("\r\n"), "RFC 4180 lines end with CRLF");
    let lines: Vec<&str> = text.trim_end_matches("\r\n").split("\r\n").collect();
    assert_eq!(lines[0], "runId,sensorId,type,reading,timestamp,user");
    let expected: Vec<String> = listed
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{},{},{}",
                r["runId"].as_str().unwrap(),
                r["sensorId"].as_str().unwrap(),
                r["type"].as_str().unwrap(),
                r["reading"].as_f64().unwrap(),
                r["timestamp"].as_str().unwrap(),
                r["user"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines[1..], expected[..]);
    let missing = t
        .send(
            TestRequest::get(&format!("/api/runs/{RANDOM_ID}/readings"))
                .header("accept", "text/csv"),
        )
        .await;
    assert_error(&missing, 404, "run_not_found");
}

/// `Accept: application/x-ndjson` streams every reading of the run, one JSON reading per line,
/// exactly as the JSON listing pages show them; filters apply.
pub async fn ndjson_export_streams_every_reading_in_listing_order(t: &dyn HttpTarget) {
    let (id, listed) = run_with_260_readings(t).await;
    let r = t
        .send(
            TestRequest::get(&format!("/api/runs/{id}/readings"))
                .header("accept", "application/x-ndjson"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let exported: Vec<Value> = String::from_utf8(r.body.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported, listed);
    let humidity = t
        .send(
            TestRequest::get(&format!(
                "/api/runs/{id}/readings?type=humidity&sensorId=s1"
            ))
            .header("accept", "application/x-ndjson"),
        )
        .await;
    let filtered: Vec<Value> = listed
        .iter()
        .filter(|r| r["type"] == "humidity" && r["sensorId"] == "s1")
        .cloned()
        .collect();
    let exported: Vec<Value> = String::from_utf8(humidity.body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported, filtered);
}

/// A DynamoDB-backed response reports the capacity units it consumed: a stored reading its write
/// units, a read its read units (the emulator reports none for `TransactWriteItems`, so starts
/// are not asserted here). Other stores report no capacity units
/// ([`HttpTarget::reports_consumed_capacity`]).
pub async fn dynamodb_responses_report_consumed_capacity(t: &dyn HttpTarget) {
    let id = id_of(&start(t, "alice", &["s1"]).await);
    let reading = json!({ "sensorId": "s1", "type": "temperature", "reading": 20.5 });
    let stored = send_reading(t, "alice", &id, &reading).await;
    assert_eq!(stored.status, 201);
    let timing = server_timing(&stored);
    if t.reports_consumed_capacity() {
        assert!(timing.get("wcu").is_some_and(|u| *u >= 1.0), "{timing:?}");
    } else {
        assert!(!timing.contains_key("wcu"), "no DynamoDB here: {timing:?}");
    }
    let read = t.send(TestRequest::get(&format!("/api/runs/{id}"))).await;
    let timing = server_timing(&read);
    if t.reports_consumed_capacity() {
        assert!(timing.get("rcu").is_some_and(|u| *u > 0.0), "{timing:?}");
    } else {
        assert!(!timing.contains_key("rcu"), "no DynamoDB here: {timing:?}");
    }
    assert!(
        !timing.contains_key("wcu"),
        "a read writes nothing: {timing:?}"
    );
}

/// A new Lambda instance's first response carries its initialisation time as `cold`; a target
/// whose first response is no cold start reports none
/// ([`HttpTarget::first_response_is_a_cold_start`]).
pub async fn a_new_lambda_instance_reports_its_init_time(t: &dyn HttpTarget) {
    let first = server_timing(&t.send(TestRequest::get("/health")).await);
    if t.first_response_is_a_cold_start() {
        assert!(first.get("cold").is_some_and(|ms| *ms > 0.0), "{first:?}");
    } else {
        assert!(!first.contains_key("cold"), "{first:?}");
    }
}

/// Run ids are accepted in their canonical form only (lowercase, hyphenated); every other
/// spelling of the same UUID is `400 invalid_run_id`, in a path and in `X-Run-Id`.
pub async fn only_canonical_run_ids_are_accepted(t: &dyn HttpTarget) {
    let run = start(t, "alice", &["s-1"]).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let r = t.send(TestRequest::get(&format!("/api/runs/{id}"))).await;
    assert_eq!(r.status, 200);
    let reading = json!({"sensorId": "s-1", "type": "temperature", "reading": 1.0});
    for other in [
        id.to_uppercase(),
        id.replace('-', ""),
        format!("%7B{id}%7D"),
        format!("urn:uuid:{id}"),
    ] {
        let r = t
            .send(TestRequest::get(&format!("/api/runs/{other}")))
            .await;
        assert_error(&r, 400, "invalid_run_id");
        let header = other.replace("%7B", "{").replace("%7D", "}");
        let r = t
            .send(
                TestRequest::post_json("/api/sensors/data", &reading)
                    .user("alice")
                    .header("X-Run-Id", &header),
            )
            .await;
        assert_error(&r, 400, "invalid_run_id");
    }
}

/// A well-formed `X-Request-Id` is echoed; one too long or with characters outside
/// `A-Za-z0-9-_.:` is replaced by a fresh id.
pub async fn a_malformed_request_id_is_replaced(t: &dyn HttpTarget) {
    let r = t
        .send(TestRequest::get("/health").header("X-Request-Id", "trace-01HZX3J5Q8:a.b_c"))
        .await;
    assert_eq!(r.header("x-request-id"), Some("trace-01HZX3J5Q8:a.b_c"));
    let long = "a".repeat(129);
    for bad in ["forged\"admin\"", "spaced id", long.as_str(), "a=b;c"] {
        let r = t
            .send(TestRequest::get("/health").header("X-Request-Id", bad))
            .await;
        let id = r.header("x-request-id").unwrap_or_default();
        assert_ne!(id, bad);
        assert!(
            iot_http::guards::is_well_formed_request_id(id.as_bytes()),
            "{id}"
        );
    }
}

/// `POST /api/runs/start` with an `Idempotency-Key`: the same key and body answer `201` with the
/// same run and `Location` again; another body is `422 idempotency_key_reused`; a malformed key
/// is `400 invalid_idempotency_key`; the quoted (structured-field) form names the same key.
pub async fn a_start_with_an_idempotency_key_is_answered_once(t: &dyn HttpTarget) {
    let keyed = |body: &Value, key: &str| {
        TestRequest::post_json("/api/runs/start", body)
            .user("alice")
            .header("Idempotency-Key", key)
    };
    let body = json!({ "sensorIds": ["s1"], "duration": 600 });
    let first = t.send(keyed(&body, "c0ffee-0001")).await;
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let again = t.send(keyed(&body, "c0ffee-0001")).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.header("location"), first.header("location"));
    let quoted = t.send(keyed(&body, "\"c0ffee-0001\"")).await;
    assert_eq!(quoted.json()["id"], first.json()["id"]);

    let other = t
        .send(keyed(
            &json!({ "sensorIds": ["s2"], "duration": 600 }),
            "c0ffee-0001",
        ))
        .await;
    assert_error(&other, 422, "idempotency_key_reused");
    assert_eq!(other.json()["runId"], first.json()["id"]);
    for bad in ["", "has space", "slash/no", &"k".repeat(256)] {
        let r = t.send(keyed(&body, bad)).await;
        assert_error(&r, 400, "invalid_idempotency_key");
    }
    let fresh = t.send(keyed(&body, "c0ffee-0002")).await;
    assert_eq!(fresh.status, 201);
    assert_ne!(fresh.json()["id"], first.json()["id"]);
}

/// Stamps out every HTTP scenario for one target, as `mod $target { #[tokio::test] fn … }`.
///
/// `$factory` is an async expression giving `Option<T>` where `T: Deref<Target = dyn HttpTarget>`
/// plus an async `cleanup(self)`; `None` skips (target not configured).
#[macro_export]
macro_rules! http_suite {
    ($target:ident, $factory:expr) => {
        $crate::http_suite!(@with $target, $factory;
            start_answers_201_with_location_and_the_run,
            start_treats_null_as_absent_and_keeps_fractional_intervals,
            start_takes_integral_durations_in_any_number_form,
            identity_is_required_validated_and_single,
            start_rejects_bad_bodies_naming_the_field,
            oversized_bodies_are_413_before_anything_else,
            checks_happen_in_the_documented_order,
            a_full_global_capacity_is_429_with_retry_after,
            a_full_user_capacity_is_429_scoped_to_the_user,
            concurrent_starts_never_exceed_capacity,
            running_lists_every_users_running_runs_newest_first,
            runs_page_with_a_cursor_and_filter,
            unknown_and_malformed_run_ids,
            finish_follows_ownership_and_status_rules,
            interrupt_all_cancels_own_runs_and_admins_cancel_all,
            a_timed_out_run_is_timeout_everywhere,
            a_reading_is_stored_and_echoed,
            readings_with_a_timestamp_are_idempotent,
            readings_need_a_valid_run_of_the_caller,
            bad_readings_are_400_naming_the_field,
            the_smallest_accepted_values_are_kept_exactly,
            batches_count_duplicates_and_validate_as_a_whole,
            a_conflicting_batch_stores_nothing_and_1000_fit,
            readings_list_with_filters_and_a_cursor,
            the_compatibility_listing_is_newest_first_with_a_count,
            the_summary_aggregates_per_sensor_and_type,
            operations_and_unknown_routes,
            cors_allows_listed_origins_only,
            the_openapi_document_lists_every_route,
            every_response_reports_server_timing,
            cold_is_reported_at_most_on_an_instances_first_response,
            csv_export_streams_every_reading_with_a_header_row,
            ndjson_export_streams_every_reading_in_listing_order,
            only_canonical_run_ids_are_accepted,
            a_malformed_request_id_is_replaced,
            a_start_with_an_idempotency_key_is_answered_once,
            dynamodb_responses_report_consumed_capacity,
            a_new_lambda_instance_reports_its_init_time,
        );
    };
    (@with $target:ident, $factory:expr; $($scenario:ident),* $(,)?) => {
        mod $target {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    use ::futures::FutureExt as _;
                    let Some(target) = $factory.await else { return };
                    let outcome = ::std::panic::AssertUnwindSafe(
                        $crate::http::$scenario(&*target),
                    )
                    .catch_unwind()
                    .await;
                    target.cleanup().await;
                    if let Err(panic) = outcome {
                        ::std::panic::resume_unwind(panic);
                    }
                }
            )*
        }
    };
}
