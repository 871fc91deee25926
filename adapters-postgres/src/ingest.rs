//! Single readings in one statement: the run check (owner, running at the caller's instant,
//! sensor of the run) and the insert travel together, for one reading or for a group of them, and
//! the statement commits on its own (no `BEGIN`/`COMMIT` round trips). Only readings whose key
//! turns out to be taken cost more statements: the plain insert fails whole, the insert that
//! skips taken keys follows, then a read of the stored readings.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use iot_core::StoreError;
use iot_core::model::{SensorReading, Timestamp};
use sqlx::postgres::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{bad_row, is_unique_violation, store_error};
use crate::rows::{self, READING_COLUMNS, get};
use crate::store::PgStore;

/// One reading to store; with `check`, only into a run of the reading's user that has its sensor
/// and is running at that instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offer<'a> {
    pub(crate) reading: &'a SensorReading,
    pub(crate) check: Option<Timestamp>,
}

/// What became of an [`Offer`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Stored, and committed.
    New,
    /// The key was taken; this is the stored reading (nothing was written).
    Existing(SensorReading),
    /// The run check failed; nothing was written.
    Refused,
}

/// The statement, closed by `$tail` (the end of the insert, then the answer): rows arrive as
/// parallel arrays; `locked` takes a share lock on each checked run, so a concurrent finish waits
/// for this statement's commit (or this statement sees the finished run and refuses), and a
/// reading is never acknowledged into a run finished before it. The answer has a row (`i`, `new`)
/// per reading that passed the check.
macro_rules! offer_statement {
    ($tail:literal) => {
        concat!(
            "WITH batch AS ( \
                SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], \
                                     $5::float8[], $6::text[], $7::timestamptz[]) WITH ORDINALITY \
                    AS b(run_id, ts, sensor_id, type, value, username, checked_at, i) \
            ), locked AS ( \
                SELECT id, username, status, deadline, sensor_ids FROM runs \
                WHERE id IN (SELECT run_id FROM batch WHERE checked_at IS NOT NULL) \
                ORDER BY id FOR SHARE \
            ), allowed AS ( \
                SELECT b.* FROM batch b LEFT JOIN locked l ON l.id = b.run_id \
                WHERE b.checked_at IS NULL \
                   OR (l.username = b.username AND l.status = 'RUNNING' \
                       AND l.deadline >= b.checked_at AND b.sensor_id = ANY (l.sensor_ids)) \
            ), inserted AS ( \
                INSERT INTO readings (run_id, sensor_id, type, value, ts, username) \
                SELECT run_id, sensor_id, type, value, ts, username FROM allowed \
                ORDER BY run_id, ts, sensor_id COLLATE \"C\", type COLLATE \"C\" ",
            $tail
        )
    };
}

/// Every reading that passes the check is inserted: a plain insert, without the speculative
/// insertion of `ON CONFLICT` (a pre-check of the key and one more WAL record per row). A taken
/// key fails the whole statement (unique violation) and nothing is stored.
const OFFER_NEW: &str = offer_statement!(
    "RETURNING 1 \
    ) SELECT i, true AS new FROM allowed"
);

/// Taken keys are skipped and reported (`new` false).
const OFFER: &str = offer_statement!(
    "ON CONFLICT (run_id, ts, sensor_id, type) DO NOTHING \
        RETURNING run_id, ts, sensor_id, type \
    ) SELECT a.i, i.run_id IS NOT NULL AS new FROM allowed a LEFT JOIN inserted i \
        ON i.run_id = a.run_id AND i.ts = a.ts AND i.sensor_id = a.sensor_id AND i.type = a.type"
);

/// After a plain insert met a taken key, this many statements of the same store skip it and go
/// straight to [`OFFER`]: traffic full of replays pays for at most one failed statement in this
/// many.
const SKIP_PLAIN_AFTER_A_TAKEN_KEY: u32 = 32;

