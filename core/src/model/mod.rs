//! Validated value types and the two aggregates, [`Run`] and [`SensorReading`].
//!
//! Every type here is parsed once at the edge (HTTP, storage rows) and is valid by construction, so
//! the services never handle unchecked strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationError;

mod timestamp;

pub use timestamp::Timestamp;

macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:literal, $max:literal, $extra:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `value` against the rule in the type's documentation.
            ///
            /// # Errors
            /// A [`ValidationError`] naming the field when the value breaks the rule.
            pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
                let value = value.into();
                let extra: fn(char) -> bool = $extra;
                let len = value.chars().count();
                if (($min)..=($max)).contains(&len)
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || extra(c))
                {
                    Ok(Self(value))
                } else {
                    Err(ValidationError::new($field, $rule))
                }
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_string!(
    /// A user name: `^[A-Za-z0-9._-]{3,20}$`.
    Username, "user", 3, 20, |c| matches!(c, '.' | '_' | '-'),
    "must match ^[A-Za-z0-9._-]{3,20}$"
);

checked_string!(
    /// A sensor id: `^[A-Za-z0-9._:-]{1,64}$`.
    SensorId, "sensorId", 1, 64, |c| matches!(c, '.' | '_' | ':' | '-'),
    "must match ^[A-Za-z0-9._:-]{1,64}$"
);

checked_string!(
    /// The `Idempotency-Key` of a start: `^[A-Za-z0-9._:-]{1,255}$` (a UUID is the usual choice).
    IdempotencyKey, "Idempotency-Key", 1, 255, |c| matches!(c, '.' | '_' | ':' | '-'),
    "must match ^[A-Za-z0-9._:-]{1,255}$"
);

/// The id of a run (a UUID), written in its canonical form: lowercase and hyphenated, 36
/// characters (`0f8e3b4a-9c1d-4e2f-8a7b-6c5d4e3f2a1b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(Uuid);

impl RunId {
    /// Wraps a UUID.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Parses a UUID in its canonical form only. The other spellings a UUID parser takes (upper
    /// case, 32 bare hex digits, `{…}`, `urn:uuid:…`) are refused, so that one run has one id
    /// everywhere: in URLs, logs, metric labels and both stores.
    ///
    /// # Errors
    /// `invalid_run_id` when the text is not a canonical UUID.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, ValidationError> {
        let canonical = |id: &Uuid| {
            let mut buffer = Uuid::encode_buffer();
            id.hyphenated().encode_lower(&mut buffer) == text
        };
        Uuid::try_parse(text)
            .ok()
            .filter(canonical)
            .map(Self)
            .ok_or_else(|| {
                ValidationError::new(field, "must be a UUID in lowercase hyphenated form")
                    .with_code("invalid_run_id")
            })
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// Lifecycle of a run: `RUNNING` then exactly one terminal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Accepting readings and holding capacity.
    Running,
    /// Finished by its owner.
    Success,
    /// Finished by its owner with an error.
    Failed,
    /// Interrupted (`interrupt-all`).
    Canceled,
    /// Not finished before `startedAt + duration + grace`.
    Timeout,
}

impl RunStatus {
    /// All statuses, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Running,
        Self::Success,
        Self::Failed,
        Self::Canceled,
        Self::Timeout,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Canceled => "CANCELED",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// Whether the status is final.
    pub fn is_terminal(self) -> bool {
        self != Self::Running
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "status",
                    "must be one of RUNNING, SUCCESS, FAILED, CANCELED, TIMEOUT",
                )
            })
    }
}

/// What a sensor measures, with its unit and plausible range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadingType {
    // Declared in alphabetical order: the derived `Ord` must match the order of the wire names,
    // which is how stores sort the type column.
    /// Relative humidity in percent, 0 ..= 100.
    Humidity,
    /// Hectopascals, 0 ..= 2000.
    Pressure,
    /// Degrees Celsius, −273.15 ..= 1000.
    Temperature,
}

impl ReadingType {
    /// All types, in key order.
    pub const ALL: [Self; 3] = [Self::Humidity, Self::Pressure, Self::Temperature];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Temperature => "temperature",
            Self::Humidity => "humidity",
            Self::Pressure => "pressure",
        }
    }

    /// The smallest magnitude of a value other than 0: 1e-130, DynamoDB's smallest number, so that
    /// every store keeps every value the API accepts, exactly.
    pub const SMALLEST_MAGNITUDE: f64 = 1e-130;

    /// Inclusive range of physically plausible values.
    pub fn range(self) -> (f64, f64) {
        match self {
            Self::Temperature => (-273.15, 1000.0),
            Self::Humidity => (0.0, 100.0),
            Self::Pressure => (0.0, 2000.0),
        }
    }
}

impl fmt::Display for ReadingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReadingType {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new("type", "must be one of temperature, humidity, pressure")
            })
    }
}

