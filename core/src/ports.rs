//! Ports: what the domain needs from the outside world.
//!
//! Storage ports are `async` and implemented by `adapters-postgres`, `adapters-dynamo` and
//! [`crate::memory::InMemoryStore`]; every "MUST" below is a scenario of the storage contract suite
//! (`contract-tests`). Clock, id generation and metrics are synchronous: they never wait on I/O
//! (a metrics adapter buffers or prints), so making them `async` would only add boxing on the hot path.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::{CapacityExhausted, CapacityScope, StoreError};
use crate::model::{
    IdempotencyKey, Page, ReadingCursor, ReadingType, Run, RunCursor, RunId, RunStatus, SensorId,
    SensorReading, SensorSummary, Timestamp, Username,
};

/// The two capacity limits a start must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityLimits {
    /// Running runs of all users together (`MAX_CONCURRENT_RUNS`).
    pub global: u32,
    /// Running runs of one user (`MAX_RUNS_PER_USER`).
    pub per_user: u32,
}

impl CapacityLimits {
    /// The limit a new run of a user would break, given the runs holding capacity overall and of
    /// that user; the global limit is checked first. `None` admits the run.
    pub fn refusal(&self, global_running: u32, user_running: u32) -> Option<CapacityExhausted> {
        if global_running >= self.global {
            Some(CapacityExhausted {
                scope: CapacityScope::Global,
                current_running: global_running,
                max_allowed: self.global,
            })
        } else if user_running >= self.per_user {
            Some(CapacityExhausted {
                scope: CapacityScope::User,
                current_running: user_running,
                max_allowed: self.per_user,
            })
        } else {
            None
        }
    }
}

/// Outcome of [`RunStore::create_run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The run was stored.
    Admitted,
    /// Nothing was stored: a limit is reached.
    Refused(CapacityExhausted),
    /// Nothing was stored: this user already created the run with this id under the same
    /// idempotency key.
    Replayed(RunId),
}

/// Running runs at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningCount {
    /// All users.
    pub global: u32,
    /// The user asked about, when one was given.
    pub user: Option<u32>,
}

/// A listing of runs, newest first (`startedAt` descending, then `id` descending).
#[derive(Debug, Clone, PartialEq)]
pub struct RunQuery {
    /// Only runs of this user.
    pub user: Option<Username>,
    /// Only runs whose status, as observed at `now`, is this one.
    pub status: Option<RunStatus>,
    /// At most this many items (1 ..= 1000).
    pub limit: u32,
    /// Start strictly after this position.
    pub after: Option<RunCursor>,
}

/// A listing of one run's readings, ascending by (timestamp, sensorId, type).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingQuery {
    /// The run.
    pub run_id: RunId,
    /// Only this sensor.
    pub sensor_id: Option<SensorId>,
    /// Only this type.
    pub kind: Option<ReadingType>,
    /// Only readings at or after this instant (inclusive).
    pub from: Option<Timestamp>,
    /// Only readings strictly before this instant (exclusive).
    pub to: Option<Timestamp>,
    /// At most this many items (1 ..= 1000).
    pub limit: u32,
    /// Start strictly after this position.
    pub after: Option<ReadingCursor>,
}

/// Outcome of storing one reading.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// The reading was new and is now stored.
    New,
    /// A reading with the same key was already stored; it is returned unchanged, whatever its value.
    Existing(SensorReading),
}

/// Outcome of [`ReadingStore::insert_into_running_run`].
#[derive(Debug, Clone, PartialEq)]
pub enum RunInsert {
    /// The run passed the check; what became of the reading.
    Checked(Inserted),
    /// The run is missing, someone else's, not running at the instant given, or without the
    /// reading's sensor: nothing was stored. The caller works out which.
    Refused,
}

/// [`ReadingStore::insert_into_running_run`] in two calls, the run read first: for stores that
/// cannot check and insert in one step. A finish landing between the two calls is not seen.
///
/// # Errors
/// Those of [`RunStore::get_run`] and [`ReadingStore::insert_reading`].
pub async fn check_then_insert(
    runs: &dyn RunStore,
    readings: &dyn ReadingStore,
    reading: &SensorReading,
    now: Timestamp,
) -> Result<RunInsert, StoreError> {
    let allowed = runs.get_run(reading.run_id).await?.is_some_and(|run| {
        run.username == reading.user && run.is_running_at(now) && run.has_sensor(&reading.sensor_id)
    });
    if !allowed {
        return Ok(RunInsert::Refused);
    }
    Ok(RunInsert::Checked(readings.insert_reading(reading).await?))
}