/// A reading key as plain values.
type Key = (Uuid, i64, String, &'static str);

fn key(reading: &SensorReading) -> Key {
    (
        reading.run_id.as_uuid(),
        reading.timestamp.unix_micros(),
        reading.sensor_id.as_str().to_owned(),
        reading.kind.as_str(),
    )
}

impl PgStore {
    /// Stores `offers` (distinct keys or not) and tells, in input order, what became of each.
    /// Offers repeating a key of an earlier one go in a later statement, so each gets its own
    /// answer (the first one stored, the next ones replays of it).
    pub(crate) async fn offer(
        &self,
        conn: &mut PgConnection,
        offers: &[Offer<'_>],
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; offers.len()];
        let mut pending: Vec<usize> = (0..offers.len()).collect();
        while !pending.is_empty() {
            let mut seen = HashSet::with_capacity(pending.len());
            let (now, later): (Vec<usize>, Vec<usize>) = pending
                .into_iter()
                .partition(|&i| seen.insert(key(offers[i].reading)));
            let round: Vec<Offer<'_>> = now.iter().map(|&i| offers[i]).collect();
            for (i, outcome) in now
                .into_iter()
                .zip(self.offer_distinct(conn, &round).await?)
            {
                outcomes[i] = Some(outcome);
            }
            pending = later;
        }
        outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| bad_row("an offered reading got no answer")))
            .collect()
    }

    /// [`Self::offer`] for offers with distinct keys: one statement, plus one to read back the
    /// stored readings of keys found taken.
    async fn offer_distinct(
        &self,
        conn: &mut PgConnection,
        offers: &[Offer<'_>],
    ) -> Result<Vec<Outcome>, StoreError> {
        let n = offers.len();
        let mut run_ids = Vec::with_capacity(n);
        let mut stamps = Vec::with_capacity(n);
        let mut sensors = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        let mut users = Vec::with_capacity(n);
        let mut checks: Vec<Option<OffsetDateTime>> = Vec::with_capacity(n);
        for offer in offers {
            let r = offer.reading;
            run_ids.push(r.run_id.as_uuid());
            stamps.push(r.timestamp.as_datetime());
            sensors.push(r.sensor_id.as_str());
            kinds.push(r.kind.as_str());
            values.push(r.value);
            users.push(r.user.as_str());
            checks.push(offer.check.as_ref().map(Timestamp::as_datetime));
        }
        let statement = |sql| {
            sqlx::query(sql)
                .bind(&run_ids)
                .bind(&stamps)
                .bind(&sensors)
                .bind(&kinds)
                .bind(&values)
                .bind(&users)
                .bind(&checks)
        };
        let skip_plain = self
            .skip_plain
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        let plain = if skip_plain {
            None
        } else {
            match statement(OFFER_NEW).fetch_all(&mut *conn).await {
                Ok(rows) => Some(rows),
                Err(e) if is_unique_violation(&e) => {
                    self.skip_plain
                        .store(SKIP_PLAIN_AFTER_A_TAKEN_KEY, Ordering::Relaxed);
                    None
                }
                Err(e) => return Err(store_error(e)),
            }
        };
        let found = match plain {
            Some(rows) => rows,
            None => statement(OFFER)
                .fetch_all(&mut *conn)
                .await
                .map_err(store_error)?,
        };
        let mut outcomes = vec![Outcome::Refused; n];
        let mut taken = Vec::new();
        for row in &found {
            let ordinal: i64 = get(row, "i")?;
            let i = usize::try_from(ordinal - 1)
                .ok()
                .filter(|&i| i < n)
                .ok_or_else(|| bad_row(format!("ordinal {ordinal}")))?;
            if get::<bool>(row, "new")? {
                outcomes[i] = Outcome::New;
            } else {
                taken.push(i);
            }
        }
        if !taken.is_empty() {
            let stored = self.stored(conn, offers, &taken).await?;
            for i in taken {
                match stored.get(&key(offers[i].reading)) {
                    Some(existing) => outcomes[i] = Outcome::Existing(existing.clone()),
                    None => return Err(bad_row("a conflicting reading vanished")),
                }
            }
        }
        Ok(outcomes)
    }

    /// The stored readings under the keys of `offers[i]` for `i` in `which`. The offer statement
    /// has committed and `ON CONFLICT` waited for any writer of these keys, so this statement's
    /// snapshot sees them; readings are never updated or deleted.
    async fn stored(
        &self,
        conn: &mut PgConnection,
        offers: &[Offer<'_>],
        which: &[usize],
    ) -> Result<HashMap<Key, SensorReading>, StoreError> {
        let readings = which.iter().map(|&i| offers[i].reading);
        let found = sqlx::query(&format!(
            "SELECT {READING_COLUMNS} FROM readings \
             WHERE (run_id, ts, sensor_id, type) IN ( \
                 SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]))"
        ))
        .bind(
            readings
                .clone()
                .map(|r| r.run_id.as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(
            readings
                .clone()
                .map(|r| r.timestamp.as_datetime())
                .collect::<Vec<_>>(),
        )
        .bind(
            readings
                .clone()
                .map(|r| r.sensor_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(readings.map(|r| r.kind.as_str()).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        found
            .iter()
            .map(|row| rows::reading(row).map(|r| (key(&r), r)))
            .collect()
    }
}
