//! A batch whose caller gives up halfway (a request dropped: its client gone, its deadline
//! passed) leaves the connection usable for the next caller, and the batch stored whole or not at
//! all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use adapters_postgres::{PgOptions, PgStore};
use iot_core::model::{ReadingType, RunId, SensorId, SensorReading, Timestamp, Username};
use iot_core::ports::ReadingStore;

mod common;
use common::{insert_running_run, on_migrated_database};

const BATCH: i64 = 20_000;

fn reading(run_id: RunId, round: i64, i: i64) -> SensorReading {
    SensorReading {
        run_id,
        sensor_id: SensorId::parse(format!("s{}", i % 10)).unwrap(),
        kind: ReadingType::Humidity,
        value: 41.5,
        timestamp: Timestamp::from_unix_micros(1_900_000_000_000_000 + round * 10 * BATCH + i)
            .unwrap(),
        user: Username::parse("bob").unwrap(),
    }
}

#[tokio::test]
async fn a_batch_dropped_halfway_leaves_the_connection_usable_and_the_batch_whole_or_absent() {
    on_migrated_database(dropped_batches).await;
}

async fn dropped_batches(url: String) {
    // One connection: the call after a dropped batch gets the very connection it used.
    let options = PgOptions {
        max_connections: 1,
        acquire_timeout: test_support::PATIENT,
        ..PgOptions::default()
    };
    let store = PgStore::connect(&url, &options).await.expect("connect");
    let sensors: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let run = insert_running_run(&store, "bob", &sensors).await;

    // Give up after various delays, so that some land while the rows are being sent.
    for (round, delay_ms) in [0_u64, 2, 5, 10, 20, 40, 80].into_iter().enumerate() {
        let round = i64::try_from(round).unwrap();
        let batch: Vec<SensorReading> = (0..BATCH).map(|i| reading(run, round, i)).collect();
        let _ = tokio::time::timeout(
            Duration::from_millis(delay_ms),
            store.insert_readings(&batch),
        )
        .await;

        let next = [reading(run, round, BATCH)];
        assert_eq!(
            store.insert_readings(&next).await.unwrap(),
            vec![true],
            "round {round}"
        );
        let from = next[0].timestamp.plus_micros(-BATCH).as_datetime();
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM readings WHERE run_id = $1 AND ts >= $2 AND ts < $3",
        )
        .bind(run.as_uuid())
        .bind(from)
        .bind(next[0].timestamp.as_datetime())
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert!(
            stored == 0 || stored == BATCH,
            "round {round}: {stored} stored"
        );
    }
}
