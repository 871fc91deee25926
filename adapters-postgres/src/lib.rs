//! The PostgreSQL adapter of iot-playground: [`PgStore`] implements the storage ports
//! [`RunStore`](iot_core::ports::RunStore) and [`ReadingStore`](iot_core::ports::ReadingStore)
//! with sqlx and embedded migrations, [`GroupCommit`] stores concurrent single readings in one
//! statement, and [`metrics::PrometheusMetrics`] implements the metrics port for Prometheus.
//!
//! The crate's `README.md` describes the design, under "Schema", "Indexes", "Atomic capacity",
//! "Single readings: one statement, grouped", "Backpressure", "TLS" and "Failures", and how to
//! run the tests ("Tests").

mod error;
mod gate;
mod group;
mod ingest;
mod readings;
mod rows;
mod runs;
mod store;

pub use group::{
    DEFAULT_GROUP_QUEUE, DEFAULT_GROUPS_IN_FLIGHT, DEFAULT_MAX_GROUP, DEFAULT_MAX_WAIT_US,
    GroupCommit, GroupOptions,
};
pub use store::{
    DEFAULT_MAX_WAITING, DEFAULT_QUEUE_TIMEOUT, DEFAULT_QUEUE_TIMEOUT_MS,
    DEFAULT_STATEMENT_TIMEOUT_MS, IDLE_BEFORE_PING, MIGRATOR, PgOptions, PgStore,
};
pub mod metrics;
