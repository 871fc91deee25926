//! Driving one workload against one target through the public API only: start a run, send its
//! readings (single or batch, closed or open loop), finish it, and record what happened.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::timing::ServerTiming;

/// A backend to drive: `NAME=URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Label in the reports (`ecs`, `serverless`, …).
    pub name: String,
    /// Base URL of the API (the path before `/api/…`).
    pub url: String,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, url) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected NAME=URL"))?;
        if name.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("`{s}`: expected NAME=URL with an http(s) URL"));
        }
        Ok(Self {
            name: name.to_string(),
            url: url.trim_end_matches('/').to_string(),
        })
    }
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Pace {
    /// `concurrency` senders, each sending its next request when the previous one is answered.
    Closed {
        /// Senders.
        concurrency: usize,
    },
    /// Requests started at a fixed rate whatever the answers; latency counts from the instant a
    /// request was due (corrected for coordinated omission).
    Open {
        /// Requests per second.
        rate: f64,
    },
}

/// The same simulated fleet for every target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// Sensors of the run.
    pub sensors: u32,
    /// Readings per sensor.
    pub readings: u32,
    /// Milliseconds between two readings of one sensor (their timestamps).
    pub interval_ms: u64,
    /// Readings per request (`None`: one `POST /api/sensors/data` per reading).
    pub batch: Option<u32>,
    /// Pacing.
    pub pace: Pace,
    /// `X-User` of the runs.
    pub user: String,
}

impl Workload {
    /// Requests the workload sends.
    pub fn requests(&self) -> usize {
        let readings = self.sensors as usize * self.readings as usize;
        match self.batch {
            Some(size) => readings.div_ceil(size.max(1) as usize),
            None => readings,
        }
    }

    fn sensor_ids(&self) -> Vec<String> {
        (1..=self.sensors).map(|s| format!("sensor-{s}")).collect()
    }

    /// Every request's readings, each with a client timestamp so that a retry is a replay.
    fn operations(&self, base: time::OffsetDateTime) -> Vec<Vec<Value>> {
        let ids = self.sensor_ids();
        let mut readings = Vec::with_capacity(ids.len() * self.readings as usize);
        for i in 0..self.readings {
            let at = base + Duration::from_millis(u64::from(i) * self.interval_ms);
            let timestamp = format_timestamp(at);
            for (s, id) in ids.iter().enumerate() {
                let value = 18.0 + f64::from((i + s as u32 * 7) % 80) / 10.0;
                readings.push(json!({
                    "sensorId": id, "type": "temperature", "reading": value, "timestamp": timestamp,
                }));
            }
        }
        let size = self.batch.map_or(1, |b| b.max(1) as usize);
        readings.chunks(size).map(<[Value]>::to_vec).collect()
    }
}

fn format_timestamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

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

/// Whatever `drive` needs besides the workload.
#[derive(Debug, Clone)]
pub struct Driver {
    client: reqwest::Client,
    cancel: watch::Receiver<bool>,
}

const HEADER_BYTES: u64 = 400;
const MAX_RETRIES: u32 = 3;

#[derive(Debug)]
struct Recorder {
    histogram: Histogram<u64>,
    timeline: Vec<u64>,
    statuses: BTreeMap<String, u64>,
    requests: u64,
    readings: u64,
    errors: u64,
    retries: u64,
    replays: u64,
    bytes: u64,
    timing_count: u64,
    app_ms: f64,
    store_ms: f64,
    billed_ms: f64,
    rcu: f64,
    wcu: f64,
    colds: u64,
    cold_max: f64,
}

