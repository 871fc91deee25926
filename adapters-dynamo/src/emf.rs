//! Business metrics as CloudWatch [Embedded Metric Format] (EMF) lines.
//!
//! [`EmfMetrics`] implements [`Metrics`]: it writes JSON documents, one per line, to a writer
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

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iot_core::model::{Run, SensorReading};
use iot_core::ports::Metrics;
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric (see the README's Metrics section).
pub const NAMESPACE: &str = "IoTPlayground/Sensors";
/// Most values of one metric in one document (EMF rule).
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// Most dimension keys in one dimension set (EMF rule).
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
/// Most metric definitions in one directive (EMF rule).
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
/// The default of `EMF_DIMENSIONS`.
pub const DEFAULT_DIMENSIONS: &str = "SensorId,User,RunId,Type";

/// A dimension a reading metric can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// The sensor id.
    SensorId,
    /// The run's owner.
    User,
    /// The run id.
    RunId,
    /// The reading type (`temperature`, `humidity`, `pressure`).
    Type,
}

impl Dimension {
    /// Every dimension, in key order.
    pub const ALL: [Self; 4] = [Self::SensorId, Self::User, Self::RunId, Self::Type];

    /// The dimension key as written in EMF documents.
    pub fn name(self) -> &'static str {
        match self {
            Self::SensorId => "SensorId",
            Self::User => "User",
            Self::RunId => "RunId",
            Self::Type => "Type",
        }
    }

    fn value_of(self, reading: &SensorReading) -> String {
        match self {
            Self::SensorId => reading.sensor_id.as_str().to_string(),
            Self::User => reading.user.as_str().to_string(),
            Self::RunId => reading.run_id.as_uuid().to_string(),
            Self::Type => reading.kind.as_str().to_string(),
        }
    }
}

/// A malformed dimension configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionsError(String);

impl fmt::Display for DimensionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DimensionsError {}

/// The dimension sets of the reading metrics, e.g. `SensorId,User,RunId,Type;Type`: sets are
/// separated by `;`, keys within a set by `,` (blanks ignored). Keys: `SensorId`, `User`,
/// `RunId`, `Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionSets(Vec<Vec<Dimension>>);

impl DimensionSets {
    /// The sets, in configuration order.
    pub fn sets(&self) -> &[Vec<Dimension>] {
        &self.0
    }

    /// Every key used by some set, each once, in key order: the root members a document needs.
    pub fn keys(&self) -> Vec<Dimension> {
        let mut keys: Vec<Dimension> = self.0.iter().flatten().copied().collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

impl Default for DimensionSets {
    fn default() -> Self {
        Self(vec![Dimension::ALL.to_vec()])
    }
}

impl FromStr for DimensionSets {
    type Err = DimensionsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut sets = Vec::new();
        for raw_set in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut set = Vec::new();
            for key in raw_set.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                let dimension = Dimension::ALL
                    .into_iter()
                    .find(|d| d.name().eq_ignore_ascii_case(key))
                    .ok_or_else(|| {
                        DimensionsError(format!(
                            "unknown EMF dimension {key:?}: use SensorId, User, RunId or Type"
                        ))
                    })?;
                if set.contains(&dimension) {
                    return Err(DimensionsError(format!(
                        "EMF dimension {key:?} is repeated in the set {raw_set:?}"
                    )));
                }
                set.push(dimension);
            }
            if set.len() > MAX_DIMENSIONS_PER_SET {
                return Err(DimensionsError(format!(
                    "an EMF dimension set holds at most {MAX_DIMENSIONS_PER_SET} keys"
                )));
            }
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
        if sets.is_empty() {
            return Err(DimensionsError(
                "no EMF dimension set: give e.g. \"SensorId,User,RunId,Type\"".into(),
            ));
        }
        Ok(Self(sets))
    }
}

impl fmt::Display for DimensionSets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self
            .0
            .iter()
            .map(|set| set.iter().map(|d| d.name()).collect::<Vec<_>>().join(","))
            .collect();
        f.write_str(&text.join(";"))
    }
}

