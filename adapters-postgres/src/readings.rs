//! [`ReadingStore`] on the `readings` table.

use std::collections::HashMap;

use async_trait::async_trait;
use iot_core::StoreError;
use iot_core::error::conflict_detail;
use iot_core::model::{
    Page, ReadingCursor, RunId, SensorId, SensorReading, SensorSummary, Timestamp,
};
use iot_core::ports::{Inserted, ReadingQuery, ReadingStore, RunInsert};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Connection as _, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{bad_row, is_unique_violation, store_error};
use crate::ingest::{Offer, Outcome};
use crate::rows::{self, READING_COLUMNS, get};
use crate::store::PgStore;

/// A reading key as plain values, for matching rows back to the input.
type Key = (Uuid, i64, String, &'static str);

fn key(reading: &SensorReading) -> Key {
    (
        reading.run_id.as_uuid(),
        reading.timestamp.unix_micros(),
        reading.sensor_id.as_str().to_owned(),
        reading.kind.as_str(),
    )
}

fn row_key(row: &sqlx::postgres::PgRow) -> Result<Key, StoreError> {
    let kind: String = get(row, "type")?;
    Ok((
        get(row, "run_id")?,
        rows::timestamp(row, "ts")?.unix_micros(),
        get(row, "sensor_id")?,
        rows::reading_type(&kind)?.as_str(),
    ))
}

/// The key columns of `readings` as parallel arrays, for `UNNEST`.
#[derive(Default)]
struct KeyArrays<'a> {
    run_ids: Vec<Uuid>,
    stamps: Vec<OffsetDateTime>,
    sensors: Vec<&'a str>,
    kinds: Vec<&'a str>,
}

impl<'a> KeyArrays<'a> {
    fn push(&mut self, reading: &'a SensorReading) {
        self.run_ids.push(reading.run_id.as_uuid());
        self.stamps.push(reading.timestamp.as_datetime());
        self.sensors.push(reading.sensor_id.as_str());
        self.kinds.push(reading.kind.as_str());
    }
}

/// A batch's columns as parallel arrays, for [`insert_batch!`].
struct BatchArrays<'a> {
    keys: KeyArrays<'a>,
    values: Vec<f64>,
    users: Vec<&'a str>,
}

impl<'a> BatchArrays<'a> {
    fn new(readings: &'a [SensorReading]) -> Self {
        let mut batch = Self {
            keys: KeyArrays::default(),
            values: Vec::with_capacity(readings.len()),
            users: Vec::with_capacity(readings.len()),
        };
        for reading in readings {
            batch.keys.push(reading);
            batch.values.push(reading.value);
            batch.users.push(reading.user.as_str());
        }
        batch
    }

    /// `sql` (an [`insert_batch!`] statement) with the arrays bound.
    fn bind<'q>(&'q self, sql: &'q str) -> Query<'q, Postgres, PgArguments> {
        sqlx::query(sql)
            .bind(&self.keys.run_ids)
            .bind(&self.keys.stamps)
            .bind(&self.keys.sensors)
            .bind(&self.keys.kinds)
            .bind(&self.values)
            .bind(&self.users)
    }
}

/// The statement that inserts a batch, given as parallel arrays, followed by `$tail`. Rows go in
/// key order, so two batches that share keys lock them in the same order and cannot deadlock.
macro_rules! insert_batch {
    ($tail:literal) => {
        concat!(
            "INSERT INTO readings (run_id, sensor_id, type, value, ts, username) \
             SELECT run_id, sensor_id, type, value, ts, username \
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], \
                         $5::float8[], $6::text[]) \
                  AS batch(run_id, ts, sensor_id, type, value, username) \
             ORDER BY run_id, ts, sensor_id COLLATE \"C\", type COLLATE \"C\"",
            $tail
        )
    };
}

