//! Business metrics as CloudWatch [Embedded Metric Format] (EMF) lines.
//!
//! [`EmfMetrics`] implements [`Metrics`](iot_core::ports::Metrics): it writes JSON documents, one per line, to a writer
//! (stdout in Lambda, where CloudWatch Logs extracts the metrics; a capture buffer in tests).
//! Nothing calls the CloudWatch API: no `PutMetricData`, no network, no waiting on AWS.
//!
//! | metric | unit | dimensions | when |
//! |---|---|---|---|
//! | `SensorReading` | `None` | the configured sets (default `SensorId, User, RunId, Type`) | readings newly stored by a request: the values |
//! | `DataIngested` | `Count` | same | readings newly stored by a request: how many |
//! | `ColdStart` | `Count` | `FunctionName` | once, on the first request of the process ([`EmfMetrics::cold_start`]) |
//! | `RunsStarted` | `Count` | `FunctionName` | a run started |
//! | `RunsFinished` | `Count` | `FunctionName, Status` | a run reached a terminal state |
//!
//! A request that stores a batch writes **one document per combination of dimension values**
//! (e.g. per sensor and type of the batch), each holding the values of that combination as an
//! array (`"SensorReading": [20.5, 21.0]`, `"DataIngested": 2`), so a 1000-reading batch of one
//! sensor and type is one line, not 1000. EMF allows at most 100 values per metric in a document;
//! larger groups are split into documents of 100 values. Store-call timings are not exported (they
//! would add a line per storage call; Lambda reports duration itself).
//!
//! Cost note: every distinct combination of dimension values is a separate CloudWatch metric.
//! `RunId` in a dimension set creates metrics per run; drop it with `EMF_DIMENSIONS` (e.g.
//! `SensorId,Type;User`) on a busy deployment.
//!
//! ```
//! use adapters_dynamo::emf::{DimensionSets, EmfMetrics};
//! use test_support::emf::SharedBuffer;
//!
//! let buffer = SharedBuffer::default();
//! let metrics = EmfMetrics::new(
//!     "SensorId,User,RunId,Type;Type".parse::<DimensionSets>().unwrap(),
//!     Box::new(buffer.clone()),
//! );
//! metrics.cold_start();
//! metrics.cold_start(); // only the first call writes
//! assert_eq!(buffer.lines().len(), 1);
//! ```
//!
//! [Embedded Metric Format]: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

mod dimensions;
mod writer;

pub use dimensions::{Dimension, DimensionSets, DimensionsError};
pub use writer::EmfMetrics;

/// The CloudWatch namespace of every metric (see the README's Metrics section).
pub const NAMESPACE: &str = "IoTPlayground/Sensors";
/// Most values of one metric in one document (EMF rule).
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// Most dimension keys in one dimension set (EMF rule).
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
/// The default of `EMF_DIMENSIONS`.
pub const DEFAULT_DIMENSIONS: &str = "SensorId,User,RunId,Type";
