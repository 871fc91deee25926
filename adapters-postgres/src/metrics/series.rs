//! Retention and eviction of the sensor series: what is dropped when a run has been finished
//! long enough, has gone idle, or must make room under the series cap.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use iot_core::model::RunId;

use super::{PrometheusMetrics, SensorLabels};

/// Every label set of a sensor is exposed twice: `sensor_data_value` and
/// `sensor_data_ingested_total`.
pub(super) const SERIES_PER_LABEL_SET: usize = 2;

/// The sensor series of one run, and when it finished (as seen by this process).
#[derive(Debug)]
pub(super) struct RunSeries {
    pub(super) labels: HashSet<SensorLabels>,
    pub(super) finished: Option<Instant>,
    pub(super) last_update: Instant,
}

/// The runs whose sensor series are exposed, and how many label sets they hold in all.
#[derive(Debug, Default)]
pub(super) struct Tracked {
    pub(super) runs: HashMap<RunId, RunSeries>,
    pub(super) label_sets: usize,
}

impl Tracked {
    /// The run to evict first, other than `keep`: finished runs before running ones, each group
    /// oldest first (by finish, resp. last update).
    fn eviction_candidate(&self, keep: RunId) -> Option<RunId> {
        self.runs
            .iter()
            .filter(|(id, _)| **id != keep)
            .min_by_key(|(_, run)| {
                (
                    run.finished.is_none(),
                    run.finished.unwrap_or(run.last_update),
                )
            })
            .map(|(id, _)| *id)
    }
}

impl PrometheusMetrics {
    /// Drops the sensor series of runs finished at least `retention` before `now`, and of runs
    /// not updated for `idle_expiry`. Returns how many runs were dropped.
    pub fn prune(&self, now: Instant) -> usize {
        let mut tracked = self.lock_series();
        let Tracked { runs, label_sets } = &mut *tracked;
        let before = runs.len();
        runs.retain(|_, run| {
            let expired = match run.finished {
                Some(finished) => now.saturating_duration_since(finished) >= self.retention,
                None => now.saturating_duration_since(run.last_update) >= self.idle_expiry,
            };
            if expired {
                *label_sets -= self.remove_series(run);
            }
            !expired
        });
        before - runs.len()
    }

    /// Removes the exposed series of `run`; returns how many label sets it held.
    fn remove_series(&self, run: &RunSeries) -> usize {
        for labels in &run.labels {
            self.sensor_value.remove(labels);
            self.sensor_ingested.remove(labels);
        }
        run.labels.len()
    }

    /// Evicts runs other than `keep` until one more label set fits under the cap. Returns
    /// whether it fits.
    pub(super) fn make_room(&self, tracked: &mut Tracked, keep: RunId) -> bool {
        let max_label_sets = self.max_series / SERIES_PER_LABEL_SET;
        while tracked.label_sets >= max_label_sets {
            let Some(victim) = tracked.eviction_candidate(keep) else {
                return false;
            };
            if let Some(run) = tracked.runs.remove(&victim) {
                let removed = self.remove_series(&run);
                tracked.label_sets -= removed;
                self.series_evicted
                    .inc_by((removed * SERIES_PER_LABEL_SET) as u64);
            }
        }
        true
    }

    /// Number of runs whose sensor series are currently exposed.
    pub fn tracked_runs(&self) -> usize {
        self.lock_series().runs.len()
    }

    /// Number of sensor series currently exposed (both families).
    pub fn sensor_series(&self) -> usize {
        self.lock_series().label_sets * SERIES_PER_LABEL_SET
    }
}

#[cfg(test)]
mod tests {
    //! Series kept, expired and evicted.

    use std::time::Duration;

    use super::super::fixtures::{feed, new_run_id, reading, run, sensor_reading, series_lines};
    use super::*;
    use iot_core::model::RunStatus;
    use iot_core::ports::Metrics;

