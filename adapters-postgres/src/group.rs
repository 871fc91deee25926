//! Group commit: single readings offered at the same time go to PostgreSQL as one multi-row
//! statement and one commit.
//!
//! [`GroupCommit`] wraps a [`PgStore`] as a [`ReadingStore`]. Each single-reading insert joins a
//! bounded queue and waits for its own answer; a collector task takes what is queued (up to
//! `max_group` offers, waiting at most `max_wait` for more while other groups are in flight) and
//! stores the group in one statement (see `ingest.rs`), with at most `in_flight` groups at once,
//! each on one of the collector's own connections (see [`Writers`]).
//! A request is answered only once the statement holding its reading has committed
//! (`synchronous_commit` as configured on the server), and each offer keeps its own outcome: a
//! refused or taken key does not affect its neighbours. When the queue is full, an insert fails
//! at once with [`StoreError::Busy`] (`503` with `Retry-After`) instead of waiting.
//! Everything else is the wrapped store's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use iot_core::StoreError;
use iot_core::model::{
    Page, ReadingCursor, RunId, SensorId, SensorReading, SensorSummary, Timestamp,
};
use iot_core::ports::{Inserted, ReadingQuery, ReadingStore, RunInsert};
use sqlx::{Connection, PgConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::error::store_error;
use crate::ingest::{Offer, Outcome};
use crate::readings::{checked, inserted};
use crate::store::{IDLE_BEFORE_PING, PgStore};

/// How [`GroupCommit`] forms groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOptions {
    /// Most offers in one statement.
    pub max_group: usize,
    /// Longest an offer waits for company while other groups are being stored (an idle store
    /// gets every offer at once).
    pub max_wait: Duration,
    /// Most offers waiting for a group; beyond it, inserts fail fast with `Busy`.
    pub queue: usize,
    /// Most groups being stored at once, each on a connection of its own, opened beside the
    /// pool's (the database sees up to this many more connections).
    pub in_flight: usize,
}

/// Default [`GroupOptions::max_group`].
pub const DEFAULT_MAX_GROUP: usize = 256;
/// Default [`GroupOptions::max_wait`], in microseconds. A longer wait makes larger groups but
/// leaves the cores idle between them (1 ms answered fewer readings per second at 32 and 128
/// connections in `bench/run`).
pub const DEFAULT_MAX_WAIT_US: u64 = 200;
/// Default [`GroupOptions::queue`].
pub const DEFAULT_GROUP_QUEUE: usize = 8192;
/// Default [`GroupOptions::in_flight`].
pub const DEFAULT_GROUPS_IN_FLIGHT: usize = 4;

impl Default for GroupOptions {
    /// The `DEFAULT_*` constants above.
    fn default() -> Self {
        Self {
            max_group: DEFAULT_MAX_GROUP,
            max_wait: Duration::from_micros(DEFAULT_MAX_WAIT_US),
            queue: DEFAULT_GROUP_QUEUE,
            in_flight: DEFAULT_GROUPS_IN_FLIGHT,
        }
    }
}

/// One waiting insert.
struct Job {
    reading: SensorReading,
    check: Option<Timestamp>,
    reply: oneshot::Sender<Result<Outcome, StoreError>>,
}

/// A [`PgStore`] whose single-reading inserts are committed in groups.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    store: PgStore,
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Wraps `store` and starts its collector on the current Tokio runtime; the collector stops
    /// when the last clone of this handle is dropped.
    pub fn new(store: PgStore, options: &GroupOptions) -> Self {
        let (queue, jobs) = mpsc::channel(options.queue.max(1));
        tokio::spawn(collect(store.clone(), jobs, options.clone()));
        Self { store, queue }
    }

    /// The wrapped store.
    pub fn store(&self) -> &PgStore {
        &self.store
    }

    /// Offers one reading to the next group and waits for its outcome.
    pub(crate) async fn offer_one(
        &self,
        reading: &SensorReading,
        check: Option<Timestamp>,
    ) -> Result<Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            reading: reading.clone(),
            check,
            reply,
        };
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                StoreError::Busy("too many readings waiting to be stored".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                StoreError::Unavailable("the group commit collector has stopped".into())
            }
        })?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the group commit collector dropped a reading".into())
        })?
    }
}

/// The connections groups are stored on: opened when a group needs one and kept between groups,
/// at most one per group in flight.
///
/// They are the collector's own rather than the pool's: sqlx pings a pooled connection each time
/// it goes back to the pool, so a group on a pooled connection would cost two round trips
/// instead of one. A connection idle for longer than [`IDLE_BEFORE_PING`] is pinged before it
/// is used again, and one whose group failed is closed, so that a restarted server fails no
/// group.
struct Writers {
    store: PgStore,
    idle: Mutex<Vec<Writer>>,
}

/// A connection of [`Writers`] and when it was last used.
struct Writer {
    conn: PgConnection,
    used: Instant,
}