/// One simulation, as stored.
///
/// The stored `status` may still say `RUNNING` after the deadline; [`Run::observed_at`] gives the
/// state a reader must see. Stores persist what they are given and never apply the rule themselves,
/// except where a port method says so (capacity counts, status filters, conditional finish).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Unique id.
    pub id: RunId,
    /// Owner.
    pub username: Username,
    /// Stored status.
    pub status: RunStatus,
    /// Creation instant.
    pub started_at: Timestamp,
    /// When a terminal state was reached.
    pub finished_at: Option<Timestamp>,
    /// The instant after which a still-running run is `TIMEOUT`:
    /// `started_at + duration + grace`, fixed at creation.
    pub deadline: Timestamp,
    /// Planned length in seconds (1 ..= 86400).
    pub duration_secs: u32,
    /// Seconds between two readings of a sensor (0.001 ≤ interval ≤ 3600).
    pub interval_secs: f64,
    /// Sensors of the run, unique, 1 ..= 100.
    pub sensor_ids: Vec<SensorId>,
    /// Reason of a `FAILED` (or the note of a `CANCELED`) run.
    pub error_message: Option<String>,
    /// Link to the run's dashboard.
    pub grafana_url: Option<String>,
}

impl Run {
    /// Whether the run is running and within its deadline at `now`.
    pub fn is_running_at(&self, now: Timestamp) -> bool {
        self.status == RunStatus::Running && now <= self.deadline
    }

    /// The run as a reader sees it at `now`: a run still `RUNNING` past its deadline is `TIMEOUT`,
    /// finished at the deadline.
    #[must_use]
    pub fn observed_at(mut self, now: Timestamp) -> Self {
        if self.status == RunStatus::Running && now > self.deadline {
            self.status = RunStatus::Timeout;
            self.finished_at = Some(self.deadline);
        }
        self
    }

    /// The status a reader sees at `now`.
    pub fn status_at(&self, now: Timestamp) -> RunStatus {
        if self.status == RunStatus::Running && now > self.deadline {
            RunStatus::Timeout
        } else {
            self.status
        }
    }

    /// Newest-first listing order: `startedAt` descending, then `id` descending.
    pub fn newest_first(a: &Self, b: &Self) -> std::cmp::Ordering {
        (b.started_at, b.id).cmp(&(a.started_at, a.id))
    }

    /// Whether `sensor` is one of the run's sensors.
    pub fn has_sensor(&self, sensor: &SensorId) -> bool {
        self.sensor_ids.contains(sensor)
    }

    /// Position of this run in the newest-first listing.
    pub fn cursor(&self) -> RunCursor {
        RunCursor {
            started_at: self.started_at,
            id: self.id,
        }
    }
}

/// One measurement of one sensor in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorReading {
    /// The run it belongs to.
    pub run_id: RunId,
    /// The sensor, one of the run's.
    pub sensor_id: SensorId,
    /// What was measured.
    pub kind: ReadingType,
    /// The value, finite and within the type's range.
    pub value: f64,
    /// When it was measured (client) or received (server).
    pub timestamp: Timestamp,
    /// The run's owner who sent it.
    pub user: Username,
}

impl SensorReading {
    /// The idempotency key: `(runId, sensorId, type, timestamp)`.
    pub fn key(&self) -> ReadingKey {
        ReadingKey {
            run_id: self.run_id,
            timestamp: self.timestamp,
            sensor_id: self.sensor_id.clone(),
            kind: self.kind,
        }
    }

    /// Whether `other` carries the same value (a replay) rather than a different one (a conflict).
    pub fn same_value_as(&self, other: &Self) -> bool {
        self.value.to_bits() == other.value.to_bits() || self.value == other.value
    }

    /// Position of this reading in the ascending listing.
    pub fn cursor(&self) -> ReadingCursor {
        ReadingCursor {
            timestamp: self.timestamp,
            sensor_id: self.sensor_id.clone(),
            kind: self.kind,
        }
    }
}

/// The identity of a reading. Ordered like the listing: timestamp, then sensor, then type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadingKey {
    /// Run.
    pub run_id: RunId,
    /// Instant.
    pub timestamp: Timestamp,
    /// Sensor.
    pub sensor_id: SensorId,
    /// Type.
    pub kind: ReadingType,
}

/// Keyset position in the newest-first run listing: the last item of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCursor {
    /// `startedAt` of the last item.
    pub started_at: Timestamp,
    /// `id` of the last item (breaks ties).
    pub id: RunId,
}

/// Keyset position in the ascending reading listing: the last item of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingCursor {
    /// Timestamp of the last item.
    pub timestamp: Timestamp,
    /// Sensor of the last item.
    pub sensor_id: SensorId,
    /// Type of the last item.
    pub kind: ReadingType,
}

