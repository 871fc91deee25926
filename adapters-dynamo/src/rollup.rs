//! Summaries in a constant number of reads: one rollup item per (run, sensor, type), kept exact
//! under retries, concurrent writers and batch compensation.
//!
//! - A rollup item lives in the readings table under its own partition, `<runId>#rollup`, sort
//!   key `<sensorId>#<type>` (listing order; the run's reading partition never holds it), with
//!   `count`, `sum`, `min`, `max`, `first`, `last` and a `version` bumped by every change. Each
//!   change is a conditional update on the version read (or on the item's absence), so two
//!   writers never both apply an update computed from the same state.
//! - A **single reading** is written in one `TransactWriteItems` with its rollup update
//!   ([`DynamoStore::put_counted`]): the put's condition (`attribute_not_exists(pk)`) and the
//!   rollup's version condition hold together or nothing is written.
//! - A **batch reading** is written (conditional put, see `write_once`) with the mark
//!   [`PEND`], which puts it in the sparse local index [`PENDING`]. Once the whole batch has
//!   succeeded, it is counted ([`DynamoStore::count_batch`]): per rollup, chunks of up to 99
//!   readings, each one transaction updating the rollup and removing `pend` and `batch` from every
//!   reading of the chunk (condition: still pending, and held by this batch or by none). A reading
//!   is therefore counted exactly once, and a counted reading can no longer be taken back by a
//!   compensating batch (its `batch` is gone, as after a pin).
//! - The **summary** is the rollups plus the readings still pending (a batch in flight, or one
//!   that stopped between its writes and its count): rollups, then the pending index, then the
//!   rollups' versions again; if a version moved in between, it reads again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put as TxPut, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use iot_core::StoreError;
use iot_core::model::{ReadingType, RunId, SensorId, SensorReading, SensorSummary, Timestamp};

use crate::DynamoStore;
use crate::batch::backoff;
use crate::codec::{
    Item, PENDING, PK, SK, get_s, n_f64, n_int, parse_ts, reading_item, reading_key, s,
};
use crate::consumed::{self, Units};
use crate::error::{build_error, corrupt, reason_code, sdk_error};
use crate::query::QuerySpec;
use crate::transact::Tx;
use crate::write_once::{BATCH, Put};

/// Attribute marking a reading written but not yet counted in its rollup (value: its sort key),
/// the sort key of the [`PENDING`] index.
pub(crate) const PEND: &str = "pend";

/// The attributes the [`PENDING`] index projects: what a summary and a count need.
pub(crate) const PENDING_PROJECTION: &[&str] = &["sensorId", "type", "value", "timestamp", BATCH];

/// Readings per counting transaction (DynamoDB allows 100 items; one is the rollup).
pub(crate) const COUNT_CHUNK: usize = 99;

/// Rollups a batch counts at once.
const COUNT_CONCURRENCY: usize = 4;

/// Attempts of a rollup update that keeps losing to concurrent writers before giving up.
const ROLLUP_TRIES: u32 = 50;

/// Attempts of a summary whose rollups keep moving while it reads.
const SUMMARY_TRIES: u32 = 20;

const WHAT: &str = "rollup";

/// Running aggregate of one (sensor, type), with the semantics of [`SensorSummary::fold`].
#[derive(Debug, Clone)]
pub(crate) struct Aggregate {
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

    /// `current` with `readings` added (`None` only when both are empty).
    fn fold<'a>(
        current: Option<&Self>,
        readings: impl IntoIterator<Item = &'a SensorReading>,
    ) -> Option<Self> {
        let mut acc = current.cloned();
        for r in readings {
            match acc.as_mut() {
                Some(a) => a.add(r.value, r.timestamp),
                None => acc = Some(Self::new(r.value, r.timestamp)),
            }
        }
        acc
    }
}

/// The rollup a reading counts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RollupKey {
    run: RunId,
    sensor: SensorId,
    kind: ReadingType,
}

impl RollupKey {
    fn of(reading: &SensorReading) -> Self {
        Self {
            run: reading.run_id,
            sensor: reading.sensor_id.clone(),
            kind: reading.kind,
        }
    }

