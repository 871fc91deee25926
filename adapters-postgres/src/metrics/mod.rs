//! Prometheus implementation of the [`Metrics`] port (ECS binary), on `prometheus-client`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `sensor_data_value` | gauge, last value of a sensor | `sensor_id, type, user, run` |
//! | `sensor_data_ingested_total` | counter, readings stored | `sensor_id, type, user, run` |
//! | `runs_started_total` | counter | |
//! | `runs_finished_total` | counter | `status` |
//! | `store_operation_duration_seconds` | histogram | `operation, outcome` (`ok` / `error`) |
//! | `http_request_duration_seconds` | histogram, fed by [`PrometheusMetrics::observe_http`] | `method, route, status` |
//! | `sensor_series_evicted_total` | counter, sensor series dropped to respect the series cap | |
//!
//! The sensor series carry a run id, so they would grow without bound: the series of a run are
//! dropped once the run has been finished for longer than the retention
//! ([`PrometheusMetrics::prune`], also run by every [`PrometheusMetrics::render`]). Series of a
//! run this process never saw finish (another instance finished it) are dropped when they have not
//! been updated for [`PrometheusMetrics::idle_expiry`].
//!
//! Retention alone does not bound them: any user can start, feed and finish runs faster than they
//! expire. So the sensor series (`sensor_data_value` and `sensor_data_ingested_total` together)
//! also have a hard cap, [`PrometheusMetrics::max_series`]. A new series that would exceed it
//! evicts whole runs first: finished runs, the longest finished first, then running runs, the
//! longest idle first; the run being fed is never evicted for itself, and when nothing else is
//! left its new series are not recorded. Both count in `sensor_series_evicted_total` (a series
//! not recorded counts once per ingest, however many of the ingest's readings it would have held).
//! An ingest updates each series once, whatever its number of readings: the count by how many it
//! has, the value to the last of them.
//!
//! ```
//! use std::time::Duration;
//! use adapters_postgres::metrics::PrometheusMetrics;
//!
//! let metrics = PrometheusMetrics::new(Duration::from_secs(300));
//! let text = metrics.render(); // Prometheus text format 0.0.4
//! assert!(text.contains("# TYPE runs_started_total counter"));
//! ```

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use iot_core::model::{ReadingType, Run, RunId, SensorReading};
use iot_core::ports::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use series::{RunSeries, SERIES_PER_LABEL_SET, Tracked};

mod exposition;
#[cfg(test)]
mod fixtures;
mod series;

pub use exposition::CONTENT_TYPE;

/// How long finished runs keep their sensor series by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(300);

/// Series of a run not updated for this long are dropped even if the run was never seen to
/// finish here (runs report at least once an hour: `interval` ≤ 3600 s).
pub const DEFAULT_IDLE_EXPIRY: Duration = Duration::from_secs(2 * 3600);

/// The default cap on sensor series: five runs of 100 sensors × 3 types (3,000 series) several
/// times over, and about 1.5 MB of exposition.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// Buckets of `http_request_duration_seconds`.
const HTTP_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of `store_operation_duration_seconds`.
const STORE_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Labels of the per-sensor series (names fixed by the existing Grafana dashboards).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SensorLabels {
    sensor_id: String,
    r#type: String,
    user: String,
    run: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn store_histogram() -> Histogram {
    Histogram::new(STORE_BUCKETS)
}

/// Prometheus registry behind the [`Metrics`] port, plus HTTP timings.
pub struct PrometheusMetrics {
    registry: Registry,
    sensor_value: Family<SensorLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    sensor_ingested: Family<SensorLabels, Counter>,
    runs_started: Counter,
    runs_finished: Family<StatusLabels, Counter>,
    store_duration: HistogramFamily<StoreLabels>,
    http_duration: HistogramFamily<HttpLabels>,
    series_evicted: Counter,
    retention: Duration,
    idle_expiry: Duration,
    max_series: usize,
    /// Sensor series by run. Held while series are created or removed, so that a prune and an
    /// ingest never interleave.
    series: Mutex<Tracked>,
}

impl fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field("retention", &self.retention)
            .field("idle_expiry", &self.idle_expiry)
            .field("max_series", &self.max_series)
            .field("tracked_runs", &self.lock_series().runs.len())
            .finish_non_exhaustive()
    }
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new(DEFAULT_RETENTION)
    }
}

