//! [`ReadingStore`] on the readings table: one partition per run, sort key
//! `<timestamp>#<sensorId>#<type>`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use std::sync::atomic::AtomicBool;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_core::StoreError;
use iot_core::error::conflict_detail;
use iot_core::model::{
    Page, ReadingCursor, RunId, SensorId, SensorReading, SensorSummary, Timestamp,
};
use iot_core::ports::{Inserted, ReadingQuery, ReadingStore, RunInsert, check_then_insert};

use crate::DynamoStore;
use crate::codec::{
    BY_SENSOR, Item, PK, SK, SSK, get_s, reading_from_item, reading_key, reading_sk, reading_ssk, s,
};
use crate::error::corrupt;
use crate::query::QuerySpec;
use crate::write_once::{KeyOutcome, holders};

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

/// The readings of a batch with distinct keys, the last occurrence of a repeated key winning (as
/// in the in-memory store; the service never passes repeats).
fn distinct_keys(readings: &[SensorReading]) -> HashMap<(String, String), &SensorReading> {
    readings
        .iter()
        .map(|r| (reading_key_strings(r), r))
        .collect()
}

/// The key range of a reading listing, on the table's sort key (`<timestamp>#<sensor>#<type>`)
/// or, for one sensor, on the `by-sensor` index's (`<sensor>#<timestamp>#<type>`): `from`
/// (inclusive) or the cursor (exclusive), whichever is later, and `to` (exclusive).
#[derive(Debug)]
struct SortKeyRange {
    attribute: &'static str,
    lower: Option<(String, bool)>,
    upper: Option<String>,
}

impl SortKeyRange {
    /// The range of `query`, or `None` when it is empty.
    fn of(query: &ReadingQuery) -> Option<Self> {
        let whole = Self::whole(query.sensor_id.as_ref());
        let prefix = query
            .sensor_id
            .as_ref()
            .map_or_else(String::new, |sensor| format!("{sensor}#"));
        let from = query.from.map(|t| format!("{prefix}{t}"));
        let after = query.after.as_ref().map(|c| match &query.sensor_id {
            Some(_) => reading_ssk(&c.sensor_id, c.timestamp, c.kind),
            None => reading_sk(c.timestamp, &c.sensor_id, c.kind),
        });
        let lower = match (from, after) {
            (Some(from), Some(after)) if after >= from => Some((after, false)),
            (Some(from), _) => Some((from, true)),
            (None, Some(after)) => Some((after, false)),
            (None, None) => whole.lower,
        };
        // No key equals `<prefix><to>` (every one continues with `#`), so `< to` and `<= to`
        // select the same items.
        let upper = query.to.map(|t| format!("{prefix}{t}")).or(whole.upper);
        match (&lower, &upper) {
            (Some((lo, _)), Some(hi)) if lo > hi => None,
            _ => Some(Self {
                attribute: whole.attribute,
                lower,
                upper,
            }),
        }
    }

    /// Every reading of the run, or of one sensor of it (`<sensor>#` up to `<sensor>$`: `$`
    /// follows `#`, and no sensor id holds either).
    fn whole(sensor: Option<&SensorId>) -> Self {
        match sensor {
            None => Self {
                attribute: SK,
                lower: None,
                upper: None,
            },
            Some(sensor) => Self {
                attribute: SSK,
                lower: Some((format!("{sensor}#"), true)),
                upper: Some(format!("{sensor}$")),
            },
        }
    }

    /// Adds the key condition on the sort key to `spec`.
    fn apply<'a>(&self, spec: QuerySpec<'a>) -> QuerySpec<'a> {
        let (condition, values): (&str, Vec<(&str, &str)>) = match (&self.lower, &self.upper) {
            (None, None) => return spec,
            (Some((lo, true)), None) => (" AND #sk >= :lo", vec![(":lo", lo)]),
            (Some((lo, false)), None) => (" AND #sk > :lo", vec![(":lo", lo)]),
            (None, Some(hi)) => (" AND #sk < :hi", vec![(":hi", hi)]),
            // BETWEEN is inclusive: an exclusive lower bound is dropped by `skips`.
            (Some((lo, _)), Some(hi)) => (
                " AND #sk BETWEEN :lo AND :hi",
                vec![(":lo", lo), (":hi", hi)],
            ),
        };
        let mut spec = spec.name("#sk", self.attribute);
        spec.key_condition.push_str(condition);
        for (placeholder, value) in values {
            spec = spec.value(placeholder, s(value));
        }
        spec
    }

    /// Whether `item` is the exclusive lower bound that a `BETWEEN` condition let through.
    fn skips(&self, item: &Item) -> Result<bool, StoreError> {
        match (&self.lower, &self.upper) {
            (Some((lo, false)), Some(_)) => {
                Ok(get_s(item, self.attribute, "reading")? == lo.as_str())
            }
            _ => Ok(false),
        }
    }
}

