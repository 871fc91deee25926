//! Command-line flags with environment fallbacks (`app-ecs --help` lists them all).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};
use iot_http::settings::{ApiSettings, LogFormat, parse_without_env};

/// The default drain: the load balancer's deregistration delay (`deploy/modules/alb`).
pub const DEFAULT_DRAIN_SECS: u64 = 30;

/// The default keep-alive timeout: above the load balancer's idle timeout (`deploy/modules/alb`).
pub const DEFAULT_KEEP_ALIVE_SECS: u64 = 75;

/// Where the caller's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdentityKind {
    /// The client's `X-User` header (playground, private networks).
    Header,
    /// A claim of the OIDC token an AWS ALB forwards in `x-amzn-oidc-data`; `X-User` is ignored.
    AlbOidc,
}

/// Configuration of the ECS binary.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "app-ecs",
    version,
    about = "iot-playground ECS server: the HTTP API on PostgreSQL (or an in-memory store), \
             Prometheus metrics at /metrics, the web UI at /."
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// PostgreSQL URL (postgres://user:pass@host:port/db). Unset: the in-memory store (data is
    /// lost on exit).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Secrets Manager secret (name or ARN) holding the database user and password as JSON
    /// (`{"username", "password"}`, as RDS manages it). Read at start and every
    /// `DATABASE_SECRET_REFRESH_SECS`, so that a rotated password reaches new connections
    /// without a restart. Unset: the credentials of `DATABASE_URL`/`PGUSER`/`PGPASSWORD` only.
    #[arg(long, env = "DATABASE_SECRET_ID")]
    pub database_secret_id: Option<String>,

    /// How often the database secret is read again, in seconds.
    #[arg(long, env = "DATABASE_SECRET_REFRESH_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub database_secret_refresh_secs: u64,

    /// Apply the embedded database migrations at start (PostgreSQL only).
    #[arg(long, env = "MIGRATE", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub migrate: bool,

    /// Most connections of the PostgreSQL pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,

    /// Longest wait for a database connection, in milliseconds, before a request answers `503`.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_ms: u64,

    /// Most database calls in flight at once. Unset: `DB_MAX_CONNECTIONS`, so that a call that
    /// gets its turn finds a connection.
    #[arg(long, env = "DB_MAX_IN_FLIGHT",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_in_flight: Option<u32>,

    /// Most requests waiting for a turn at the database (first come, first served); one more is
    /// answered `503` with `Retry-After` at once.
    #[arg(long, env = "DB_MAX_WAITING", default_value_t = adapters_postgres::DEFAULT_MAX_WAITING)]
    pub db_max_waiting: usize,

    /// Longest a request waits for its turn at the database, in milliseconds, before it
    /// answers `503` (then it waits at most `DB_ACQUIRE_TIMEOUT_MS` for a connection).
    #[arg(long, env = "DB_QUEUE_TIMEOUT_MS",
          default_value_t = adapters_postgres::DEFAULT_QUEUE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_queue_timeout_ms: u64,

    /// Server-side `statement_timeout` of every database connection, in milliseconds (also
    /// bounds waits on locks); a statement that takes longer answers `503`.
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_MS",
          default_value_t = adapters_postgres::DEFAULT_STATEMENT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_statement_timeout_ms: u64,

    /// Most single readings stored by one statement (group commit).
    #[arg(long, env = "GROUP_MAX_SIZE", default_value_t = adapters_postgres::DEFAULT_MAX_GROUP,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub group_max_size: usize,

    /// Longest a single reading waits for company while other groups are being stored, in
    /// microseconds (an idle database gets every reading at once).
    #[arg(long, env = "GROUP_MAX_WAIT_US", default_value_t = adapters_postgres::DEFAULT_MAX_WAIT_US)]
    pub group_max_wait_us: u64,

    /// Most single readings waiting for a group; one more is answered `503` with `Retry-After`
    /// at once.
    #[arg(long, env = "GROUP_QUEUE", default_value_t = adapters_postgres::DEFAULT_GROUP_QUEUE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub group_queue: usize,

    /// Most groups of single readings being stored at once, each on a connection of its own
    /// (beside the pool's `DB_MAX_CONNECTIONS`).
    #[arg(long, env = "GROUPS_IN_FLIGHT",
          default_value_t = adapters_postgres::DEFAULT_GROUPS_IN_FLIGHT,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub groups_in_flight: usize,

    /// Capacity, timeout grace, CORS, admins, Grafana links: shared by every binary.
    #[command(flatten)]
    pub api: ApiSettings,

    /// Log format (filter with RUST_LOG, default `info`).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Source of the caller's identity.
    #[arg(long, env = "IDENTITY_SOURCE", value_enum, default_value_t = IdentityKind::Header)]
    pub identity: IdentityKind,

    /// OIDC claim holding the user name (with `--identity alb-oidc`).
    #[arg(long, env = "IDENTITY_CLAIM", default_value = "preferred_username")]
    pub identity_claim: String,

    /// Longest a request may take before `408`, in seconds.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Seconds between two timeout sweeps (persisting TIMEOUT on expired runs).
    #[arg(long, env = "SWEEP_INTERVAL_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sweep_interval_secs: u64,

    /// Seconds the sensor metric series of a finished run stay exposed.
    #[arg(long, env = "METRICS_RETENTION_SECS", default_value_t = 300)]
    pub metrics_retention_secs: u64,

    /// Most sensor series (`sensor_data_value` and `sensor_data_ingested_total` together) exposed
    /// at `/metrics`; beyond it whole runs are evicted, finished ones first, then the longest
    /// idle.
    #[arg(long, env = "METRICS_MAX_SERIES", default_value_t = adapters_postgres::metrics::DEFAULT_MAX_SERIES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
    pub metrics_max_series: usize,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 20)]
    pub shutdown_timeout_secs: u64,

    /// Seconds the server keeps serving after SIGTERM while the load balancer deregisters it:
    /// `/ready` answers `503` and every response closes its connection. Matches the target
    /// group's deregistration delay. SIGINT skips it.
    #[arg(long, env = "SHUTDOWN_DRAIN_SECS", default_value_t = DEFAULT_DRAIN_SECS)]
    pub shutdown_drain_secs: u64,

    /// Most client connections served at once (lowered to fit the open-file limit); one more is
    /// answered `503` and closed.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,

    /// Seconds a client has, from a request's first byte, to send its headers.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,

    /// Seconds a kept-alive connection may wait for its next request. Longer than the load
    /// balancer's idle timeout (60 s), which must close first.
    #[arg(long, env = "KEEP_ALIVE_TIMEOUT_SECS", default_value_t = DEFAULT_KEEP_ALIVE_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_timeout_secs: u64,

    /// Probe `GET /health` on this instance's port and exit 0 when it answers 200, 1 otherwise
    /// (the container's HEALTHCHECK: the image has no shell or HTTP client).
    #[arg(long)]
    pub health_check: bool,

    /// Directory of the web UI's static files, served at `/`. Unset: `./web/dist` or `./web`
    /// when it holds an `index.html`; none: no UI.
    #[arg(long, env = "WEB_DIR")]
    pub web_dir: Option<PathBuf>,
}

