//! CloudWatch Embedded Metric Format in tests: a [`SharedBuffer`] to capture the lines a writer
//! emits, and [`validate_document`], which checks a line against the rules of the
//! [EMF specification].
//!
//! [EMF specification]: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

/// Values one metric may hold in one document.
const MAX_VALUES_PER_METRIC: usize = 100;
/// Keys in one dimension set.
const MAX_DIMENSIONS_PER_SET: usize = 30;
/// Metric definitions in one directive.
const MAX_METRICS_PER_DIRECTIVE: usize = 100;

/// A writer whose bytes can be read back: where tests point an EMF writer.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written so far, as lines.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The lines written so far as JSON documents, each checked by [`validate_document`],
    /// emptying the buffer.
    ///
    /// # Panics
    /// A line is not JSON, or breaks a rule of the specification.
    pub fn take_documents(&self) -> Vec<Value> {
        self.take_lines()
            .iter()
            .map(|line| {
                let document: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("EMF line is not JSON ({e}): {line}"));
                validate_document(&document).unwrap_or_else(|e| panic!("{e}: {line}"));
                document
            })
            .collect()
    }

    /// The lines written so far, emptying the buffer.
    pub fn take_lines(&self) -> Vec<String> {
        let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        bytes.clear();
        text.lines().map(str::to_string).collect()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// CloudWatch units an EMF `MetricDefinition` may name.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one parsed line against the rules of the EMF specification: an object with an `_aws`
/// metadata object (integer millisecond `Timestamp`, non-empty `CloudWatchMetrics`); each
/// directive with a `Namespace`, `Dimensions` (sets of ≤ 30 keys, each a string root member)
/// and ≤ 100 `Metrics` (a `Name` that is a root member holding a number or an array of ≤ 100
/// numbers, a valid `Unit`); no other members in those objects. Used by the tests of every
/// crate that writes EMF.
///
/// # Errors
/// The first rule the document breaks.
pub fn validate_document(document: &Value) -> Result<(), String> {
    let root = document
        .as_object()
        .ok_or("the document is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws metadata object")?;
    for key in aws.keys() {
        if !["Timestamp", "CloudWatchMetrics", "LogGroupName"].contains(&key.as_str()) {
            return Err(format!("_aws has an unknown member {key}"));
        }
    }
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err("_aws.Timestamp is not an integer number of milliseconds".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    if directives.is_empty() {
        return Err("_aws.CloudWatchMetrics is empty".into());
    }
    for directive in directives {
        let directive = directive
            .as_object()
            .ok_or("a directive is not an object")?;
        for key in directive.keys() {
            if !["Namespace", "Dimensions", "Metrics"].contains(&key.as_str()) {
                return Err(format!("a directive has an unknown member {key}"));
            }
        }
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("a directive has no Namespace string")?;
        if namespace.is_empty() || namespace.chars().count() > 255 {
            return Err(format!("Namespace {namespace:?} is not 1..=255 characters"));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("a directive has no Dimensions array")?;
        let mut dimension_keys = Vec::new();
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > MAX_DIMENSIONS_PER_SET {
                return Err(format!("a dimension set has {} keys (> 30)", set.len()));
            }
            for key in set {
                let key = key.as_str().ok_or("a dimension key is not a string")?;
                let value = root
                    .get(key)
                    .ok_or_else(|| format!("dimension {key} is not a root member"))?
                    .as_str()
                    .ok_or_else(|| format!("dimension {key} is not a string"))?;
                if value.trim().is_empty() || value.chars().count() > 1024 {
                    return Err(format!("dimension {key} value {value:?} is invalid"));
                }
                dimension_keys.push(key);
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("a directive has no Metrics array")?;
        if metrics.len() > MAX_METRICS_PER_DIRECTIVE {
            return Err(format!("a directive has {} metrics (> 100)", metrics.len()));
        }
        for metric in metrics {
            let metric = metric.as_object().ok_or("a metric is not an object")?;
            for key in metric.keys() {
                if !["Name", "Unit", "StorageResolution"].contains(&key.as_str()) {
                    return Err(format!("a metric definition has an unknown member {key}"));
                }
            }
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric has no Name string")?;
            if name.is_empty() || name.chars().count() > 1024 {
                return Err(format!("metric name {name:?} is not 1..=1024 characters"));
            }
            if dimension_keys.contains(&name) {
                return Err(format!("{name} is both a metric and a dimension"));
            }
            if let Some(unit) = metric.get("Unit") {
                let unit = unit.as_str().ok_or("a Unit is not a string")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("unit {unit:?} is not a CloudWatch unit"));
                }
            }
            let resolution = metric.get("StorageResolution").map(Value::as_u64);
            if resolution.is_some_and(|r| r != Some(1) && r != Some(60)) {
                return Err("StorageResolution is neither 1 nor 60".into());
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) => {
                    if values.is_empty() || values.len() > MAX_VALUES_PER_METRIC {
                        return Err(format!("{name} holds {} values (1..=100)", values.len()));
                    }
                    if !values.iter().all(Value::is_number) {
                        return Err(format!("{name} holds a value that is not a number"));
                    }
                }
                Some(_) => return Err(format!("{name} is neither a number nor an array")),
                None => return Err(format!("metric {name} is not a root member")),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn the_validator_catches_broken_documents() {
        let good = json!({
            "_aws": { "Timestamp": 1, "CloudWatchMetrics": [{ "Namespace": "N", "Dimensions": [["A"]], "Metrics": [{ "Name": "M", "Unit": "Count" }] }] },
            "A": "a", "M": [1, 2.5]
        });
        validate_document(&good).unwrap();
        let broken = |edit: fn(&mut Value)| {
            let mut doc = good.clone();
            edit(&mut doc);
            validate_document(&doc).unwrap_err()
        };
        broken(|d| d["_aws"]["Timestamp"] = json!(1.5));
        broken(|d| d["_aws"]["Timestamp"] = json!("1"));
        broken(|d| {
            d.as_object_mut().unwrap().remove("A");
        });
        broken(|d| {
            d.as_object_mut().unwrap().remove("M");
        });
        broken(|d| d["A"] = json!(3));
        broken(|d| d["M"] = json!("1"));
        broken(|d| d["M"] = json!((0..101).collect::<Vec<_>>()));
        broken(|d| d["M"] = json!([1, "x"]));
        broken(|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Furlongs"));
        broken(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] =
                json!([(0..31).map(|i| format!("D{i}")).collect::<Vec<_>>()]);
        });
        broken(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(
                (0..101)
                    .map(|i| json!({ "Name": format!("M{i}") }))
                    .collect::<Vec<_>>()
            );
        });
        broken(|d| d["_aws"]["CloudWatchMetrics"] = json!([]));
    }

    #[test]
    fn the_buffer_hands_back_lines_once_when_taken() {
        let mut buffer = SharedBuffer::default();
        buffer.write_all(b"one\ntwo\n").unwrap();
        assert_eq!(buffer.clone().lines(), ["one", "two"]);
        assert_eq!(buffer.take_lines(), ["one", "two"]);
        assert!(buffer.lines().is_empty());
    }
}