impl ReadingCursor {
    /// Whether a reading at `(timestamp, sensor, kind)` comes strictly after this position.
    pub fn is_before(&self, reading: &SensorReading) -> bool {
        (self.timestamp, &self.sensor_id, self.kind)
            < (reading.timestamp, &reading.sensor_id, reading.kind)
    }
}

impl RunCursor {
    /// Whether `run` comes strictly after this position in the newest-first order.
    pub fn is_before(&self, run: &Run) -> bool {
        (run.started_at, run.id) < (self.started_at, self.id)
    }
}

/// One page of a keyset-paginated listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// At most `limit` items.
    pub items: Vec<T>,
    /// Where the next page starts; `None` only at the end.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// A page from up to `limit + 1` items read in listing order: the extra item, when present,
    /// only proves that more follow, so it is dropped and the cursor points after the last kept
    /// item. Reading one more than `limit` is how stores avoid a trailing empty page.
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Self {
        let limit = limit as usize;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor)
        } else {
            None
        };
        Self { items, next }
    }
}

/// Aggregate of one sensor and type in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSummary {
    /// Sensor.
    pub sensor_id: SensorId,
    /// Type.
    pub kind: ReadingType,
    /// Number of readings.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub avg: f64,
    /// Timestamp of the first reading.
    pub first: Timestamp,
    /// Timestamp of the last reading.
    pub last: Timestamp,
}

impl SensorSummary {
    /// Folds readings of one (sensor, type) into a summary; `None` when empty.
    pub fn fold<'a>(readings: impl IntoIterator<Item = &'a SensorReading>) -> Option<Self> {
        let mut iter = readings.into_iter();
        let first = iter.next()?;
        let mut s = Self {
            sensor_id: first.sensor_id.clone(),
            kind: first.kind,
            count: 1,
            min: first.value,
            max: first.value,
            avg: first.value,
            first: first.timestamp,
            last: first.timestamp,
        };
        let mut sum = first.value;
        for r in iter {
            s.count += 1;
            s.min = s.min.min(r.value);
            s.max = s.max.max(r.value);
            s.first = s.first.min(r.timestamp);
            s.last = s.last.max(r.timestamp);
            sum += r.value;
        }
        #[allow(clippy::cast_precision_loss)]
        {
            s.avg = sum / s.count as f64;
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_are_accepted_in_canonical_form_only() {
        let canonical = "0f8e3b4a-9c1d-4e2f-8a7b-6c5d4e3f2a1b";
        assert_eq!(
            RunId::parse("id", canonical).unwrap().to_string(),
            canonical
        );
        for other in [
            "0F8E3B4A-9C1D-4E2F-8A7B-6C5D4E3F2A1B",
            "0f8e3b4a9c1d4e2f8a7b6c5d4e3f2a1b",
            "{0f8e3b4a-9c1d-4e2f-8a7b-6c5d4e3f2a1b}",
            "urn:uuid:0f8e3b4a-9c1d-4e2f-8a7b-6c5d4e3f2a1b",
            " 0f8e3b4a-9c1d-4e2f-8a7b-6c5d4e3f2a1b",
            "not-a-uuid",
            "",
        ] {
            let e = RunId::parse("id", other).unwrap_err();
            assert_eq!(e.code, "invalid_run_id", "{other}");
        }
    }

    use super::*;

    #[test]
    fn usernames_follow_the_pattern() {
        assert!(Username::parse("alice.b-c_9").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("a".repeat(21)).is_err());
        assert!(Username::parse("é-user").is_err());
        assert!(Username::parse("bob smith").is_err());
    }

    #[test]
    fn sensor_ids_allow_colons_up_to_64_chars() {
        assert!(SensorId::parse("room:1.temp-a_b").is_ok());
        assert!(SensorId::parse("s".repeat(64)).is_ok());
        assert!(SensorId::parse("s".repeat(65)).is_err());
        assert!(SensorId::parse("").is_err());
    }

    #[test]
    fn a_run_past_its_deadline_is_observed_as_timeout_finished_at_the_deadline() {
        let start = Timestamp::from_unix_micros(1_000_000).unwrap();
        let run = Run {
            id: RunId::from_uuid(Uuid::nil()),
            username: Username::parse("alice").unwrap(),
            status: RunStatus::Running,
            started_at: start,
            finished_at: None,
            deadline: start.plus_micros(10),
            duration_secs: 1,
            interval_secs: 1.0,
            sensor_ids: vec![],
            error_message: None,
            grafana_url: None,
        };
        assert_eq!(
            run.clone().observed_at(start.plus_micros(10)).status,
            RunStatus::Running
        );
        let late = run.observed_at(start.plus_micros(11));
        assert_eq!(late.status, RunStatus::Timeout);
        assert_eq!(late.finished_at, Some(start.plus_micros(10)));
    }
}