/// The [`Metrics`] port as CloudWatch EMF lines (see the [module documentation](self)).
pub struct EmfMetrics {
    namespace: String,
    dimensions: DimensionSets,
    function_name: String,
    out: Mutex<Box<dyn Write + Send>>,
    cold: AtomicBool,
}

impl fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmfMetrics")
            .field("namespace", &self.namespace)
            .field("dimensions", &self.dimensions.to_string())
            .field("function_name", &self.function_name)
            .finish_non_exhaustive()
    }
}

impl EmfMetrics {
    /// Metrics in [`NAMESPACE`] with these reading dimension sets, written to `out`. The function
    /// name (dimension of `ColdStart` and the run metrics) is `AWS_LAMBDA_FUNCTION_NAME`, else
    /// `app-lambda`.
    pub fn new(dimensions: DimensionSets, out: Box<dyn Write + Send>) -> Self {
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "app-lambda".to_string());
        Self {
            namespace: NAMESPACE.to_string(),
            dimensions,
            function_name,
            out: Mutex::new(out),
            cold: AtomicBool::new(true),
        }
    }

    /// Lines on standard output (what Lambda forwards to CloudWatch Logs).
    pub fn stdout(dimensions: DimensionSets) -> Self {
        Self::new(dimensions, Box::new(std::io::stdout()))
    }

    /// Another namespace (tests, forks of the dashboards).
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Another value of the `FunctionName` dimension.
    #[must_use]
    pub fn with_function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// The reading dimension sets in force.
    pub fn dimensions(&self) -> &DimensionSets {
        &self.dimensions
    }

    /// Writes `ColdStart = 1` the first time it is called on this instance (one instance per
    /// process: call it at the start of every invocation); returns whether it wrote.
    pub fn cold_start(&self) -> bool {
        if !self.cold.swap(false, Ordering::AcqRel) {
            return false;
        }
        let document = self.document(
            &[vec!["FunctionName"]],
            &[("ColdStart", "Count", json!(1))],
            [("FunctionName".to_string(), self.function_name.clone())],
        );
        self.write(&[document]);
        true
    }

    fn document(
        &self,
        dimension_sets: &[Vec<&str>],
        metrics: &[(&str, &str, Value)],
        members: impl IntoIterator<Item = (String, String)>,
    ) -> Value {
        let mut root = Map::new();
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
            .collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": now_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": definitions,
                }],
            }),
        );
        for (key, value) in members {
            root.insert(key, Value::String(value));
        }
        for (name, _, value) in metrics {
            root.insert((*name).to_string(), value.clone());
        }
        Value::Object(root)
    }

    /// Writes the documents, one per line, in one `write_all`, so lines of concurrent requests
    /// never interleave.
    fn write(&self, documents: &[Value]) {
        let mut text = String::new();
        for document in documents {
            text.push_str(&document.to_string());
            text.push('\n');
        }
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "could not write EMF metrics");
        }
    }

    /// The documents for one request's readings: one per combination of dimension values (and
    /// per 100 values).
    pub fn reading_documents(&self, readings: &[SensorReading]) -> Vec<Value> {
        let keys = self.dimensions.keys();
        let mut groups: BTreeMap<Vec<String>, Vec<f64>> = BTreeMap::new();
        for reading in readings {
            let values: Vec<String> = keys.iter().map(|k| k.value_of(reading)).collect();
            groups.entry(values).or_default().push(reading.value);
        }
        let sets: Vec<Vec<&str>> = self
            .dimensions
            .sets()
            .iter()
            .map(|set| set.iter().map(|d| d.name()).collect())
            .collect();
        let mut documents = Vec::new();
        for (dimension_values, values) in groups {
            for chunk in values.chunks(MAX_VALUES_PER_METRIC) {
                let reading_value = match chunk {
                    [single] => json!(single),
                    many => json!(many),
                };
                let members = keys
                    .iter()
                    .map(|k| k.name().to_string())
                    .zip(dimension_values.iter().cloned());
                documents.push(self.document(
                    &sets,
                    &[
                        ("SensorReading", "None", reading_value),
                        ("DataIngested", "Count", json!(chunk.len())),
                    ],
                    members,
                ));
            }
        }
        documents
    }
}

