//! Mocked ports and sample values shared by the unit tests of both services.

use std::sync::Arc;

use uuid::Uuid;

use super::{RunConfig, RunService};
use crate::model::{Run, RunId, RunStatus, SensorId, Timestamp, Username};
use crate::ports::{MockClock, MockIdGenerator, MockMetrics};

pub(super) const NOW: i64 = 1_800_000_000_000_000;

pub(super) fn now() -> Timestamp {
    Timestamp::from_unix_micros(NOW).unwrap()
}

pub(super) fn alice() -> Username {
    Username::parse("alice").unwrap()
}

pub(super) fn run_id() -> RunId {
    RunId::from_uuid(Uuid::from_u128(7))
}

pub(super) fn clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    clock
}

pub(super) fn quiet_metrics() -> MockMetrics {
    let mut metrics = MockMetrics::new();
    metrics.expect_store_call().returning(|_, _, _| ());
    metrics
}

pub(super) fn run_service(runs: crate::ports::MockRunStore, metrics: MockMetrics) -> RunService {
    run_service_with(runs, metrics, RunConfig::default())
}

pub(super) fn run_service_with(
    runs: crate::ports::MockRunStore,
    metrics: MockMetrics,
    config: RunConfig,
) -> RunService {
    let mut ids = MockIdGenerator::new();
    ids.expect_new_run_id().returning(run_id);
    RunService::new(
        Arc::new(runs),
        Arc::new(metrics),
        Arc::new(clock()),
        Arc::new(ids),
        config,
    )
}

pub(super) fn running(owner: &str) -> Run {
    Run {
        id: run_id(),
        username: Username::parse(owner).unwrap(),
        status: RunStatus::Running,
        started_at: now().plus_micros(-10_000_000),
        finished_at: None,
        deadline: now().plus_micros(170_000_000),
        duration_secs: 60,
        interval_secs: 1.0,
        sensor_ids: vec![SensorId::parse("s1").unwrap()],
        error_message: None,
        grafana_url: None,
    }
}
