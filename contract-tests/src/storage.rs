//! The storage contract: every behaviour the storage ports promise, one scenario each.
//!
//! Scenarios drive the domain services (the way the HTTP API does) on the store under test, so a
//! store that breaks a port's "MUST" fails a scenario named after the behaviour. They panic on
//! failure; the [`storage_suite!`](crate::storage_suite) macro stamps them out per backend.
//!
//! Each scenario gets a fresh namespace, so counts and listings are exact.

use std::collections::HashSet;

use futures::future::join_all;
use iot_core::error::CapacityScope;
use iot_core::model::{ReadingType, RunStatus, SensorId, SensorReading, Timestamp};
use iot_core::ports::{CapacityLimits, Clock, Inserted, ReadingQuery, RunQuery};
use iot_core::service::{FinishRun, Ingested, NewReading, RunConfig, StartRun};
use iot_core::{Run, RunId, ServiceError, StoreError, Username};

use crate::env::{Services, TestStore, default_config};

fn user(name: &str) -> Username {
    Username::parse(name).expect("valid username")
}

fn start_request(sensors: &[&str], duration: i64) -> StartRun {
    StartRun::new(
        sensors.iter().map(|s| (*s).to_string()).collect(),
        Some(duration),
        Some(1.0),
    )
    .expect("valid start")
}

async fn start(s: &Services, who: &str, sensors: &[&str]) -> Run {
    s.runs
        .start(&user(who), start_request(sensors, 60))
        .await
        .expect("start admitted")
}

fn reading(sensor: &str, kind: &str, value: f64, at: Option<&Timestamp>) -> NewReading {
    let at = at.map(ToString::to_string);
    NewReading::new(sensor, kind, value, at.as_deref()).expect("valid reading")
}

fn ts(base: Timestamp, micros: i64) -> Timestamp {
    base.plus_micros(micros)
}

fn query(run: RunId, limit: u32) -> ReadingQuery {
    ReadingQuery {
        run_id: run,
        sensor_id: None,
        kind: None,
        from: None,
        to: None,
        limit,
        after: None,
    }
}

/// Every reading stored for a run (up to 1000), ascending.
async fn stored_readings(s: &Services, run: RunId) -> Vec<SensorReading> {
    s.readings.list(query(run, 1000)).await.unwrap().items
}

async fn all_readings(s: &Services, mut q: ReadingQuery) -> (Vec<SensorReading>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let page = s.readings.list(q.clone()).await.expect("list readings");
        pages += 1;
        assert!(
            page.items.len() <= q.limit as usize,
            "page larger than limit"
        );
        items.extend(page.items);
        match page.next {
            Some(next) => q.after = Some(next),
            None => return (items, pages),
        }
        assert!(pages < 10_000, "pagination does not end");
    }
}

/// The run's summary counts every stored reading exactly once: per sensor and type, it is the
/// fold of the readings a full listing returns (averages within rounding: a store may add in
/// another order).
async fn assert_summary_counts_each_stored_reading_once(s: &Services, run: RunId) {
    let (stored, _) = all_readings(s, query(run, 1000)).await;
    let summary = s.readings.summary(run).await.expect("summary");
    test_support::summaries::assert_same(&summary, &test_support::summaries::expected(&stored));
}

async fn all_runs(s: &Services, mut q: RunQuery) -> Vec<Run> {
    let mut items = Vec::new();
    for _ in 0..10_000 {
        let page = s.runs.list(q.clone()).await.expect("list runs");
        assert!(
            page.items.len() <= q.limit as usize,
            "page larger than limit"
        );
        items.extend(page.items);
        match page.next {
            Some(next) => q.after = Some(next),
            None => return items,
        }
    }
    panic!("pagination does not end")
}

/// The refusal of a write on a run that is no longer running.
fn not_running(run: &Run, status: RunStatus) -> Result<Run, ServiceError> {
    Err(ServiceError::RunNotRunning { id: run.id, status })
}

fn run_query(limit: u32) -> RunQuery {
    RunQuery {
        user: None,
        status: None,
        limit,
        after: None,
    }
}

fn ids(runs: &[Run]) -> Vec<RunId> {
    runs.iter().map(|r| r.id).collect()
}

/// Creates `n` runs of `who`, one second apart, oldest first (with generous capacity).
async fn runs_one_second_apart(s: &Services, who: &str, n: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..n {
        runs.push(start(s, who, &["s1"]).await);
        s.clock.advance_secs(1);
    }
    runs
}

fn roomy() -> RunConfig {
    RunConfig {
        limits: CapacityLimits {
            global: 1000,
            per_user: 1000,
        },
        ..default_config()
    }
}

// ---------------------------------------------------------------------------------------------
// Runs

/// A created run reads back with every field exactly as written.
pub async fn a_started_run_reads_back_with_every_field(store: &TestStore) {
    let s = store.services(RunConfig {
        grafana_url: Some("https://grafana.example".into()),
        ..default_config()
    });
    let run = s
        .runs
        .start(
            &user("alice"),
            StartRun::new(vec!["s1".into(), "s2:x".into()], Some(90), Some(0.2)).unwrap(),
        )
        .await
        .unwrap();
    let got = s.runs.get(run.id).await.unwrap();
    assert_eq!(got, run);
    assert_eq!(got.status, RunStatus::Running);
    assert_eq!(got.duration_secs, 90);
    assert_eq!(got.interval_secs, 0.2);
    assert_eq!(got.sensor_ids.len(), 2);
    assert_eq!(
        got.deadline,
        got.started_at.plus_micros((90 + 120) * 1_000_000)
    );
    assert!(got.grafana_url.unwrap().contains(&run.id.to_string()));
}

/// Reading an unknown run is `RunNotFound`, not an error of the store.
pub async fn an_unknown_run_is_not_found(store: &TestStore) {
    let s = store.services(default_config());
    let id = RunId::from_uuid(uuid::Uuid::new_v4());
    assert_eq!(s.runs.get(id).await, Err(ServiceError::RunNotFound(id)));
}

/// Creating a run whose id exists is `AlreadyExists` and leaves the stored run untouched.
pub async fn a_duplicate_run_id_is_refused(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let mut twin = run.clone();
    twin.username = user("mallory");
    let err = store
        .runs
        .create_run(&twin, default_config().limits, s.clock.now(), None)
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::AlreadyExists);
    assert_eq!(s.runs.get(run.id).await.unwrap().username, user("alice"));
}

/// Listing pages newest first, without gaps or repeats, and only the last page lacks a cursor.
pub async fn run_pages_are_newest_first_without_gaps_or_repeats(store: &TestStore) {
    let s = store.services(roomy());
    let created = runs_one_second_apart(&s, "alice", 7).await;
    let mut expected = ids(&created);
    expected.reverse();
    let mut q = run_query(3);
    let mut pages = Vec::new();
    loop {
        let page = s.runs.list(q.clone()).await.unwrap();
        pages.push(ids(&page.items));
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages.concat(), expected);
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
}

/// A page that ends exactly at the last item carries no cursor (no empty trailing page).
pub async fn a_page_ending_at_the_last_run_has_no_cursor(store: &TestStore) {
    let s = store.services(roomy());
    runs_one_second_apart(&s, "alice", 6).await;
    let first = s.runs.list(run_query(3)).await.unwrap();
    let second = s
        .runs
        .list(RunQuery {
            after: first.next.clone(),
            ..run_query(3)
        })
        .await
        .unwrap();
    assert!(first.next.is_some());
    assert_eq!(second.items.len(), 3);
    assert_eq!(second.next, None);
    let whole = s.runs.list(run_query(6)).await.unwrap();
    assert_eq!((whole.items.len(), whole.next), (6, None));
}

/// Runs created between page reads neither shift nor repeat the pages that follow.
pub async fn runs_created_between_page_reads_do_not_disturb_later_pages(store: &TestStore) {
    let s = store.services(roomy());
    let created = runs_one_second_apart(&s, "alice", 5).await;
    let first = s.runs.list(run_query(2)).await.unwrap();
    runs_one_second_apart(&s, "bob", 3).await;
    let rest = all_runs(
        &s,
        RunQuery {
            after: first.next.clone(),
            ..run_query(2)
        },
    )
    .await;
    let mut seen = ids(&first.items);
    seen.extend(ids(&rest));
    let mut expected = ids(&created);
    expected.reverse();
    assert_eq!(seen, expected);
}

/// Runs started in the same microsecond still page in a total, stable order.
pub async fn runs_started_in_the_same_instant_page_stably(store: &TestStore) {
    let s = store.services(roomy());
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(start(&s, "alice", &["s1"]).await.id);
    }
    let listed = ids(&all_runs(&s, run_query(2)).await);
    created.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(listed, created);
}

