//! What a run recorded, request by request, and its summary per target.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::timing::ServerTiming;

/// Latency figures, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// What the backend said about its own costs, summed over the run's requests.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendCosts {
    /// Responses that carried `Server-Timing`.
    pub requests_with_timing: u64,
    /// Mean `app` time per request, ms.
    pub app_ms_mean: f64,
    /// Mean `store` time per request, ms.
    pub store_ms_mean: f64,
    /// Store time over app time.
    pub store_share: f64,
    /// Mean of each request's `app` time rounded up to the next millisecond (Lambda billing).
    pub billed_ms_per_request: f64,
    /// DynamoDB read units per request.
    pub rcu_per_request: f64,
    /// DynamoDB write units per request.
    pub wcu_per_request: f64,
    /// Responses that carried `cold` (Lambda instances started).
    pub cold_starts: u64,
    /// Longest initialisation seen, ms.
    pub cold_ms_max: f64,
}

/// The outcome on one target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResult {
    /// Target label.
    pub name: String,
    /// Target URL.
    pub url: String,
    /// The run it started (absent when the start failed).
    pub run_id: Option<String>,
    /// The run's final status as the API answered it (`SUCCESS`, `FAILED`, or `UNKNOWN`).
    pub status: String,
    /// Whether Ctrl-C ended it early.
    pub interrupted: bool,
    /// Requests sent to completion (success or not).
    pub requests: u64,
    /// Readings the API accepted (`201`) or recognised as replays (`200`).
    pub readings: u64,
    /// From the first request to the last answer, seconds.
    pub duration_secs: f64,
    /// Requests answered per second.
    pub requests_per_second: f64,
    /// Readings stored per second.
    pub readings_per_second: f64,
    /// Latency of a request (retries included), ms.
    pub latency_ms: Latency,
    /// Latency distribution: `[ms, fraction of requests at or below]`.
    pub cdf: Vec<[f64; 2]>,
    /// Requests answered in each second of the run.
    pub timeline: Vec<u64>,
    /// Final answers by status (`"201"`, `"503"`, `"transport"` …).
    pub statuses: BTreeMap<String, u64>,
    /// Requests that failed after their retries.
    pub errors: u64,
    /// Retries sent (same body, same timestamps).
    pub retries: u64,
    /// Requests answered `200`: a retry of a reading already stored.
    pub replays: u64,
    /// Mean bytes per request, both ways (bodies plus a fixed header estimate).
    pub bytes_per_request: f64,
    /// What `Server-Timing` reported.
    pub backend: BackendCosts,
    /// Why the run could not start or finish, if it could not.
    pub problem: Option<String>,
}

#[derive(Debug)]
pub(super) struct Recorder {
    pub(super) histogram: Histogram<u64>,
    pub(super) timeline: Vec<u64>,
    pub(super) statuses: BTreeMap<String, u64>,
    pub(super) requests: u64,
    pub(super) readings: u64,
    pub(super) errors: u64,
    pub(super) retries: u64,
    pub(super) replays: u64,
    pub(super) bytes: u64,
    pub(super) timing_count: u64,
    pub(super) app_ms: f64,
    pub(super) store_ms: f64,
    pub(super) billed_ms: f64,
    pub(super) rcu: f64,
    pub(super) wcu: f64,
    pub(super) colds: u64,
    pub(super) cold_max: f64,
}

impl Recorder {
    pub(super) fn new() -> anyhow::Result<Self> {
        Ok(Self {
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3)?,
            timeline: Vec::new(),
            statuses: BTreeMap::new(),
            requests: 0,
            readings: 0,
            errors: 0,
            retries: 0,
            replays: 0,
            bytes: 0,
            timing_count: 0,
            app_ms: 0.0,
            store_ms: 0.0,
            billed_ms: 0.0,
            rcu: 0.0,
            wcu: 0.0,
            colds: 0,
            cold_max: 0.0,
        })
    }

    pub(super) fn timing(&mut self, t: ServerTiming) {
        if let Some(app) = t.app_ms {
            self.timing_count += 1;
            self.app_ms += app;
            self.billed_ms += app.ceil().max(1.0);
        }
        self.store_ms += t.store_ms.unwrap_or_default();
        self.rcu += t.rcu;
        self.wcu += t.wcu;
        if let Some(cold) = t.cold_ms {
            self.colds += 1;
            self.cold_max = self.cold_max.max(cold);
        }
    }
}

pub(super) fn summarise(result: &mut TargetResult, r: &Recorder, elapsed: f64) {
    let ms = |v: u64| v as f64 / 1000.0;
    let h = &r.histogram;
    if !h.is_empty() {
        result.latency_ms = Latency {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        };
        let mut quantiles: Vec<f64> = (0..100).map(|q| f64::from(q) / 100.0).collect();
        quantiles.extend([0.995, 0.999, 1.0]);
        result.cdf = quantiles
            .into_iter()
            .map(|q| [ms(h.value_at_quantile(q)), q])
            .collect();
    }
    result.requests = r.requests;
    result.readings = r.readings;
    result.duration_secs = elapsed;
    if elapsed > 0.0 {
        result.requests_per_second = r.requests as f64 / elapsed;
        result.readings_per_second = r.readings as f64 / elapsed;
    }
    result.timeline = r.timeline.clone();
    result.statuses = r.statuses.clone();
    result.errors = r.errors;
    result.retries = r.retries;
    result.replays = r.replays;
    let requests = r.requests.max(1) as f64;
    result.bytes_per_request = r.bytes as f64 / requests;
    let timed = r.timing_count.max(1) as f64;
    result.backend = BackendCosts {
        requests_with_timing: r.timing_count,
        app_ms_mean: r.app_ms / timed,
        store_ms_mean: r.store_ms / timed,
        store_share: if r.app_ms > 0.0 {
            r.store_ms / r.app_ms
        } else {
            0.0
        },
        billed_ms_per_request: r.billed_ms / timed,
        rcu_per_request: r.rcu / timed,
        wcu_per_request: r.wcu / timed,
        cold_starts: r.colds,
        cold_ms_max: r.cold_max,
    };
}
