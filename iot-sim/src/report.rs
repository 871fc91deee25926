//! The reports: a terminal table, a JSON document of a stable shape (`schema: "iot-sim/1"`), and
//! one self-contained HTML page (inline SVG, no script, no external resource).

use std::fmt::Write as _;

use serde::Serialize;

use crate::cost::{self, Estimate, Prices};
use crate::drive::{TargetResult, Workload};

/// The version of the JSON shape; fields are only ever added within one version.
pub const SCHEMA: &str = "iot-sim/1";

/// One scenario on every target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioResult {
    /// Scenario name (`run` for `iot-sim run`).
    pub name: String,
    /// What every target was sent.
    pub workload: Workload,
    /// One result per target, in the order given.
    pub targets: Vec<TargetResult>,
    /// The cost model's inputs, taken from the measurements.
    pub cost_inputs: cost::Workload,
    /// Both architectures' cost for this workload.
    pub cost: Estimate,
}

/// A whole report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// When the report was written (RFC 3339).
    pub generated_at: String,
    /// `run` or `compare`.
    pub command: String,
    /// Whether targets ran at the same time.
    pub parallel: bool,
    /// The price table's version and region.
    pub price_table: String,
    /// Every scenario.
    pub scenarios: Vec<ScenarioResult>,
}

/// Assumptions of the cost model that a run cannot measure.
#[derive(Debug, Clone)]
pub struct Assumptions {
    /// Lambda memory.
    pub lambda_memory_mb: f64,
    /// `x86_64` or `arm64`.
    pub lambda_architecture: String,
    /// Fargate task vCPU.
    pub task_vcpu: f64,
    /// Fargate task memory.
    pub task_memory_gb: f64,
    /// RDS storage.
    pub rds_storage_gb: f64,
    /// Runs a month (per-run metric dimensions).
    pub runs_per_month: f64,
    /// CloudWatch Logs bytes per request.
    pub log_bytes_per_request: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Self {
            lambda_memory_mb: 256.0,
            lambda_architecture: "x86_64".into(),
            task_vcpu: 0.25,
            task_memory_gb: 0.5,
            rds_storage_gb: 20.0,
            runs_per_month: 1000.0,
            log_bytes_per_request: 700.0,
        }
    }
}

fn pick<'a>(targets: &'a [TargetResult], name: &str, dynamo: bool) -> Option<&'a TargetResult> {
    targets
        .iter()
        .find(|t| t.name == name)
        .or_else(|| {
            targets.iter().find(|t| {
                let units = t.backend.rcu_per_request + t.backend.wcu_per_request > 0.0;
                units == dynamo
            })
        })
        .or_else(|| targets.first())
}

/// The cost model's inputs from what a scenario measured: Serverless figures from the target
/// named `serverless` (else one that reported DynamoDB units), ECS figures from `ecs` (else one
/// that did not); what no target measured comes from `assumptions`.
pub fn cost_inputs(
    workload: &Workload,
    targets: &[TargetResult],
    a: &Assumptions,
) -> cost::Workload {
    let sls = pick(targets, "serverless", true);
    let ecs = pick(targets, "ecs", false);
    let sensors = f64::from(workload.sensors);
    let run_secs = sls.map_or(0.0, |t| t.duration_secs);
    cost::Workload {
        readings_per_request: f64::from(workload.batch.unwrap_or(1)),
        serverless: cost::ServerlessWorkload {
            memory_mb: a.lambda_memory_mb,
            architecture: a.lambda_architecture.clone(),
            billed_ms_per_request: sls.map_or(1.0, |t| t.backend.billed_ms_per_request.max(1.0)),
            wcu_per_request: sls.map_or(0.0, |t| t.backend.wcu_per_request),
            rcu_per_request: sls.map_or(0.0, |t| t.backend.rcu_per_request),
            log_bytes_per_request: a.log_bytes_per_request,
            // The default EMF dimensions (SensorId, User, RunId, Type): two metrics per sensor
            // and type, new for every run.
            metric_series_per_run: 2.0 * sensors,
            run_hours: run_secs / 3600.0,
            runs_per_month: a.runs_per_month,
            always_on_metric_series: 0.0,
        },
        ecs: cost::EcsWorkload {
            task_vcpu: a.task_vcpu,
            task_memory_gb: a.task_memory_gb,
            task_readings_per_second: ecs.map_or(1.0, |t| t.readings_per_second).max(1.0),
            rds_storage_gb: a.rds_storage_gb,
            alb_new_connections_per_request: 0.0,
            alb_bytes_per_request: ecs.map_or(0.0, |t| t.bytes_per_request),
        },
    }
}

/// A scenario's results with their cost.
pub fn scenario(
    name: &str,
    workload: Workload,
    targets: Vec<TargetResult>,
    prices: &Prices,
    assumptions: &Assumptions,
) -> ScenarioResult {
    let inputs = cost_inputs(&workload, &targets, assumptions);
    let measured = targets
        .iter()
        .map(|t| t.readings_per_second)
        .fold(0.0, f64::max)
        .max(0.001);
    ScenarioResult {
        name: name.to_string(),
        cost: cost::estimate(prices, &inputs, measured),
        cost_inputs: inputs,
        workload,
        targets,
    }
}

fn money(usd: f64) -> String {
    if usd >= 100.0 {
        format!("${usd:.0}")
    } else {
        format!("${usd:.2}")
    }
}

const HEADINGS: [&str; 15] = [
    "target", "reqs", "rdg/s", "p50 ms", "p90", "p99", "p99.9", "max", "errs", "retries", "store%",
    "cold", "wcu/r", "rcu/r", "status",
];