impl Metrics for EmfMetrics {
    fn readings_ingested(&self, readings: &[SensorReading]) {
        if readings.is_empty() {
            return;
        }
        let documents = self.reading_documents(readings);
        self.write(&documents);
    }

    fn run_started(&self, _run: &Run) {
        let document = self.document(
            &[vec!["FunctionName"]],
            &[("RunsStarted", "Count", json!(1))],
            [("FunctionName".to_string(), self.function_name.clone())],
        );
        self.write(&[document]);
    }

    fn run_finished(&self, run: &Run) {
        let document = self.document(
            &[vec!["FunctionName", "Status"]],
            &[("RunsFinished", "Count", json!(1))],
            [
                ("FunctionName".to_string(), self.function_name.clone()),
                ("Status".to_string(), run.status.as_str().to_string()),
            ],
        );
        self.write(&[document]);
    }

    fn store_call(&self, _operation: &'static str, _elapsed: Duration, _ok: bool) {}
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use iot_core::Username;
    use iot_core::model::{ReadingType, RunId, RunStatus, SensorId, Timestamp};

    use test_support::emf::SharedBuffer;

    use super::*;

    fn reading(sensor: &str, kind: ReadingType, value: f64, micros: i64) -> SensorReading {
        SensorReading {
            run_id: RunId::from_uuid(uuid::Uuid::nil()),
            sensor_id: SensorId::parse(sensor).unwrap(),
            kind,
            value,
            timestamp: Timestamp::from_unix_micros(1_795_000_000_000_000 + micros).unwrap(),
            user: Username::parse("alice").unwrap(),
        }
    }

    fn metrics(dimensions: &str) -> (EmfMetrics, SharedBuffer) {
        let buffer = SharedBuffer::default();
        let metrics = EmfMetrics::new(dimensions.parse().unwrap(), Box::new(buffer.clone()))
            .with_function_name("test-fn");
        (metrics, buffer)
    }

    #[test]
    fn dimension_sets_parse_and_reject_nonsense() {
        let sets: DimensionSets = " SensorId, User ,RunId,Type ; type;; ".parse().unwrap();
        assert_eq!(
            sets.sets(),
            &[Dimension::ALL.to_vec(), vec![Dimension::Type]]
        );
        assert_eq!(sets.to_string(), "SensorId,User,RunId,Type;Type");
        assert_eq!(sets.keys(), Dimension::ALL.to_vec());
        assert_eq!(
            DimensionSets::default(),
            DEFAULT_DIMENSIONS.parse().unwrap()
        );
        for bad in ["", " ; ", "SensorId,Colour", "Type,Type"] {
            assert!(bad.parse::<DimensionSets>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_batch_is_one_line_per_dimension_combination_with_arrays() {
        let (metrics, buffer) = metrics(DEFAULT_DIMENSIONS);
        let batch = vec![
            reading("s1", ReadingType::Temperature, 20.5, 0),
            reading("s1", ReadingType::Temperature, 21.5, 1),
            reading("s1", ReadingType::Humidity, 40.0, 0),
            reading("s2", ReadingType::Temperature, 19.0, 0),
        ];
        metrics.readings_ingested(&batch);
        let docs = buffer.take_documents();
        assert_eq!(docs.len(), 3, "{docs:?}");
        let s1_temperature = docs
            .iter()
            .find(|d| d["SensorId"] == "s1" && d["Type"] == "temperature")
            .unwrap();
        assert_eq!(s1_temperature["SensorReading"], json!([20.5, 21.5]));
        assert_eq!(s1_temperature["DataIngested"], json!(2));
        assert_eq!(s1_temperature["User"], json!("alice"));
        assert_eq!(
            s1_temperature["RunId"],
            json!(uuid::Uuid::nil().to_string())
        );
        let directive = &s1_temperature["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], json!(NAMESPACE));
        assert_eq!(
            directive["Dimensions"],
            json!([["SensorId", "User", "RunId", "Type"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "SensorReading", "Unit": "None" }, { "Name": "DataIngested", "Unit": "Count" }])
        );
        let single = docs.iter().find(|d| d["SensorId"] == "s2").unwrap();
        assert_eq!(single["SensorReading"], json!(19.0));
        let total: u64 = docs
            .iter()
            .map(|d| d["DataIngested"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn the_timestamp_is_now_in_integer_milliseconds() {
        let (metrics, buffer) = metrics(DEFAULT_DIMENSIONS);
        let before = now_millis();
        metrics.readings_ingested(&[reading("s1", ReadingType::Pressure, 1013.0, 0)]);
        let after = now_millis();
        let docs = buffer.take_documents();
        let at = docs[0]["_aws"]["Timestamp"].as_u64().unwrap();
        assert!(
            (before..=after).contains(&at),
            "{before} <= {at} <= {after}"
        );
    }

    #[test]
    fn large_groups_split_into_documents_of_100_values() {
        let (metrics, buffer) = metrics(DEFAULT_DIMENSIONS);
        let batch: Vec<SensorReading> = (0..250)
            .map(|i| reading("s1", ReadingType::Temperature, f64::from(i), i64::from(i)))
            .collect();
        metrics.readings_ingested(&batch);
        let docs = buffer.take_documents();
        let sizes: Vec<usize> = docs
            .iter()
            .map(|d| d["SensorReading"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let counts: Vec<u64> = docs
            .iter()
            .map(|d| d["DataIngested"].as_u64().unwrap())
            .collect();
        assert_eq!(counts, vec![100, 100, 50]);
    }

    #[test]
    fn several_dimension_sets_share_one_document_per_combination() {
        let (metrics, buffer) = metrics("SensorId,Type;User");
        metrics.readings_ingested(&[
            reading("s1", ReadingType::Temperature, 1.0, 0),
            reading("s1", ReadingType::Temperature, 2.0, 1),
        ]);
        let docs = buffer.take_documents();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["SensorId", "Type"], ["User"]])
        );
        assert!(docs[0].get("RunId").is_none(), "only the keys the sets use");
    }

    #[test]
    fn cold_start_is_written_once() {
        let (metrics, buffer) = metrics(DEFAULT_DIMENSIONS);
        assert!(metrics.cold_start());
        assert!(!metrics.cold_start());
        let docs = buffer.take_documents();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["ColdStart"], json!(1));
        assert_eq!(docs[0]["FunctionName"], json!("test-fn"));
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{ "Name": "ColdStart", "Unit": "Count" }])
        );
    }

    #[test]
    fn runs_started_and_finished_are_counted() {
        let (metrics, buffer) = metrics(DEFAULT_DIMENSIONS);
        let now = Timestamp::from_unix_micros(1_795_000_000_000_000).unwrap();
        let mut run = Run {
            id: RunId::from_uuid(uuid::Uuid::nil()),
            username: Username::parse("alice").unwrap(),
            status: RunStatus::Running,
            started_at: now,
            finished_at: None,
            deadline: now,
            duration_secs: 1,
            interval_secs: 1.0,
            sensor_ids: vec![SensorId::parse("s1").unwrap()],
            error_message: None,
            grafana_url: None,
        };
        metrics.run_started(&run);
        run.status = RunStatus::Timeout;
        metrics.run_finished(&run);
        metrics.store_call("get_run", Duration::from_millis(3), true);
        let docs = buffer.take_documents();
        assert_eq!(docs.len(), 2, "store calls write nothing");
        assert_eq!(docs[0]["RunsStarted"], json!(1));
        assert_eq!(
            (docs[1]["RunsFinished"].clone(), docs[1]["Status"].clone()),
            (json!(1), json!("TIMEOUT"))
        );
    }

    #[test]
    fn nothing_is_written_for_an_empty_request() {
        let (metrics, buffer) = metrics(DEFAULT_DIMENSIONS);
        metrics.readings_ingested(&[]);
        assert!(buffer.lines().is_empty());
    }
}