/// The keyset condition "after `cursor`" in (ts, sensor_id, type) order. With a sensor filter,
/// the sensor column is fixed, so the condition is rewritten on (ts, type) alone to match the
/// `(run_id, sensor_id, ts, type)` index (same rows, but an index range instead of a filter).
fn push_after(
    sql: &mut QueryBuilder<'_, Postgres>,
    cursor: &ReadingCursor,
    sensor: Option<&SensorId>,
) {
    let at = cursor.timestamp.as_datetime();
    match sensor.map(|s| s.as_str().cmp(cursor.sensor_id.as_str())) {
        None => {
            sql.push(" AND (ts, sensor_id, type) > (")
                .push_bind(at)
                .push(", ")
                .push_bind(cursor.sensor_id.as_str().to_owned())
                .push(", ")
                .push_bind(cursor.kind.as_str())
                .push(")");
        }
        Some(std::cmp::Ordering::Greater) => {
            sql.push(" AND ts >= ").push_bind(at);
        }
        Some(std::cmp::Ordering::Less) => {
            sql.push(" AND ts > ").push_bind(at);
        }
        Some(std::cmp::Ordering::Equal) => {
            sql.push(" AND (ts, type) > (")
                .push_bind(at)
                .push(", ")
                .push_bind(cursor.kind.as_str())
                .push(")");
        }
    }
}

#[async_trait]
impl ReadingStore for PgStore {
    async fn insert_reading(&self, reading: &SensorReading) -> Result<Inserted, StoreError> {
        let offer = Offer {
            reading,
            check: None,
        };
        inserted(self.offer(&mut *self.conn().await?, &[offer]).await?)
    }

    async fn insert_into_running_run(
        &self,
        reading: &SensorReading,
        now: Timestamp,
    ) -> Result<RunInsert, StoreError> {
        let offer = Offer {
            reading,
            check: Some(now),
        };
        checked(self.offer(&mut *self.conn().await?, &[offer]).await?)
    }

    async fn insert_readings(&self, readings: &[SensorReading]) -> Result<Vec<bool>, StoreError> {
        if readings.is_empty() {
            return Ok(Vec::new());
        }
        let batch = BatchArrays::new(readings);
        let mut conn = self.conn().await?;
        // The usual batch holds only new keys: one INSERT without `ON CONFLICT`, committed on its
        // own, skips the speculative insertion `ON CONFLICT` needs and returns nothing (rows (c)
        // and (c0) of `bench/run` compare the two). A taken key anywhere fails it whole (unique
        // violation, nothing kept), and the batch takes the path below, which tells new keys from
        // replays and conflicts.
        let fresh = batch.bind(insert_batch!("")).execute(&mut *conn).await;
        match fresh {
            Ok(_) => return Ok(vec![true; readings.len()]),
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(store_error(e)),
        }

        let mut tx = conn.begin().await.map_err(store_error)?;
        let inserted = batch
            .bind(insert_batch!(
                " ON CONFLICT (run_id, ts, sensor_id, type) DO NOTHING \
                  RETURNING run_id, ts, sensor_id, type"
            ))
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;

        // Input position of each key (the first one, should a key repeat).
        let mut position: HashMap<Key, usize> = HashMap::with_capacity(readings.len());
        for (i, reading) in readings.iter().enumerate() {
            position.entry(key(reading)).or_insert(i);
        }
        let mut is_new = vec![false; readings.len()];
        for row in &inserted {
            let found = row_key(row)?;
            match position.get(&found) {
                Some(&i) => is_new[i] = true,
                None => return Err(bad_row("an inserted reading matches no input")),
            }
        }

        let mut taken = KeyArrays::default();
        for (reading, _) in readings.iter().zip(&is_new).filter(|(_, new)| !**new) {
            taken.push(reading);
        }
        if !taken.run_ids.is_empty() {
            let stored = sqlx::query(
                "SELECT r.run_id, r.ts, r.sensor_id, r.type, r.value \
                 FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]) \
                      AS k(run_id, ts, sensor_id, type) \
                 JOIN readings r ON r.run_id = k.run_id AND r.ts = k.ts \
                                AND r.sensor_id = k.sensor_id AND r.type = k.type",
            )
            .bind(&taken.run_ids)
            .bind(&taken.stamps)
            .bind(&taken.sensors)
            .bind(&taken.kinds)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
            let mut stored_values: HashMap<Key, f64> = HashMap::with_capacity(stored.len());
            for row in &stored {
                stored_values.insert(row_key(row)?, get(row, "value")?);
            }
            let conflict = readings
                .iter()
                .zip(&is_new)
                .filter(|(_, new)| !**new)
                .find_map(|(reading, _)| match stored_values.get(&key(reading)) {
                    Some(&value) => {
                        let stored = SensorReading {
                            value,
                            ..reading.clone()
                        };
                        (!stored.same_value_as(reading)).then_some(Ok(reading))
                    }
                    None => Some(Err(bad_row("a conflicting reading vanished"))),
                });
            if let Some(conflict) = conflict {
                tx.rollback().await.map_err(store_error)?;
                return Err(match conflict {
                    Ok(reading) => StoreError::Conflict(conflict_detail(reading)),
                    Err(err) => err,
                });
            }
        }
        tx.commit().await.map_err(store_error)?;
        Ok(is_new)
    }