/// Listing filters by owner and by the status observed now.
pub async fn runs_filter_by_user_and_observed_status(store: &TestStore) {
    let s = store.services(roomy());
    let a1 = start(&s, "alice", &["s1"]).await;
    let a2 = start(&s, "alice", &["s1"]).await;
    let b1 = start(&s, "bob", &["s1"]).await;
    s.runs
        .finish(&user("alice"), a1.id, FinishRun::success())
        .await
        .unwrap();
    s.clock.advance_secs(30);
    let b2 = s
        .runs
        .start(&user("bob"), start_request(&["s1"], 3600))
        .await
        .unwrap();
    // a2 and b1 (60 s + 120 s grace) time out; b2 (3600 s) keeps running.
    s.clock.advance_secs(200);
    let of = |user_filter: Option<&str>, status: Option<RunStatus>| {
        let s = s.clone();
        let q = RunQuery {
            user: user_filter.map(user),
            status,
            ..run_query(100)
        };
        async move {
            let mut found = ids(&all_runs(&s, q).await);
            found.sort();
            found
        }
    };
    let sorted = |mut v: Vec<RunId>| {
        v.sort();
        v
    };
    assert_eq!(of(Some("alice"), None).await, sorted(vec![a1.id, a2.id]));
    assert_eq!(of(None, Some(RunStatus::Running)).await, vec![b2.id]);
    assert_eq!(
        of(None, Some(RunStatus::Timeout)).await,
        sorted(vec![a2.id, b1.id])
    );
    assert_eq!(of(None, Some(RunStatus::Success)).await, vec![a1.id]);
    assert_eq!(of(Some("bob"), Some(RunStatus::Timeout)).await, vec![b1.id]);
    assert_eq!(of(Some("carol"), None).await, Vec::<RunId>::new());
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/// Finishing moves a running run to its terminal state once; a second finish is refused.
pub async fn a_run_finishes_once_and_stays_finished(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    s.clock.advance_secs(2);
    let failed = FinishRun::new(
        Some("FAILED"),
        Some("sensor unplugged — capteur débranché".into()),
    )
    .unwrap();
    let done = s.runs.finish(&user("alice"), run.id, failed).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(done.finished_at, Some(s.clock.now()));
    assert_eq!(
        done.error_message.as_deref(),
        Some("sensor unplugged — capteur débranché")
    );
    assert_eq!(s.runs.get(run.id).await.unwrap(), done);
    let again = s
        .runs
        .finish(&user("alice"), run.id, FinishRun::success())
        .await;
    assert_eq!(again, not_running(&run, RunStatus::Failed));
}

/// A success stores no message, whatever the client sent.
pub async fn a_successful_finish_stores_no_message(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let request = FinishRun::new(Some("SUCCESS"), Some("ignored".into())).unwrap();
    let done = s
        .runs
        .finish(&user("alice"), run.id, request)
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.error_message),
        (RunStatus::Success, None)
    );
}

/// Only the owner may finish a run; anyone else gets `RunNotFound` and the run keeps running.
pub async fn a_run_cannot_be_finished_by_another_user(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let err = s
        .runs
        .finish(&user("mallory"), run.id, FinishRun::success())
        .await;
    assert_eq!(err, Err(ServiceError::RunNotFound(run.id)));
    assert_eq!(s.runs.get(run.id).await.unwrap().status, RunStatus::Running);
}

/// Of many concurrent finishes of one run, exactly one wins.
pub async fn concurrent_finishes_have_exactly_one_winner(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let attempts = (0..8).map(|i| {
        let s = s.clone();
        async move {
            let request = if i % 2 == 0 {
                FinishRun::success()
            } else {
                FinishRun::new(Some("FAILED"), None).unwrap()
            };
            s.runs.finish(&user("alice"), run.id, request).await
        }
    });
    let results = join_all(attempts).await;
    let winners: Vec<&Run> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(ServiceError::RunNotRunning { .. })))
    );
    assert_eq!(s.runs.get(run.id).await.unwrap().status, winners[0].status);
}

/// Interrupt-all cancels the caller's running runs only; an admin's cancels everyone's.
pub async fn interrupt_all_cancels_own_runs_unless_admin(store: &TestStore) {
    let s = store.services(roomy());
    let a1 = start(&s, "alice", &["s1"]).await;
    let a2 = start(&s, "alice", &["s1"]).await;
    let b1 = start(&s, "bob", &["s1"]).await;
    s.runs
        .finish(&user("alice"), a2.id, FinishRun::success())
        .await
        .unwrap();
    assert_eq!(s.runs.interrupt_all(&user("alice")).await.unwrap(), 1);
    assert_eq!(s.runs.get(a1.id).await.unwrap().status, RunStatus::Canceled);
    assert_eq!(s.runs.get(a2.id).await.unwrap().status, RunStatus::Success);
    assert_eq!(s.runs.get(b1.id).await.unwrap().status, RunStatus::Running);
    assert_eq!(s.runs.interrupt_all(&user("admin")).await.unwrap(), 1);
    assert_eq!(s.runs.get(b1.id).await.unwrap().status, RunStatus::Canceled);
    assert_eq!(s.runs.interrupt_all(&user("admin")).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// Capacity and timeouts

async fn concurrent_starts(
    s: &Services,
    users: impl Fn(usize) -> String,
) -> Vec<Result<Run, ServiceError>> {
    let attempts = (0..32).map(|i| {
        let s = s.clone();
        let who = users(i);
        async move { s.runs.start(&user(&who), start_request(&["s1"], 60)).await }
    });
    // Spawned tasks so the starts really overlap on a multi-threaded runtime.
    let handles: Vec<_> = attempts.map(tokio::spawn).collect();
    join_all(handles)
        .await
        .into_iter()
        .map(|h| h.expect("start task"))
        .collect()
}

/// 32 concurrent starts by different users admit exactly the global limit.
pub async fn global_capacity_holds_under_32_concurrent_starts(store: &TestStore) {
    let s = store.services(default_config());
    let results = concurrent_starts(&s, |i| format!("user{i:02}")).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 5, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        match refused {
            ServiceError::CapacityExhausted {
                exhausted,
                retry_after_secs,
            } => {
                assert_eq!(exhausted.scope, CapacityScope::Global);
                assert_eq!(exhausted.max_allowed, 5);
                assert!(exhausted.current_running <= 5);
                assert!(*retry_after_secs >= 1);
            }
            other => panic!("unexpected refusal {other:?}"),
        }
    }
    let capacity = s.runs.capacity(None).await.unwrap();
    assert_eq!((capacity.current_running, capacity.available), (5, 0));
    assert_eq!(s.runs.running().await.unwrap().len(), 5);
}

/// 32 concurrent starts by one user admit exactly the per-user limit.
pub async fn per_user_capacity_holds_under_32_concurrent_starts(store: &TestStore) {
    let s = store.services(RunConfig {
        limits: CapacityLimits {
            global: 100,
            per_user: 3,
        },
        ..default_config()
    });
    let results = concurrent_starts(&s, |_| "alice".into()).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        3,
        "{results:?}"
    );
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(
        e,
        ServiceError::CapacityExhausted { exhausted, .. } if exhausted.scope == CapacityScope::User && exhausted.max_allowed == 3
    )));
    let bob = s.runs.start(&user("bob"), start_request(&["s1"], 60)).await;
    assert!(bob.is_ok(), "another user still has room: {bob:?}");
    let capacity = s.runs.capacity(Some(&user("alice"))).await.unwrap();
    assert_eq!(capacity.user, Some((3, 3)));
    assert!(!capacity.can_start);
}

/// A finished run gives its slot back at once.
pub async fn a_finished_run_frees_its_slot(store: &TestStore) {
    let s = store.services(RunConfig {
        limits: CapacityLimits {
            global: 1,
            per_user: 1,
        },
        ..default_config()
    });
    let run = start(&s, "alice", &["s1"]).await;
    assert!(
        s.runs
            .start(&user("bob"), start_request(&["s1"], 60))
            .await
            .is_err()
    );
    s.runs
        .finish(&user("alice"), run.id, FinishRun::success())
        .await
        .unwrap();
    assert!(
        s.runs
            .start(&user("bob"), start_request(&["s1"], 60))
            .await
            .is_ok()
    );
}

/// A run past `startedAt + duration + grace` frees its slot without any sweep having run.
pub async fn a_timed_out_run_frees_its_slot_without_a_sweep(store: &TestStore) {
    let s = store.services(RunConfig {
        limits: CapacityLimits {
            global: 1,
            per_user: 1,
        },
        ..default_config()
    });
    start(&s, "alice", &["s1"]).await;
    s.clock.advance_secs(60 + 120);
    assert!(
        s.runs
            .start(&user("bob"), start_request(&["s1"], 60))
            .await
            .is_err(),
        "still within grace at the deadline itself"
    );
    s.clock.advance_micros(1);
    assert_eq!(s.runs.capacity(None).await.unwrap().current_running, 0);
    assert!(
        s.runs
            .start(&user("bob"), start_request(&["s1"], 60))
            .await
            .is_ok()
    );
}

