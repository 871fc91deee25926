//! Checks specific to the DynamoDB adapter, beyond the shared storage contract (`contract-tests`):
//! request limits that real DynamoDB enforces and emulators do not, the capacity item's upkeep,
//! error mapping. Tests that need an emulator run when `TEST_DYNAMODB_ENDPOINT` is set (start moto
//! with `scripts/lib/services.sh`'s `ensure_moto`); with `CI` set, a missing emulator fails them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use adapters_dynamo::{DynamoConfig, DynamoStore};
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use iot_core::StoreError;
use iot_core::model::{ReadingType, Run, RunId, RunStatus, SensorId, SensorReading, Timestamp};
use iot_core::ports::{
    CapacityLimits, Clock, Finish, ReadingQuery, ReadingStore, RunQuery, RunStore, SystemClock,
};
use iot_core::{Username, model::Page};
use test_support::{PATIENT, TableNames, dynamodb_endpoint, summaries, then_clean_up};

/// Fresh table names on the emulator, and SDK timeouts no busy machine reaches.
fn test_config(endpoint: &str) -> DynamoConfig {
    let tables = TableNames::unique("ad");
    DynamoConfig {
        endpoint: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        runs_table: tables.runs,
        readings_table: tables.readings,
        operation_timeout: PATIENT,
        attempt_timeout: PATIENT / 2,
        retention: None,
    }
}

/// Runs `scenario` on fresh tables, deleted afterwards even when the scenario panics.
async fn with_store<F, Fut>(store: DynamoStore, scenario: F)
where
    F: FnOnce(DynamoStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    store.create_tables().await.expect("create tables");
    // Twice: creating existing tables is fine.
    store.create_tables().await.expect("create tables again");
    then_clean_up(scenario(store.clone()), async {
        store.delete_tables().await.expect("delete tables");
    })
    .await;
}

fn now() -> Timestamp {
    SystemClock.now()
}

fn run_at(user: &str, started_at: Timestamp, window_secs: i64) -> Run {
    let id = RunId::from_uuid(uuid::Uuid::new_v4());
    Run {
        id,
        username: Username::parse(user).unwrap(),
        status: RunStatus::Running,
        started_at,
        finished_at: None,
        deadline: started_at.plus_micros(window_secs * 1_000_000),
        duration_secs: 1,
        interval_secs: 0.2,
        sensor_ids: vec![SensorId::parse("s1").unwrap()],
        error_message: None,
        grafana_url: None,
    }
}

const ROOMY: CapacityLimits = CapacityLimits {
    global: 1000,
    per_user: 1000,
};

/// What the client sent: the largest `BatchGetItem` and `BatchWriteItem`, and how many items
/// batch writes put, conditional puts and updates.
#[derive(Debug, Default)]
struct Sizes {
    largest_get: AtomicUsize,
    largest_write: AtomicUsize,
    batch_written: AtomicUsize,
    puts: AtomicUsize,
    updates: AtomicUsize,
    /// Items the `Query` calls read (`ScannedCount`).
    scanned: AtomicUsize,
}

impl Sizes {
    fn writes(&self) -> (usize, usize, usize) {
        (
            self.batch_written.load(Ordering::SeqCst),
            self.puts.load(Ordering::SeqCst),
            self.updates.load(Ordering::SeqCst),
        )
    }
}