    async fn list_readings(
        &self,
        query: &ReadingQuery,
    ) -> Result<Page<SensorReading, ReadingCursor>, StoreError> {
        let mut sql: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
            "SELECT {READING_COLUMNS} FROM readings WHERE run_id = "
        ));
        sql.push_bind(query.run_id.as_uuid());
        if let Some(sensor) = &query.sensor_id {
            sql.push(" AND sensor_id = ")
                .push_bind(sensor.as_str().to_owned());
        }
        if let Some(kind) = query.kind {
            sql.push(" AND type = ").push_bind(kind.as_str());
        }
        if let Some(from) = query.from {
            sql.push(" AND ts >= ").push_bind(from.as_datetime());
        }
        if let Some(to) = query.to {
            sql.push(" AND ts < ").push_bind(to.as_datetime());
        }
        if let Some(after) = &query.after {
            push_after(&mut sql, after, query.sensor_id.as_ref());
        }
        sql.push(" ORDER BY ts, sensor_id, type LIMIT ")
            .push_bind(i64::from(query.limit) + 1);
        let found = sql
            .build()
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(Page::from_overfetch(
            rows::readings(&found)?,
            query.limit,
            SensorReading::cursor,
        ))
    }

    async fn latest_readings<'s>(
        &self,
        run_id: RunId,
        sensor_id: Option<&'s SensorId>,
        limit: u32,
    ) -> Result<Vec<SensorReading>, StoreError> {
        let mut sql: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
            "SELECT {READING_COLUMNS} FROM readings WHERE run_id = "
        ));
        sql.push_bind(run_id.as_uuid());
        if let Some(sensor) = sensor_id {
            sql.push(" AND sensor_id = ")
                .push_bind(sensor.as_str().to_owned());
        }
        sql.push(" ORDER BY ts DESC, sensor_id DESC, type DESC LIMIT ")
            .push_bind(i64::from(limit));
        let found = sql
            .build()
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        rows::readings(&found)
    }

    async fn summarize(&self, run_id: RunId) -> Result<Vec<SensorSummary>, StoreError> {
        // The rollup kept by the `readings_rollup` trigger: one row per sensor and type.
        let found = sqlx::query(
            "SELECT sensor_id, type, n, lo, hi, total, first_ts, last_ts \
             FROM reading_rollups WHERE run_id = $1 ORDER BY sensor_id, type",
        )
        .bind(run_id.as_uuid())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(store_error)?;
        found
            .iter()
            .map(|row| {
                let kind: String = get(row, "type")?;
                let n: i64 = get(row, "n")?;
                let count = u64::try_from(n).map_err(|_| bad_row(format!("count {n}")))?;
                let total: f64 = get(row, "total")?;
                #[allow(clippy::cast_precision_loss)]
                let avg = total / count as f64;
                Ok(SensorSummary {
                    sensor_id: rows::sensor_id(get(row, "sensor_id")?)?,
                    kind: rows::reading_type(&kind)?,
                    count,
                    min: get(row, "lo")?,
                    max: get(row, "hi")?,
                    avg,
                    first: rows::timestamp(row, "first_ts")?,
                    last: rows::timestamp(row, "last_ts")?,
                })
            })
            .collect()
    }
}

/// The single outcome of a checked offer.
pub(crate) fn checked(outcomes: Vec<Outcome>) -> Result<RunInsert, StoreError> {
    match outcomes.into_iter().next() {
        Some(Outcome::New) => Ok(RunInsert::Checked(Inserted::New)),
        Some(Outcome::Existing(stored)) => Ok(RunInsert::Checked(Inserted::Existing(stored))),
        Some(Outcome::Refused) => Ok(RunInsert::Refused),
        None => Err(bad_row("an offered reading got no answer")),
    }
}

/// The single outcome of an unchecked offer.
pub(crate) fn inserted(outcomes: Vec<Outcome>) -> Result<Inserted, StoreError> {
    match outcomes.into_iter().next() {
        Some(Outcome::New) => Ok(Inserted::New),
        Some(Outcome::Existing(stored)) => Ok(Inserted::Existing(stored)),
        Some(Outcome::Refused) | None => Err(bad_row("an unchecked reading was refused")),
    }
}