impl PrometheusMetrics {
    /// A registry whose finished runs keep their sensor series for `retention`.
    pub fn new(retention: Duration) -> Self {
        Self::with_idle_expiry(retention, DEFAULT_IDLE_EXPIRY.max(retention))
    }

    /// Like [`Self::new`], also dropping the series of runs not updated for `idle_expiry`
    /// (runs this process never saw finish).
    pub fn with_idle_expiry(retention: Duration, idle_expiry: Duration) -> Self {
        let mut registry = Registry::default();
        let sensor_value = Family::default();
        let sensor_ingested = Family::default();
        let runs_started = Counter::default();
        let runs_finished = Family::default();
        let store_duration: HistogramFamily<StoreLabels> =
            Family::new_with_constructor(store_histogram);
        let http_duration: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(http_histogram);
        let series_evicted = Counter::default();
        registry.register(
            "sensor_data_value",
            "Last reading of a sensor in a run",
            sensor_value.clone(),
        );
        registry.register(
            "sensor_data_ingested",
            "Readings stored, by sensor, type, user and run",
            sensor_ingested.clone(),
        );
        registry.register("runs_started", "Runs started", runs_started.clone());
        registry.register(
            "runs_finished",
            "Runs that reached a terminal status, by status",
            runs_finished.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Duration of storage calls in seconds, by operation and outcome",
            store_duration.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds, by method, route template and status",
            http_duration.clone(),
        );
        registry.register(
            "sensor_series_evicted",
            "Sensor series dropped to stay under the series cap",
            series_evicted.clone(),
        );
        Self {
            registry,
            sensor_value,
            sensor_ingested,
            runs_started,
            runs_finished,
            store_duration,
            http_duration,
            series_evicted,
            retention,
            idle_expiry,
            max_series: DEFAULT_MAX_SERIES,
            series: Mutex::new(Tracked::default()),
        }
    }

    /// The same registry with at most `max_series` sensor series (see the module docs).
    #[must_use]
    pub fn with_max_series(mut self, max_series: usize) -> Self {
        self.max_series = max_series;
        self
    }

    /// The cap on sensor series.
    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// How long a finished run keeps its sensor series.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// How long the series of a run may go without update before they are dropped.
    pub fn idle_expiry(&self) -> Duration {
        self.idle_expiry
    }

    fn lock_series(&self) -> MutexGuard<'_, Tracked> {
        // A panic while holding the lock leaves the map consistent enough to go on with.
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one HTTP request. `route` must be a route template (bounded cardinality), never a
    /// raw path.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_duration
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// The readings of one label set of an ingest: the first of them (for its labels), how many
/// there are, and the value of the last one.
struct Series<'a> {
    reading: &'a SensorReading,
    count: u64,
    last: f64,
}

/// `readings` folded into one [`Series`] per label set, in order of first appearance. A batch of
/// 1000 readings from 100 sensors updates the families 100 times instead of 1000, and builds 100
/// label sets instead of 1000.
fn per_series(readings: &[SensorReading]) -> Vec<Series<'_>> {
    if let [reading] = readings {
        return vec![Series {
            reading,
            count: 1,
            last: reading.value,
        }];
    }
    let mut series: Vec<Series<'_>> = Vec::new();
    let mut index: HashMap<(RunId, &str, ReadingType, &str), usize> = HashMap::new();
    for reading in readings {
        let key = (
            reading.run_id,
            reading.sensor_id.as_str(),
            reading.kind,
            reading.user.as_str(),
        );
        match index.entry(key) {
            Entry::Occupied(at) => {
                let known = &mut series[*at.get()];
                known.count += 1;
                known.last = reading.value;
            }
            Entry::Vacant(slot) => {
                slot.insert(series.len());
                series.push(Series {
                    reading,
                    count: 1,
                    last: reading.value,
                });
            }
        }
    }
    series
}