impl DynamoStore {
    /// A strongly consistent query of one run's readings; of one sensor's on the `by-sensor`
    /// local index, which reads only that sensor's items.
    fn readings_spec(&self, run_id: RunId, sensor_id: Option<&SensorId>) -> QuerySpec<'_> {
        let mut spec = QuerySpec::new(&self.readings_table, "#pk = :pk")
            .name("#pk", PK)
            .value(":pk", s(run_id.to_string()));
        spec.consistent = true;
        if sensor_id.is_some() {
            spec.index = Some(BY_SENSOR);
        }
        spec
    }

    /// The items already stored under `keys` (one strongly consistent read per key).
    async fn stored_items(
        &self,
        distinct: &HashMap<(String, String), &SensorReading>,
    ) -> Result<HashMap<(String, String), Item>, StoreError> {
        let keys: Vec<Item> = distinct.values().map(|r| reading_key(r)).collect();
        let mut stored = HashMap::with_capacity(keys.len());
        for item in self.batch_get(&self.readings_table, keys).await? {
            let key = key_of(&item).ok_or_else(|| corrupt("reading", "item without its key"))?;
            stored.insert(key, item);
        }
        Ok(stored)
    }
}

#[async_trait]
impl ReadingStore for DynamoStore {
    async fn insert_reading(&self, reading: &SensorReading) -> Result<Inserted, StoreError> {
        let never = AtomicBool::new(false);
        match self.write_once(reading, None, None, &never).await? {
            KeyOutcome::Written => {
                if self.fold_now() {
                    self.fold_quietly(
                        reading.run_id,
                        reading.sensor_id.as_str(),
                        reading.kind.as_str(),
                        None,
                    )
                    .await;
                }
                Ok(Inserted::New)
            }
            KeyOutcome::Stored(stored) | KeyOutcome::Conflicting(stored) => {
                Ok(Inserted::Existing(stored))
            }
            // Only batches join and skip.
            KeyOutcome::Joined | KeyOutcome::Skipped => Err(StoreError::Internal(
                "a single reading was joined or skipped".into(),
            )),
        }
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
        // 1. Read every key first (consistent), so that a replay costs reads only and a conflict
        //    with an earlier write is refused before anything is written.
        let distinct = distinct_keys(readings);
        let mut stored = self.stored_items(&distinct).await?;
        let mut keys = Vec::new();
        let mut to_write = Vec::new();
        for (key, reading) in &distinct {
            let known = match stored.remove(key) {
                Some(item) => {
                    if !reading_from_item(&item)?.same_value_as(reading) {
                        return Err(StoreError::Conflict(conflict_detail(reading)));
                    }
                    if holders(&item).is_empty() {
                        continue;
                    }
                    // Held by batches that may still take it back: join them (write_once).
                    Some(item)
                }
                None => None,
            };
            keys.push(key);
            to_write.push((*reading, known));
        }
        // The (sensor, type) groups it writes or joins, by run.
        let mut groups: BTreeMap<RunId, BTreeSet<(&str, &str)>> = BTreeMap::new();
        for (r, _) in &to_write {
            groups
                .entry(r.run_id)
                .or_default()
                .insert((r.sensor_id.as_str(), r.kind.as_str()));
        }
        // 2. Write the rest once each, all or nothing (see `write_once`).
        let batch = uuid::Uuid::new_v4().to_string();
        let outcomes = self.write_batch_once(&batch, to_write).await?;
        let written: HashSet<&(String, String)> = keys
            .into_iter()
            .zip(outcomes)
            .filter(|(_, outcome)| matches!(outcome, KeyOutcome::Written))
            .map(|(key, _)| key)
            .collect();
        // 3. The batch has succeeded: nothing can take its readings back, so count them (and
        //    those it joined).
        for (run, groups) in groups {
            let groups: Vec<(&str, &str)> = groups.into_iter().collect();
            self.fold_batch_quietly(run, &groups, &batch).await;
        }
        Ok(readings
            .iter()
            .map(|r| written.contains(&reading_key_strings(r)))
            .collect())
    }

    async fn list_readings(
        &self,
        query: &ReadingQuery,
    ) -> Result<Page<SensorReading, ReadingCursor>, StoreError> {
        let Some(range) = SortKeyRange::of(query) else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let spec = range.apply(self.readings_spec(query.run_id, query.sensor_id.as_ref()));
        let spec = match query.kind {
            Some(kind) => spec
                .and_filter("#ty = :ty")
                .name("#ty", "type")
                .value(":ty", s(kind.as_str())),
            None => spec,
        };
        let limit = query.limit as usize;
        let mut items = Vec::with_capacity(limit + 1);
        self.query_each(&spec, Some(limit + 1), |item| {
            if range.skips(&item)? {
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
        let mut spec = SortKeyRange::whole(sensor_id).apply(self.readings_spec(run_id, sensor_id));
        spec.forward = false;
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
        self.summarize_rollups(run_id).await
    }
}