impl Recorder {
    fn new() -> anyhow::Result<Self> {
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

    fn timing(&mut self, t: ServerTiming) {
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

/// One request's final answer.
struct Answer {
    status: Option<u16>,
    retries: u32,
}

impl Driver {
    /// A driver whose runs stop (and finish `FAILED`) once `cancel` turns `true`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(cancel: watch::Receiver<bool>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self { client, cancel })
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Runs `workload` on `target` and reports what happened; a start or finish that fails is
    /// reported in `problem`, never as an `Err`.
    pub async fn drive(
        &self,
        target: &Target,
        workload: &Workload,
        bar: ProgressBar,
    ) -> TargetResult {
        let mut result = TargetResult {
            name: target.name.clone(),
            url: target.url.clone(),
            run_id: None,
            status: "UNKNOWN".into(),
            interrupted: false,
            requests: 0,
            readings: 0,
            duration_secs: 0.0,
            requests_per_second: 0.0,
            readings_per_second: 0.0,
            latency_ms: Latency::default(),
            cdf: Vec::new(),
            timeline: Vec::new(),
            statuses: BTreeMap::new(),
            errors: 0,
            retries: 0,
            replays: 0,
            bytes_per_request: 0.0,
            backend: BackendCosts::default(),
            problem: None,
        };
        let run_id = match self.start(target, workload).await {
            Ok(id) => id,
            Err(e) => {
                result.problem = Some(format!("start: {e:#}"));
                bar.abandon_with_message("start failed");
                return result;
            }
        };
        result.run_id = Some(run_id.clone());
        let recorder = match Recorder::new() {
            Ok(r) => Arc::new(Mutex::new(r)),
            Err(e) => {
                result.problem = Some(format!("{e:#}"));
                return result;
            }
        };
        let base = time::OffsetDateTime::now_utc();
        let operations = Arc::new(workload.operations(base));
        bar.set_length(operations.len() as u64);
        let started = Instant::now();
        match workload.pace {
            Pace::Closed { concurrency } => {
                let next = Arc::new(AtomicUsize::new(0));
                let senders = (0..concurrency.max(1)).map(|_| {
                    let (next, operations, recorder, bar) = (
                        next.clone(),
                        operations.clone(),
                        recorder.clone(),
                        bar.clone(),
                    );
                    let (target, run_id) = (target.clone(), run_id.clone());
                    async move {
                        while !self.cancelled() {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(op) = operations.get(i) else { break };
                            let due = Instant::now();
                            self.send(&target, &run_id, workload, op, due, started, &recorder)
                                .await;
                            bar.inc(1);
                        }
                    }
                });
                futures::future::join_all(senders).await;
            }
            Pace::Open { rate } => {
                let mut tasks = Vec::with_capacity(operations.len());
                let mut cancel = self.cancel.clone();
                for i in 0..operations.len() {
                    let due = started + Duration::from_secs_f64(i as f64 / rate.max(0.001));
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        _ = cancel.wait_for(|c| *c) => break,
                    }
                    let (operations, recorder, bar) =
                        (operations.clone(), recorder.clone(), bar.clone());
                    let (target, run_id, workload, me) = (
                        target.clone(),
                        run_id.clone(),
                        workload.clone(),
                        self.clone(),
                    );
                    tasks.push(tokio::spawn(async move {
                        if let Some(op) = operations.get(i) {
                            me.send(&target, &run_id, &workload, op, due, started, &recorder)
                                .await;
                        }
                        bar.inc(1);
                    }));
                }
                for task in tasks {
                    if let Err(e) = task.await {
                        result.problem = Some(format!("a sender failed: {e}"));
                    }
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        result.interrupted = self.cancelled();
        let (status, message) = if result.interrupted {
            (
                "FAILED",
                Some("interrupted: the load driver was stopped (Ctrl-C)"),
            )
        } else {
            ("SUCCESS", None)
        };
        match self
            .finish(target, workload, &run_id, status, message)
            .await
        {
            Ok(status) => result.status = status,
            Err(e) => result.problem = Some(format!("finish: {e:#}")),
        }
        let r = recorder.lock().unwrap_or_else(PoisonError::into_inner);
        summarise(&mut result, &r, elapsed);
        bar.finish_with_message(format!("{} {}", result.name, result.status));
        result
    }

    fn request(
        &self,
        method: reqwest::Method,
        target: &Target,
        workload: &Workload,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", target.url))
            .header("x-user", &workload.user)
    }

    async fn start(&self, target: &Target, workload: &Workload) -> anyhow::Result<String> {
        let planned = match workload.pace {
            Pace::Open { rate } => workload.requests() as f64 / rate.max(0.001),
            Pace::Closed { .. } => workload.requests() as f64 / 5.0,
        };
        let body = json!({
            "sensorIds": workload.sensor_ids(),
            "duration": (planned.ceil() as u64 + 120).min(86_400),
            "interval": (workload.interval_ms as f64 / 1000.0).max(0.001),
        });
        // One key for every attempt: a start retried after a timeout never makes a second run.
        let key = uuid::Uuid::new_v4().to_string();
        for attempt in 0..10u32 {
            if self.cancelled() {
                bail!("interrupted before the run started");
            }
            let sent = self
                .request(reqwest::Method::POST, target, workload, "/api/runs/start")
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    let run: Value = r.json().await?;
                    return run["id"]
                        .as_str()
                        .map(str::to_string)
                        .context("the start answer has no id");
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    let wait = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(1)
                        .min(30);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Ok(r) => {
                    let status = r.status();
                    bail!("{status}: {}", r.text().await.unwrap_or_default())
                }
                Err(e) if attempt < 9 => {
                    tracing_like_warn(&format!("start on {}: {e}; retrying", target.name));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        bail!("no capacity after 10 attempts")
    }

    async fn finish(
        &self,
        target: &Target,
        workload: &Workload,
        run_id: &str,
        status: &str,
        message: Option<&str>,
    ) -> anyhow::Result<String> {
        let body = match message {
            Some(m) => json!({ "status": status, "errorMessage": m }),
            None => json!({ "status": status }),
        };
        let path = format!("/api/runs/{run_id}/finish");
        let mut last = String::new();
        for _ in 0..MAX_RETRIES {
            match self
                .request(reqwest::Method::POST, target, workload, &path)
                .json(&body)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 409 => {
                    // 409: already finished (a retried finish that had landed, or a timeout).
                    let run = self
                        .request(
                            reqwest::Method::GET,
                            target,
                            workload,
                            &format!("/api/runs/{run_id}"),
                        )
                        .send()
                        .await?
                        .json::<Value>()
                        .await?;
                    return Ok(run["status"].as_str().unwrap_or("UNKNOWN").to_string());
                }
                Ok(r) => last = format!("{}", r.status()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        bail!("the run could not be finished: {last}")
    }

    /// Sends one request (retrying with the same body) and records its answer; latency counts
    /// from `due`.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        target: &Target,
        run_id: &str,
        workload: &Workload,
        readings: &[Value],
        due: Instant,
        started: Instant,
        recorder: &Mutex<Recorder>,
    ) {
        let (path, body) = match workload.batch {
            Some(_) => (
                format!("/api/runs/{run_id}/readings"),
                json!({ "readings": readings }),
            ),
            None => (
                "/api/sensors/data".to_string(),
                readings.first().cloned().unwrap_or(Value::Null),
            ),
        };
        let body = body.to_string();
        let mut answer = Answer {
            status: None,
            retries: 0,
        };
        let mut timings = Vec::new();
        let mut bytes = 0u64;
        loop {
            let sent = self
                .request(reqwest::Method::POST, target, workload, &path)
                .header("x-run-id", run_id)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            bytes += body.len() as u64 + HEADER_BYTES;
            let retry = match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    if let Some(t) = r
                        .headers()
                        .get("server-timing")
                        .and_then(|v| v.to_str().ok())
                    {
                        timings.push(ServerTiming::parse(t));
                    }
                    bytes += r.bytes().await.map_or(0, |b| b.len() as u64);
                    answer.status = Some(status);
                    status == 429 || status >= 500
                }
                Err(_) => {
                    answer.status = None;
                    true
                }
            };
            if !retry || answer.retries >= MAX_RETRIES || self.cancelled() {
                break;
            }
            answer.retries += 1;
            tokio::time::sleep(Duration::from_millis(100 * u64::from(answer.retries))).await;
        }
        let done = Instant::now();
        let mut r = recorder.lock().unwrap_or_else(PoisonError::into_inner);
        let micros = done.saturating_duration_since(due).as_micros();
        let _ = r
            .histogram
            .record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
        let second = done.saturating_duration_since(started).as_secs() as usize;
        if r.timeline.len() <= second {
            r.timeline.resize(second + 1, 0);
        }
        r.timeline[second] += 1;
        r.requests += 1;
        r.retries += u64::from(answer.retries);
        r.bytes += bytes;
        for t in timings {
            r.timing(t);
        }
        let key = answer
            .status
            .map_or_else(|| "transport".to_string(), |s| s.to_string());
        *r.statuses.entry(key).or_default() += 1;
        match answer.status {
            Some(201) => r.readings += readings.len() as u64,
            Some(200) => {
                r.readings += readings.len() as u64;
                r.replays += 1;
            }
            _ => r.errors += 1,
        }
    }
}

fn tracing_like_warn(message: &str) {
    eprintln!("warning: {message}");
}

fn summarise(result: &mut TargetResult, r: &Recorder, elapsed: f64) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn workload(batch: Option<u32>) -> Workload {
        Workload {
            sensors: 3,
            readings: 5,
            interval_ms: 200,
            batch,
            pace: Pace::Closed { concurrency: 2 },
            user: "sim".into(),
        }
    }

    #[test]
    fn targets_are_name_equals_url() {
        let t: Target = "ecs=http://127.0.0.1:8080/".parse().unwrap();
        assert_eq!(
            (t.name.as_str(), t.url.as_str()),
            ("ecs", "http://127.0.0.1:8080")
        );
        assert!("ecs".parse::<Target>().is_err());
        assert!("ecs=ftp://x".parse::<Target>().is_err());
    }

    #[test]
    fn every_reading_has_a_distinct_key_and_batches_hold_them_all() {
        let base = time::macros::datetime!(2026-11-30 10:00:00 UTC);
        let single = workload(None).operations(base);
        assert_eq!(single.len(), 15);
        let keys: std::collections::HashSet<String> = single
            .iter()
            .map(|op| format!("{}{}", op[0]["sensorId"], op[0]["timestamp"]))
            .collect();
        assert_eq!(keys.len(), 15);
        assert_eq!(single[3][0]["timestamp"], "2026-11-30T10:00:00.200000Z");
        let batches = workload(Some(4)).operations(base);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [4, 4, 4, 3]
        );
        assert_eq!(workload(Some(4)).requests(), 4);
    }
}
