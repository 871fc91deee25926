//! What the PostgreSQL tests that drive `PgStore` directly share.
#![allow(clippy::unwrap_used)]

use std::future::Future;

use adapters_postgres::{MIGRATOR, PgStore};
use iot_core::model::RunId;
use test_support::postgres::TestDatabase;
use test_support::then_clean_up;

/// Runs `scenario` with the URL of a freshly migrated database, then drops the database, pass or
/// fail. Without a server (and outside CI) the test is skipped, as `TestDatabase` decides.
pub async fn on_migrated_database<F, Fut>(scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDatabase::migrated(&MIGRATOR).await else {
        return;
    };
    then_clean_up(scenario(db.url.clone()), db.drop()).await;
}

/// Stores a run of `user` with `sensors`, `RUNNING` until a day from now.
pub async fn insert_running_run(store: &PgStore, user: &str, sensors: &[String]) -> RunId {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO runs (id, username, status, started_at, deadline, duration_secs, \
                           interval_secs, sensor_ids) \
         VALUES ($1, $2, 'RUNNING', now(), now() + interval '1 day', 86400, 0.5, $3)",
    )
    .bind(id)
    .bind(user)
    .bind(sensors)
    .execute(store.pool())
    .await
    .unwrap();
    RunId::from_uuid(id)
}