/// Get, list, running and count all see a run past its deadline as `TIMEOUT`, finished at the
/// deadline, before anything persisted it.
pub async fn a_timed_out_run_is_seen_as_timeout_everywhere(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    s.clock.advance_secs(181);
    let got = s.runs.get(run.id).await.unwrap();
    assert_eq!(got.status, RunStatus::Timeout);
    assert_eq!(got.finished_at, Some(run.deadline));
    let listed = s.runs.list(run_query(10)).await.unwrap();
    assert_eq!(listed.items[0].status, RunStatus::Timeout);
    assert!(s.runs.running().await.unwrap().is_empty());
    assert_eq!(
        s.runs.capacity(Some(&user("alice"))).await.unwrap().user,
        Some((0, 5))
    );
    let finish = s
        .runs
        .finish(&user("alice"), run.id, FinishRun::success())
        .await;
    assert_eq!(finish, not_running(&run, RunStatus::Timeout));
}

/// The sweep persists `TIMEOUT` once, leaves running and finished runs alone.
pub async fn the_sweep_persists_timeouts_once(store: &TestStore) {
    let s = store.services(roomy());
    let old = start(&s, "alice", &["s1"]).await;
    let finished = start(&s, "alice", &["s1"]).await;
    s.runs
        .finish(&user("alice"), finished.id, FinishRun::success())
        .await
        .unwrap();
    s.clock.advance_secs(170);
    let young = start(&s, "bob", &["s1"]).await;
    s.clock.advance_secs(11);
    assert_eq!(s.runs.sweep().await.unwrap().expired, 1);
    assert_eq!(s.runs.sweep().await.unwrap().expired, 0);
    let stored = store.runs.get_run(old.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Timeout);
    assert_eq!(stored.finished_at, Some(old.deadline));
    assert_eq!(
        s.runs.get(young.id).await.unwrap().status,
        RunStatus::Running
    );
    assert_eq!(
        s.runs.get(finished.id).await.unwrap().status,
        RunStatus::Success
    );
}

// ---------------------------------------------------------------------------------------------
// Readings

/// Readings list by timestamp, then sensor id, then type, whatever the insertion order.
pub async fn readings_list_by_timestamp_then_sensor_then_type(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["b", "a", "a-b"]).await;
    let t0 = s.clock.now();
    let alice = user("alice");
    let sends = [
        ("b", "temperature", 1),
        ("a", "temperature", 1),
        ("a", "humidity", 1),
        ("a-b", "pressure", 0),
        ("b", "humidity", 0),
        ("a", "pressure", 2),
    ];
    for (sensor, kind, offset) in sends {
        s.readings
            .ingest(
                &alice,
                run.id,
                reading(sensor, kind, 10.0, Some(&ts(t0, offset))),
            )
            .await
            .unwrap();
    }
    let (items, _) = all_readings(&s, query(run.id, 100)).await;
    let order: Vec<(i64, &str, &str)> = items
        .iter()
        .map(|r| {
            (
                r.timestamp.unix_micros() - t0.unix_micros(),
                r.sensor_id.as_str(),
                r.kind.as_str(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            (0, "a-b", "pressure"),
            (0, "b", "humidity"),
            (1, "a", "humidity"),
            (1, "a", "temperature"),
            (1, "b", "temperature"),
            (2, "a", "pressure"),
        ]
    );
}

/// Readings filter by sensor, by type and by a time range with `from` inclusive, `to` exclusive.
pub async fn readings_filter_by_sensor_type_and_time_range(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1", "s2"]).await;
    let t0 = s.clock.now();
    let batch: Vec<NewReading> = (0..10)
        .flat_map(|i| {
            let at = ts(t0, i * 1_000_000);
            vec![
                reading("s1", "temperature", 20.0, Some(&at)),
                reading("s1", "humidity", 40.0, Some(&at)),
                reading("s2", "temperature", 21.0, Some(&at)),
            ]
        })
        .collect();
    s.readings
        .ingest_batch(&user("alice"), run.id, batch)
        .await
        .unwrap();
    let filtered = |q: ReadingQuery| {
        let s = s.clone();
        async move { all_readings(&s, q).await.0 }
    };
    let by_sensor = filtered(ReadingQuery {
        sensor_id: Some(SensorId::parse("s2").unwrap()),
        ..query(run.id, 4)
    })
    .await;
    assert_eq!(by_sensor.len(), 10);
    assert!(by_sensor.iter().all(|r| r.sensor_id.as_str() == "s2"));
    let by_type = filtered(ReadingQuery {
        kind: Some(ReadingType::Humidity),
        ..query(run.id, 3)
    })
    .await;
    assert_eq!(by_type.len(), 10);
    assert!(by_type.iter().all(|r| r.kind == ReadingType::Humidity));
    let window = filtered(ReadingQuery {
        sensor_id: Some(SensorId::parse("s1").unwrap()),
        kind: Some(ReadingType::Temperature),
        from: Some(ts(t0, 2_000_000)),
        to: Some(ts(t0, 5_000_000)),
        ..query(run.id, 2)
    })
    .await;
    let seconds: Vec<i64> = window
        .iter()
        .map(|r| (r.timestamp.unix_micros() - t0.unix_micros()) / 1_000_000)
        .collect();
    assert_eq!(seconds, vec![2, 3, 4]);
}

/// Reading pages neither skip nor repeat, a page ending at the last item has no cursor, and
/// readings added between page reads after the cursor show up in later pages.
pub async fn reading_pages_have_no_gaps_or_repeats(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1", "s2"]).await;
    let t0 = s.clock.now();
    let batch: Vec<NewReading> = (0..25)
        .flat_map(|i| {
            let at = ts(t0, i);
            vec![
                reading("s1", "temperature", 20.0, Some(&at)),
                reading("s2", "temperature", 21.0, Some(&at)),
            ]
        })
        .collect();
    s.readings
        .ingest_batch(&user("alice"), run.id, batch)
        .await
        .unwrap();
    let (items, pages) = all_readings(&s, query(run.id, 10)).await;
    assert_eq!((items.len(), pages), (50, 5));
    let keys: HashSet<_> = items.iter().map(SensorReading::key).collect();
    assert_eq!(keys.len(), 50);

    let first = s.readings.list(query(run.id, 10)).await.unwrap();
    s.readings
        .ingest(
            &user("alice"),
            run.id,
            reading("s1", "pressure", 1000.0, Some(&ts(t0, 100))),
        )
        .await
        .unwrap();
    let (rest, _) = all_readings(
        &s,
        ReadingQuery {
            after: first.next,
            ..query(run.id, 10)
        },
    )
    .await;
    assert_eq!(first.items.len() + rest.len(), 51);
    assert_eq!(rest.last().unwrap().kind, ReadingType::Pressure);
}

/// Re-sending a reading with the same key and value returns the stored reading and stores nothing.
pub async fn a_replayed_reading_returns_the_stored_one(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let at = s.clock.now();
    let first = s
        .readings
        .ingest(
            &user("alice"),
            run.id,
            reading("s1", "temperature", 21.5, Some(&at)),
        )
        .await
        .unwrap();
    let Ingested::Created(stored) = first else {
        panic!("first send must create: {first:?}")
    };
    let again = s
        .readings
        .ingest(
            &user("alice"),
            run.id,
            reading("s1", "temperature", 21.5, Some(&at)),
        )
        .await
        .unwrap();
    assert_eq!(again, Ingested::Replayed(stored));
    assert_eq!(stored_readings(&s, run.id).await.len(), 1);
}

/// The same key with a different value is a conflict, and the stored value stays.
pub async fn a_different_value_under_the_same_key_is_a_conflict(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let at = s.clock.now();
    let alice = user("alice");
    s.readings
        .ingest(
            &alice,
            run.id,
            reading("s1", "temperature", 21.5, Some(&at)),
        )
        .await
        .unwrap();
    let other = s
        .readings
        .ingest(
            &alice,
            run.id,
            reading("s1", "temperature", 22.0, Some(&at)),
        )
        .await;
    assert!(
        matches!(other, Err(ServiceError::ReadingConflict(_))),
        "{other:?}"
    );
    // Another type at the same instant is another key.
    s.readings
        .ingest(&alice, run.id, reading("s1", "humidity", 22.0, Some(&at)))
        .await
        .unwrap();
    let items = stored_readings(&s, run.id).await;
    let temperature = items
        .iter()
        .find(|r| r.kind == ReadingType::Temperature)
        .unwrap();
    assert_eq!((items.len(), temperature.value), (2, 21.5));
}

/// The store itself answers `Existing` for a taken key and never overwrites it.
pub async fn the_store_never_overwrites_a_reading(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let original = SensorReading {
        run_id: run.id,
        sensor_id: SensorId::parse("s1").unwrap(),
        kind: ReadingType::Pressure,
        value: 1013.25,
        timestamp: s.clock.now(),
        user: user("alice"),
    };
    assert_eq!(
        store.readings.insert_reading(&original).await.unwrap(),
        Inserted::New
    );
    let changed = SensorReading {
        value: 990.0,
        ..original.clone()
    };
    assert_eq!(
        store.readings.insert_reading(&changed).await.unwrap(),
        Inserted::Existing(original)
    );
}

/// Readings sent without a timestamp in the same instant get distinct server timestamps.
pub async fn server_timestamps_are_unique_per_sensor_and_type(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    for _ in 0..3 {
        s.readings
            .ingest(
                &user("alice"),
                run.id,
                reading("s1", "temperature", 20.0, None),
            )
            .await
            .unwrap();
    }
    let batch = vec![
        reading("s1", "temperature", 20.0, None),
        reading("s1", "temperature", 20.0, None),
    ];
    let outcome = s
        .readings
        .ingest_batch(&user("alice"), run.id, batch)
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (2, 0));
    let items = stored_readings(&s, run.id).await;
    let stamps: HashSet<Timestamp> = items.iter().map(|r| r.timestamp).collect();
    assert_eq!((items.len(), stamps.len()), (5, 5));
}

