//! The JSON shapes of the API (camelCase), converted from and to domain types.

use iot_core::model::{Run, SensorReading, SensorSummary};
use iot_core::service::{BatchOutcome, Capacity};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/runs/start`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"sensorIds": ["s1", "s2"], "duration": 60, "interval": 0.5}))]
#[serde(rename_all = "camelCase")]
pub struct StartRunBody {
    /// 1 to 100 unique ids matching `^[A-Za-z0-9._:-]{1,64}$`.
    pub sensor_ids: Vec<String>,
    /// Seconds, 1..=86400 (default 60); any JSON number with an integral value (`60`, `60.0`, `6e1`).
    #[serde(default, deserialize_with = "integral")]
    pub duration: Option<i64>,
    /// Seconds between readings, 0.001 ≤ interval ≤ 3600 (default 5).
    pub interval: Option<f64>,
}

/// An optional integer field. JSON has one number type, and JSON Schema's `integer` is any number
/// whose value is integral, so `60.0` and `6e1` are the integer 60; a fraction is refused.
fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::{Error, Unexpected};
    use serde_json::Value;
    let number = match Value::deserialize(d)? {
        Value::Null => return Ok(None),
        Value::Number(number) => number,
        other => {
            let unexpected = match &other {
                Value::Bool(b) => Unexpected::Bool(*b),
                Value::String(s) => Unexpected::Str(s),
                Value::Array(_) => Unexpected::Seq,
                _ => Unexpected::Map,
            };
            return Err(D::Error::invalid_type(unexpected, &"i64"));
        }
    };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    let value = number.as_f64().unwrap_or(f64::NAN);
    if value.fract() == 0.0 {
        // The cast saturates: a value beyond i64 stays out of range, and the range check names it.
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Some(value as i64));
    }
    Err(D::Error::invalid_type(Unexpected::Float(value), &"i64"))
}

/// Body of `POST /api/runs/{id}/finish` (may be empty: SUCCESS).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"status": "FAILED", "errorMessage": "sensor s2 went offline"}))]
#[serde(rename_all = "camelCase")]
pub struct FinishRunBody {
    /// `SUCCESS` (default) or `FAILED`.
    pub status: Option<String>,
    /// Why it failed (wins over `message`); kept for FAILED only.
    pub error_message: Option<String>,
    /// Alias of `errorMessage` sent by older clients.
    pub message: Option<String>,
}

/// One reading as a client sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"sensorId": "s1", "type": "temperature", "reading": 21.5, "timestamp": "2026-11-25T10:00:05Z"}))]
#[serde(rename_all = "camelCase")]
pub struct ReadingBody {
    /// One of the run's sensors.
    pub sensor_id: String,
    /// `temperature` (°C), `humidity` (%) or `pressure` (hPa).
    #[serde(rename = "type")]
    pub kind: String,
    /// The measured value, a finite number.
    pub reading: f64,
    /// RFC 3339, at most microseconds; omitted → the server's clock. Send it to make retries safe.
    pub timestamp: Option<String>,
}

/// Body of `POST /api/runs/{id}/readings`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"readings": [
    {"sensorId": "s1", "type": "temperature", "reading": 21.5, "timestamp": "2026-11-25T10:00:05Z"},
    {"sensorId": "s2", "type": "humidity", "reading": 40.2, "timestamp": "2026-11-25T10:00:05Z"}]}))]
pub struct BatchBody {
    /// 1 to 1000 readings.
    pub readings: Vec<ReadingBody>,
}

/// The legacy `params` object of a run, kept for existing frontends.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunParams {
    /// Same as the run's `id`.
    pub run_id: String,
    /// The run's sensors.
    pub sensor_ids: Vec<String>,
    /// Seconds.
    pub duration: u32,
    /// Seconds.
    pub interval: f64,
}

/// A run.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10",
    "username": "alice", "status": "RUNNING", "startedAt": "2026-11-25T10:00:00.000000Z",
    "finishedAt": null, "duration": 60, "interval": 0.5, "sensorIds": ["s1", "s2"],
    "errorMessage": null, "grafanaUrl": null,
    "params": {"runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "sensorIds": ["s1", "s2"],
        "duration": 60, "interval": 0.5}}))]
#[serde(rename_all = "camelCase")]
pub struct RunJson {
    /// UUID.
    pub id: String,
    /// Same as `id`.
    pub run_id: String,
    /// Owner.
    pub username: String,
    /// `RUNNING`, `SUCCESS`, `FAILED`, `CANCELED` or `TIMEOUT`.
    pub status: String,
    /// RFC 3339, microseconds, UTC.
    pub started_at: String,
    /// Set once terminal.
    pub finished_at: Option<String>,
    /// Seconds.
    pub duration: u32,
    /// Seconds.
    pub interval: f64,
    /// Sensors.
    pub sensor_ids: Vec<String>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Per-run dashboard.
    pub grafana_url: Option<String>,
    /// Legacy view of the start parameters.
    pub params: RunParams,
}

impl From<Run> for RunJson {
    fn from(run: Run) -> Self {
        let id = run.id.to_string();
        let sensor_ids: Vec<String> = run.sensor_ids.iter().map(ToString::to_string).collect();
        Self {
            params: RunParams {
                run_id: id.clone(),
                sensor_ids: sensor_ids.clone(),
                duration: run.duration_secs,
                interval: run.interval_secs,
            },
            run_id: id.clone(),
            id,
            username: run.username.to_string(),
            status: run.status.as_str().to_string(),
            started_at: run.started_at.to_string(),
            finished_at: run.finished_at.map(|t| t.to_string()),
            duration: run.duration_secs,
            interval: run.interval_secs,
            sensor_ids,
            error_message: run.error_message,
            grafana_url: run.grafana_url,
        }
    }
}

/// A page of runs.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10",
    "username": "alice", "status": "RUNNING", "startedAt": "2026-11-25T10:00:00.000000Z",
    "finishedAt": null, "duration": 60, "interval": 0.5, "sensorIds": ["s1", "s2"],
    "errorMessage": null, "grafanaUrl": null,
    "params": {"runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "sensorIds": ["s1", "s2"],
        "duration": 60, "interval": 0.5}}], "nextCursor": "722f31373634303634383030303030303030302f30663865"}))]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    /// Newest first.
    pub items: Vec<RunJson>,
    /// Pass as `cursor` for the next page; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A stored reading.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "sensorId": "s1", "type": "temperature",
    "reading": 21.5, "timestamp": "2026-11-25T10:00:05.000000Z", "user": "alice"}))]
#[serde(rename_all = "camelCase")]
pub struct ReadingJson {
    /// Run.
    pub run_id: String,
    /// Sensor.
    pub sensor_id: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Value.
    pub reading: f64,
    /// RFC 3339, microseconds, UTC.
    pub timestamp: String,
    /// Who sent it.
    pub user: String,
}

impl From<SensorReading> for ReadingJson {
    fn from(r: SensorReading) -> Self {
        Self {
            run_id: r.run_id.to_string(),
            sensor_id: r.sensor_id.to_string(),
            kind: r.kind.as_str().to_string(),
            reading: r.value,
            timestamp: r.timestamp.to_string(),
            user: r.user.to_string(),
        }
    }
}

/// A page of readings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "sensorId": "s1", "type": "temperature",
    "reading": 21.5, "timestamp": "2026-11-25T10:00:05.000000Z", "user": "alice"}], "nextCursor": "722f31373634303634383030"}))]
#[serde(rename_all = "camelCase")]
pub struct ReadingPage {
    /// Ascending by timestamp, sensorId, type.
    pub items: Vec<ReadingJson>,
    /// Pass as `cursor` for the next page; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The compatibility listing of readings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "sensorId": "s1", "type": "temperature",
    "reading": 21.5, "timestamp": "2026-11-25T10:00:05.000000Z", "user": "alice"}], "count": 1}))]
pub struct ReadingList {
    /// Newest first.
    pub items: Vec<ReadingJson>,
    /// Number of items returned.
    pub count: usize,
}

/// Result of a batch.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"accepted": 2, "duplicates": 0}))]
pub struct BatchJson {
    /// Readings newly stored.
    pub accepted: u32,
    /// Readings already stored (or repeated) with the same value.
    pub duplicates: u32,
}

impl From<BatchOutcome> for BatchJson {
    fn from(o: BatchOutcome) -> Self {
        Self {
            accepted: o.accepted,
            duplicates: o.duplicates,
        }
    }
}

/// Capacity, as the frontend's widget reads it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"canStart": true, "currentRunning": 3, "maxAllowed": 5, "available": 2, "userRunning": 1, "userMaxAllowed": 5}))]
#[serde(rename_all = "camelCase")]
pub struct CanStartJson {
    /// Whether a start would be admitted now (for this user when `X-User` is sent).
    pub can_start: bool,
    /// Running runs, all users.
    pub current_running: u32,
    /// `MAX_CONCURRENT_RUNS`.
    pub max_allowed: u32,
    /// Free global slots.
    pub available: u32,
    /// The caller's running runs (with `X-User`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_running: Option<u32>,
    /// `MAX_RUNS_PER_USER` (with `X-User`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_max_allowed: Option<u32>,
}

impl From<Capacity> for CanStartJson {
    fn from(c: Capacity) -> Self {
        Self {
            can_start: c.can_start,
            current_running: c.current_running,
            max_allowed: c.max_allowed,
            available: c.available,
            user_running: c.user.map(|(running, _)| running),
            user_max_allowed: c.user.map(|(_, max)| max),
        }
    }
}

/// Result of `interrupt-all`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"interrupted": 2, "message": "2 runs interrupted"}))]
pub struct InterruptJson {
    /// Runs canceled.
    pub interrupted: u32,
    /// A sentence.
    pub message: String,
}

/// One row of a run summary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryRow {
    /// Sensor.
    pub sensor_id: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Readings.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub avg: f64,
    /// Timestamp of the first reading.
    pub first: String,
    /// Timestamp of the last reading.
    pub last: String,
}

impl From<SensorSummary> for SummaryRow {
    fn from(s: SensorSummary) -> Self {
        Self {
            sensor_id: s.sensor_id.to_string(),
            kind: s.kind.as_str().to_string(),
            count: s.count,
            min: s.min,
            max: s.max,
            avg: s.avg,
            first: s.first.to_string(),
            last: s.last.to_string(),
        }
    }
}

/// Summary of a run.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"runId": "0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10", "sensors": [
    {"sensorId": "s1", "type": "temperature", "count": 12, "min": 19.5, "max": 22.1, "avg": 20.7,
        "first": "2026-11-25T10:00:00.000000Z", "last": "2026-11-25T10:00:55.000000Z"}]}))]
#[serde(rename_all = "camelCase")]
pub struct SummaryJson {
    /// The run.
    pub run_id: String,
    /// Per sensor and type, ordered by sensor then type.
    pub sensors: Vec<SummaryRow>,
}

/// Body of every error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "run_not_running", "message": "run 0f8e3b4a-6f0c-4a53-9d3f-2b7e1c9a5d10 is SUCCESS, not RUNNING"}))]
pub struct ErrorJson {
    /// snake_case code, e.g. `capacity_exhausted`.
    pub error: String,
    /// A human sentence.
    pub message: String,
}

/// Health and readiness.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "UP"}))]
pub struct HealthJson {
    /// `UP` or `DOWN`.
    pub status: &'static str,
}
