//! What to send: the target, the pacing, the simulated fleet and its schedule of requests.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

/// A backend to drive: `NAME=URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Label in the reports (`ecs`, `serverless`, …).
    pub name: String,
    /// Base URL of the API (the path before `/api/…`).
    pub url: String,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, url) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected NAME=URL"))?;
        if name.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("`{s}`: expected NAME=URL with an http(s) URL"));
        }
        Ok(Self {
            name: name.to_string(),
            url: url.trim_end_matches('/').to_string(),
        })
    }
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Pace {
    /// `concurrency` senders, each sending its next request when the previous one is answered.
    Closed {
        /// Senders.
        concurrency: usize,
    },
    /// Requests started at a fixed rate whatever the answers; latency counts from the instant a
    /// request was due (corrected for coordinated omission).
    Open {
        /// Requests per second.
        rate: f64,
    },
}

/// The same simulated fleet for every target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// Sensors of the run.
    pub sensors: u32,
    /// Readings per sensor.
    pub readings: u32,
    /// Milliseconds between two readings of one sensor (their timestamps).
    pub interval_ms: u64,
    /// Readings per request (`None`: one `POST /api/sensors/data` per reading).
    pub batch: Option<u32>,
    /// Pacing.
    pub pace: Pace,
    /// `X-User` of the runs.
    pub user: String,
}

impl Workload {
    /// Requests the workload sends.
    pub fn requests(&self) -> usize {
        let readings = self.sensors as usize * self.readings as usize;
        match self.batch {
            Some(size) => readings.div_ceil(size.max(1) as usize),
            None => readings,
        }
    }

    pub(super) fn sensor_ids(&self) -> Vec<String> {
        (1..=self.sensors).map(|s| format!("sensor-{s}")).collect()
    }

    /// Every request's readings, each with a client timestamp so that a retry is a replay.
    pub(super) fn operations(&self, base: time::OffsetDateTime) -> Vec<Vec<Value>> {
        let ids = self.sensor_ids();
        let mut readings = Vec::with_capacity(ids.len() * self.readings as usize);
        for i in 0..self.readings {
            let at = base + Duration::from_millis(u64::from(i) * self.interval_ms);
            let timestamp = format_timestamp(at);
            for (s, id) in ids.iter().enumerate() {
                let value = 18.0 + f64::from((i + s as u32 * 7) % 80) / 10.0;
                readings.push(json!({
                    "sensorId": id, "type": "temperature", "reading": value, "timestamp": timestamp,
                }));
            }
        }
        let size = self.batch.map_or(1, |b| b.max(1) as usize);
        readings.chunks(size).map(<[Value]>::to_vec).collect()
    }
}

fn format_timestamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn workload(batch: Option<u32>) -> Workload {
        Workload {
            sensors: 3,
            readings: 5,
            interval_ms: 200,
            batch,
            pace: Pace::Closed { concurrency: 2 },
            user: "sim".into(),
        }
    }

    #[test]
    fn targets_are_name_equals_url() {
        let t: Target = "ecs=http://127.0.0.1:8080/".parse().unwrap();
        assert_eq!(
            (t.name.as_str(), t.url.as_str()),
            ("ecs", "http://127.0.0.1:8080")
        );
        assert!("ecs".parse::<Target>().is_err());
        assert!("ecs=ftp://x".parse::<Target>().is_err());
    }

    #[test]
    fn every_reading_has_a_distinct_key_and_batches_hold_them_all() {
        let base = time::macros::datetime!(2026-11-30 10:00:00 UTC);
        let single = workload(None).operations(base);
        assert_eq!(single.len(), 15);
        let keys: std::collections::HashSet<String> = single
            .iter()
            .map(|op| format!("{}{}", op[0]["sensorId"], op[0]["timestamp"]))
            .collect();
        assert_eq!(keys.len(), 15);
        assert_eq!(single[3][0]["timestamp"], "2026-11-30T10:00:00.200000Z");
        let batches = workload(Some(4)).operations(base);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [4, 4, 4, 3]
        );
        assert_eq!(workload(Some(4)).requests(), 4);
    }
}
