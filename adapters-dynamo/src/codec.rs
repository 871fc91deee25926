//! Items of both tables: keys, attribute names and conversions to and from domain values.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_core::StoreError;
use iot_core::model::{
    ReadingType, Run, RunCursor, RunId, RunStatus, SensorId, SensorReading, Timestamp, Username,
};

use crate::error::corrupt;
use crate::rollup::{PEND, pend_key};

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Partition key attribute of both tables.
pub(crate) const PK: &str = "pk";
/// Sort key attribute of both tables.
pub(crate) const SK: &str = "sk";

/// Sort key of a run item.
pub(crate) const RUN_SK: &str = "RUN";
/// Partition key of the capacity item.
pub(crate) const CAPACITY_PK: &str = "CAPACITY";
/// Sort key of the capacity item.
pub(crate) const CAPACITY_SK: &str = "GLOBAL";

/// GSI listing every run newest first.
pub(crate) const BY_START: &str = "by-start";
/// GSI listing one user's runs newest first.
pub(crate) const BY_USER: &str = "by-user";
/// Partition key value of every run in [`BY_START`].
pub(crate) const ALL_RUNS: &str = "RUNS";
/// Local secondary index of the readings table: one run's readings of one sensor, in order.
pub(crate) const BY_SENSOR: &str = "by-sensor";
/// Sort key attribute of [`BY_SENSOR`].
pub(crate) const SSK: &str = "ssk";
/// Attributes of a reading that [`BY_SENSOR`] projects besides the keys: what a listing reads.
pub(crate) const BY_SENSOR_PROJECTION: [&str; 6] =
    ["runId", "sensorId", "type", "value", "timestamp", "user"];

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute: Rust's shortest round-trip decimal form of `value` (never an exponent,
/// never more digits than needed), which DynamoDB stores exactly (38 significant digits).
pub(crate) fn n_f64(value: f64) -> AttributeValue {
    AttributeValue::N(format!("{value}"))
}

pub(crate) fn n_int(value: impl Into<i64>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}

/// Key of the item of run `id`.
pub(crate) fn run_key(id: RunId) -> Item {
    HashMap::from([
        (PK.to_string(), s(format!("RUN#{id}"))),
        (SK.to_string(), s(RUN_SK)),
    ])
}

/// Key of the capacity item.
pub(crate) fn capacity_key() -> Item {
    HashMap::from([
        (PK.to_string(), s(CAPACITY_PK)),
        (SK.to_string(), s(CAPACITY_SK)),
    ])
}

/// Sort key of the newest-first indexes: `<startedAt>#<uuid>` (fixed width, sorts as text).
pub(crate) fn listing_sk(started_at: Timestamp, id: RunId) -> String {
    format!("{started_at}#{id}")
}

pub(crate) fn cursor_sk(cursor: &RunCursor) -> String {
    listing_sk(cursor.started_at, cursor.id)
}

pub(crate) fn user_pk(user: &Username) -> String {
    format!("USER#{user}")
}

/// The whole item of `run`, GSI attributes included.
pub(crate) fn run_item(run: &Run) -> Item {
    let listing = listing_sk(run.started_at, run.id);
    let mut item = run_key(run.id);
    item.extend([
        ("id".to_string(), s(run.id.to_string())),
        ("username".to_string(), s(run.username.as_str())),
        ("status".to_string(), s(run.status.as_str())),
        ("startedAt".to_string(), s(run.started_at.to_string())),
        ("deadline".to_string(), s(run.deadline.to_string())),
        ("durationSecs".to_string(), n_int(run.duration_secs)),
        ("intervalSecs".to_string(), n_f64(run.interval_secs)),
        (
            "sensorIds".to_string(),
            AttributeValue::L(run.sensor_ids.iter().map(|id| s(id.as_str())).collect()),
        ),
        ("g1pk".to_string(), s(ALL_RUNS)),
        ("g1sk".to_string(), s(listing.clone())),
        ("g2pk".to_string(), s(user_pk(&run.username))),
        ("g2sk".to_string(), s(listing)),
    ]);
    if let Some(finished_at) = run.finished_at {
        item.insert("finishedAt".into(), s(finished_at.to_string()));
    }
    if let Some(message) = &run.error_message {
        item.insert("errorMessage".into(), s(message.as_str()));
    }
    if let Some(url) = &run.grafana_url {
        item.insert("grafanaUrl".into(), s(url.as_str()));
    }
    item
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        Some(other) => Err(corrupt(what, format!("{name} is not a string: {other:?}"))),
        None => Err(corrupt(what, format!("{name} is missing"))),
    }
}

fn opt_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<Option<&'a str>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => get_s(item, name, what).map(Some),
    }
}

fn get_n<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => Ok(v),
        Some(other) => Err(corrupt(what, format!("{name} is not a number: {other:?}"))),
        None => Err(corrupt(what, format!("{name} is missing"))),
    }
}