#[derive(Debug, Clone)]
struct Recorder(Arc<Sizes>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "batch-size-recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let input = context.input();
        if let Some(input) = input.downcast_ref::<BatchWriteItemInput>() {
            let n = input
                .request_items()
                .map_or(0, |m| m.values().map(Vec::len).sum());
            self.0.batch_written.fetch_add(n, Ordering::SeqCst);
            self.0.largest_write.fetch_max(n, Ordering::SeqCst);
        }
        if input
            .downcast_ref::<PutItemInput>()
            .is_some_and(|put| put.condition_expression().is_some())
        {
            self.0.puts.fetch_add(1, Ordering::SeqCst);
        }
        if input.downcast_ref::<UpdateItemInput>().is_some() {
            self.0.updates.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(input) = context.input().downcast_ref::<BatchGetItemInput>() {
            let n = input
                .request_items()
                .map_or(0, |m| m.values().map(|k| k.keys().len()).sum());
            self.0.largest_get.fetch_max(n, Ordering::SeqCst);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Ok(output) = context.output_or_error()
            && let Some(query) = output.downcast_ref::<QueryOutput>()
        {
            let scanned = usize::try_from(query.scanned_count()).unwrap_or_default();
            self.0.scanned.fetch_add(scanned, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// A client of `endpoint` whose calls give up after `timeout` (each attempt after half of it).
fn client(
    endpoint: &str,
    recorder: Option<Recorder>,
    timeout: Duration,
) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .operation_timeout(timeout)
                .operation_attempt_timeout(timeout / 2)
                .connect_timeout(timeout / 2)
                .build(),
        );
    if let Some(recorder) = recorder {
        config = config.interceptor(recorder);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

fn reading(run: RunId, i: u32) -> SensorReading {
    let base = Timestamp::parse("t", "2026-11-25T10:00:00Z").unwrap();
    SensorReading {
        run_id: run,
        sensor_id: SensorId::parse(format!("sensor-{}", i % 7)).unwrap(),
        kind: [
            ReadingType::Temperature,
            ReadingType::Humidity,
            ReadingType::Pressure,
        ][(i % 3) as usize],
        value: f64::from(i) / 10.0,
        timestamp: base.plus_micros(i64::from(i / 5)),
        user: Username::parse("alice").unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_respect_dynamodb_limits_and_write_each_reading_once() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let sizes = Arc::new(Sizes::default());
    let config = test_config(&endpoint);
    let store = DynamoStore::new(
        client(&endpoint, Some(Recorder(sizes.clone())), PATIENT),
        &config,
    );
    with_store(store, move |store| async move {
        let run = RunId::from_uuid(uuid::Uuid::new_v4());
        let batch: Vec<SensorReading> = (0..1000).map(|i| reading(run, i)).collect();
        let fresh = store.insert_readings(&batch).await.unwrap();
        assert!(fresh.iter().all(|new| *new));
        assert!(sizes.largest_get.load(Ordering::SeqCst) <= 100);
        assert!(sizes.largest_write.load(Ordering::SeqCst) <= 25);
        // 7 sensors x 3 types: 21 rollups, each written once (fewer than 256 readings each).
        assert_eq!(
            sizes.writes(),
            (1000, 1000 + 21, 0),
            "one conditional put per reading and per rollup, then each counted reading rewritten \
             once without its marks by a batch write, no update"
        );

        // Counted readings are no longer held by their batch: replays write nothing.
        let again = store.insert_readings(&batch).await.unwrap();
        assert!(again.iter().all(|new| !*new));
        assert_eq!(sizes.writes(), (1000, 1021, 0), "duplicates not rewritten");

        let mut listed = Vec::new();
        let mut after = None;
        loop {
            let Page { items, next } = store
                .list_readings(&ReadingQuery {
                    run_id: run,
                    sensor_id: None,
                    kind: None,
                    from: None,
                    to: None,
                    limit: 333,
                    after,
                })
                .await
                .unwrap();
            listed.extend(items);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut expected = batch.clone();
        expected.sort_by(|a, b| {
            (a.timestamp, &a.sensor_id, a.kind.as_str()).cmp(&(
                b.timestamp,
                &b.sensor_id,
                b.kind.as_str(),
            ))
        });
        assert_eq!(listed, expected);

        // The summary reads the 21 rollups (twice: before and after the pending readings), and
        // there is no pending reading left.
        sizes.scanned.store(0, Ordering::SeqCst);
        summaries::assert_same(
            &store.summarize(run).await.unwrap(),
            &summaries::expected(&batch),
        );
        assert_eq!(sizes.scanned.load(Ordering::SeqCst), 2 * 21);

        // Single readings that have not folded yet are read pending, and counted once.
        let store = store.clone().with_fold_period(u32::MAX);
        let singles: Vec<SensorReading> = (1000..1010).map(|i| reading(run, i)).collect();
        for r in &singles {
            store.insert_reading(r).await.unwrap();
        }
        sizes.scanned.store(0, Ordering::SeqCst);
        let all: Vec<SensorReading> = batch.iter().chain(&singles).cloned().collect();
        summaries::assert_same(
            &store.summarize(run).await.unwrap(),
            &summaries::expected(&all),
        );
        assert_eq!(sizes.scanned.load(Ordering::SeqCst), 2 * 21 + 10);

        // A single reading that folds counts itself (and the pending readings of its sensor and
        // type: none here) into its rollup.
        let store = store.with_fold_period(1);
        store.insert_reading(&reading(run, 1010)).await.unwrap();
        sizes.scanned.store(0, Ordering::SeqCst);
        let mut all = all;
        all.push(reading(run, 1010));
        summaries::assert_same(
            &store.summarize(run).await.unwrap(),
            &summaries::expected(&all),
        );
        assert_eq!(sizes.scanned.load(Ordering::SeqCst), 2 * 21 + 10);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_store_answers_empty_and_changes_nothing() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let store = DynamoStore::connect(&test_config(&endpoint)).await;
    with_store(store, |store| async move {
        let t = now();
        let unknown = RunId::from_uuid(uuid::Uuid::new_v4());
        store.ping().await.unwrap();
        assert_eq!(store.count_running(t, None).await.unwrap().global, 0);
        assert!(store.running_runs(t, None).await.unwrap().is_empty());
        assert!(store.expire_runs(t, 10).await.unwrap().is_empty());
        let finish = Finish {
            status: RunStatus::Success,
            finished_at: t,
            error_message: None,
        };
        assert_eq!(store.finish_run(unknown, &finish, t).await.unwrap(), None);
        let runs = RunQuery {
            user: None,
            status: Some(RunStatus::Timeout),
            limit: 10,
            after: None,
        };
        assert!(store.list_runs(&runs, t).await.unwrap().items.is_empty());
        assert!(store.summarize(unknown).await.unwrap().is_empty());
        assert!(
            store
                .latest_readings(unknown, None, 5)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.insert_readings(&[]).await.unwrap(),
            Vec::<bool>::new()
        );
    })
    .await;
}

async fn raw_slots(store: &DynamoStore, config: &DynamoConfig) -> usize {
    let item = store
        .client()
        .get_item()
        .table_name(&config.runs_table)
        .key("pk", AttributeValue::S("CAPACITY".into()))
        .key("sk", AttributeValue::S("GLOBAL".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    match item.get("slots") {
        Some(AttributeValue::M(slots)) => slots.len(),
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capacity_item_sheds_finished_and_piled_up_timed_out_runs() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let config = test_config(&endpoint);
    let store = DynamoStore::connect(&config).await;
    with_store(store, move |store| async move {
        let t0 = now();
        let done = run_at("alice", t0, 10);
        store.create_run(&done, ROOMY, t0, None).await.unwrap();
        assert_eq!(raw_slots(&store, &config).await, 1);
        let finish = Finish {
            status: RunStatus::Failed,
            finished_at: t0,
            error_message: Some("x".into()),
        };
        let finished = store
            .finish_run(done.id, &finish, t0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(finished.error_message.as_deref(), Some("x"));
        assert_eq!(raw_slots(&store, &config).await, 0);

        // 64 runs time out and nobody sweeps: the next start expires them itself.
        let mut stale = Vec::new();
        for i in 0..64 {
            let run = run_at(&format!("user{i:02}"), t0.plus_micros(i), 10);
            store.create_run(&run, ROOMY, t0, None).await.unwrap();
            stale.push(run);
        }
        assert_eq!(raw_slots(&store, &config).await, 64);
        let later = t0.plus_micros(11_000_000);
        assert_eq!(store.count_running(later, None).await.unwrap().global, 0);
        let fresh = run_at("bob", later, 10);
        store.create_run(&fresh, ROOMY, later, None).await.unwrap();
        assert_eq!(raw_slots(&store, &config).await, 1);
        for run in &stale {
            let stored = store.get_run(run.id).await.unwrap().unwrap();
            assert_eq!(
                (stored.status, stored.finished_at),
                (RunStatus::Timeout, Some(run.deadline))
            );
        }
        assert_eq!(store.get_run(done.id).await.unwrap().unwrap(), finished);
        assert_eq!(store.running_runs(later, None).await.unwrap(), vec![fresh]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_an_internal_error_naming_it() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let config = test_config(&endpoint);
    let store = DynamoStore::connect(&config).await;
    match store.ping().await {
        Err(StoreError::Internal(message)) => assert!(message.contains(&config.runs_table)),
        other => panic!("expected Internal, got {other:?}"),
    }
    match store
        .summarize(RunId::from_uuid(uuid::Uuid::new_v4()))
        .await
    {
        Err(StoreError::Internal(message)) => assert!(message.contains(&config.readings_table)),
        other => panic!("expected Internal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_quickly() {
    // Nothing listens on port 1.
    let store = DynamoStore::new(
        client("http://127.0.0.1:1", None, Duration::from_secs(3)),
        &DynamoConfig::default(),
    );
    let started = std::time::Instant::now();
    match store.ping().await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match store.get_run(RunId::from_uuid(uuid::Uuid::new_v4())).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_default_config_names_the_documented_tables_and_timeouts() {
    let config = DynamoConfig::default();
    assert_eq!(
        (config.runs_table.as_str(), config.readings_table.as_str()),
        ("iot-playground-runs", "iot-playground-readings")
    );
    assert_eq!(
        (config.operation_timeout, config.attempt_timeout),
        (Duration::from_secs(5), Duration::from_secs(2))
    );
    assert_eq!(config.endpoint, None);
}

/// Every item of the table, read by a scan (the tables of one test are small).
async fn scan_all(
    store: &DynamoStore,
    table: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

fn expires_at(item: &std::collections::HashMap<String, AttributeValue>) -> Option<i64> {
    match item.get(adapters_dynamo::EXPIRES_AT) {
        Some(AttributeValue::N(n)) => Some(n.parse().unwrap()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retention_items_carry_their_expiry_for_the_time_to_live() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    const DAY: i64 = 86_400;
    let config = DynamoConfig {
        retention: Some(Duration::from_secs(3 * 86_400)),
        ..test_config(&endpoint)
    };
    // Every single reading folds: its rollup item is written too.
    let store = DynamoStore::connect(&config).await.with_fold_period(1);
    with_store(store, move |store| async move {
        for table in [&config.runs_table, &config.readings_table] {
            let ttl = store
                .client()
                .describe_time_to_live()
                .table_name(table)
                .send()
                .await
                .unwrap();
            let description = ttl.time_to_live_description().unwrap();
            assert_eq!(
                description.attribute_name(),
                Some(adapters_dynamo::EXPIRES_AT),
                "{table}"
            );
        }
        let run = run_at("alice", now(), 180);
        let key = iot_core::model::IdempotencyKey::parse("k-1").unwrap();
        store
            .create_run(&run, ROOMY, now(), Some(&key))
            .await
            .unwrap();
        let batch: Vec<SensorReading> = (0..5).map(|i| reading(run.id, i)).collect();
        store.insert_readings(&batch).await.unwrap();
        let single = reading(run.id, 5);
        store.insert_reading(&single).await.unwrap();
        let written_at = now().unix_micros() / 1_000_000;

        // The run and its idempotency item: the deadline plus three days, to the second.
        let expected_run = run.deadline.unix_micros() / 1_000_000 + 3 * DAY;
        let runs = scan_all(&store, &config.runs_table).await;
        let stamped: Vec<Option<i64>> = runs
            .iter()
            .filter(
                |item| !matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk == "CAPACITY"),
            )
            .map(expires_at)
            .collect();
        assert_eq!(stamped, vec![Some(expected_run); 2], "{runs:?}");
        // Readings and their rollups (six sensors and types): written now, plus three days, plus
        // the two-day slack (never before the run).
        let readings = scan_all(&store, &config.readings_table).await;
        assert_eq!(readings.len(), 12);
        for item in &readings {
            let at = expires_at(item).unwrap();
            let slack = i64::try_from(adapters_dynamo::READING_SLACK.as_secs()).unwrap();
            assert!(at >= expected_run, "{at} < {expected_run}");
            assert!((at - (written_at + 3 * DAY + slack)).abs() <= 600, "{at}");
        }
        // The sweep leaves the deletion to the time to live.
        assert_eq!(
            store
                .purge_runs(run.deadline.plus_micros(DAY * 10_000_000), 100)
                .await
                .unwrap(),
            0
        );
        assert!(store.get_run(run.id).await.unwrap().is_some());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retention_items_never_expire() {
    let Some(endpoint) = dynamodb_endpoint() else {
        return;
    };
    let config = test_config(&endpoint);
    let store = DynamoStore::connect(&config).await;
    with_store(store, move |store| async move {
        let run = run_at("alice", now(), 180);
        store.create_run(&run, ROOMY, now(), None).await.unwrap();
        store.insert_readings(&[reading(run.id, 0)]).await.unwrap();
        for table in [&config.runs_table, &config.readings_table] {
            let items = scan_all(&store, table).await;
            assert!(!items.is_empty());
            assert!(
                items.iter().all(|item| expires_at(item).is_none()),
                "{items:?}"
            );
        }
    })
    .await;
}