    #[test]
    fn finished_run_kept_before_retention_and_dropped_after() {
        let metrics = PrometheusMetrics::new(Duration::from_secs(300));
        let id = RunId::from_uuid(uuid::Uuid::new_v4());
        let other = RunId::from_uuid(uuid::Uuid::new_v4());
        metrics.readings_ingested(&[reading(id, 1.0), reading(other, 2.0)]);
        metrics.run_finished(&run(id, RunStatus::Success));
        let finished = Instant::now();

        assert_eq!(metrics.prune(finished + Duration::from_secs(299)), 0);
        assert_eq!(series_lines(&metrics.render(), id).len(), 2);

        assert_eq!(metrics.prune(finished + Duration::from_secs(301)), 1);
        let text = metrics.render();
        assert!(series_lines(&text, id).is_empty(), "{text}");
        // Running runs keep theirs; the finish is counted.
        assert_eq!(series_lines(&text, other).len(), 2);
        assert!(text.contains(r#"runs_finished_total{status="SUCCESS"} 1"#));
        assert_eq!(metrics.tracked_runs(), 1);
    }

    #[test]
    fn zero_retention_drops_at_the_next_render() {
        let metrics = PrometheusMetrics::new(Duration::ZERO);
        let id = RunId::from_uuid(uuid::Uuid::new_v4());
        metrics.readings_ingested(&[reading(id, 1.0)]);
        assert_eq!(series_lines(&metrics.render(), id).len(), 2);
        metrics.run_finished(&run(id, RunStatus::Timeout));
        assert!(series_lines(&metrics.render(), id).is_empty());
    }

    #[test]
    fn idle_series_expire_without_a_finish() {
        let metrics =
            PrometheusMetrics::with_idle_expiry(Duration::from_secs(300), Duration::from_secs(60));
        let id = RunId::from_uuid(uuid::Uuid::new_v4());
        metrics.readings_ingested(&[reading(id, 1.0)]);
        let now = Instant::now();
        assert_eq!(metrics.prune(now + Duration::from_secs(30)), 0);
        assert_eq!(metrics.prune(now + Duration::from_secs(61)), 1);
    }

    #[test]
    fn finished_runs_are_evicted_first_then_the_longest_idle() {
        // Room for 3 label sets (6 series).
        let metrics = PrometheusMetrics::new(Duration::from_secs(300)).with_max_series(6);
        let (idle, finished, fresh, newcomer) =
            (new_run_id(), new_run_id(), new_run_id(), new_run_id());
        feed(&metrics, idle, 1);
        feed(&metrics, finished, 1);
        feed(&metrics, fresh, 1);
        metrics.run_finished(&run(finished, RunStatus::Success));

        feed(&metrics, newcomer, 1);
        let text = metrics.render();
        assert!(series_lines(&text, finished).is_empty(), "{text}");
        assert_eq!(series_lines(&text, idle).len(), 2, "{text}");
        assert!(text.contains("sensor_series_evicted_total 2"), "{text}");

        feed(&metrics, fresh, 1);
        feed(&metrics, new_run_id(), 1);
        let text = metrics.render();
        assert!(series_lines(&text, idle).is_empty(), "{text}");
        assert_eq!(series_lines(&text, fresh).len(), 2, "{text}");
        assert_eq!(series_lines(&text, newcomer).len(), 2, "{text}");
        assert_eq!(metrics.sensor_series(), 6);
        assert!(text.contains("sensor_series_evicted_total 4"), "{text}");
    }

    #[test]
    fn a_batch_counts_each_reading_and_shows_each_series_last_value() {
        let metrics = PrometheusMetrics::new(Duration::from_secs(300));
        let id = new_run_id();
        metrics.readings_ingested(&[
            sensor_reading(id, "s-0", 1.5),
            sensor_reading(id, "s-1", 2.5),
            sensor_reading(id, "s-0", 3.5),
            sensor_reading(id, "s-0", 4.5),
        ]);
        let text = metrics.render();
        let labels = |sensor: &str| {
            format!(r#"{{sensor_id="{sensor}",type="temperature",user="alice",run="{id}"}}"#)
        };
        for line in [
            format!("sensor_data_value{} 4.5", labels("s-0")),
            format!("sensor_data_ingested_total{} 3", labels("s-0")),
            format!("sensor_data_value{} 2.5", labels("s-1")),
            format!("sensor_data_ingested_total{} 1", labels("s-1")),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in {text}");
        }
        assert_eq!(metrics.sensor_series(), 4);
    }

    #[test]
    fn a_series_that_does_not_fit_is_counted_once_per_ingest() {
        // Room for one label set: s-1's readings of the batch are dropped as one series pair.
        let metrics = PrometheusMetrics::new(Duration::from_secs(300)).with_max_series(2);
        let id = new_run_id();
        metrics.readings_ingested(&[
            sensor_reading(id, "s-0", 1.0),
            sensor_reading(id, "s-1", 1.0),
            sensor_reading(id, "s-1", 2.0),
        ]);
        let text = metrics.render();
        assert!(text.contains("sensor_series_evicted_total 2\n"), "{text}");
        assert_eq!(series_lines(&text, id).len(), 2, "{text}");
    }

    #[test]
    fn a_run_larger_than_the_cap_keeps_what_fits_and_counts_the_rest() {
        let metrics = PrometheusMetrics::new(Duration::from_secs(300)).with_max_series(10);
        let id = new_run_id();
        feed(&metrics, id, 8);
        let text = metrics.render();
        assert_eq!(series_lines(&text, id).len(), 10, "{text}");
        assert!(text.contains("sensor_series_evicted_total 6"), "{text}");
        // Known series keep being updated.
        metrics.readings_ingested(&[sensor_reading(id, "s-0", 7.5)]);
        assert!(metrics.render().contains(&format!(
            r#"sensor_data_value{{sensor_id="s-0",type="temperature",user="alice",run="{id}"}} 7.5"#
        )));
    }

    #[test]
    fn series_never_exceed_the_cap_under_churn() {
        let metrics = PrometheusMetrics::new(Duration::from_secs(300)).with_max_series(100);
        for _ in 0..200 {
            let id = new_run_id();
            feed(&metrics, id, 7);
            metrics.run_finished(&run(id, RunStatus::Success));
            assert!(metrics.sensor_series() <= 100);
        }
        let text = metrics.render();
        let exposed = text
            .lines()
            .filter(|l| l.starts_with("sensor_data_"))
            .count();
        assert_eq!(exposed, metrics.sensor_series());
        assert!((90..=100).contains(&exposed), "{exposed}");
    }
}
