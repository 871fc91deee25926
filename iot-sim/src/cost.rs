//! The cost model, the same formula as the web page's (`web/src/cost.js`): monthly dollars of each
//! architecture for a workload measured in a run, from the versioned price table
//! `web/src/cost/prices.json`. Both sides check `web/src/cost/examples.json` (worked by hand) in
//! their unit tests, so they cannot drift. Prices are on-demand list prices, without free tier.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The price table this binary was built with.
pub const PRICES_JSON: &str = include_str!("../../web/src/cost/prices.json");

const GB: f64 = 1e9;
const LCU_NEW_CONNECTIONS_PER_SECOND: f64 = 25.0;
const LCU_GB_PER_HOUR: f64 = 1.0;

/// One price and where it comes from.
#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    /// Dollars per unit.
    pub usd: f64,
    /// What is billed.
    pub unit: String,
    /// When it was read.
    pub date: String,
    /// The public page it is read from.
    pub source: String,
}

/// The versioned price table.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    /// Version (a date).
    pub version: String,
    /// AWS region of every price.
    pub region: String,
    /// Hours in a billing month.
    pub hours_per_month: f64,
    /// Prices by name.
    pub prices: BTreeMap<String, Price>,
}

impl Prices {
    /// The table built into this binary.
    ///
    /// # Errors
    /// A malformed table (a build with a broken file; the unit tests catch it).
    pub fn builtin() -> Result<Self, serde_json::Error> {
        serde_json::from_str(PRICES_JSON)
    }

    fn usd(&self, name: &str) -> f64 {
        // A missing price is a broken table; NaN makes every figure visibly unusable.
        self.prices.get(name).map_or(f64::NAN, |p| p.usd)
    }

    fn readings_per_month(&self, readings_per_second: f64) -> f64 {
        readings_per_second * 3600.0 * self.hours_per_month
    }
}

/// Serverless side of a workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessWorkload {
    /// Lambda memory size.
    pub memory_mb: f64,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// Mean of each request's handler time rounded up to 1 ms.
    pub billed_ms_per_request: f64,
    /// DynamoDB write units per request.
    pub wcu_per_request: f64,
    /// DynamoDB read units per request.
    pub rcu_per_request: f64,
    /// CloudWatch Logs bytes per request (EMF line and logs).
    pub log_bytes_per_request: f64,
    /// Custom metric series each run creates (per-run dimensions multiply them).
    pub metric_series_per_run: f64,
    /// How long a run lasts.
    pub run_hours: f64,
    /// Runs a month.
    pub runs_per_month: f64,
    /// Custom metric series that exist all month.
    pub always_on_metric_series: f64,
}

/// ECS side of a workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsWorkload {
    /// vCPU of a task.
    pub task_vcpu: f64,
    /// Memory of a task.
    pub task_memory_gb: f64,
    /// Readings per second one task sustained in the run.
    pub task_readings_per_second: f64,
    /// RDS storage.
    pub rds_storage_gb: f64,
    /// New load-balancer connections per request (1 without keep-alive).
    pub alb_new_connections_per_request: f64,
    /// Bytes through the load balancer per request (both ways).
    pub alb_bytes_per_request: f64,
}

/// What was measured, as the formula needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// 1 for single sending, the batch size otherwise.
    pub readings_per_request: f64,
    /// Serverless figures.
    pub serverless: ServerlessWorkload,
    /// ECS figures.
    pub ecs: EcsWorkload,
}

/// Dollars of one Serverless request (Lambda, API Gateway, DynamoDB, logs).
pub fn serverless_per_request(p: &Prices, w: &Workload) -> f64 {
    let s = &w.serverless;
    let gb_second = p.usd(if s.architecture == "arm64" {
        "lambdaGbSecondArm"
    } else {
        "lambdaGbSecondX86"
    });
    p.usd("lambdaRequest")
        + (s.billed_ms_per_request / 1000.0) * (s.memory_mb / 1024.0) * gb_second
        + p.usd("apiGatewayHttpRequest")
        + s.wcu_per_request * p.usd("dynamoWriteUnit")
        + s.rcu_per_request * p.usd("dynamoReadUnit")
        + (s.log_bytes_per_request / GB) * p.usd("logsIngestionGb")
}

/// Dollars a month of the custom metrics: per-run series are billed by the hour they exist.
pub fn metrics_monthly(p: &Prices, w: &Workload) -> f64 {
    let s = &w.serverless;
    let series_hours = s.metric_series_per_run * s.run_hours.ceil() * s.runs_per_month
        + s.always_on_metric_series * p.hours_per_month;
    series_hours / p.hours_per_month * p.usd("customMetricMonth")
}

/// Serverless dollars a month at a steady rate.
pub fn serverless_monthly(p: &Prices, w: &Workload, readings_per_second: f64) -> f64 {
    let requests = p.readings_per_month(readings_per_second) / w.readings_per_request;
    requests * serverless_per_request(p, w) + metrics_monthly(p, w)
}

/// Tasks needed for a rate (at least one: the service is always on).
pub fn ecs_tasks(w: &Workload, readings_per_second: f64) -> f64 {
    (readings_per_second / w.ecs.task_readings_per_second)
        .ceil()
        .max(1.0)
}

/// LCUs per hour per request per second (the larger dimension).
fn lcu_per_request_per_second(w: &Workload) -> f64 {
    (w.ecs.alb_new_connections_per_request / LCU_NEW_CONNECTIONS_PER_SECOND)
        .max(w.ecs.alb_bytes_per_request * 3600.0 / GB / LCU_GB_PER_HOUR)
}