    fn item_key(&self) -> Item {
        HashMap::from([
            (PK.to_string(), s(rollup_pk(self.run))),
            (SK.to_string(), s(format!("{}#{}", self.sensor, self.kind))),
        ])
    }
}

/// Partition of a run's rollups.
pub(crate) fn rollup_pk(run: RunId) -> String {
    format!("{run}#rollup")
}

/// A rollup item read back: its aggregate and version.
#[derive(Debug, Clone)]
struct Rollup {
    sensor: String,
    kind: String,
    aggregate: Aggregate,
    version: String,
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse::<T>()
            .map_err(|e| corrupt(WHAT, format!("{name} = {n}: {e}"))),
        other => Err(corrupt(WHAT, format!("{name} = {other:?}"))),
    }
}

impl Rollup {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let version = match item.get("version") {
            Some(AttributeValue::N(n)) => n.clone(),
            other => return Err(corrupt(WHAT, format!("version = {other:?}"))),
        };
        Ok(Self {
            sensor: get_s(item, "sensorId", WHAT)?.to_string(),
            kind: get_s(item, "type", WHAT)?.to_string(),
            aggregate: Aggregate {
                count: number(item, "count")?,
                min: number(item, "min")?,
                max: number(item, "max")?,
                sum: number(item, "sum")?,
                first: parse_ts(get_s(item, "first", WHAT)?, "first", WHAT)?,
                last: parse_ts(get_s(item, "last", WHAT)?, "last", WHAT)?,
            },
            version,
        })
    }
}

/// Whether a canceled transaction's item `index` failed its condition.
fn failed_condition(reasons: &[CancellationReason], index: usize) -> bool {
    reason_code(reasons, index) == Some("ConditionalCheckFailed")
}

fn contention_pause(attempt: u32) -> Duration {
    backoff(
        attempt,
        Duration::from_millis(5),
        Duration::from_millis(200),
    )
}

fn contention(what: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "{what}: too many concurrent writers on one summary; retry"
    ))
}