/// The terminal transition of a running run.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// Terminal status to set (never `RUNNING`).
    pub status: RunStatus,
    /// When it finished.
    pub finished_at: Timestamp,
    /// Message to store (`None` clears nothing: the column stays empty).
    pub error_message: Option<String>,
}

/// Storage of runs.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Stores `run` (status `RUNNING`) if capacity allows.
    ///
    /// Runs holding capacity are those stored `RUNNING` whose `deadline >= now`. The store MUST admit
    /// the run only if fewer than `limits.global` runs hold capacity overall and fewer than
    /// `limits.per_user` for `run.username`, and MUST make check and insert one atomic step: any
    /// number of concurrent callers, in any number of processes, never exceed either limit.
    /// A refusal names the limit hit (global is checked first) with its figures, and stores nothing.
    ///
    /// With an idempotency `key`, the store MUST first look for a run that `run.username` created
    /// under the same key and, when there is one, store nothing and answer
    /// [`Admission::Replayed`] with its id, whatever the capacity; else it MUST record the key
    /// with the run, in the same atomic step, and keep it at least as long as the run. Keys of
    /// different users never meet.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when a run with this id exists; `Unavailable`/`Internal` on
    /// store failures.
    async fn create_run<'k>(
        &self,
        run: &Run,
        limits: CapacityLimits,
        now: Timestamp,
        key: Option<&'k IdempotencyKey>,
    ) -> Result<Admission, StoreError>;

    /// The run as stored, or `None`. MUST return every field exactly as written.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn get_run(&self, id: RunId) -> Result<Option<Run>, StoreError>;

    /// One page of runs, newest first, matching `query` (the status filter compares the status
    /// observed at `now`, so a timed-out `RUNNING` run matches `TIMEOUT`, not `RUNNING`).
    ///
    /// MUST return at most `limit` items and a `next` cursor whenever more items may follow; MUST
    /// return `next: None` once the end is reached. Pages MUST neither skip nor repeat items that
    /// existed when the first page was read, even when runs are created between page reads.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn list_runs(
        &self,
        query: &RunQuery,
        now: Timestamp,
    ) -> Result<Page<Run, RunCursor>, StoreError>;

    /// Runs holding capacity at `now` (see [`RunStore::create_run`]), newest first, all of them,
    /// optionally only those of `user`. MUST NOT read every run of the store.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn running_runs<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<Vec<Run>, StoreError>;

    /// How many runs hold capacity at `now`, overall and for `user` when given.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn count_running<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<RunningCount, StoreError>;

    /// Applies `finish` to run `id` only if it is stored `RUNNING` with `deadline >= now`, atomically
    /// (two concurrent finishes: exactly one wins). Returns the updated run, or `None` when the run
    /// is missing, terminal or past its deadline (nothing changed). A finished run MUST stop holding
    /// capacity.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn finish_run(
        &self,
        id: RunId,
        finish: &Finish,
        now: Timestamp,
    ) -> Result<Option<Run>, StoreError>;

    /// Persists `TIMEOUT` (with `finishedAt` = deadline) on up to `max` runs stored `RUNNING` whose
    /// deadline is before `now`, and returns the runs it changed, as updated. Safe to run from many
    /// processes at once (each run is expired once); MUST NOT touch a run finished concurrently.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn expire_runs(&self, now: Timestamp, max: u32) -> Result<Vec<Run>, StoreError>;

    /// Deletes up to `max` runs whose deadline is before `cutoff`, each with its readings and
    /// anything else stored for it (its idempotency key, its summaries), and returns how many runs
    /// it deleted. Called by the sweep when data retention is on (docs/api.md, "Data
    /// retention"); `cutoff` is always before the sweep's `now`, so no such run still holds
    /// capacity. Safe to run from many processes at once.
    ///
    /// A store that deletes expired data by itself (DynamoDB's time to live on items the adapter
    /// stamps with their expiry) MAY delete nothing here and answer 0.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn purge_runs(&self, cutoff: Timestamp, max: u32) -> Result<u32, StoreError>;

    /// Whether the store answers (readiness probe).
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Storage of readings.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ReadingStore: Send + Sync {
    /// Stores `reading` unless its key `(runId, sensorId, type, timestamp)` is taken, atomically.
    /// MUST return [`Inserted::Existing`] with the stored reading when the key is taken (the caller
    /// decides between replay and conflict) and never overwrite it.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn insert_reading(&self, reading: &SensorReading) -> Result<Inserted, StoreError>;

    /// Stores `reading` as [`ReadingStore::insert_reading`] does, but only into a run stored
    /// `RUNNING` with `deadline >= now`, owned by `reading.user` and listing its sensor; otherwise
    /// stores nothing and answers [`RunInsert::Refused`]. Stores that can MUST make check and
    /// insert one step (a reading acknowledged into a run is never one refused by a finish that
    /// completed before it); the single-reading ingest relies on this call alone, so a store
    /// answers it in one round trip when it can.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn insert_into_running_run(
        &self,
        reading: &SensorReading,
        now: Timestamp,
    ) -> Result<RunInsert, StoreError>;

    /// Stores a batch of readings of one run with distinct keys, all or nothing: if any key is
    /// stored with a different value, MUST store nothing and fail with [`StoreError::Conflict`]
    /// naming the key; keys stored with the same value are duplicates and not written again.
    /// Returns, in input order, `true` for each reading newly stored and `false` for each
    /// duplicate. MUST accept batches of any size up to 1000 readings.
    ///
    /// # Errors
    /// `Conflict` as above; `Unavailable`/`Internal` on store failures.
    async fn insert_readings(&self, readings: &[SensorReading]) -> Result<Vec<bool>, StoreError>;

    /// One page of a run's readings, ascending by (timestamp, sensorId, type), filtered by `query`.
    /// Same paging guarantees as [`RunStore::list_runs`].
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn list_readings(
        &self,
        query: &ReadingQuery,
    ) -> Result<Page<SensorReading, ReadingCursor>, StoreError>;

    /// The newest `limit` readings of a run, newest first, optionally of one sensor.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn latest_readings<'s>(
        &self,
        run_id: RunId,
        sensor_id: Option<&'s SensorId>,
        limit: u32,
    ) -> Result<Vec<SensorReading>, StoreError>;

    /// Count, min, max, avg, first and last timestamp per (sensor, type) of a run, ordered by
    /// sensor then type. Empty when the run has no readings.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` on store failures.
    async fn summarize(&self, run_id: RunId) -> Result<Vec<SensorSummary>, StoreError>;
}

