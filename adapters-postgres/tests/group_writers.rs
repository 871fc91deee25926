//! Group commit stores its groups on connections of its own, kept between groups. One the server
//! closed while it sat idle (a restart, a failover, an administrator) is found and replaced
//! before a group uses it: the readings that come after are stored, not refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adapters_postgres::{GroupCommit, GroupOptions, IDLE_BEFORE_PING, PgOptions, PgStore};
use iot_core::model::{ReadingType, RunId, SensorId, SensorReading, Timestamp, Username};
use iot_core::ports::{Inserted, ReadingStore};
use sqlx::Connection;

mod common;
use common::{insert_running_run, on_migrated_database};

fn reading(run_id: RunId, i: i64) -> SensorReading {
    SensorReading {
        run_id,
        sensor_id: SensorId::parse("s1").unwrap(),
        kind: ReadingType::Temperature,
        value: 21.5,
        timestamp: Timestamp::from_unix_micros(1_900_000_000_000_000 + i).unwrap(),
        user: Username::parse("bob").unwrap(),
    }
}

#[tokio::test]
async fn connections_the_server_closed_while_idle_are_replaced_before_the_next_group() {
    on_migrated_database(closed_while_idle).await;
}

async fn closed_while_idle(url: String) {
    let options = PgOptions {
        acquire_timeout: test_support::PATIENT,
        ..PgOptions::default()
    };
    let store = PgStore::connect(&url, &options).await.expect("connect");
    let run = insert_running_run(&store, "bob", &["s1".to_string()]).await;
    let group = GroupCommit::new(store.clone(), &GroupOptions::default());

    for round in 0..3 {
        assert_eq!(
            group.insert_reading(&reading(run, round)).await.unwrap(),
            Inserted::New,
            "round {round}"
        );
        // The server closes every connection to the database: the pool's and the group's.
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        let closed: i64 = sqlx::query_scalar(
            "WITH ours AS MATERIALIZED ( \
                 SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'iot-playground') \
             SELECT count(*) FROM ours WHERE pg_terminate_backend(pid)",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        // At least the group's; the pool's connection too in round 0 (it is not used again
        // until the count below, which it must survive as well).
        assert!(closed >= 1, "round {round}: {closed} connections closed");
        admin.close().await.unwrap();
        tokio::time::sleep(IDLE_BEFORE_PING * 2).await;
    }
    assert_eq!(
        group.insert_reading(&reading(run, 3)).await.unwrap(),
        Inserted::New
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM readings WHERE run_id = $1")
        .bind(run.as_uuid())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 4);
}