/// The terminal table.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.scenarios {
        let _ = writeln!(out, "\n== {} ==", s.name);
        let h = HEADINGS;
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>6} {:>5} {:>6} {:>6}  {}",
            h[0],
            h[1],
            h[2],
            h[3],
            h[4],
            h[5],
            h[6],
            h[7],
            h[8],
            h[9],
            h[10],
            h[11],
            h[12],
            h[13],
            h[14]
        );
        for t in &s.targets {
            let l = &t.latency_ms;
            let _ = writeln!(
                out,
                "{:<12} {:>7} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>7} {:>5.0}% {:>5} {:>6.2} {:>6.2}  {}{}",
                t.name,
                t.requests,
                t.readings_per_second,
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max,
                t.errors,
                t.retries,
                t.backend.store_share * 100.0,
                t.backend.cold_starts,
                t.backend.wcu_per_request,
                t.backend.rcu_per_request,
                t.status,
                t.problem
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            );
            if t.statuses.keys().any(|k| k != "201" && k != "200") {
                let _ = writeln!(out, "{:<12} answers: {:?}", "", t.statuses);
            }
        }
        let c = &s.cost;
        let _ = writeln!(
            out,
            "cost (prices {}): per million readings serverless {} / ecs {}; a month at 1/10/100 readings/s: serverless {}/{}/{}, ecs {}/{}/{}; break-even {}",
            c.price_table,
            money(c.serverless.per_million_readings),
            money(c.ecs.per_million_readings),
            money(c.serverless.monthly["1"]),
            money(c.serverless.monthly["10"]),
            money(c.serverless.monthly["100"]),
            money(c.ecs.monthly["1"]),
            money(c.ecs.monthly["10"]),
            money(c.ecs.monthly["100"]),
            c.break_even_readings_per_second
                .map_or_else(|| "none".to_string(), |r| format!("{r:.1} readings/s")),
        );
    }
    out
}

const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart as inline SVG: one polyline per series of `(x, y)` points.
fn svg_chart(
    title: &str,
    x_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_x: bool,
) -> String {
    let (w, h, pad) = (640.0, 280.0, 48.0);
    let fx = |x: f64| if log_x { x.max(0.001).log10() } else { x };
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for (x, y) in points {
        x0 = x0.min(fx(*x));
        x1 = x1.max(fx(*x));
        y1 = y1.max(*y);
    }
    if !x0.is_finite() || x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if !x0.is_finite() {
        x0 = 0.0;
        x1 = 1.0;
    }
    let y1 = if y1 > 0.0 { y1 } else { 1.0 };
    let sx = |x: f64| pad + (fx(x) - x0) / (x1 - x0) * (w - 2.0 * pad);
    let sy = |y: f64| h - pad - y / y1 * (h - 2.0 * pad);
    let mut svg = format!(
        r#"<figure><figcaption>{}</figcaption><svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        escape(title),
        escape(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}" stroke="#888"/>"##,
        b = h - pad,
        r = w - pad
    );
    let label_x = |v: f64| if log_x { 10f64.powf(v) } else { v };
    for i in 0..=4 {
        let v = x0 + (x1 - x0) * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{:.1}</text>"#,
            pad + (v - x0) / (x1 - x0) * (w - 2.0 * pad),
            h - pad + 16.0,
            label_x(v)
        );
        let y = y1 * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{:.2}</text>"#,
            pad - 4.0,
            sy(y) + 4.0,
            y
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"#,
        w / 2.0,
        h - 8.0,
        escape(x_label)
    );
    for (i, (name, pts)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let line: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/><text x="{:.1}" y="{:.1}" font-size="12" fill="{colour}">{}</text>"#,
            line.join(" "),
            w - pad - 120.0,
            pad + 14.0 * (i as f64 + 1.0),
            escape(name)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// The HTML page.
pub fn html(report: &Report) -> String {
    let mut body = String::new();
    for s in &report.scenarios {
        let _ = write!(
            body,
            "<section><h2>{}</h2><pre>{}</pre>",
            escape(&s.name),
            escape(&table(&Report {
                scenarios: vec![s.clone()],
                ..report.clone()
            }))
        );
        let cdf: Vec<(String, Vec<(f64, f64)>)> = s
            .targets
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.cdf.iter().map(|[ms, q]| (*ms, *q)).collect(),
                )
            })
            .collect();
        body.push_str(&svg_chart(
            "Latency CDF (fraction of requests answered within x ms, log scale)",
            "latency, ms",
            &cdf,
            true,
        ));
        let throughput: Vec<(String, Vec<(f64, f64)>)> = s
            .targets
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.timeline
                        .iter()
                        .enumerate()
                        .map(|(sec, n)| (sec as f64, *n as f64))
                        .collect(),
                )
            })
            .collect();
        body.push_str(&svg_chart(
            "Throughput over time (requests answered per second)",
            "seconds since the first request",
            &throughput,
            false,
        ));
        body.push_str("</section>");
    }
    let json = serde_json::to_string(report)
        .unwrap_or_default()
        .replace("</", "<\\/");
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>iot-sim {command} report</title>
<style>body{{font:14px system-ui,sans-serif;margin:2rem;max-width:72rem}}pre{{overflow-x:auto;background:#f6f6f6;padding:.5rem}}figure{{margin:1rem 0}}figcaption{{font-weight:600}}</style></head>
<body><h1>iot-sim {command} report</h1><p>Generated {at}; prices {prices}; targets {mode}.</p>{body}
<script type="application/json" id="report">{json}</script></body></html>
"#,
        command = escape(&report.command),
        at = escape(&report.generated_at),
        prices = escape(&report.price_table),
        mode = if report.parallel {
            "at the same time"
        } else {
            "one after the other"
        },
    )
}