impl Metrics for PrometheusMetrics {
    fn readings_ingested(&self, readings: &[SensorReading]) {
        let now = Instant::now();
        let series = per_series(readings);
        let mut tracked = self.lock_series();
        for Series {
            reading,
            count,
            last,
        } in series
        {
            let labels = SensorLabels {
                sensor_id: reading.sensor_id.as_str().to_owned(),
                r#type: reading.kind.as_str().to_owned(),
                user: reading.user.as_str().to_owned(),
                run: reading.run_id.to_string(),
            };
            let known = tracked
                .runs
                .get(&reading.run_id)
                .is_some_and(|run| run.labels.contains(&labels));
            if !known && !self.make_room(&mut tracked, reading.run_id) {
                self.series_evicted.inc_by(SERIES_PER_LABEL_SET as u64);
                continue;
            }
            self.sensor_value.get_or_create(&labels).set(last);
            self.sensor_ingested.get_or_create(&labels).inc_by(count);
            let Tracked { runs, label_sets } = &mut *tracked;
            let run = runs.entry(reading.run_id).or_insert_with(|| RunSeries {
                labels: HashSet::new(),
                finished: None,
                last_update: now,
            });
            run.last_update = now;
            if run.labels.insert(labels) {
                *label_sets += 1;
            }
        }
    }

    fn run_started(&self, _run: &Run) {
        self.runs_started.inc();
    }

    fn run_finished(&self, run: &Run) {
        self.runs_finished
            .get_or_create(&StatusLabels {
                status: run.status.as_str().to_owned(),
            })
            .inc();
        if let Some(series) = self.lock_series().runs.get_mut(&run.id) {
            series.finished.get_or_insert_with(Instant::now);
        }
    }

    fn store_call(&self, operation: &'static str, elapsed: Duration, ok: bool) {
        self.store_duration
            .get_or_create(&StoreLabels {
                operation: operation.to_owned(),
                outcome: if ok { "ok" } else { "error" }.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    //! What the registry records, as the exposition shows it.

    use super::fixtures::{reading, run};
    use super::*;
    use iot_core::model::{RunId, RunStatus};

    #[test]
    fn series_present_after_ingest_with_the_dashboard_labels() {
        let metrics = PrometheusMetrics::new(Duration::from_secs(300));
        let id = RunId::from_uuid(uuid::Uuid::new_v4());
        metrics.run_started(&run(id, RunStatus::Running));
        metrics.readings_ingested(&[reading(id, 21.5)]);
        metrics.readings_ingested(&[reading(id, 22.25)]);
        let text = metrics.render();
        let labels = format!(r#"{{sensor_id="s-1",type="temperature",user="alice",run="{id}"}}"#);
        assert!(
            text.contains(&format!("sensor_data_value{labels} 22.25")),
            "{text}"
        );
        assert!(
            text.contains(&format!("sensor_data_ingested_total{labels} 2")),
            "{text}"
        );
        assert!(text.contains("runs_started_total 1"), "{text}");
        assert!(text.contains("# TYPE sensor_data_ingested_total counter"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn http_and_store_histograms() {
        let metrics = PrometheusMetrics::default();
        metrics.observe_http("GET", "/api/runs/{id}", 200, Duration::from_millis(3));
        metrics.store_call("get_run", Duration::from_millis(1), true);
        metrics.store_call("get_run", Duration::from_millis(1), false);
        let text = metrics.render();
        assert!(text.contains(
            r#"http_request_duration_seconds_count{method="GET",route="/api/runs/{id}",status="200"} 1"#
        ), "{text}");
        assert!(
            text.contains(
                r#"store_operation_duration_seconds_count{operation="get_run",outcome="error"} 1"#
            ),
            "{text}"
        );
    }
}
