//! Errors of the domain, backend-neutral.

use thiserror::Error;

use crate::model::{RunId, RunStatus, SensorId, SensorReading};

/// An input that breaks a rule, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} {message}")]
pub struct ValidationError {
    /// The field as the client spells it (`sensorIds`, `duration`, `X-User`, …).
    pub field: String,
    /// Machine-readable code, `validation_failed` unless a more precise one applies.
    pub code: &'static str,
    /// What the rule is.
    pub message: String,
}

impl ValidationError {
    /// A `validation_failed` error on `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: "validation_failed",
            message: message.into(),
        }
    }

    /// The same error with a more precise code (`invalid_run_id`, …).
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same error reported on another field name (e.g. `readings[3].sensorId`).
    #[must_use]
    pub fn in_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

/// What a storage adapter reports; each adapter translates its driver's errors into these.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The item does not exist.
    #[error("not found")]
    NotFound,
    /// An item with the same key already exists.
    #[error("already exists")]
    AlreadyExists,
    /// The write contradicts what is stored (e.g. a different value under the same reading key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store cannot be reached, failed, or did not answer in time; the caller may retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store is up but refuses more work for now: more requests are waiting for it than the
    /// adapter lets wait, it throttles, or concurrent writers kept contending past the adapter's
    /// retries. Nothing was stored; the caller may retry shortly.
    #[error("store busy: {0}")]
    Busy(String),
    /// Anything else: a bug, corrupt data, an unexpected driver error.
    #[error("store failure: {0}")]
    Internal(String),
}

/// Which capacity limit refused a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityScope {
    /// `MAX_CONCURRENT_RUNS`, all users together.
    Global,
    /// `MAX_RUNS_PER_USER`.
    User,
}

impl CapacityScope {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::User => "user",
        }
    }
}

/// A start refused because a limit is reached, with that limit's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityExhausted {
    /// The limit that was hit.
    pub scope: CapacityScope,
    /// Runs holding capacity in that scope.
    pub current_running: u32,
    /// The limit.
    pub max_allowed: u32,
}

/// Why a service call failed. The HTTP adapter maps each variant to one status code.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ServiceError {
    /// Bad input (`400`).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such run, or the caller may not act on it (`404`).
    #[error("run {0} not found")]
    RunNotFound(RunId),
    /// The run is in a terminal state (`409`).
    #[error("run {id} is {status}, not RUNNING")]
    RunNotRunning {
        /// The run.
        id: RunId,
        /// Its current status.
        status: RunStatus,
    },
    /// The sensor is not one of the run's (`400`).
    #[error("sensor {sensor_id} is not one of the run's sensors")]
    UnknownSensor {
        /// The sensor sent.
        sensor_id: SensorId,
    },
    /// A capacity limit is reached (`429`).
    #[error("{} capacity exhausted: {} of {} runs running", .exhausted.scope.as_str(), .exhausted.current_running, .exhausted.max_allowed)]
    CapacityExhausted {
        /// Which limit, and its figures.
        exhausted: CapacityExhausted,
        /// Seconds after which a retry may succeed.
        retry_after_secs: u32,
    },
    /// The idempotency key of a start was used by the same user for a start with other
    /// parameters (`422`); the run created under it is named.
    #[error("idempotency key already used for run {0} with other parameters")]
    IdempotencyKeyReused(RunId),
    /// A reading key is already stored with another value (`409`).
    #[error("reading conflict: {0}")]
    ReadingConflict(String),
    /// The store failed (`503` when unavailable, else `500`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The message of a batch conflict, shared by every store so clients see the same text.
pub fn conflict_detail(reading: &SensorReading) -> String {
    format!(
        "sensor {} already has a different {} reading at {}",
        reading.sensor_id, reading.kind, reading.timestamp
    )
}
