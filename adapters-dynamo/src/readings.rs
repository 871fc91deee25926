//! [`ReadingStore`] on the readings table: one partition per run, sort key
//! `<timestamp>#<sensorId>#<type>`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use iot_core::StoreError;
use iot_core::error::conflict_detail;
use iot_core::model::{
    Page, ReadingCursor, ReadingType, RunId, SensorId, SensorReading, SensorSummary, Timestamp,
};
use iot_core::ports::{Inserted, ReadingQuery, ReadingStore, RunInsert, check_then_insert};

use crate::DynamoStore;
use crate::codec::{
    Item, PK, SK, get_s, parse_ts, reading_from_item, reading_item, reading_key, reading_sk, s,
};
use crate::error::{corrupt, sdk_error};
use crate::query::QuerySpec;

/// Running aggregate of one (sensor, type), with the semantics of [`SensorSummary::fold`]
/// (readings visited in timestamp order), without holding the readings in memory.
#[derive(Debug)]
struct Aggregate {
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    first: Timestamp,
    last: Timestamp,
}

impl Aggregate {
    fn new(value: f64, at: Timestamp) -> Self {
        Self {
            count: 1,
            min: value,
            max: value,
            sum: value,
            first: at,
            last: at,
        }
    }

    fn add(&mut self, value: f64, at: Timestamp) {
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.first = self.first.min(at);
        self.last = self.last.max(at);
        self.sum += value;
    }
}

/// The pair of strings a reading item is identified by.
fn key_of(item: &Item) -> Option<(String, String)> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
            Some((pk.clone(), sk.clone()))
        }
        _ => None,
    }
}

fn reading_key_strings(reading: &SensorReading) -> (String, String) {
    (
        reading.run_id.to_string(),
        reading_sk(reading.timestamp, &reading.sensor_id, reading.kind),
    )
}

impl DynamoStore {
    async fn read_reading(&self, reading: &SensorReading) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.readings_table)
            .set_key(Some(reading_key(reading)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", &self.readings_table, e))?;
        Ok(out.item)
    }
}