/// ECS dollars a month at a steady rate (Fargate tasks, RDS, ALB).
pub fn ecs_monthly(p: &Prices, w: &Workload, readings_per_second: f64) -> f64 {
    let e = &w.ecs;
    let task = e.task_vcpu * p.usd("fargateVcpuHour") + e.task_memory_gb * p.usd("fargateGbHour");
    let lcu = readings_per_second / w.readings_per_request * lcu_per_request_per_second(w);
    let hourly = ecs_tasks(w, readings_per_second) * task
        + p.usd("rdsInstanceHour")
        + p.usd("albHour")
        + lcu * p.usd("albLcuHour");
    hourly * p.hours_per_month + e.rds_storage_gb * p.usd("rdsStorageGbMonth")
}

/// Dollars per million readings of a monthly cost at a rate.
pub fn per_million_readings(p: &Prices, monthly: f64, readings_per_second: f64) -> f64 {
    monthly / p.readings_per_month(readings_per_second) * 1e6
}

/// The lowest steady rate (readings/s) from which Serverless costs at least as much as ECS, or
/// `None` when it never does (within 100,000 ECS tasks). Both costs are linear in the rate
/// between two task counts, so each interval is solved exactly.
pub fn break_even(p: &Prices, w: &Workload) -> Option<f64> {
    let b = serverless_monthly(p, w, 0.0);
    let a = serverless_monthly(p, w, 1.0) - b;
    let t = w.ecs.task_readings_per_second;
    let d = lcu_per_request_per_second(w) / w.readings_per_request
        * p.usd("albLcuHour")
        * p.hours_per_month;
    (1..=100_000u32).find_map(|k| {
        let (lo, hi) = (f64::from(k - 1) * t, f64::from(k) * t);
        let c = ecs_monthly(p, w, hi) - d * hi;
        (a * hi + b >= c + d * hi).then(|| {
            let r = if a > d { (c - b) / (a - d) } else { lo };
            r.max(lo)
        })
    })
}

/// One architecture's figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SideEstimate {
    /// Dollars per million readings at the measured rate.
    pub per_million_readings: f64,
    /// Dollars a month at the measured rate and at 1, 10, 100 readings/s.
    pub monthly: BTreeMap<String, f64>,
}

/// Both architectures for one measured workload.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    /// Version of the price table.
    pub price_table: String,
    /// Lambda + API Gateway + DynamoDB + CloudWatch.
    pub serverless: SideEstimate,
    /// Fargate + RDS + ALB.
    pub ecs: SideEstimate,
    /// Where Serverless becomes the dearer one.
    pub break_even_readings_per_second: Option<f64>,
}

/// Everything the reports show for a workload measured at `measured_rate` readings/s.
pub fn estimate(p: &Prices, w: &Workload, measured_rate: f64) -> Estimate {
    let side = |monthly: &dyn Fn(f64) -> f64| SideEstimate {
        per_million_readings: per_million_readings(p, monthly(measured_rate), measured_rate),
        monthly: [
            ("measured", measured_rate),
            ("1", 1.0),
            ("10", 10.0),
            ("100", 100.0),
        ]
        .into_iter()
        .map(|(name, rate)| (name.to_string(), monthly(rate)))
        .collect(),
    };
    Estimate {
        price_table: p.version.clone(),
        serverless: side(&|r| serverless_monthly(p, w, r)),
        ecs: side(&|r| ecs_monthly(p, w, r)),
        break_even_readings_per_second: break_even(p, w),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Example {
        name: String,
        workload: Workload,
        readings_per_second: f64,
        expected: BTreeMap<String, f64>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Examples {
        price_table: String,
        examples: Vec<Example>,
    }

    #[test]
    fn every_price_names_its_region_date_and_source_page() {
        let p = Prices::builtin().unwrap();
        assert_eq!(p.region, "us-east-1");
        for (name, price) in &p.prices {
            assert!(price.usd > 0.0, "{name}");
            assert!(
                price.source.starts_with("https://aws.amazon.com/"),
                "{name}"
            );
            assert_eq!(price.date.len(), 10, "{name}");
        }
    }

    #[test]
    fn the_worked_examples_match_the_formula() {
        let p = Prices::builtin().unwrap();
        let worked: Examples =
            serde_json::from_str(include_str!("../../web/src/cost/examples.json")).unwrap();
        assert_eq!(worked.price_table, p.version);
        assert!(!worked.examples.is_empty());
        for ex in worked.examples {
            let (w, r) = (&ex.workload, ex.readings_per_second);
            let (sls, ecs) = (serverless_monthly(&p, w, r), ecs_monthly(&p, w, r));
            let got: BTreeMap<&str, f64> = [
                ("serverlessMonthly", sls),
                ("ecsMonthly", ecs),
                (
                    "serverlessPerMillionReadings",
                    per_million_readings(&p, sls, r),
                ),
                ("ecsPerMillionReadings", per_million_readings(&p, ecs, r)),
                (
                    "breakEvenReadingsPerSecond",
                    break_even(&p, w).unwrap_or(f64::NAN),
                ),
            ]
            .into_iter()
            .collect();
            for (key, want) in &ex.expected {
                let have = got[key.as_str()];
                assert!(
                    (have - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{}: {key} = {have}, expected {want}",
                    ex.name
                );
            }
        }
    }

    #[test]
    fn more_tasks_are_needed_past_what_one_task_sustained() {
        let worked: Examples =
            serde_json::from_str(include_str!("../../web/src/cost/examples.json")).unwrap();
        let w = &worked.examples[0].workload;
        assert_eq!(ecs_tasks(w, 0.5), 1.0);
        assert_eq!(ecs_tasks(w, w.ecs.task_readings_per_second + 1.0), 2.0);
    }
}