pub(crate) fn parse_ts(text: &str, name: &str, what: &str) -> Result<Timestamp, StoreError> {
    Timestamp::parse("timestamp", text).map_err(|e| corrupt(what, format!("{name}: {e}")))
}

fn ts_attr(item: &Item, name: &str, what: &str) -> Result<Timestamp, StoreError> {
    parse_ts(get_s(item, name, what)?, name, what)
}

fn f64_attr(item: &Item, name: &str, what: &str) -> Result<f64, StoreError> {
    let text = get_n(item, name, what)?;
    text.parse::<f64>()
        .map_err(|e| corrupt(what, format!("{name} = {text}: {e}")))
}

fn run_id(text: &str, what: &str) -> Result<RunId, StoreError> {
    RunId::parse("id", text).map_err(|e| corrupt(what, format!("id: {e}")))
}

/// A run item read back.
pub(crate) fn run_from_item(item: &Item) -> Result<Run, StoreError> {
    const WHAT: &str = "run";
    let sensor_ids = match item.get("sensorIds") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(id) => SensorId::parse(id.as_str()).map_err(|e| corrupt(WHAT, e)),
                other => Err(corrupt(WHAT, format!("sensor id {other:?}"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(corrupt(WHAT, format!("sensorIds = {other:?}"))),
    };
    let duration = get_n(item, "durationSecs", WHAT)?;
    Ok(Run {
        id: run_id(get_s(item, "id", WHAT)?, WHAT)?,
        username: Username::parse(get_s(item, "username", WHAT)?).map_err(|e| corrupt(WHAT, e))?,
        status: get_s(item, "status", WHAT)?
            .parse::<RunStatus>()
            .map_err(|e| corrupt(WHAT, e))?,
        started_at: ts_attr(item, "startedAt", WHAT)?,
        finished_at: opt_s(item, "finishedAt", WHAT)?
            .map(|t| parse_ts(t, "finishedAt", WHAT))
            .transpose()?,
        deadline: ts_attr(item, "deadline", WHAT)?,
        duration_secs: duration
            .parse::<u32>()
            .map_err(|e| corrupt(WHAT, format!("durationSecs = {duration}: {e}")))?,
        interval_secs: f64_attr(item, "intervalSecs", WHAT)?,
        sensor_ids,
        error_message: opt_s(item, "errorMessage", WHAT)?.map(str::to_string),
        grafana_url: opt_s(item, "grafanaUrl", WHAT)?.map(str::to_string),
    })
}

/// Sort key of a reading: `<timestamp>#<sensorId>#<type>`.
///
/// The timestamp is fixed-width and `#` sorts below every character a sensor id may hold, so the
/// text order is the listing order (timestamp, sensor id, type).
pub(crate) fn reading_sk(timestamp: Timestamp, sensor: &SensorId, kind: ReadingType) -> String {
    format!("{timestamp}#{sensor}#{kind}")
}

/// Sort key of a reading in the `by-sensor` local index: `<sensorId>#<timestamp>#<type>`.
///
/// Within one sensor, its text order is the listing order (timestamp, then type).
pub(crate) fn reading_ssk(sensor: &SensorId, timestamp: Timestamp, kind: ReadingType) -> String {
    format!("{sensor}#{timestamp}#{kind}")
}

pub(crate) fn reading_key(reading: &SensorReading) -> Item {
    HashMap::from([
        (PK.to_string(), s(reading.run_id.to_string())),
        (
            SK.to_string(),
            s(reading_sk(
                reading.timestamp,
                &reading.sensor_id,
                reading.kind,
            )),
        ),
    ])
}

/// The item of `reading`, written pending (see the `rollup` module).
pub(crate) fn reading_item(reading: &SensorReading) -> Item {
    let mut item = reading_key(reading);
    let timestamp = reading.timestamp.to_string();
    item.extend([
        (
            PEND.to_string(),
            s(pend_key(
                reading.sensor_id.as_str(),
                reading.kind.as_str(),
                &timestamp,
            )),
        ),
        ("runId".to_string(), s(reading.run_id.to_string())),
        ("sensorId".to_string(), s(reading.sensor_id.as_str())),
        ("type".to_string(), s(reading.kind.as_str())),
        ("value".to_string(), n_f64(reading.value)),
        ("timestamp".to_string(), s(timestamp)),
        ("user".to_string(), s(reading.user.as_str())),
        (
            SSK.to_string(),
            s(reading_ssk(
                &reading.sensor_id,
                reading.timestamp,
                reading.kind,
            )),
        ),
    ]);
    item
}

pub(crate) fn reading_from_item(item: &Item) -> Result<SensorReading, StoreError> {
    const WHAT: &str = "reading";
    Ok(SensorReading {
        run_id: run_id(get_s(item, "runId", WHAT)?, WHAT)?,
        sensor_id: SensorId::parse(get_s(item, "sensorId", WHAT)?).map_err(|e| corrupt(WHAT, e))?,
        kind: get_s(item, "type", WHAT)?
            .parse::<ReadingType>()
            .map_err(|e| corrupt(WHAT, e))?,
        value: f64_attr(item, "value", WHAT)?,
        timestamp: ts_attr(item, "timestamp", WHAT)?,
        user: Username::parse(get_s(item, "user", WHAT)?).map_err(|e| corrupt(WHAT, e))?,
    })
}

/// One entry of the capacity item's `slots` map: a run stored `RUNNING`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    pub(crate) run_id: RunId,
    pub(crate) username: String,
    pub(crate) deadline: Timestamp,
}

pub(crate) fn slot_value(run: &Run) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("u".to_string(), s(run.username.as_str())),
        ("d".to_string(), s(run.deadline.to_string())),
        ("s".to_string(), s(run.started_at.to_string())),
    ]))
}

