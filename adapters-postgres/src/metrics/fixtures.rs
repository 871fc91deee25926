//! Runs, readings and exposition lines shared by the metrics unit tests.

use iot_core::model::{
    ReadingType, Run, RunId, RunStatus, SensorId, SensorReading, Timestamp, Username,
};
use iot_core::ports::Metrics;

use super::PrometheusMetrics;

pub(super) fn run(id: RunId, status: RunStatus) -> Run {
    let now = Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap();
    Run {
        id,
        username: Username::parse("alice").unwrap(),
        status,
        started_at: now,
        finished_at: None,
        deadline: now.plus_micros(180_000_000),
        duration_secs: 60,
        interval_secs: 5.0,
        sensor_ids: vec![SensorId::parse("s-1").unwrap()],
        error_message: None,
        grafana_url: None,
    }
}

pub(super) fn reading(run_id: RunId, value: f64) -> SensorReading {
    sensor_reading(run_id, "s-1", value)
}

pub(super) fn sensor_reading(run_id: RunId, sensor: &str, value: f64) -> SensorReading {
    SensorReading {
        run_id,
        sensor_id: SensorId::parse(sensor).unwrap(),
        kind: ReadingType::Temperature,
        value,
        timestamp: Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap(),
        user: Username::parse("alice").unwrap(),
    }
}

pub(super) fn series_lines(text: &str, run_id: RunId) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(&format!("run=\"{run_id}\"")))
        .map(str::to_owned)
        .collect()
}

pub(super) fn new_run_id() -> RunId {
    RunId::from_uuid(uuid::Uuid::new_v4())
}

/// Feeds `sensors` sensors of one type into `id`.
pub(super) fn feed(metrics: &PrometheusMetrics, id: RunId, sensors: usize) {
    let readings: Vec<_> = (0..sensors)
        .map(|i| sensor_reading(id, &format!("s-{i}"), 1.0))
        .collect();
    metrics.readings_ingested(&readings);
}
