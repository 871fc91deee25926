//! The run of a reading is checked once per statement (through the rollup trigger), not by a
//! foreign key per row: a reading of a missing run is still refused, and deleting a run still
//! takes every reading of it, including readings committed while the delete waited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use adapters_postgres::{MIGRATOR, PgOptions, PgStore};
use iot_core::StoreError;
use iot_core::model::{RunId, SensorId, SensorReading, Timestamp, Username};
use iot_core::ports::{ReadingStore, RunStore};
use test_support::postgres::TestDatabase;

/// A running run of user `alice` with sensor `s1`, its deadline an hour ago (so a purge takes it).
async fn insert_run(store: &PgStore) -> RunId {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO runs (id, username, status, started_at, deadline, duration_secs, \
                           interval_secs, sensor_ids) \
         VALUES ($1, 'alice', 'RUNNING', now() - interval '2 hours', now() - interval '1 hour', \
                 3600, 1, '{s1}')",
    )
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();
    RunId::from_uuid(id)
}

fn reading(run_id: RunId, kind: &str, micros: i64) -> SensorReading {
    SensorReading {
        run_id,
        sensor_id: SensorId::parse("s1").unwrap(),
        kind: kind.parse().unwrap(),
        value: 20.0,
        timestamp: Timestamp::from_unix_micros(1_800_000_000_000_000 + micros).unwrap(),
        user: Username::parse("alice").unwrap(),
    }
}

/// A store on a fresh migrated database holding one run (see [`insert_run`]) with one
/// temperature reading, so the run has a rollup row; `None` when there is no database to test on.
async fn a_run_with_one_reading() -> Option<(TestDatabase, PgStore, RunId)> {
    let db = TestDatabase::migrated(&MIGRATOR).await?;
    let options = PgOptions {
        acquire_timeout: test_support::PATIENT,
        ..PgOptions::default()
    };
    let store = PgStore::connect(&db.url, &options).await.expect("connect");
    let run = insert_run(&store).await;
    store
        .insert_readings(&[reading(run, "temperature", 0)])
        .await
        .unwrap();
    Some((db, store, run))
}

async fn count(store: &PgStore, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn readings_of_a_missing_run_are_refused_and_nothing_is_stored() {
    let Some((db, store, known)) = a_run_with_one_reading().await else {
        return;
    };

    let missing = RunId::from_uuid(uuid::Uuid::new_v4());
    // A new (sensor, type) of the missing run, and one the known run already has a rollup for.
    for kind in ["humidity", "temperature"] {
        let refused = store
            .insert_readings(&[reading(missing, kind, 1), reading(known, kind, 1)])
            .await;
        assert_eq!(refused, Err(StoreError::NotFound), "{kind}");
    }
    assert_eq!(count(&store, "readings").await, 1);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_takes_readings_committed_while_it_waited() {
    let Some((db, store, run)) = a_run_with_one_reading().await else {
        return;
    };

    // A writer adds a reading to the run (its rollup row exists: no run check is needed) and
    // holds its transaction open while the run is purged.
    let mut writer = store.pool().begin().await.unwrap();
    sqlx::query(
        "INSERT INTO readings (run_id, sensor_id, type, value, ts, username) \
         VALUES ($1, 's1', 'temperature', 21, now(), 'alice')",
    )
    .bind(run.as_uuid())
    .execute(&mut *writer)
    .await
    .unwrap();
    let purge = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .purge_runs(
                    Timestamp::from_unix_micros(4_000_000_000_000_000).unwrap(),
                    10,
                )
                .await
        }
    });
    // The purge waits for the writer's lock on the rollup row.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!purge.is_finished(), "the purge waits for the writer");
    writer.commit().await.unwrap();

    assert_eq!(purge.await.unwrap(), Ok(1));
    assert_eq!(count(&store, "runs").await, 0);
    assert_eq!(
        count(&store, "readings").await,
        0,
        "no reading outlives its run"
    );
    assert_eq!(count(&store, "reading_rollups").await, 0);
    db.drop().await;
}
