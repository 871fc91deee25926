//! The command line: `iot-sim run` (one workload) and `iot-sim compare` (the named scenarios).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::watch;

use crate::cost::Prices;
use crate::drive::{Driver, Pace, Target, TargetResult, Workload};
use crate::report::{self, Assumptions, Report, ScenarioResult};

/// Drive the same simulated IoT fleet against several iot-playground backends and compare them.
#[derive(Debug, Parser)]
#[command(name = "iot-sim", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One workload on every target.
    Run(RunArgs),
    /// The named scenarios (a steady 1 Hz fleet, a burst, batch sending) on every target, one report.
    Compare(CommonArgs),
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// A backend, `NAME=URL` (repeat for each; e.g. `ecs=http://127.0.0.1:8080`).
    #[arg(long = "target", required = true)]
    targets: Vec<Target>,
    /// Run the targets at the same time instead of one after the other.
    #[arg(long)]
    parallel: bool,
    /// `X-User` of the runs.
    #[arg(long, default_value = "iot-sim")]
    user: String,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Lambda memory size for the cost model.
    #[arg(long, default_value_t = 256.0)]
    lambda_memory_mb: f64,
    /// Lambda architecture for the cost model (`x86_64` or `arm64`).
    #[arg(long, default_value = "x86_64")]
    lambda_architecture: String,
    /// Fargate task vCPU for the cost model.
    #[arg(long, default_value_t = 0.25)]
    task_vcpu: f64,
    /// Fargate task memory (GB) for the cost model.
    #[arg(long, default_value_t = 0.5)]
    task_memory_gb: f64,
    /// Runs a month, for the custom metrics that per-run EMF dimensions create.
    #[arg(long, default_value_t = 1000.0)]
    runs_per_month: f64,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Sensors of the run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    sensors: u32,
    /// Readings per sensor.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    readings: u32,
    /// Milliseconds between two readings of a sensor; without --concurrency or --rate, the fleet
    /// sends at that pace (an open loop at sensors × 1000 / interval readings per second).
    #[arg(long)]
    interval: Option<u64>,
    /// Send readings in batches of this size (`POST /api/runs/{id}/readings`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: Option<u32>,
    /// Closed loop: this many senders, each waiting for its previous answer.
    #[arg(long, conflicts_with = "rate")]
    concurrency: Option<usize>,
    /// Open loop: this many requests per second, latency corrected for coordinated omission.
    #[arg(long)]
    rate: Option<f64>,
}

impl CommonArgs {
    fn assumptions(&self) -> Assumptions {
        Assumptions {
            lambda_memory_mb: self.lambda_memory_mb,
            lambda_architecture: self.lambda_architecture.clone(),
            task_vcpu: self.task_vcpu,
            task_memory_gb: self.task_memory_gb,
            runs_per_month: self.runs_per_month,
            ..Assumptions::default()
        }
    }
}

impl RunArgs {
    fn workload(&self) -> Workload {
        let interval_ms = self.interval.unwrap_or(1000).max(1);
        let per_request = f64::from(self.batch.unwrap_or(1));
        let pace = match (self.concurrency, self.rate, self.interval) {
            (Some(concurrency), _, _) => Pace::Closed { concurrency },
            (None, Some(rate), _) => Pace::Open { rate },
            (None, None, Some(_)) => Pace::Open {
                rate: f64::from(self.sensors) * 1000.0 / interval_ms as f64 / per_request,
            },
            (None, None, None) => Pace::Closed { concurrency: 1 },
        };
        Workload {
            sensors: self.sensors,
            readings: self.readings,
            interval_ms,
            batch: self.batch,
            pace,
            user: self.common.user.clone(),
        }
    }
}

/// The scenarios of `iot-sim compare`.
pub fn compare_scenarios(user: &str) -> Vec<(&'static str, Workload)> {
    let fleet = |sensors, readings, batch, pace| Workload {
        sensors,
        readings,
        interval_ms: 1000,
        batch,
        pace,
        user: user.to_string(),
    };
    vec![
        (
            "steady 1 Hz fleet (10 sensors, one reading each per second, 20 s)",
            fleet(10, 20, None, Pace::Open { rate: 10.0 }),
        ),
        (
            "burst (10 sensors × 30 readings, 16 senders as fast as answered)",
            fleet(10, 30, None, Pace::Closed { concurrency: 16 }),
        ),
        (
            "batch sending (20 sensors × 100 readings in batches of 100, 4 senders)",
            fleet(20, 100, Some(100), Pace::Closed { concurrency: 4 }),
        ),
    ]
}

async fn run_scenario(
    driver: &Driver,
    progress: &MultiProgress,
    name: &str,
    workload: &Workload,
    targets: &[Target],
    parallel: bool,
) -> Vec<TargetResult> {
    let style = ProgressStyle::with_template("{prefix:>12} {bar:40} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bars: Vec<ProgressBar> = targets
        .iter()
        .map(|t| {
            let bar = progress.add(ProgressBar::new(workload.requests() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(t.name.clone());
            bar.set_message(name.to_string());
            bar
        })
        .collect();
    if parallel {
        futures::future::join_all(
            targets
                .iter()
                .zip(bars)
                .map(|(t, bar)| driver.drive(t, workload, bar)),
        )
        .await
    } else {
        let mut results = Vec::new();
        for (t, bar) in targets.iter().zip(bars) {
            results.push(driver.drive(t, workload, bar).await);
        }
        results
    }
}

/// Runs a command; the exit code is 0 when every run finished `SUCCESS` without errors, 1
/// otherwise (interrupted, errors, a run that failed to start or finish).
///
/// # Errors
/// A report that cannot be written; a broken price table.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let prices = Prices::builtin().context("the built-in price table")?;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: finishing the runs as FAILED and writing what was measured");
            let _ = cancel_tx.send(true);
        }
    });
    let driver = Driver::new(cancel_rx.clone())?;
    let progress = MultiProgress::new();
    let (command, common, plan) = match &cli.command {
        Command::Run(args) => ("run", &args.common, vec![("run", args.workload())]),
        Command::Compare(common) => ("compare", common, compare_scenarios(&common.user)),
    };
    let mut scenarios: Vec<ScenarioResult> = Vec::new();
    for (name, workload) in plan {
        if *cancel_rx.borrow() {
            break;
        }
        let results = run_scenario(
            &driver,
            &progress,
            name,
            &workload,
            &common.targets,
            common.parallel,
        )
        .await;
        scenarios.push(report::scenario(
            name,
            workload,
            results,
            &prices,
            &common.assumptions(),
        ));
    }
    let report = Report {
        schema: report::SCHEMA,
        generated_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        command: command.to_string(),
        parallel: common.parallel,
        price_table: format!("{} ({})", prices.version, prices.region),
        scenarios,
    };
    print!("{}", report::table(&report));
    if let Some(path) = &common.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &common.html {
        std::fs::write(path, report::html(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let clean = !*cancel_rx.borrow()
        && report
            .scenarios
            .iter()
            .flat_map(|s| &s.targets)
            .all(|t| t.status == "SUCCESS" && t.errors == 0 && t.problem.is_none());
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