/// The time source; tests use a settable clock.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant, in microseconds.
    fn now(&self) -> Timestamp;
}

/// Source of new run ids.
#[cfg_attr(test, mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh, unique id.
    fn new_run_id(&self) -> RunId;
}

/// Where business metrics go (Prometheus registry, CloudWatch EMF lines, nothing).
///
/// Called once per request with everything the request did, so an adapter can aggregate a batch
/// into one record. Implementations MUST NOT block.
#[cfg_attr(test, mockall::automock)]
pub trait Metrics: Send + Sync {
    /// Readings newly stored by one request (replays excluded).
    fn readings_ingested(&self, readings: &[SensorReading]);
    /// A run started.
    fn run_started(&self, run: &Run);
    /// A run reached a terminal state (finish, interrupt, timeout sweep).
    fn run_finished(&self, run: &Run);
    /// One storage call and how long it took.
    fn store_call(&self, operation: &'static str, elapsed: Duration, ok: bool);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime_truncating(time::OffsetDateTime::now_utc())
    }
}

/// Random (v4) UUIDs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_run_id(&self) -> RunId {
        RunId::from_uuid(uuid::Uuid::new_v4())
    }
}

/// Metrics that go nowhere (library users who do not care, unit tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn readings_ingested(&self, _: &[SensorReading]) {}
    fn run_started(&self, _: &Run) {}
    fn run_finished(&self, _: &Run) {}
    fn store_call(&self, _: &'static str, _: Duration, _: bool) {}
}
