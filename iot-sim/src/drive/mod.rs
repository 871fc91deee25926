//! Driving one workload against one target through the public API only: start a run, send its
//! readings (single or batch, closed or open loop), finish it, and record what happened.
//!
//! The workload and its schedule of requests are in `workload`; what a run recorded and its
//! summary in `record`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use indicatif::ProgressBar;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::timing::ServerTiming;
use record::{Recorder, summarise};

mod record;
mod workload;

pub use record::{BackendCosts, Latency, TargetResult};
pub use workload::{Pace, Target, Workload};

/// Whatever `drive` needs besides the workload.
#[derive(Debug, Clone)]
pub struct Driver {
    client: reqwest::Client,
    cancel: watch::Receiver<bool>,
}

const HEADER_BYTES: u64 = 400;
const MAX_RETRIES: u32 = 3;

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