/// The capacity item as read: `version` is `None` when the item was never written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capacity {
    pub(crate) version: Option<i64>,
    /// `None` when the item has no `slots` map yet.
    pub(crate) slots: Option<Vec<Slot>>,
}

impl Capacity {
    pub(crate) fn from_item(item: Option<&Item>) -> Result<Self, StoreError> {
        const WHAT: &str = "capacity";
        let Some(item) = item else {
            return Ok(Self::default());
        };
        let version = match item.get("version") {
            None => None,
            Some(_) => {
                let text = get_n(item, "version", WHAT)?;
                Some(
                    text.parse::<i64>()
                        .map_err(|e| corrupt(WHAT, format!("version = {text}: {e}")))?,
                )
            }
        };
        let slots = match item.get("slots") {
            None => None,
            Some(AttributeValue::M(map)) => Some(
                map.iter()
                    .map(|(id, slot)| {
                        let AttributeValue::M(fields) = slot else {
                            return Err(corrupt(WHAT, format!("slot {id} is not a map")));
                        };
                        Ok(Slot {
                            run_id: run_id(id, WHAT)?,
                            username: get_s(fields, "u", WHAT)?.to_string(),
                            deadline: ts_attr(fields, "d", WHAT)?,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => return Err(corrupt(WHAT, format!("slots = {other:?}"))),
        };
        Ok(Self { version, slots })
    }

    /// Slots of runs holding capacity at `now` (`deadline >= now`).
    pub(crate) fn live(&self, now: Timestamp) -> impl Iterator<Item = &Slot> {
        self.slots
            .iter()
            .flatten()
            .filter(move |slot| slot.deadline >= now)
    }

    /// Slots of runs still stored `RUNNING` past their deadline (to be expired).
    pub(crate) fn stale(&self, now: Timestamp) -> impl Iterator<Item = &Slot> {
        self.slots
            .iter()
            .flatten()
            .filter(move |slot| slot.deadline < now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sample_run() -> Run {
        let start = Timestamp::parse("t", "2026-11-25T10:00:00.123456Z").unwrap();
        Run {
            id: RunId::from_uuid(uuid::Uuid::new_v4()),
            username: Username::parse("alice").unwrap(),
            status: RunStatus::Failed,
            started_at: start,
            finished_at: Some(start.plus_micros(5)),
            deadline: start.plus_micros(180_000_000),
            duration_secs: 60,
            interval_secs: 0.2,
            sensor_ids: vec![SensorId::parse("b").unwrap(), SensorId::parse("a").unwrap()],
            error_message: Some("boom — é".into()),
            grafana_url: Some("https://g".into()),
        }
    }

    #[test]
    fn run_items_round_trip() {
        let run = sample_run();
        assert_eq!(run_from_item(&run_item(&run)).unwrap(), run);
        let bare = Run {
            finished_at: None,
            error_message: None,
            grafana_url: None,
            ..run
        };
        assert_eq!(run_from_item(&run_item(&bare)).unwrap(), bare);
    }

    #[test]
    fn reading_sort_keys_sort_like_the_listing() {
        let t = Timestamp::parse("t", "2026-11-25T10:00:00Z").unwrap();
        let sk = |ts: Timestamp, sensor: &str, kind| {
            reading_sk(ts, &SensorId::parse(sensor).unwrap(), kind)
        };
        let ordered = [
            sk(t, "a", ReadingType::Humidity),
            sk(t, "a", ReadingType::Temperature),
            sk(t, "a-b", ReadingType::Pressure),
            sk(t, "a.b", ReadingType::Pressure),
            sk(t, "a:", ReadingType::Pressure),
            sk(t, "b", ReadingType::Humidity),
            sk(t.plus_micros(1), "a", ReadingType::Humidity),
        ];
        let mut sorted = ordered.clone();
        sorted.sort();
        assert_eq!(sorted, ordered);
    }

    #[test]
    fn numbers_use_shortest_round_trip_text() {
        for v in [
            0.1,
            1e-7,
            21.123_456_789,
            -273.15,
            1_013.123_456_789_012_3,
            0.2,
        ] {
            let AttributeValue::N(text) = n_f64(v) else {
                unreachable!()
            };
            assert!(!text.contains('e'), "{text}");
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), v.to_bits());
        }
    }
}
