//! The settings every binary serving the API shares, as `clap` arguments with environment
//! fallbacks (the names the README's configuration table lists), flattened into each binary's own configuration.

use std::time::Duration;

use iot_core::Username;
use iot_core::ValidationError;
use iot_core::ports::CapacityLimits;
use iot_core::service::RunConfig;

use crate::{DEFAULT_CORS_ORIGINS, HttpConfig, parse_origins};

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (CloudWatch Logs Insights, Loki).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Installs the log subscriber: `format`, filtered by `RUST_LOG` (default `info`), written to
/// `writer` (the Lambda binary keeps stdout for its metric lines and logs to stderr).
///
/// # Errors
/// A subscriber is already installed.
pub fn init_logging<W>(format: LogFormat, writer: W) -> Result<(), String>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(
            matches!(format, LogFormat::Pretty)
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .with_writer(writer);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    }
    .map_err(|e| format!("cannot install the log subscriber: {e}"))
}

/// Parses a binary's configuration from `args` (the first is the program name) without reading
/// any environment variable: what tests want, whatever the environment they run in.
///
/// # Errors
/// Invalid arguments.
pub fn parse_without_env<C, I, T>(args: I) -> Result<C, clap::Error>
where
    C: clap::CommandFactory + clap::FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = C::command().mut_args(|arg| arg.env(None::<&'static str>));
    C::from_arg_matches(&command.try_get_matches_from(args)?)
}

/// Capacity, timeouts, CORS, admins and dashboard links.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ApiSettings {
    /// Running runs allowed at once, all users together.
    #[arg(long, env = "MAX_CONCURRENT_RUNS", default_value_t = 5)]
    pub max_concurrent_runs: u32,

    /// Running runs allowed at once per user.
    #[arg(long, env = "MAX_RUNS_PER_USER", default_value_t = 5)]
    pub max_runs_per_user: u32,

    /// Seconds after a run's duration before it is TIMEOUT.
    #[arg(long, env = "RUN_TIMEOUT_GRACE_SECS", default_value_t = 120)]
    pub run_timeout_grace_secs: u32,

    /// Origins allowed by CORS, comma separated.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = DEFAULT_CORS_ORIGINS)]
    pub cors_allowed_origins: String,

    /// Users whose interrupt-all cancels every user's runs, comma separated.
    #[arg(long, env = "ADMIN_USERS", value_delimiter = ',')]
    pub admin_users: Vec<String>,

    /// Grafana base URL, for per-run dashboard links.
    #[arg(long, env = "GRAFANA_URL")]
    pub grafana_url: Option<String>,

    /// Grafana dashboard uid the per-run links open; default: the binary's own dashboard.
    #[arg(long, env = "GRAFANA_DASHBOARD")]
    pub grafana_dashboard: Option<String>,

    /// Days a run and its readings are kept after the run's deadline, then deleted; unset keeps
    /// them forever.
    #[arg(long, env = "RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: Option<u32>,
}

impl ApiSettings {
    /// The run lifecycle settings; links open `default_dashboard` unless `GRAFANA_DASHBOARD`
    /// names another.
    ///
    /// # Errors
    /// An admin user name that is not a valid user name.
    pub fn run_config(&self, default_dashboard: &str) -> Result<RunConfig, ValidationError> {
        let admins = self
            .admin_users
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .map(|u| Username::parse(u).map_err(|e| e.in_field("ADMIN_USERS")))
            .collect::<Result<Vec<_>, _>>()?;
        let base = self
            .grafana_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| !u.is_empty());
        let dashboard = self
            .grafana_dashboard
            .as_deref()
            .unwrap_or(default_dashboard);
        Ok(RunConfig {
            limits: CapacityLimits {
                global: self.max_concurrent_runs,
                per_user: self.max_runs_per_user,
            },
            timeout_grace_secs: self.run_timeout_grace_secs,
            admins,
            grafana_url: base.map(|base| format!("{base}/d/{dashboard}/{dashboard}")),
            retention_days: self.retention_days,
        })
    }

    /// The HTTP layer's settings.
    pub fn http_config(&self, request_timeout: Duration) -> HttpConfig {
        HttpConfig {
            cors_allowed_origins: parse_origins(&self.cors_allowed_origins),
            request_timeout,
            web_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        api: ApiSettings,
    }

    fn parse(args: &[&str]) -> ApiSettings {
        let mut all = vec!["cli"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().api
    }

    #[test]
    fn links_open_the_binarys_dashboard_unless_configured() {
        let s = parse(&["--grafana-url", "https://g.example/"]);
        let link = s.run_config("iot-playground-runs").unwrap().grafana_url;
        assert_eq!(
            link.as_deref(),
            Some("https://g.example/d/iot-playground-runs/iot-playground-runs")
        );
        let s = parse(&[
            "--grafana-url",
            "https://g.example",
            "--grafana-dashboard",
            "mine",
        ]);
        let link = s.run_config("iot-playground-runs").unwrap().grafana_url;
        assert_eq!(link.as_deref(), Some("https://g.example/d/mine/mine"));
        assert_eq!(parse(&[]).run_config("x").unwrap().grafana_url, None);
    }

    #[test]
    fn admins_are_trimmed_and_validated() {
        let s = parse(&["--admin-users", " root ,admin,"]);
        let admins = s.run_config("x").unwrap().admins;
        assert_eq!(
            admins.iter().map(Username::as_str).collect::<Vec<_>>(),
            ["root", "admin"]
        );
        let err = parse(&["--admin-users", "a b"])
            .run_config("x")
            .unwrap_err();
        assert_eq!(err.field, "ADMIN_USERS");
    }
}