/// A batch stores new readings and counts those already stored, or repeated, as duplicates.
pub async fn a_batch_counts_duplicates_and_stores_the_rest(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1", "s2"]).await;
    let t0 = s.clock.now();
    let alice = user("alice");
    s.readings
        .ingest(
            &alice,
            run.id,
            reading("s1", "temperature", 20.0, Some(&t0)),
        )
        .await
        .unwrap();
    let batch = vec![
        reading("s1", "temperature", 20.0, Some(&t0)),
        reading("s2", "temperature", 21.0, Some(&t0)),
        reading("s2", "temperature", 21.0, Some(&t0)),
        reading("s2", "humidity", 50.0, Some(&t0)),
    ];
    let outcome = s
        .readings
        .ingest_batch(&alice, run.id, batch.clone())
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (2, 2));
    let replay = s
        .readings
        .ingest_batch(&alice, run.id, batch)
        .await
        .unwrap();
    assert_eq!((replay.accepted, replay.duplicates), (0, 4));
    assert_eq!(stored_readings(&s, run.id).await.len(), 3);
}

/// A batch with one reading conflicting with a stored one stores nothing at all.
pub async fn a_conflicting_batch_stores_nothing(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1", "s2"]).await;
    let t0 = s.clock.now();
    let alice = user("alice");
    s.readings
        .ingest(
            &alice,
            run.id,
            reading("s2", "temperature", 20.0, Some(&ts(t0, 50))),
        )
        .await
        .unwrap();
    let mut batch: Vec<NewReading> = (0..100)
        .map(|i| reading("s1", "temperature", 20.0, Some(&ts(t0, i))))
        .collect();
    batch.push(reading("s2", "temperature", 25.0, Some(&ts(t0, 50))));
    let result = s.readings.ingest_batch(&alice, run.id, batch).await;
    assert!(
        matches!(result, Err(ServiceError::ReadingConflict(_))),
        "{result:?}"
    );
    assert_eq!(stored_readings(&s, run.id).await.len(), 1);
}

/// A key repeated inside one batch with different values is refused before anything is stored.
pub async fn a_batch_repeating_a_key_with_another_value_is_invalid(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let t0 = s.clock.now();
    let batch = vec![
        reading("s1", "temperature", 20.0, Some(&ts(t0, 1))),
        reading("s1", "temperature", 20.0, Some(&t0)),
        reading("s1", "temperature", 21.0, Some(&t0)),
    ];
    let result = s.readings.ingest_batch(&user("alice"), run.id, batch).await;
    match result {
        Err(ServiceError::Invalid(e)) => assert_eq!(e.field, "readings[2]"),
        other => panic!("expected invalid, got {other:?}"),
    }
    assert!(stored_readings(&s, run.id).await.is_empty());
}

/// A batch of 1000 readings (more than one DynamoDB request) is stored whole, and again is all
/// duplicates.
pub async fn a_batch_of_1000_readings_is_stored_whole(store: &TestStore) {
    let s = store.services(default_config());
    let sensors: Vec<String> = (0..10).map(|i| format!("sensor-{i}")).collect();
    let sensor_refs: Vec<&str> = sensors.iter().map(String::as_str).collect();
    let run = start(&s, "alice", &sensor_refs).await;
    let t0 = s.clock.now();
    let batch: Vec<NewReading> = (0..1000)
        .map(|i| {
            let kind = ["temperature", "humidity"][usize::from(i % 2 == 0)];
            let sensor = sensors[(i as usize / 2) % 10].as_str();
            reading(
                sensor,
                kind,
                f64::from(i % 90) + 0.25,
                Some(&ts(t0, i64::from(i / 20))),
            )
        })
        .collect();
    let outcome = s
        .readings
        .ingest_batch(&user("alice"), run.id, batch.clone())
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (1000, 0));
    let (items, _) = all_readings(&s, query(run.id, 1000)).await;
    assert_eq!(items.len(), 1000);
    let replay = s
        .readings
        .ingest_batch(&user("alice"), run.id, batch)
        .await
        .unwrap();
    assert_eq!((replay.accepted, replay.duplicates), (0, 1000));
}

/// Readings are refused for a finished run, a timed-out run, another user's run, a missing run and
/// a sensor outside the run, and nothing is stored.
pub async fn readings_are_refused_unless_the_run_is_running_and_owned(store: &TestStore) {
    let s = store.services(roomy());
    let alice = user("alice");
    let one = |sensor: &str| reading(sensor, "temperature", 20.0, None);
    let finished = start(&s, "alice", &["s1"]).await;
    s.runs
        .finish(&alice, finished.id, FinishRun::success())
        .await
        .unwrap();
    assert!(matches!(
        s.readings.ingest(&alice, finished.id, one("s1")).await,
        Err(ServiceError::RunNotRunning {
            status: RunStatus::Success,
            ..
        })
    ));
    let running = start(&s, "alice", &["s1"]).await;
    assert_eq!(
        s.readings
            .ingest(&user("mallory"), running.id, one("s1"))
            .await,
        Err(ServiceError::RunNotFound(running.id))
    );
    assert!(matches!(
        s.readings.ingest(&alice, running.id, one("s9")).await,
        Err(ServiceError::UnknownSensor { .. })
    ));
    assert!(matches!(
        s.readings
            .ingest_batch(&alice, running.id, vec![one("s1"), one("s9")])
            .await,
        Err(ServiceError::UnknownSensor { .. })
    ));
    let missing = RunId::from_uuid(uuid::Uuid::new_v4());
    assert_eq!(
        s.readings.ingest(&alice, missing, one("s1")).await,
        Err(ServiceError::RunNotFound(missing))
    );
    s.clock.advance_secs(181);
    assert!(matches!(
        s.readings
            .ingest_batch(&alice, running.id, vec![one("s1")])
            .await,
        Err(ServiceError::RunNotRunning {
            status: RunStatus::Timeout,
            ..
        })
    ));
    for run in [finished.id, running.id] {
        assert!(stored_readings(&s, run).await.is_empty());
    }
}

/// A replay into a run that is no longer running is `run_not_running`, not a replay.
pub async fn a_replay_into_a_finished_run_is_refused(store: &TestStore) {
    let s = store.services(default_config());
    let alice = user("alice");
    let run = start(&s, "alice", &["s1"]).await;
    let at = s.clock.now();
    s.readings
        .ingest(
            &alice,
            run.id,
            reading("s1", "temperature", 20.0, Some(&at)),
        )
        .await
        .unwrap();
    s.runs
        .finish(&alice, run.id, FinishRun::success())
        .await
        .unwrap();
    let replay = s
        .readings
        .ingest(
            &alice,
            run.id,
            reading("s1", "temperature", 20.0, Some(&at)),
        )
        .await;
    assert!(
        matches!(replay, Err(ServiceError::RunNotRunning { .. })),
        "{replay:?}"
    );
}

