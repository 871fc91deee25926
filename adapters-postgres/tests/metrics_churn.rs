//! A minute of run churn as an attacker drives it (51 runs/s started, fed by 20 sensors × 3 types
//! and finished: 3,060 runs, 367,200 series without a cap), pushed through the metrics port as
//! fast as it goes: series count, exposition size and resident memory stay within the cap's
//! budget.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use adapters_postgres::metrics::{DEFAULT_MAX_SERIES, PrometheusMetrics};
use iot_core::model::{
    ReadingType, Run, RunId, RunStatus, SensorId, SensorReading, Timestamp, Username,
};
use iot_core::ports::Metrics as _;

const RUNS: usize = 51 * 60;
const SENSORS: usize = 20;

/// Longest exposition line of a sensor series, with a 64-character sensor id and a long user.
const BYTES_PER_SERIES: usize = 250;

fn run(id: RunId, user: &Username) -> Run {
    let now = Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap();
    Run {
        id,
        username: user.clone(),
        status: RunStatus::Success,
        started_at: now,
        finished_at: Some(now),
        deadline: now.plus_micros(180_000_000),
        duration_secs: 60,
        interval_secs: 1.0,
        sensor_ids: Vec::new(),
        error_message: None,
        grafana_url: None,
    }
}

/// Resident set size of this process, in bytes.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[test]
fn a_minute_of_run_churn_stays_within_the_series_cap() {
    let metrics = PrometheusMetrics::new(Duration::from_secs(300));
    let cap = metrics.max_series();
    assert_eq!(cap, DEFAULT_MAX_SERIES);
    let user = Username::parse("churner").unwrap();
    let sensors: Vec<SensorId> = (0..SENSORS)
        .map(|i| SensorId::parse(format!("sensor-{i:03}")).unwrap())
        .collect();
    let timestamp = Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap();
    let rss_before = rss_bytes();

    for cycle in 0..RUNS {
        let id = RunId::from_uuid(uuid::Uuid::new_v4());
        let batch: Vec<SensorReading> = sensors
            .iter()
            .flat_map(|sensor| {
                ReadingType::ALL.map(|kind| SensorReading {
                    run_id: id,
                    sensor_id: sensor.clone(),
                    kind,
                    value: cycle as f64,
                    timestamp,
                    user: user.clone(),
                })
            })
            .collect();
        metrics.run_started(&run(id, &user));
        metrics.readings_ingested(&batch);
        metrics.run_finished(&run(id, &user));
        assert!(metrics.sensor_series() <= cap, "cycle {cycle}");
    }

    let text = metrics.render();
    let exposed = text
        .lines()
        .filter(|l| l.starts_with("sensor_data_"))
        .count();
    assert!(exposed <= cap, "{exposed} series exposed, cap {cap}");
    // The cap is used, not undershot: the latest runs are all there.
    assert!(exposed > cap - 2 * 3 * SENSORS, "{exposed}");
    let evicted = RUNS * SENSORS * 3 * 2 - exposed;
    assert!(
        text.contains(&format!("sensor_series_evicted_total {evicted}\n")),
        "expected {evicted} evicted"
    );
    let budget = cap * BYTES_PER_SERIES + 64 * 1024;
    assert!(text.len() <= budget, "/metrics is {} bytes", text.len());

    // Without the cap this churn leaves 367,200 series behind (hundreds of megabytes).
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(
        grown <= 64 * 1024 * 1024,
        "RSS grew by {} MB",
        grown / (1024 * 1024)
    );
}