impl DynamoStore {
    /// The rollup under `key` (strongly consistent).
    async fn read_rollup(&self, key: &RollupKey) -> Result<Option<Rollup>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.readings_table)
            .set_key(Some(key.item_key()))
            .consistent_read(true)
            .return_consumed_capacity(consumed::TOTAL)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", &self.readings_table, e))?;
        consumed::report(Units::Read, out.consumed_capacity());
        out.item.as_ref().map(Rollup::from_item).transpose()
    }

    /// The transaction item that adds `readings` to the rollup under `key`, read as `current`,
    /// conditioned on its version (or on its absence).
    fn rollup_update(
        &self,
        key: &RollupKey,
        current: Option<&Rollup>,
        readings: &[&SensorReading],
    ) -> Result<TransactWriteItem, StoreError> {
        let Some(next) = Aggregate::fold(current.map(|c| &c.aggregate), readings.iter().copied())
        else {
            return Err(StoreError::Internal("an empty rollup update".into()));
        };
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (attribute, value) in [
            (
                "count",
                n_int(i64::try_from(next.count).unwrap_or(i64::MAX)),
            ),
            ("sum", n_f64(next.sum)),
            ("min", n_f64(next.min)),
            ("max", n_f64(next.max)),
            ("first", s(next.first.to_string())),
            ("last", s(next.last.to_string())),
            ("sensorId", s(key.sensor.as_str())),
            ("type", s(key.kind.as_str())),
        ]
        .into_iter()
        .chain(
            self.reading_expiry()
                .map(|at| (crate::retention::EXPIRES_AT, at)),
        ) {
            let placeholder = format!("{}", sets.len());
            names.insert(format!("#a{placeholder}"), attribute.to_string());
            values.insert(format!(":a{placeholder}"), value);
            sets.push(format!("#a{placeholder} = :a{placeholder}"));
        }
        names.insert("#ver".to_string(), "version".to_string());
        values.insert(":one".to_string(), n_int(1));
        let condition = match current {
            Some(c) => {
                values.insert(":ver".to_string(), AttributeValue::N(c.version.clone()));
                "#ver = :ver"
            }
            None => "attribute_not_exists(#ver)",
        };
        let update = Update::builder()
            .table_name(&self.readings_table)
            .set_key(Some(key.item_key()))
            .update_expression(format!("SET {} ADD #ver :one", sets.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Writes a single reading unless its key is taken, counting it in its rollup in the same
    /// transaction. A taken key answers the stored item when DynamoDB returns it.
    pub(crate) async fn put_counted(&self, reading: &SensorReading) -> Result<Put, StoreError> {
        let key = RollupKey::of(reading);
        let mut item = reading_item(reading);
        self.stamp_reading_expiry(&mut item);
        let put = TxPut::builder()
            .table_name(&self.readings_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        for attempt in 0..ROLLUP_TRIES {
            let current = self.read_rollup(&key).await?;
            let items = vec![
                TransactWriteItem::builder().put(put.clone()).build(),
                self.rollup_update(&key, current.as_ref(), &[reading])?,
            ];
            match self.transact(&self.readings_table, items).await? {
                Tx::Committed => return Ok(Put::Done),
                Tx::Invalid(e) => return Err(e),
                Tx::Canceled(reasons) if failed_condition(&reasons, 0) => {
                    let stored = reasons
                        .first()
                        .and_then(CancellationReason::item)
                        .filter(|item| !item.is_empty())
                        .cloned();
                    return Ok(Put::Taken(stored));
                }
                // The rollup moved, or another transaction touched either item: read again.
                Tx::Canceled(_) => tokio::time::sleep(contention_pause(attempt)).await,
            }
        }
        Err(contention("a single reading"))
    }

    /// Counts the readings batch `batch` wrote (all of them stored: the batch can no longer be
    /// compensated) in their rollups, and clears their marks. Readings already counted are left
    /// alone.
    pub(crate) async fn count_batch(
        &self,
        batch: &str,
        written: Vec<&SensorReading>,
    ) -> Result<(), StoreError> {
        let mut groups: BTreeMap<RollupKey, Vec<&SensorReading>> = BTreeMap::new();
        for reading in written {
            groups
                .entry(RollupKey::of(reading))
                .or_default()
                .push(reading);
        }
        let chunks: Vec<(RollupKey, Vec<&SensorReading>)> = groups
            .into_iter()
            .flat_map(|(key, readings)| {
                readings
                    .chunks(COUNT_CHUNK)
                    .map(|chunk| (key.clone(), chunk.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect();
        // Chunks of one rollup contend with each other, harmlessly (version condition). Each
        // transaction is created when a place in flight frees up.
        let mut in_flight = FuturesUnordered::new();
        let mut next = chunks.into_iter();
        let mut first_error = None;
        loop {
            while in_flight.len() < COUNT_CONCURRENCY {
                let Some((key, chunk)) = next.next() else {
                    break;
                };
                in_flight.push(self.count_chunk(batch, key, chunk));
            }
            match in_flight.next().await {
                Some(Err(e)) if first_error.is_none() => first_error = Some(e),
                Some(_) => {}
                None => break,
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn count_chunk(
        &self,
        batch: &str,
        key: RollupKey,
        mut left: Vec<&SensorReading>,
    ) -> Result<(), StoreError> {
        for attempt in 0..ROLLUP_TRIES {
            if left.is_empty() {
                return Ok(());
            }
            let current = self.read_rollup(&key).await?;
            let mut items = Vec::with_capacity(left.len() + 1);
            items.push(self.rollup_update(&key, current.as_ref(), &left)?);
            for reading in &left {
                let update = Update::builder()
                    .table_name(&self.readings_table)
                    .set_key(Some(reading_key(reading)))
                    .update_expression("REMOVE #pend, #b")
                    .condition_expression(
                        "attribute_exists(#pend) AND (attribute_not_exists(#b) OR #b = :b)",
                    )
                    .expression_attribute_names("#pend", PEND)
                    .expression_attribute_names("#b", BATCH)
                    .expression_attribute_values(":b", s(batch))
                    .build()
                    .map_err(build_error)?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            match self.transact(&self.readings_table, items).await? {
                Tx::Committed => return Ok(()),
                Tx::Invalid(e) => return Err(e),
                Tx::Canceled(reasons) => {
                    // A reading whose mark is gone was counted already: leave it out.
                    let before = left.len();
                    let mut index = 0;
                    left.retain(|_| {
                        index += 1;
                        !failed_condition(&reasons, index)
                    });
                    if left.len() == before {
                        tokio::time::sleep(contention_pause(attempt)).await;
                    }
                }
            }
        }
        Err(contention("counting a batch"))
    }

    /// Every rollup of `run`, by sort key (strongly consistent).
    async fn read_rollups(&self, run: RunId) -> Result<BTreeMap<String, Rollup>, StoreError> {
        let mut spec = QuerySpec::new(&self.readings_table, "#pk = :pk")
            .name("#pk", PK)
            .value(":pk", s(rollup_pk(run)));
        spec.consistent = true;
        let mut rollups = BTreeMap::new();
        self.query_each(&spec, None, |item| {
            let sk = get_s(&item, SK, WHAT)?.to_string();
            rollups.insert(sk, Rollup::from_item(&item)?);
            Ok(true)
        })
        .await?;
        Ok(rollups)
    }

    /// The readings of `run` not counted yet, folded per (sensor, type) text.
    async fn read_pending(
        &self,
        run: RunId,
    ) -> Result<BTreeMap<(String, String), Vec<(f64, Timestamp)>>, StoreError> {
        const READING: &str = "reading";
        let mut spec = QuerySpec::new(&self.readings_table, "#pk = :pk")
            .name("#pk", PK)
            .name("#sid", "sensorId")
            .name("#ty", "type")
            .name("#v", "value")
            .name("#ts", "timestamp")
            .value(":pk", s(run.to_string()));
        spec.index = Some(PENDING);
        spec.projection = Some("#sid, #ty, #v, #ts".into());
        spec.consistent = true;
        let mut pending: BTreeMap<(String, String), Vec<(f64, Timestamp)>> = BTreeMap::new();
        self.query_each(&spec, None, |item| {
            let value = match item.get("value") {
                Some(AttributeValue::N(n)) => n
                    .parse::<f64>()
                    .map_err(|e| corrupt(READING, format!("value = {n}: {e}")))?,
                other => return Err(corrupt(READING, format!("value = {other:?}"))),
            };
            let at = parse_ts(get_s(&item, "timestamp", READING)?, "timestamp", READING)?;
            let key = (
                get_s(&item, "sensorId", READING)?.to_string(),
                get_s(&item, "type", READING)?.to_string(),
            );
            pending.entry(key).or_default().push((value, at));
            Ok(true)
        })
        .await?;
        Ok(pending)
    }

    /// The summary of `run`: its rollups plus its pending readings, read so that no reading is
    /// counted twice or missed (see the module documentation).
    pub(crate) async fn summarize_rollups(
        &self,
        run: RunId,
    ) -> Result<Vec<SensorSummary>, StoreError> {
        for attempt in 0..SUMMARY_TRIES {
            let rollups = self.read_rollups(run).await?;
            let pending = self.read_pending(run).await?;
            let again = self.read_rollups(run).await?;
            let moved = rollups.len() != again.len()
                || rollups
                    .iter()
                    .zip(&again)
                    .any(|((k1, r1), (k2, r2))| k1 != k2 || r1.version != r2.version);
            if moved {
                tokio::time::sleep(contention_pause(attempt)).await;
                continue;
            }
            // Keyed by the text of sensor and type: the order of the listing (sensor, then type).
            let mut groups: BTreeMap<(String, String), Aggregate> = rollups
                .into_values()
                .map(|r| ((r.sensor, r.kind), r.aggregate))
                .collect();
            for (key, readings) in pending {
                for (value, at) in readings {
                    match groups.get_mut(&key) {
                        Some(group) => group.add(value, at),
                        None => {
                            groups.insert(key.clone(), Aggregate::new(value, at));
                        }
                    }
                }
            }
            return groups
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
                .collect();
        }
        Err(contention("the summary"))
    }
}