/// The summary gives count, min, max, avg, first and last per sensor and type.
pub async fn the_summary_aggregates_per_sensor_and_type(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1", "s2"]).await;
    let t0 = s.clock.now();
    let batch = vec![
        reading("s1", "temperature", 10.0, Some(&ts(t0, 3))),
        reading("s1", "temperature", 20.0, Some(&ts(t0, 1))),
        reading("s1", "temperature", 30.0, Some(&ts(t0, 2))),
        reading("s1", "humidity", 55.5, Some(&ts(t0, 7))),
        reading("s2", "temperature", -5.0, Some(&ts(t0, 4))),
    ];
    s.readings
        .ingest_batch(&user("alice"), run.id, batch)
        .await
        .unwrap();
    let summary = s.readings.summary(run.id).await.unwrap();
    type Row<'a> = (&'a str, ReadingType, u64, f64, f64, f64, i64, i64);
    let rows: Vec<Row> = summary
        .iter()
        .map(|r| {
            (
                r.sensor_id.as_str(),
                r.kind,
                r.count,
                r.min,
                r.max,
                r.avg,
                r.first.unix_micros() - t0.unix_micros(),
                r.last.unix_micros() - t0.unix_micros(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("s1", ReadingType::Humidity, 1, 55.5, 55.5, 55.5, 7, 7),
            ("s1", ReadingType::Temperature, 3, 10.0, 30.0, 20.0, 1, 3),
            ("s2", ReadingType::Temperature, 1, -5.0, -5.0, -5.0, 4, 4),
        ]
    );
    let empty = start(&s, "alice", &["s1"]).await;
    assert!(s.readings.summary(empty.id).await.unwrap().is_empty());
}

/// The latest readings come newest first, optionally of one sensor, at most `limit`.
pub async fn the_latest_readings_come_newest_first(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1", "s2"]).await;
    let t0 = s.clock.now();
    let batch: Vec<NewReading> = (0..6)
        .map(|i| {
            reading(
                ["s1", "s2"][i % 2],
                "temperature",
                20.0,
                Some(&ts(t0, i as i64)),
            )
        })
        .collect();
    s.readings
        .ingest_batch(&user("alice"), run.id, batch)
        .await
        .unwrap();
    let latest = s.readings.latest(run.id, None, 4).await.unwrap();
    let offsets: Vec<i64> = latest
        .iter()
        .map(|r| r.timestamp.unix_micros() - t0.unix_micros())
        .collect();
    assert_eq!(offsets, vec![5, 4, 3, 2]);
    let s1 = SensorId::parse("s1").unwrap();
    let of_s1 = s.readings.latest(run.id, Some(&s1), 10).await.unwrap();
    let offsets: Vec<i64> = of_s1
        .iter()
        .map(|r| r.timestamp.unix_micros() - t0.unix_micros())
        .collect();
    assert_eq!(offsets, vec![4, 2, 0]);
}

/// Timestamps and values round-trip exactly: microseconds, offsets normalised to UTC, awkward
/// floating-point values.
pub async fn timestamps_and_values_round_trip_exactly(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let alice = user("alice");
    let sent = [
        ("2026-11-25T10:00:00.000001Z", "temperature", 0.1),
        ("2026-11-25T11:00:00.999999+01:00", "humidity", 1e-7),
        (
            "2026-11-25T10:00:00.5Z",
            "pressure",
            1_013.123_456_789_012_3,
        ),
        ("2026-11-25T10:00:01Z", "temperature", -273.15),
    ];
    for (at, kind, value) in sent {
        let r = NewReading::new("s1", kind, value, Some(at)).unwrap();
        s.readings.ingest(&alice, run.id, r).await.unwrap();
    }
    let items = stored_readings(&s, run.id).await;
    let got: Vec<(String, f64)> = items
        .iter()
        .map(|r| (r.timestamp.to_string(), r.value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2026-11-25T10:00:00.000001Z".to_string(), 0.1),
            (
                "2026-11-25T10:00:00.500000Z".to_string(),
                1_013.123_456_789_012_3
            ),
            ("2026-11-25T10:00:00.999999Z".to_string(), 1e-7),
            ("2026-11-25T10:00:01.000000Z".to_string(), -273.15),
        ]
    );
}

/// A batch stores timestamps at both ends of the range (years 0000 and 9999) and awkward
/// floating-point values exactly, as single readings do.
pub async fn a_batch_round_trips_the_ends_of_the_timestamp_range(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1", "s2"]).await;
    let sent = [
        ("0000-01-01T00:00:00Z", "s1", "temperature", 0.1),
        ("0000-03-01T12:34:56.000001Z", "s2", "humidity", 1e-7),
        (
            "2026-11-25T10:00:00.5Z",
            "s1",
            "pressure",
            1_013.123_456_789_012_3,
        ),
        ("9999-12-31T23:59:59.999999Z", "s2", "temperature", -273.15),
    ];
    let batch: Vec<NewReading> = sent
        .iter()
        .map(|&(at, sensor, kind, value)| NewReading::new(sensor, kind, value, Some(at)).unwrap())
        .collect();
    s.readings
        .ingest_batch(&user("alice"), run.id, batch)
        .await
        .unwrap();
    let got: Vec<(String, String, f64)> = stored_readings(&s, run.id)
        .await
        .iter()
        .map(|r| (r.timestamp.to_string(), r.sensor_id.to_string(), r.value))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "0000-01-01T00:00:00.000000Z".to_string(),
                "s1".to_string(),
                0.1
            ),
            (
                "0000-03-01T12:34:56.000001Z".to_string(),
                "s2".to_string(),
                1e-7
            ),
            (
                "2026-11-25T10:00:00.500000Z".to_string(),
                "s1".to_string(),
                1_013.123_456_789_012_3
            ),
            (
                "9999-12-31T23:59:59.999999Z".to_string(),
                "s2".to_string(),
                -273.15
            ),
        ]
    );
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// The longest user name, 100 sensors of the longest id and a long non-ASCII message round-trip.
pub async fn maximum_length_and_non_ascii_values_round_trip(store: &TestStore) {
    let s = store.services(default_config());
    let name = "a._-".repeat(5);
    let owner = user(&name);
    let sensors: Vec<String> = (0..100)
        .map(|i| format!("{i:03}:{}", "x.-_".repeat(15)))
        .collect();
    assert!(sensors.iter().all(|id| id.len() == 64));
    let run = s
        .runs
        .start(
            &owner,
            StartRun::new(sensors.clone(), Some(86_400), Some(3600.0)).unwrap(),
        )
        .await
        .unwrap();
    let got = s.runs.get(run.id).await.unwrap();
    let got_sensors: Vec<String> = got.sensor_ids.iter().map(ToString::to_string).collect();
    assert_eq!(
        (got.username.as_str(), got_sensors),
        (name.as_str(), sensors.clone())
    );
    let message = "Échec: capteur «température» hors ligne 🌡️ — 測定失敗 ".repeat(15);
    let message: String = message.chars().take(FinishRun::MAX_MESSAGE).collect();
    let request = FinishRun::new(Some("FAILED"), Some(message.clone())).unwrap();
    let done = s.runs.finish(&owner, run.id, request).await.unwrap();
    assert_eq!(done.error_message.as_deref(), Some(message.as_str()));
    assert_eq!(
        s.runs.get(run.id).await.unwrap().error_message,
        Some(message)
    );
}

// ---------------------------------------------------------------------------------------------
// Write-once readings under concurrency: a stored reading never changes value, of concurrent
// writers of different values under one key at most one is acknowledged, and a batch that meets a
// conflict stores nothing of its own.

/// Rounds of each race: enough interleavings to catch a window, few enough to stay quick.
const RACE_ROUNDS: i64 = 6;

/// A batch of `n` client-stamped readings of one sensor, values `value(i)`, at `at + i µs`.
fn keyed_batch(sensor: &str, at: Timestamp, n: i64, value: impl Fn(i64) -> f64) -> Vec<NewReading> {
    (0..n)
        .map(|i| reading(sensor, "temperature", value(i), Some(&ts(at, i))))
        .collect()
}

/// The stored value of every reading of `sensor` in `[from, from + n µs)`, by offset.
async fn stored_values(
    s: &Services,
    run: RunId,
    sensor: &str,
    from: Timestamp,
    n: i64,
) -> std::collections::BTreeMap<i64, f64> {
    let mut q = query(run, 1000);
    q.sensor_id = Some(SensorId::parse(sensor).expect("valid sensor"));
    q.from = Some(from);
    q.to = Some(ts(from, n));
    let (items, _) = all_readings(s, q).await;
    items
        .into_iter()
        .map(|r| (r.timestamp.unix_micros() - from.unix_micros(), r.value))
        .collect()
}

