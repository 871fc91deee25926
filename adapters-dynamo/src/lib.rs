//! The DynamoDB adapter of iot-playground: [`DynamoStore`] implements the storage ports
//! [`RunStore`](iot_core::ports::RunStore) and [`ReadingStore`](iot_core::ports::ReadingStore)
//! on two tables with no `Scan` anywhere, and [`emf::EmfMetrics`] implements the metrics port as
//! CloudWatch Embedded Metric Format lines.
//!
//! The crate's `README.md` describes the design, under "Runs table", "Readings table", "Access
//! patterns", "Throughput limits and hot partitions", "Capacity protocol", "Write-once readings",
//! "Summaries: rollups kept exact by folds", "Single readings: two requests, not a transaction"
//! and "Errors", and how to run the tests ("Tests").

mod batch;
mod codec;
mod consumed;
mod error;
mod http_client;
mod item;
mod query;
mod readings;
mod retention;
mod rollup;
mod runs;
mod tables;
mod write_once;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;

/// Where and how to reach DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoConfig {
    /// Endpoint override (`DYNAMODB_ENDPOINT`, e.g. an emulator); `None` → AWS.
    pub endpoint: Option<String>,
    /// Region; `None` → the SDK's environment/profile chain.
    pub region: Option<String>,
    /// Name of the runs table.
    pub runs_table: String,
    /// Name of the readings table.
    pub readings_table: String,
    /// Longest time one SDK call may take, retries included.
    pub operation_timeout: Duration,
    /// Longest time one attempt of an SDK call may take.
    pub attempt_timeout: Duration,
    /// How long runs and readings are kept after a run's deadline (`RETENTION_DAYS`); `None`
    /// keeps them forever. Written items carry their expiry for DynamoDB's time to live.
    pub retention: Option<Duration>,
}

impl DynamoConfig {
    /// Default name of the runs table.
    pub const DEFAULT_RUNS_TABLE: &'static str = "iot-playground-runs";
    /// Default name of the readings table.
    pub const DEFAULT_READINGS_TABLE: &'static str = "iot-playground-readings";
}

impl Default for DynamoConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            runs_table: Self::DEFAULT_RUNS_TABLE.into(),
            readings_table: Self::DEFAULT_READINGS_TABLE.into(),
            operation_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(2),
            retention: None,
        }
    }
}

/// Runs and readings in DynamoDB (the crate's README describes the key design).
///
/// ```no_run
/// # async fn demo() -> Result<(), iot_core::StoreError> {
/// use adapters_dynamo::{DynamoConfig, DynamoStore};
/// let config = DynamoConfig {
///     endpoint: Some("http://127.0.0.1:4566".into()), // an emulator; `None` → AWS
///     ..DynamoConfig::default()
/// };
/// let store = DynamoStore::connect(&config).await;
/// store.create_tables().await?; // local and test runs only; production tables come from Terraform
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    runs_table: String,
    readings_table: String,
    retention: Option<Duration>,
    /// A single reading folds its (sensor, type) into the rollup one time in this many.
    fold_period: u32,
}

impl DynamoStore {
    /// A client from the SDK's default chain (credentials, region), with `config`'s endpoint,
    /// region, explicit operation/attempt timeouts and the standard retry policy.
    pub async fn connect(config: &DynamoConfig) -> Self {
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(config.operation_timeout)
            .operation_attempt_timeout(config.attempt_timeout)
            .connect_timeout(config.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .http_client(http_client::http_client(config.endpoint.as_deref()));
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint.as_str());
        }
        let sdk_config = loader.load().await;
        Self::new(Client::new(&sdk_config), config)
    }

    /// A store on an existing client (its timeouts and endpoint are the caller's); only the table
    /// names of `config` are used.
    pub fn new(client: Client, config: &DynamoConfig) -> Self {
        Self {
            client,
            runs_table: config.runs_table.clone(),
            readings_table: config.readings_table.clone(),
            retention: config.retention,
            fold_period: rollup::DEFAULT_FOLD_PERIOD,
        }
    }

    /// The SDK client (for metrics or administration by the embedding binary).
    pub fn client(&self) -> &Client {
        &self.client
    }
}
pub mod emf;
pub use retention::{EXPIRES_AT, READING_SLACK};