impl Config {
    /// Parses `args` (the first is the program name) without reading any environment variable:
    /// what tests want, whatever the environment they run in.
    ///
    /// # Errors
    /// Invalid arguments.
    pub fn from_args_without_env<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        parse_without_env(args)
    }

    /// The documented defaults, ignoring the environment.
    ///
    /// # Errors
    /// Never in practice (the defaults parse).
    pub fn defaults() -> Result<Self, clap::Error> {
        Self::from_args_without_env(["app-ecs"])
    }

    /// `DATABASE_URL`, unless unset or blank.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    /// Sweep period.
    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_secs)
    }

    /// Metrics retention of finished runs.
    pub fn metrics_retention(&self) -> Duration {
        Duration::from_secs(self.metrics_retention_secs)
    }

    /// Grace period of a shutdown.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// Drain period after SIGTERM.
    pub fn shutdown_drain(&self) -> Duration {
        Duration::from_secs(self.shutdown_drain_secs)
    }

    /// Connection limits.
    pub fn limits(&self) -> crate::server::Limits {
        crate::server::Limits {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(self.keep_alive_timeout_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.database_url(), None);
        assert!(c.migrate);
        assert_eq!((c.api.max_concurrent_runs, c.api.max_runs_per_user), (5, 5));
        assert_eq!(c.api.run_timeout_grace_secs, 120);
        assert_eq!(c.api.cors_allowed_origins, iot_http::DEFAULT_CORS_ORIGINS);
        assert!(c.api.admin_users.is_empty());
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.identity, IdentityKind::Header);
        assert_eq!(c.sweep_interval_secs, 30);
        assert_eq!(c.metrics_retention_secs, 300);
        assert_eq!(c.metrics_max_series, 10_000);
        assert_eq!(c.shutdown_timeout_secs, 20);
        assert_eq!(c.shutdown_drain_secs, 30);
        assert_eq!(c.max_connections, 10_000);
        assert_eq!(c.header_read_timeout_secs, 10);
        assert_eq!(c.keep_alive_timeout_secs, 75);
        assert_eq!(c.web_dir, None);
        assert_eq!(
            (c.db_max_connections, c.db_max_in_flight, c.db_max_waiting),
            (10, None, 1024)
        );
        assert_eq!(
            (c.db_queue_timeout_ms, c.db_statement_timeout_ms),
            (10_000, 5000)
        );
        assert_eq!(
            (
                c.group_max_size,
                c.group_max_wait_us,
                c.group_queue,
                c.groups_in_flight
            ),
            (256, 200, 8192, 4)
        );
        assert!(Config::from_args_without_env(["app-ecs", "--groups-in-flight", "0"]).is_err());
    }

    /// The value of `name = N` in a Terraform file of `deploy/`.
    fn terraform_number(file: &str, name: &str) -> u64 {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(name))
            .filter_map(|rest| rest.trim().strip_prefix('='))
            .find_map(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {}", path.display()))
    }

    #[test]
    fn drain_and_keep_alive_agree_with_the_load_balancer() {
        assert_eq!(
            DEFAULT_DRAIN_SECS,
            terraform_number("modules/alb/main.tf", "deregistration_delay")
        );
        assert!(DEFAULT_KEEP_ALIVE_SECS > terraform_number("modules/alb/main.tf", "idle_timeout"));
        let defaults = Config::defaults().unwrap();
        assert!(
            terraform_number("envs/dev/main.tf", "stop_timeout")
                > defaults.shutdown_drain_secs + defaults.shutdown_timeout_secs
        );
    }

    #[test]
    fn flags_parse() {
        let c = Config::from_args_without_env([
            "app-ecs",
            "--port",
            "9000",
            "--migrate",
            "false",
            "--admin-users",
            "root,admin",
            "--identity",
            "alb-oidc",
            "--log-format",
            "json",
            "--database-url",
            " ",
        ])
        .unwrap();
        assert_eq!(c.port, 9000);
        assert!(!c.migrate);
        assert_eq!(c.api.admin_users, ["root", "admin"]);
        assert_eq!(c.identity, IdentityKind::AlbOidc);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_url(), None);
        assert!(
            Config::from_args_without_env(["app-ecs", "--migrate"])
                .unwrap()
                .migrate
        );
    }

    #[test]
    fn help_lists_every_variable() {
        let help = <Config as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for var in [
            "PORT",
            "DATABASE_URL",
            "MIGRATE",
            "DB_MAX_CONNECTIONS",
            "DB_ACQUIRE_TIMEOUT_MS",
            "DB_MAX_IN_FLIGHT",
            "DB_MAX_WAITING",
            "DB_QUEUE_TIMEOUT_MS",
            "DB_STATEMENT_TIMEOUT_MS",
            "GROUP_MAX_SIZE",
            "GROUP_MAX_WAIT_US",
            "GROUP_QUEUE",
            "GROUPS_IN_FLIGHT",
            "MAX_CONCURRENT_RUNS",
            "MAX_RUNS_PER_USER",
            "RUN_TIMEOUT_GRACE_SECS",
            "CORS_ALLOWED_ORIGINS",
            "ADMIN_USERS",
            "GRAFANA_URL",
            "LOG_FORMAT",
            "IDENTITY_SOURCE",
            "IDENTITY_CLAIM",
            "SWEEP_INTERVAL_SECS",
            "METRICS_RETENTION_SECS",
            "METRICS_MAX_SERIES",
            "SHUTDOWN_TIMEOUT_SECS",
            "SHUTDOWN_DRAIN_SECS",
            "MAX_CONNECTIONS",
            "HEADER_READ_TIMEOUT_SECS",
            "KEEP_ALIVE_TIMEOUT_SECS",
            "WEB_DIR",
        ] {
            assert!(
                help.contains(&format!("env: {var}")),
                "{var} missing:\n{help}"
            );
        }
    }
}