impl Writers {
    /// A kept connection that still answers, or a new one (bounded by the pool's acquire
    /// timeout, so a database that cannot be reached fails the group instead of hanging it).
    async fn take(&self) -> Result<Writer, StoreError> {
        let kept = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let limit = self.store.pool().options().get_acquire_timeout();
        if let Some(mut writer) = kept
            && (writer.used.elapsed() < IDLE_BEFORE_PING
                || matches!(
                    tokio::time::timeout(limit, writer.conn.ping()).await,
                    Ok(Ok(()))
                ))
        {
            return Ok(writer);
        }
        let options = self.store.pool().connect_options();
        let conn = tokio::time::timeout(limit, PgConnection::connect_with(&options))
            .await
            .map_err(|_| StoreError::Unavailable("timed out connecting to the database".into()))?
            .map_err(store_error)?;
        Ok(Writer {
            conn,
            used: Instant::now(),
        })
    }

    /// Keeps `writer` for the next group.
    fn put_back(&self, mut writer: Writer) {
        writer.used = Instant::now();
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(writer);
        }
    }
}

/// Forms groups and hands each to its own task, at most `in_flight` at once.
async fn collect(store: PgStore, mut jobs: mpsc::Receiver<Job>, options: GroupOptions) {
    let in_flight = options.in_flight.max(1);
    let max_group = options.max_group.max(1);
    let permits = Arc::new(Semaphore::new(in_flight));
    let writers = Arc::new(Writers {
        store,
        idle: Mutex::new(Vec::with_capacity(in_flight)),
    });
    while let Some(first) = jobs.recv().await {
        // Waiting for a permit lets the queue fill: the next group is larger.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut group = Vec::with_capacity(max_group);
        group.push(first);
        while group.len() < max_group {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // Others are being stored: the store is busy, so wait a little for company.
        if group.len() < max_group && permits.available_permits() + 1 < in_flight {
            let deadline = Instant::now() + options.max_wait;
            while group.len() < max_group {
                tokio::select! {
                    job = jobs.recv() => match job {
                        Some(job) => group.push(job),
                        None => break,
                    },
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
        let writers = writers.clone();
        tokio::spawn(async move {
            store_group(&writers, group).await;
            drop(permit);
        });
    }
}

/// Stores one group and answers each of its offers.
async fn store_group(writers: &Writers, group: Vec<Job>) {
    let offers: Vec<Offer<'_>> = group
        .iter()
        .map(|job| Offer {
            reading: &job.reading,
            check: job.check,
        })
        .collect();
    // Groups take their turns at the gate with every other call (they always queue): the gate
    // bounds the calls the database serves at once, groups included.
    let result = match writers.store.turn_in_line().await {
        Ok(turn) => store_on_a_writer(writers, &offers, turn).await,
        Err(e) => Err(e),
    };
    drop(offers);
    answer(group, result);
}

/// Stores `offers` on a connection of `writers`, holding `turn`.
async fn store_on_a_writer(
    writers: &Writers,
    offers: &[Offer<'_>],
    _turn: OwnedSemaphorePermit,
) -> Result<Vec<Outcome>, StoreError> {
    match writers.take().await {
        Ok(mut writer) => {
            let result = writers.store.offer(&mut writer.conn, offers).await;
            // A failed group may have left its connection broken: it is closed, not kept.
            if result.is_ok() {
                writers.put_back(writer);
            }
            result
        }
        Err(e) => Err(e),
    }
}

/// Answers each offer of `group` with its outcome, or all of them with the group's error.
fn answer(group: Vec<Job>, result: Result<Vec<Outcome>, StoreError>) {
    match result {
        Ok(outcomes) => {
            for (job, outcome) in group.into_iter().zip(outcomes) {
                // A caller that gave up no longer listens; its reading is stored all the same.
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            for job in group {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

#[async_trait]
impl ReadingStore for GroupCommit {
    async fn insert_reading(&self, reading: &SensorReading) -> Result<Inserted, StoreError> {
        inserted(vec![self.offer_one(reading, None).await?])
    }

    async fn insert_into_running_run(
        &self,
        reading: &SensorReading,
        now: Timestamp,
    ) -> Result<RunInsert, StoreError> {
        checked(vec![self.offer_one(reading, Some(now)).await?])
    }

    async fn insert_readings(&self, readings: &[SensorReading]) -> Result<Vec<bool>, StoreError> {
        self.store.insert_readings(readings).await
    }

    async fn list_readings(
        &self,
        query: &ReadingQuery,
    ) -> Result<Page<SensorReading, ReadingCursor>, StoreError> {
        self.store.list_readings(query).await
    }

    async fn latest_readings<'s>(
        &self,
        run_id: RunId,
        sensor_id: Option<&'s SensorId>,
        limit: u32,
    ) -> Result<Vec<SensorReading>, StoreError> {
        self.store.latest_readings(run_id, sensor_id, limit).await
    }

    async fn summarize(&self, run_id: RunId) -> Result<Vec<SensorSummary>, StoreError> {
        self.store.summarize(run_id).await
    }
}
