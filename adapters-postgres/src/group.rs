//! Group commit: single readings offered at the same time go to PostgreSQL as one multi-row
//! statement and one commit.
//!
//! [`GroupCommit`] wraps a [`PgStore`] as a [`ReadingStore`]. Each single-reading insert joins a
//! bounded queue and waits for its own answer; a collector task takes what is queued (up to
//! `max_group` offers, waiting at most `max_wait` for more while other groups are in flight) and
//! stores the group in one statement (see `ingest.rs`), with at most `in_flight` groups at once.
//! A request is answered only once the statement holding its reading has committed
//! (`synchronous_commit` as configured on the server), and each offer keeps its own outcome: a
//! refused or taken key does not affect its neighbours. When the queue is full, an insert fails
//! at once with [`StoreError::Busy`] (`503` with `Retry-After`) instead of waiting.
//! Everything else is the wrapped store's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iot_core::StoreError;
use iot_core::model::{
    Page, ReadingCursor, RunId, SensorId, SensorReading, SensorSummary, Timestamp,
};
use iot_core::ports::{Inserted, ReadingQuery, ReadingStore, RunInsert};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::ingest::{Offer, Outcome};
use crate::readings::{checked, inserted};
use crate::store::PgStore;

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
    /// Most groups being stored at once (each holds one pooled connection).
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

/// Forms groups and hands each to its own task, at most `in_flight` at once.
async fn collect(store: PgStore, mut jobs: mpsc::Receiver<Job>, options: GroupOptions) {
    let in_flight = options.in_flight.max(1);
    let max_group = options.max_group.max(1);
    let permits = Arc::new(Semaphore::new(in_flight));
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
        let store = store.clone();
        tokio::spawn(async move {
            store_group(&store, group).await;
            drop(permit);
        });
    }
}

/// Stores one group and answers each of its offers.
async fn store_group(store: &PgStore, group: Vec<Job>) {
    let offers: Vec<Offer<'_>> = group
        .iter()
        .map(|job| Offer {
            reading: &job.reading,
            check: job.check,
        })
        .collect();
    // The collector bounds its own groups (`in_flight`): they queue at the gate, never refused.
    let result = match store.conn_in_line().await {
        Ok(mut conn) => store.offer(&mut conn, &offers).await,
        Err(e) => Err(e),
    };
    drop(offers);
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