/// Four batches over the same keys with different values, sent at once: at most one is
/// acknowledged, and what is stored is exactly that batch (or nothing).
pub async fn concurrent_conflicting_batches_acknowledge_at_most_one(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let alice = user("alice");
    let t0 = s.clock.now();
    let value = |batch: usize, i: i64| batch as f64 + i as f64 / 1000.0;
    for round in 0..RACE_ROUNDS {
        let at = ts(t0, round * 1_000);
        let batches: Vec<Vec<NewReading>> = (0..4)
            .map(|b| keyed_batch("s1", at, 100, |i| value(b, i)))
            .collect();
        let outcomes = join_all(
            batches
                .iter()
                .map(|batch| s.readings.ingest_batch(&alice, run.id, batch.clone())),
        )
        .await;
        let mut winners = Vec::new();
        for (b, outcome) in outcomes.iter().enumerate() {
            match outcome {
                Ok(done) => {
                    assert_eq!((done.accepted, done.duplicates), (100, 0), "round {round}");
                    winners.push(b);
                }
                Err(ServiceError::ReadingConflict(_)) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert!(
            winners.len() <= 1,
            "round {round}: acknowledged {winners:?}"
        );
        let stored = stored_values(&s, run.id, "s1", at, 100).await;
        match winners.first() {
            Some(&b) => {
                let expected: std::collections::BTreeMap<i64, f64> =
                    (0..100).map(|i| (i, value(b, i))).collect();
                assert_eq!(stored, expected, "round {round}: not exactly batch {b}");
            }
            None => assert!(
                stored.is_empty(),
                "round {round}: refused batches left {stored:?}"
            ),
        }
    }
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// A single reading racing a batch that holds the same key with another value: exactly one of
/// the two is acknowledged, and the store holds exactly what was acknowledged.
pub async fn a_single_reading_racing_a_batch_has_exactly_one_winner(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let alice = user("alice");
    let t0 = s.clock.now();
    for round in 0..RACE_ROUNDS {
        let at = ts(t0, round * 1_000);
        let batch = keyed_batch("s1", at, 50, |i| 100.0 + i as f64);
        let single = reading("s1", "temperature", -1.0, Some(&ts(at, 25)));
        let (single_result, batch_result) = futures::join!(
            s.readings.ingest(&alice, run.id, single),
            s.readings.ingest_batch(&alice, run.id, batch),
        );
        let stored = stored_values(&s, run.id, "s1", at, 50).await;
        match (single_result, batch_result) {
            (Ok(Ingested::Created(_)), Err(ServiceError::ReadingConflict(_))) => {
                assert_eq!(stored.into_iter().collect::<Vec<_>>(), vec![(25, -1.0)]);
            }
            (Err(ServiceError::ReadingConflict(_)), Ok(done)) => {
                assert_eq!(done.accepted, 50, "round {round}");
                let expected: Vec<(i64, f64)> = (0..50).map(|i| (i, 100.0 + i as f64)).collect();
                assert_eq!(stored.into_iter().collect::<Vec<_>>(), expected);
            }
            other => panic!("round {round}: expected exactly one winner, got {other:?}"),
        }
    }
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// Batches racing with overlapping keys: the same values under shared keys are acknowledged by
/// both; a batch refused for a conflict elsewhere never takes back a reading that another writer
/// acknowledged.
pub async fn racing_batches_never_lose_an_acknowledged_reading(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let alice = user("alice");
    let t0 = s.clock.now();
    for round in 0..RACE_ROUNDS {
        let at = ts(t0, round * 1_000);
        // `plain` and `greedy` agree on keys 0..100; `greedy` also claims key 100, which a single
        // reading with another value races for.
        let plain = keyed_batch("s1", at, 100, |i| i as f64);
        let greedy = keyed_batch("s1", at, 101, |i| i as f64);
        let rival = reading("s1", "temperature", -1.0, Some(&ts(at, 100)));
        let (plain_result, greedy_result, rival_result) = futures::join!(
            s.readings.ingest_batch(&alice, run.id, plain),
            s.readings.ingest_batch(&alice, run.id, greedy),
            s.readings.ingest(&alice, run.id, rival),
        );
        let plain_done = plain_result.unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        assert_eq!(plain_done.accepted + plain_done.duplicates, 100);
        let stored = stored_values(&s, run.id, "s1", at, 101).await;
        for i in 0..100 {
            assert_eq!(
                stored.get(&i),
                Some(&(i as f64)),
                "round {round}: key {i} lost"
            );
        }
        match (greedy_result, rival_result) {
            (Ok(_), Err(ServiceError::ReadingConflict(_))) => {
                assert_eq!(stored.get(&100), Some(&100.0));
            }
            (Err(ServiceError::ReadingConflict(_)), Ok(Ingested::Created(_))) => {
                assert_eq!(stored.get(&100), Some(&-1.0));
            }
            other => panic!("round {round}: expected exactly one owner of key 100, got {other:?}"),
        }
    }
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// The same batch sent four times at once: every copy is acknowledged, each reading is counted
/// new exactly once, and it is stored once.
pub async fn concurrent_identical_batches_store_each_reading_once(store: &TestStore) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let alice = user("alice");
    let at = s.clock.now();
    let batch = keyed_batch("s1", at, 200, |i| i as f64 / 4.0);
    let outcomes =
        join_all((0..4).map(|_| s.readings.ingest_batch(&alice, run.id, batch.clone()))).await;
    let (mut accepted, mut duplicates) = (0, 0);
    for outcome in outcomes {
        let done = outcome.expect("an identical batch is never refused");
        accepted += done.accepted;
        duplicates += done.duplicates;
    }
    assert_eq!((accepted, duplicates), (200, 600));
    assert_eq!(stored_values(&s, run.id, "s1", at, 200).await.len(), 200);
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// Summaries read while single readings of one sensor and type, their replays, and identical
/// batches and a conflicting one over many sensors and types all succeed, and once the writers
/// are done the summary counts every stored reading exactly once.
pub async fn summaries_during_concurrent_writes_count_each_reading_once(store: &TestStore) {
    let s = store.services(default_config());
    let sensors = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let run = start(&s, "alice", &sensors).await;
    let alice = user("alice");
    let t0 = s.clock.now();
    let single = |i: i64| reading("s1", "temperature", i as f64, Some(&ts(t0, i)));
    // Batches over six sensors and two types: a dozen (sensor, type) groups each.
    let spread = |from: i64, value: fn(i64) -> f64| -> Vec<NewReading> {
        (0..96)
            .map(|i| {
                let kind = if i % 2 == 0 {
                    "temperature"
                } else {
                    "humidity"
                };
                let sensor = sensors[(i / 2 % 6) as usize];
                reading(sensor, kind, value(i), Some(&ts(t0, from + i)))
            })
            .collect()
    };
    let singles = (0..64).map(|i| {
        let (s, alice) = (s.clone(), alice.clone());
        // 48 new readings, then replays of the first 16.
        async move {
            s.readings
                .ingest(&alice, run.id, single(i % 48))
                .await
                .map(|_| ())
        }
    });
    let shared = spread(100, |i| 0.5 + i as f64);
    let rival = spread(148, |i| 0.25 + i as f64);
    let batches = [shared.clone(), shared, rival].map(|batch| {
        let (s, alice) = (s.clone(), alice.clone());
        async move {
            match s.readings.ingest_batch(&alice, run.id, batch).await {
                Ok(_) | Err(ServiceError::ReadingConflict(_)) => Ok(()),
                Err(other) => Err(other),
            }
        }
    });
    let summaries = (0..8).map(|_| {
        let s = s.clone();
        async move {
            let summary = s.readings.summary(run.id).await?;
            assert!(summary.iter().map(|r| r.count).sum::<u64>() <= 48 + 2 * 96);
            Ok(())
        }
    });
    let (singles, batches, summaries) =
        futures::join!(join_all(singles), join_all(batches), join_all(summaries));
    for outcome in singles.into_iter().chain(batches).chain(summaries) {
        let outcome: Result<(), ServiceError> = outcome;
        outcome.expect("every write and every summary is answered");
    }
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// Two identical batches racing a third that holds other values under half of their keys: the
/// store ends up holding exactly the acknowledged batches' readings. Refused batches leave
/// nothing behind, even readings an identical batch found and kept from being taken back.
pub async fn identical_batches_racing_a_conflict_store_only_what_was_acknowledged(
    store: &TestStore,
) {
    let s = store.services(default_config());
    let run = start(&s, "alice", &["s1"]).await;
    let alice = user("alice");
    let t0 = s.clock.now();
    for round in 0..RACE_ROUNDS {
        let at = ts(t0, round * 1_000);
        let shared = keyed_batch("s1", at, 40, |i| i as f64);
        let rival = keyed_batch("s1", ts(at, 20), 40, |i| -1.0 - i as f64);
        let (first, second, third) = futures::join!(
            s.readings.ingest_batch(&alice, run.id, shared.clone()),
            s.readings.ingest_batch(&alice, run.id, shared),
            s.readings.ingest_batch(&alice, run.id, rival),
        );
        let stored = stored_values(&s, run.id, "s1", at, 60).await;
        let mut expected = std::collections::BTreeMap::new();
        for outcome in [&first, &second] {
            match outcome {
                Ok(_) => expected.extend((0..40).map(|i| (i, i as f64))),
                Err(ServiceError::ReadingConflict(_)) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        match &third {
            Ok(_) => expected.extend((20..60).map(|i| (i, -1.0 - (i - 20) as f64))),
            Err(ServiceError::ReadingConflict(_)) => {}
            Err(other) => panic!("round {round}: unexpected {other:?}"),
        }
        assert_eq!(
            stored, expected,
            "round {round}: stored vs acknowledged ({first:?}, {second:?}, {third:?})"
        );
    }
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// Stamps out every storage scenario for one backend, as `mod $backend { #[tokio::test] fn … }`.
///
/// `$factory` is an async expression giving `Option<TestStore>` (`None`: backend not configured,
/// skip). The namespace is cleaned up even when the scenario fails.
#[macro_export]
macro_rules! storage_suite {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::storage_suite!(@each $factory;
                a_started_run_reads_back_with_every_field,
                an_unknown_run_is_not_found,
                a_duplicate_run_id_is_refused,
                run_pages_are_newest_first_without_gaps_or_repeats,
                a_page_ending_at_the_last_run_has_no_cursor,
                runs_created_between_page_reads_do_not_disturb_later_pages,
                runs_started_in_the_same_instant_page_stably,
                runs_filter_by_user_and_observed_status,
                a_run_finishes_once_and_stays_finished,
                a_successful_finish_stores_no_message,
                a_run_cannot_be_finished_by_another_user,
                concurrent_finishes_have_exactly_one_winner,
                interrupt_all_cancels_own_runs_unless_admin,
                global_capacity_holds_under_32_concurrent_starts,
                per_user_capacity_holds_under_32_concurrent_starts,
                a_finished_run_frees_its_slot,
                a_timed_out_run_frees_its_slot_without_a_sweep,
                a_timed_out_run_is_seen_as_timeout_everywhere,
                the_sweep_persists_timeouts_once,
                readings_list_by_timestamp_then_sensor_then_type,
                readings_filter_by_sensor_type_and_time_range,
                reading_pages_have_no_gaps_or_repeats,
                a_replayed_reading_returns_the_stored_one,
                a_different_value_under_the_same_key_is_a_conflict,
                the_store_never_overwrites_a_reading,
                server_timestamps_are_unique_per_sensor_and_type,
                a_batch_counts_duplicates_and_stores_the_rest,
                a_conflicting_batch_stores_nothing,
                a_batch_repeating_a_key_with_another_value_is_invalid,
                a_batch_of_1000_readings_is_stored_whole,
                readings_are_refused_unless_the_run_is_running_and_owned,
                a_replay_into_a_finished_run_is_refused,
                the_summary_aggregates_per_sensor_and_type,
                the_latest_readings_come_newest_first,
                timestamps_and_values_round_trip_exactly,
                a_batch_round_trips_the_ends_of_the_timestamp_range,
                maximum_length_and_non_ascii_values_round_trip,
                concurrent_single_readings_each_get_their_exact_answer,
                readings_racing_a_finish_are_stored_or_refused_never_lost,
                concurrent_conflicting_batches_acknowledge_at_most_one,
                a_single_reading_racing_a_batch_has_exactly_one_winner,
                racing_batches_never_lose_an_acknowledged_reading,
                concurrent_identical_batches_store_each_reading_once,
                summaries_during_concurrent_writes_count_each_reading_once,
                identical_batches_racing_a_conflict_store_only_what_was_acknowledged,
                a_start_retried_after_a_timeout_returns_the_first_run,
                an_idempotency_key_replays_its_run_and_refuses_other_parameters,
                concurrent_starts_under_one_key_create_one_run,
                the_sweep_purges_runs_past_their_retention,
            );
        }
    };
    (@each $factory:expr; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $scenario() {
                use ::futures::FutureExt as _;
                let Some(store) = $factory.await else { return };
                let outcome = ::std::panic::AssertUnwindSafe(
                    $crate::storage::$scenario(&store),
                )
                .catch_unwind()
                .await;
                store.cleanup().await;
                if let Err(panic) = outcome {
                    ::std::panic::resume_unwind(panic);
                }
            }
        )*
    };
}

// Concurrent single readings: what a store that groups them (one statement and one commit for
// many requests) must still get right for each one.

/// 64 concurrent single readings into one run (new, replays and conflicts of stored readings,
/// server-stamped ones of one sensor) each get their own exact answer, and the run then holds
/// exactly the expected readings.
pub async fn concurrent_single_readings_each_get_their_exact_answer(store: &TestStore) {
    let s = store.services(default_config());
    let alice = user("alice");
    let sensors = ["s0", "s1", "s2", "s3"];
    let run = start(&s, "alice", &sensors).await;
    let t0 = s.clock.now();
    let sensor = |i: usize| sensors[i % sensors.len()];
    let earlier: Vec<NewReading> = (0..16)
        .map(|i| reading(sensor(i), "temperature", 1.0, Some(&ts(t0, i as i64))))
        .collect();
    s.readings
        .ingest_batch(&alice, run.id, earlier)
        .await
        .unwrap();
    let attempts = (0..64).map(|i| {
        let (s, alice) = (s.clone(), alice.clone());
        async move {
            let sent = match i / 16 {
                0 => reading(sensor(i), "temperature", 1.0, Some(&ts(t0, i as i64))),
                1 => reading(
                    sensor(i),
                    "temperature",
                    2.0,
                    Some(&ts(t0, (i - 16) as i64)),
                ),
                2 => reading(
                    sensor(i),
                    "temperature",
                    i as f64,
                    Some(&ts(t0, 1000 + i as i64)),
                ),
                _ => reading("s0", "humidity", i as f64, None),
            };
            s.readings.ingest(&alice, run.id, sent).await
        }
    });
    let results = join_all(attempts).await;
    for (i, result) in results.iter().enumerate() {
        match (i / 16, result) {
            (0, Ok(Ingested::Replayed(r))) => assert_eq!(r.value, 1.0, "#{i}"),
            (1, Err(ServiceError::ReadingConflict(_))) => {}
            (2, Ok(Ingested::Created(r))) => {
                assert_eq!(
                    (r.value, r.timestamp),
                    (i as f64, ts(t0, 1000 + i as i64)),
                    "#{i}"
                );
            }
            (3, Ok(Ingested::Created(r))) => assert_eq!(r.value, i as f64, "#{i}"),
            _ => panic!("reading #{i}: unexpected answer {result:?}"),
        }
    }
    let mut expected: Vec<(String, String, f64, i64)> = (0..16)
        .map(|i| {
            (
                sensor(i).to_string(),
                "temperature".to_string(),
                1.0,
                ts(t0, i as i64).unix_micros(),
            )
        })
        .chain((32..48).map(|i| {
            let at = ts(t0, 1000 + i as i64).unix_micros();
            (
                sensor(i).to_string(),
                "temperature".to_string(),
                i as f64,
                at,
            )
        }))
        .chain(results[48..].iter().map(|r| match r {
            Ok(Ingested::Created(r)) => (
                "s0".to_string(),
                "humidity".to_string(),
                r.value,
                r.timestamp.unix_micros(),
            ),
            other => panic!("{other:?}"),
        }))
        .collect();
    expected.sort_by(|a, b| (a.3, &a.0, &a.1).cmp(&(b.3, &b.0, &b.1)));
    let stored: Vec<(String, String, f64, i64)> = stored_readings(&s, run.id)
        .await
        .iter()
        .map(|r| {
            let kind = r.kind.as_str().to_string();
            (
                r.sensor_id.to_string(),
                kind,
                r.value,
                r.timestamp.unix_micros(),
            )
        })
        .collect();
    assert_eq!(stored, expected);
    let server_stamps: HashSet<i64> = stored
        .iter()
        .filter(|r| r.1 == "humidity")
        .map(|r| r.3)
        .collect();
    assert_eq!(server_stamps.len(), 16, "server timestamps are distinct");
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

/// Readings sent while the run is being finished are either acknowledged and stored, or refused
/// as not running and absent: never acknowledged and lost, never stored unacknowledged.
pub async fn readings_racing_a_finish_are_stored_or_refused_never_lost(store: &TestStore) {
    let s = store.services(default_config());
    let alice = user("alice");
    let run = start(&s, "alice", &["s1"]).await;
    let t0 = s.clock.now();
    let attempts = (0..64).map(|i| {
        let (s, alice) = (s.clone(), alice.clone());
        async move {
            if i == 20 {
                // The finish goes out among the readings.
                let done = s.runs.finish(&alice, run.id, FinishRun::success()).await;
                assert!(done.is_ok(), "{done:?}");
                return None;
            }
            let sent = reading("s1", "pressure", 1000.0 + i as f64, Some(&ts(t0, i as i64)));
            Some((i as i64, s.readings.ingest(&alice, run.id, sent).await))
        }
    });
    let results: Vec<(i64, Result<Ingested, ServiceError>)> =
        join_all(attempts).await.into_iter().flatten().collect();
    let mut acknowledged = Vec::new();
    for (i, result) in &results {
        match result {
            Ok(Ingested::Created(_)) => acknowledged.push(ts(t0, *i).unix_micros()),
            Err(ServiceError::RunNotRunning { .. }) => {}
            other => panic!("reading #{i}: unexpected answer {other:?}"),
        }
    }
    let stored: Vec<i64> = stored_readings(&s, run.id)
        .await
        .iter()
        .map(|r| r.timestamp.unix_micros())
        .collect();
    acknowledged.sort_unstable();
    assert_eq!(
        stored, acknowledged,
        "stored readings are exactly the acknowledged ones"
    );
    assert_eq!(s.runs.get(run.id).await.unwrap().status, RunStatus::Success);
    assert_summary_counts_each_stored_reading_once(&s, run.id).await;
}

// Idempotent starts: a client that retries a start after a timeout or an error never creates a
// second run.

fn keyed_start(sensors: &[&str], duration: i64, key: &str) -> StartRun {
    let key = iot_core::model::IdempotencyKey::parse(key).expect("valid key");
    start_request(sensors, duration).with_idempotency_key(Some(key))
}

/// A run store whose first `create_run` stores the run and then fails as a timed-out call does
/// (the write happened, the answer was lost).
struct TimesOutAfterTheWrite {
    inner: std::sync::Arc<dyn iot_core::ports::RunStore>,
    fired: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl iot_core::ports::RunStore for TimesOutAfterTheWrite {
    async fn create_run<'k>(
        &self,
        run: &Run,
        limits: CapacityLimits,
        now: Timestamp,
        key: Option<&'k iot_core::model::IdempotencyKey>,
    ) -> Result<iot_core::ports::Admission, StoreError> {
        let admission = self.inner.create_run(run, limits, now, key).await?;
        if self.fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            Ok(admission)
        } else {
            Err(StoreError::Unavailable("operation timed out".into()))
        }
    }
    async fn get_run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        self.inner.get_run(id).await
    }
    async fn list_runs(
        &self,
        query: &RunQuery,
        now: Timestamp,
    ) -> Result<iot_core::model::Page<Run, iot_core::model::RunCursor>, StoreError> {
        self.inner.list_runs(query, now).await
    }
    async fn running_runs<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<Vec<Run>, StoreError> {
        self.inner.running_runs(now, user).await
    }
    async fn count_running<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<iot_core::ports::RunningCount, StoreError> {
        self.inner.count_running(now, user).await
    }
    async fn finish_run(
        &self,
        id: RunId,
        finish: &iot_core::ports::Finish,
        now: Timestamp,
    ) -> Result<Option<Run>, StoreError> {
        self.inner.finish_run(id, finish, now).await
    }
    async fn expire_runs(&self, now: Timestamp, max: u32) -> Result<Vec<Run>, StoreError> {
        self.inner.expire_runs(now, max).await
    }
    async fn purge_runs(&self, cutoff: Timestamp, max: u32) -> Result<u32, StoreError> {
        self.inner.purge_runs(cutoff, max).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

/// A start whose answer is lost after the store wrote the run (a timeout) is retried with the
/// same key: the retry gets the first run, and only one run exists and holds capacity.
pub async fn a_start_retried_after_a_timeout_returns_the_first_run(store: &TestStore) {
    let flaky = std::sync::Arc::new(TimesOutAfterTheWrite {
        inner: store.runs.clone(),
        fired: std::sync::atomic::AtomicBool::new(false),
    });
    let s = store.services(default_config());
    let runs = iot_core::service::RunService::new(
        flaky,
        std::sync::Arc::new(iot_core::ports::NoMetrics),
        s.clock.clone(),
        std::sync::Arc::new(iot_core::ports::RandomIds),
        default_config(),
    );
    let alice = user("alice");
    let first = runs
        .start(&alice, keyed_start(&["s1", "s2"], 60, "retry-key-1"))
        .await;
    assert!(
        matches!(first, Err(ServiceError::Store(StoreError::Unavailable(_)))),
        "{first:?}"
    );

    let retried = runs
        .start(&alice, keyed_start(&["s1", "s2"], 60, "retry-key-1"))
        .await
        .expect("the retry is answered");
    let running = s.runs.running().await.unwrap();
    assert_eq!(ids(&running), vec![retried.id]);
    assert_eq!(s.runs.get(retried.id).await.unwrap(), retried);
}

/// The same key with the same parameters answers the first run even when capacity is now full;
/// with other parameters it is refused and names the first run; another user's key, or no key,
/// is independent.
pub async fn an_idempotency_key_replays_its_run_and_refuses_other_parameters(store: &TestStore) {
    let config = RunConfig {
        limits: CapacityLimits {
            global: 2,
            per_user: 1,
        },
        ..default_config()
    };
    let s = store.services(config);
    let alice = user("alice");
    let keyed = |who: &str, sensor: &str, duration: i64| {
        let (who, start) = (user(who), keyed_start(&[sensor], duration, "k-1"));
        let runs = &s.runs;
        async move { runs.start(&who, start).await }
    };
    let first = keyed("alice", "s1", 60).await.unwrap();
    // Alice is at her limit: only the replay gets through.
    assert_eq!(keyed("alice", "s1", 60).await.unwrap(), first);
    let other = keyed("alice", "s2", 60).await;
    assert!(
        matches!(other, Err(ServiceError::IdempotencyKeyReused(id)) if id == first.id),
        "{other:?}"
    );
    let longer = keyed("alice", "s1", 61).await;
    assert!(matches!(longer, Err(ServiceError::IdempotencyKeyReused(_))));
    let unkeyed = s.runs.start(&alice, start_request(&["s1"], 60)).await;
    assert!(matches!(
        unkeyed,
        Err(ServiceError::CapacityExhausted { .. })
    ));
    // Bob's "k-1" is his own.
    assert_ne!(keyed("bob", "s1", 60).await.unwrap().id, first.id);
    // A finished run still answers its key.
    s.runs
        .finish(&alice, first.id, FinishRun::success())
        .await
        .unwrap();
    let after = keyed("alice", "s1", 60).await.unwrap();
    assert_eq!((after.id, after.status), (first.id, RunStatus::Success));
}

/// Concurrent starts under one key create exactly one run: every one that succeeds answers it.
pub async fn concurrent_starts_under_one_key_create_one_run(store: &TestStore) {
    let s = store.services(default_config());
    let alice = user("alice");
    let outcomes =
        join_all((0..8).map(|_| s.runs.start(&alice, keyed_start(&["s1"], 60, "same-key")))).await;
    let started: HashSet<RunId> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|r| r.id))
        .collect();
    assert_eq!(started.len(), 1, "{outcomes:?}");
    let running = s.runs.running().await.unwrap();
    assert_eq!(running.len(), 1);
}

/// With retention on, the sweep deletes a run whose deadline is older than the retention period,
/// with its readings, summary and idempotency key, and keeps younger runs whole. A store that
/// leaves deletion to the database's time to live (DynamoDB) deletes nothing in the sweep: its
/// items carry their expiry instead (checked against the emulator in `adapters-dynamo`).
pub async fn the_sweep_purges_runs_past_their_retention(store: &TestStore) {
    let config = RunConfig {
        retention_days: Some(1),
        ..roomy()
    };
    let s = store.services(config);
    let alice = user("alice");
    let old = s
        .runs
        .start(&alice, keyed_start(&["s1"], 60, "k-old"))
        .await
        .unwrap();
    let at = s.clock.now();
    s.readings
        .ingest_batch(
            &alice,
            old.id,
            vec![
                reading("s1", "temperature", 20.0, Some(&ts(at, 1))),
                reading("s1", "humidity", 40.0, Some(&ts(at, 2))),
            ],
        )
        .await
        .unwrap();
    s.runs
        .finish(&alice, old.id, FinishRun::success())
        .await
        .unwrap();
    // One day after the old run's deadline (start + 60 s + 120 s grace), and a little more.
    s.clock.advance_secs(86_400 + 180 + 20);
    let young = start(&s, "alice", &["s1"]).await;
    s.readings
        .ingest_batch(
            &alice,
            young.id,
            vec![reading("s1", "temperature", 21.0, None)],
        )
        .await
        .unwrap();
    let swept = s.runs.sweep().await.unwrap();

    if store.purges_in_the_sweep() {
        assert_eq!(swept.purged, 1, "{swept:?}");
        assert!(matches!(
            s.runs.get(old.id).await,
            Err(ServiceError::RunNotFound(id)) if id == old.id
        ));
        assert!(matches!(
            s.readings.summary(old.id).await,
            Err(ServiceError::RunNotFound(_))
        ));
        let page = store
            .readings
            .list_readings(&query(old.id, 10))
            .await
            .unwrap();
        assert!(page.items.is_empty(), "{:?}", page.items);
        assert!(store.readings.summarize(old.id).await.unwrap().is_empty());
        // The key went with its run: it starts a new one.
        let again = s
            .runs
            .start(&alice, keyed_start(&["s1"], 60, "k-old"))
            .await
            .unwrap();
        assert_ne!(again.id, old.id);
    } else {
        assert_eq!(swept.purged, 0, "{swept:?}");
        assert_eq!(s.runs.get(old.id).await.unwrap().id, old.id);
    }
    // Younger runs stay whole, and a second sweep finds nothing more.
    assert_eq!(stored_readings(&s, young.id).await.len(), 1);
    assert_eq!(
        s.runs.get(young.id).await.unwrap().status,
        RunStatus::Running
    );
    assert_eq!(s.runs.sweep().await.unwrap().purged, 0);
}