#[async_trait]
impl ReadingStore for DynamoStore {
    async fn insert_reading(&self, reading: &SensorReading) -> Result<Inserted, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.readings_table)
            .set_item(Some(reading_item(reading)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Inserted::New),
            Err(err) => err,
        };
        let stored = match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                Some(item) if !item.is_empty() => item.clone(),
                // Not every emulator returns the old item: read it (readings are never deleted).
                _ => self.read_reading(reading).await?.ok_or_else(|| {
                    corrupt("reading", "key reported taken but no item is stored")
                })?,
            },
            _ => return Err(sdk_error("PutItem", &self.readings_table, err)),
        };
        Ok(Inserted::Existing(reading_from_item(&stored)?))
    }

    async fn insert_into_running_run(
        &self,
        reading: &SensorReading,
        now: Timestamp,
    ) -> Result<RunInsert, StoreError> {
        check_then_insert(self, self, reading, now).await
    }

    async fn insert_readings(&self, readings: &[SensorReading]) -> Result<Vec<bool>, StoreError> {
        if readings.is_empty() {
            return Ok(Vec::new());
        }
        // 1. Check every key (strongly consistent) before writing anything.
        let mut distinct: HashMap<(String, String), &SensorReading> = HashMap::new();
        for reading in readings {
            distinct.insert(reading_key_strings(reading), reading);
        }
        let keys: Vec<Item> = distinct.values().map(|r| reading_key(r)).collect();
        let mut stored: HashMap<(String, String), SensorReading> = HashMap::new();
        for item in self.batch_get(&self.readings_table, keys).await? {
            let key = key_of(&item).ok_or_else(|| corrupt("reading", "item without its key"))?;
            stored.insert(key, reading_from_item(&item)?);
        }
        let mut is_new = Vec::with_capacity(readings.len());
        for reading in readings {
            match stored.get(&reading_key_strings(reading)) {
                Some(existing) if existing.same_value_as(reading) => is_new.push(false),
                Some(_) => return Err(StoreError::Conflict(conflict_detail(reading))),
                None => is_new.push(true),
            }
        }
        // 2. Write the new ones (the last occurrence of a key repeated in the input wins, as in
        //    the in-memory store; one request may not name a key twice).
        let mut to_write: HashMap<(String, String), &SensorReading> = HashMap::new();
        for (reading, _) in readings.iter().zip(&is_new).filter(|(_, new)| **new) {
            to_write.insert(reading_key_strings(reading), reading);
        }
        let items: Vec<Item> = to_write.values().map(|r| reading_item(r)).collect();
        if !items.is_empty() {
            self.batch_put(&self.readings_table, items).await?;
        }
        Ok(is_new)
    }

    async fn list_readings(
        &self,
        query: &ReadingQuery,
    ) -> Result<Page<SensorReading, ReadingCursor>, StoreError> {
        // Lower bound: `from` (inclusive) or the cursor (exclusive), whichever is later.
        let from = query.from.map(|t| t.to_string());
        let after = query
            .after
            .as_ref()
            .map(|c| reading_sk(c.timestamp, &c.sensor_id, c.kind));
        let lower = match (from, after) {
            (Some(from), Some(after)) if after >= from => Some((after, false)),
            (Some(from), _) => Some((from, true)),
            (None, Some(after)) => Some((after, false)),
            (None, None) => None,
        };
        // Upper bound: `to` (exclusive). No sort key equals a bare timestamp (every one continues
        // with `#`), so `sk < "<to>"` and `sk <= "<to>"` select the same items.
        let upper = query.to.map(|t| t.to_string());

        let mut condition = String::from("#pk = :pk");
        let mut spec_values: Vec<(&str, AttributeValue)> =
            vec![(":pk", s(query.run_id.to_string()))];
        let mut skip_exact: Option<String> = None;
        match (&lower, &upper) {
            (None, None) => {}
            (Some((lo, inclusive)), None) => {
                condition.push_str(if *inclusive {
                    " AND #sk >= :lo"
                } else {
                    " AND #sk > :lo"
                });
                spec_values.push((":lo", s(lo.as_str())));
            }
            (None, Some(hi)) => {
                condition.push_str(" AND #sk < :hi");
                spec_values.push((":hi", s(hi.as_str())));
            }
            (Some((lo, inclusive)), Some(hi)) => {
                if lo > hi {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    });
                }
                // BETWEEN is inclusive: an exclusive lower bound drops the item equal to it.
                condition.push_str(" AND #sk BETWEEN :lo AND :hi");
                spec_values.push((":lo", s(lo.as_str())));
                spec_values.push((":hi", s(hi.as_str())));
                if !inclusive {
                    skip_exact = Some(lo.clone());
                }
            }
        }
        let mut spec = QuerySpec::new(&self.readings_table, condition).name("#pk", PK);
        spec.consistent = true;
        if lower.is_some() || upper.is_some() {
            spec = spec.name("#sk", SK);
        }
        for (placeholder, value) in spec_values {
            spec = spec.value(placeholder, value);
        }
        if let Some(sensor) = &query.sensor_id {
            spec = spec
                .and_filter("#sid = :sid")
                .name("#sid", "sensorId")
                .value(":sid", s(sensor.as_str()));
        }
        if let Some(kind) = query.kind {
            spec = spec
                .and_filter("#ty = :ty")
                .name("#ty", "type")
                .value(":ty", s(kind.as_str()));
        }

        let limit = query.limit as usize;
        let mut items = Vec::with_capacity(limit + 1);
        self.query_each(&spec, Some(limit + 1), |item| {
            if let Some(skip) = &skip_exact
                && get_s(&item, SK, "reading")? == skip.as_str()
            {
                return Ok(false);
            }
            items.push(reading_from_item(&item)?);
            Ok(true)
        })
        .await?;
        Ok(Page::from_overfetch(
            items,
            query.limit,
            SensorReading::cursor,
        ))
    }

    async fn latest_readings<'s>(
        &self,
        run_id: RunId,
        sensor_id: Option<&'s SensorId>,
        limit: u32,
    ) -> Result<Vec<SensorReading>, StoreError> {
        let mut spec = QuerySpec::new(&self.readings_table, "#pk = :pk")
            .name("#pk", PK)
            .value(":pk", s(run_id.to_string()));
        spec.forward = false;
        spec.consistent = true;
        if let Some(sensor) = sensor_id {
            spec = spec
                .and_filter("#sid = :sid")
                .name("#sid", "sensorId")
                .value(":sid", s(sensor.as_str()));
        }
        let mut items = Vec::new();
        if limit == 0 {
            return Ok(items);
        }
        self.query_each(&spec, Some(limit as usize), |item| {
            items.push(reading_from_item(&item)?);
            Ok(true)
        })
        .await?;
        Ok(items)
    }

    async fn summarize(&self, run_id: RunId) -> Result<Vec<SensorSummary>, StoreError> {
        const WHAT: &str = "reading";
        let mut spec = QuerySpec::new(&self.readings_table, "#pk = :pk")
            .name("#pk", PK)
            .name("#sid", "sensorId")
            .name("#ty", "type")
            .name("#v", "value")
            .name("#ts", "timestamp")
            .value(":pk", s(run_id.to_string()));
        spec.projection = Some("#sid, #ty, #v, #ts".into());
        spec.consistent = true;
        // Keyed by the text of sensor and type: the order of the listing (sensor, then type).
        let mut groups: BTreeMap<(String, String), Aggregate> = BTreeMap::new();
        self.query_each(&spec, None, |item| {
            let value = match item.get("value") {
                Some(AttributeValue::N(n)) => n
                    .parse::<f64>()
                    .map_err(|e| corrupt(WHAT, format!("value = {n}: {e}")))?,
                other => return Err(corrupt(WHAT, format!("value = {other:?}"))),
            };
            let at = parse_ts(get_s(&item, "timestamp", WHAT)?, "timestamp", WHAT)?;
            let key = (
                get_s(&item, "sensorId", WHAT)?.to_string(),
                get_s(&item, "type", WHAT)?.to_string(),
            );
            match groups.get_mut(&key) {
                Some(group) => group.add(value, at),
                None => {
                    groups.insert(key, Aggregate::new(value, at));
                }
            }
            Ok(true)
        })
        .await?;
        groups
            .into_iter()
            .map(|((sensor, kind), g)| {
                #[allow(clippy::cast_precision_loss)]
                let avg = g.sum / g.count as f64;
                Ok(SensorSummary {
                    sensor_id: SensorId::parse(sensor).map_err(|e| corrupt(WHAT, e))?,
                    kind: kind.parse::<ReadingType>().map_err(|e| corrupt(WHAT, e))?,
                    count: g.count,
                    min: g.min,
                    max: g.max,
                    avg,
                    first: g.first,
                    last: g.last,
                })
            })
            .collect()
    }
}
