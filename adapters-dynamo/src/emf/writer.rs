//! [`EmfMetrics`]: the `Metrics` port as EMF lines, grouped per combination of dimension values.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iot_core::model::{Run, SensorReading};
use iot_core::ports::Metrics;
use serde_json::{Map, Value, json};

use super::{DimensionSets, MAX_VALUES_PER_METRIC, NAMESPACE};

/// The [`Metrics`] port as CloudWatch EMF lines (see the [module documentation](crate::emf)).
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
    use crate::emf::DEFAULT_DIMENSIONS;

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
