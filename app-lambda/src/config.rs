//! Command-line flags with environment fallbacks (`app-lambda --help` lists them all). In Lambda
//! only the environment is used: the function's configuration sets the variables.

use std::time::Duration;

use adapters_dynamo::DynamoConfig;
use adapters_dynamo::emf::{DEFAULT_DIMENSIONS, DimensionSets};
use clap::{ArgAction, Parser, ValueEnum};
use iot_http::settings::{ApiSettings, LogFormat, parse_without_env};

/// Where the caller's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdentityKind {
    /// The client's `X-User` header (playground, private networks).
    Header,
    /// A claim put in the request context by an API Gateway JWT authorizer (HTTP API:
    /// `requestContext.authorizer.jwt.claims`; REST API: `requestContext.authorizer.claims`).
    /// A client-sent `X-User` is ignored.
    JwtClaim,
}

/// Configuration of the Lambda binary.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "app-lambda",
    version,
    about = "iot-playground on AWS Lambda: the HTTP API behind API Gateway (HTTP API v2 or REST v1 \
             events) on DynamoDB, the timeout sweep on an EventBridge schedule, CloudWatch EMF \
             metrics on stdout."
)]
pub struct Config {
    /// DynamoDB endpoint override (an emulator such as moto); unset: AWS.
    #[arg(long, env = "DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,

    /// AWS region; unset: the SDK's chain (Lambda sets AWS_REGION).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,

    /// Name of the runs table.
    #[arg(long, env = "RUNS_TABLE", default_value = DynamoConfig::DEFAULT_RUNS_TABLE)]
    pub runs_table: String,

    /// Name of the readings table.
    #[arg(long, env = "READINGS_TABLE", default_value = DynamoConfig::DEFAULT_READINGS_TABLE)]
    pub readings_table: String,

    /// Create missing tables at start (local and test runs; production tables come from
    /// Terraform).
    #[arg(long, env = "CREATE_TABLES", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub create_tables: bool,

    /// Longest time one DynamoDB call may take, retries included, in milliseconds.
    #[arg(long, env = "DYNAMODB_OPERATION_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub dynamodb_operation_timeout_ms: u64,

    /// Longest time one attempt of a DynamoDB call may take, in milliseconds.
    #[arg(long, env = "DYNAMODB_ATTEMPT_TIMEOUT_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub dynamodb_attempt_timeout_ms: u64,

    /// Capacity, timeout grace, CORS, admins, Grafana links: shared by every binary.
    #[command(flatten)]
    pub api: ApiSettings,

    /// Log format (filter with RUST_LOG, default `info`). Logs go to stderr; stdout carries only
    /// the EMF metric lines.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Source of the caller's identity.
    #[arg(long, env = "IDENTITY_SOURCE", value_enum, default_value_t = IdentityKind::Header)]
    pub identity: IdentityKind,

    /// JWT claim holding the user name (with `--identity jwt-claim`); Cognito access tokens
    /// carry it in `username`.
    #[arg(long, env = "IDENTITY_CLAIM", default_value = "preferred_username")]
    pub identity_claim: String,

    /// Dimension sets of the SensorReading/DataIngested metrics: keys SensorId, User, RunId,
    /// Type; `,` within a set, `;` between sets (e.g. `SensorId,Type;User`).
    #[arg(long, env = "EMF_DIMENSIONS", default_value = DEFAULT_DIMENSIONS)]
    pub emf_dimensions: DimensionSets,

    /// Longest a request may take before `408`, in seconds (keep it below the function
    /// timeout, and API Gateway's 29 s).
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
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
        Self::from_args_without_env(["app-lambda"])
    }

    /// The DynamoDB settings.
    pub fn dynamo(&self) -> DynamoConfig {
        DynamoConfig {
            endpoint: non_blank(self.dynamodb_endpoint.as_deref()),
            region: non_blank(self.region.as_deref()),
            runs_table: self.runs_table.clone(),
            readings_table: self.readings_table.clone(),
            operation_timeout: Duration::from_millis(self.dynamodb_operation_timeout_ms),
            attempt_timeout: Duration::from_millis(self.dynamodb_attempt_timeout_ms),
            retention: self
                .api
                .retention_days
                .map(|days| Duration::from_secs(u64::from(days) * 86_400)),
        }
    }
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::defaults().unwrap();
        let dynamo = c.dynamo();
        assert_eq!(dynamo.endpoint, None);
        assert_eq!(dynamo.runs_table, "iot-playground-runs");
        assert_eq!(dynamo.readings_table, "iot-playground-readings");
        assert!(!c.create_tables);
        assert_eq!((c.api.max_concurrent_runs, c.api.max_runs_per_user), (5, 5));
        assert_eq!(c.api.run_timeout_grace_secs, 120);
        assert_eq!(c.api.cors_allowed_origins, iot_http::DEFAULT_CORS_ORIGINS);
        assert!(c.api.admin_users.is_empty());
        assert_eq!(c.api.grafana_url, None);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.identity, IdentityKind::Header);
        assert_eq!(c.emf_dimensions, DimensionSets::default());
    }

    #[test]
    fn flags_parse() {
        let c = Config::from_args_without_env([
            "app-lambda",
            "--dynamodb-endpoint",
            "http://127.0.0.1:4566",
            "--create-tables",
            "--runs-table",
            "r",
            "--identity",
            "jwt-claim",
            "--identity-claim",
            "username",
            "--emf-dimensions",
            "SensorId,Type;User",
            "--admin-users",
            "root,admin",
            "--log-format",
            "pretty",
        ])
        .unwrap();
        assert!(c.create_tables);
        assert_eq!(
            c.dynamo().endpoint.as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(c.runs_table, "r");
        assert_eq!(c.identity, IdentityKind::JwtClaim);
        assert_eq!(c.identity_claim, "username");
        assert_eq!(c.emf_dimensions.to_string(), "SensorId,Type;User");
        assert_eq!(c.api.admin_users, ["root", "admin"]);
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert!(
            Config::from_args_without_env(["app-lambda", "--emf-dimensions", "Colour"]).is_err()
        );
        assert!(
            !Config::from_args_without_env(["app-lambda", "--create-tables", "false"])
                .unwrap()
                .create_tables
        );
    }

    #[test]
    fn help_lists_every_variable() {
        let help = <Config as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for var in [
            "DYNAMODB_ENDPOINT",
            "RUNS_TABLE",
            "READINGS_TABLE",
            "CREATE_TABLES",
            "MAX_CONCURRENT_RUNS",
            "MAX_RUNS_PER_USER",
            "RUN_TIMEOUT_GRACE_SECS",
            "CORS_ALLOWED_ORIGINS",
            "ADMIN_USERS",
            "GRAFANA_URL",
            "LOG_FORMAT",
            "IDENTITY_SOURCE",
            "IDENTITY_CLAIM",
            "EMF_DIMENSIONS",
        ] {
            assert!(
                help.contains(&format!("env: {var}")),
                "{var} missing:\n{help}"
            );
        }
    }
}
