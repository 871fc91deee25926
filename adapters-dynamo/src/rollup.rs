//! Summaries that cost the same at a million readings as at ten: one rollup item per (run,
//! sensor, type), kept exact with single-item conditional writes only.
//!
//! - Every reading is written *pending*: it carries `pend = <sensorId>#<type>#<timestamp>`, which
//!   puts it in the sparse local index `pending`.
//! - A *fold* counts pending readings of one (sensor, type) into its rollup item (`pk =
//!   ROLLUP#<runId>`, `sk = <sensorId>#<type>`: count, sum, min, max, first, last, `version`).
//!   The rollup is replaced by a `PutItem` conditioned on the version it was computed from, and
//!   names the readings it has just counted in `folding` (their timestamps). Only then are their
//!   marks removed (each rewritten without `pend` and `batch`, 25 to a `BatchWriteItem`), by the
//!   folder or by whoever folds next: a fold clears the marks of the rollup's `folding` before it
//!   counts anything new, so at every version each counted reading not named in `folding` has
//!   lost its mark.
//! - A summary reads the rollups, then the pending readings of the run, then the rollups again;
//!   if no version moved it adds the pending readings that the rollups' `folding` does not name.
//!   That is exact whatever the folds, crashes and retries around it: a reading is counted by a
//!   rollup or still pending, never both, and nothing is lost between the two.
//! - Who folds: a batch folds its own readings once it has succeeded (until then its
//!   compensation may still delete them, so nobody else counts a reading a batch holds); a single
//!   reading folds its (sensor, type) one time in [`DynamoStore::with_fold_period`] (64 by
//!   default), so the pending readings a summary reads stay few. A fold that fails leaves the
//!   readings pending, which is still exact.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use crate::item::Put;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt as _;
use iot_core::StoreError;
use iot_core::model::{ReadingType, RunId, SensorId, SensorSummary, Timestamp};

use crate::DynamoStore;
use crate::batch::backoff;
use crate::codec::{Item, PK, SK, get_s, n_f64, n_int, parse_ts, s};
use crate::error::corrupt;
use crate::query::QuerySpec;
use crate::write_once::{BATCH, holders};

/// Attribute marking a reading not yet counted by its rollup; sort key of [`PENDING`].
pub(crate) const PEND: &str = "pend";
/// Sparse local index of the readings table: a run's pending readings, by sensor and type. It
/// projects whole items, so that a fold can rewrite the readings it counted without reading them
/// again.
pub(crate) const PENDING: &str = "pending";

/// Readings one fold counts at most (they are named in the rollup item, ~30 bytes each).
const FOLD_CHUNK: usize = 256;
/// Rounds a fold or a summary tries before giving up (each conflict costs one).
const MAX_ROUNDS: u32 = 32;
/// Default of [`DynamoStore::with_fold_period`].
pub(crate) const DEFAULT_FOLD_PERIOD: u32 = 64;

/// (Sensor, type) groups folded at once.
const FOLD_CONCURRENCY: usize = 4;
/// Up to this many groups, a batch folds each on its own; beyond, it reads the whole run's
/// rollups and pending readings at once.
const FEW_GROUPS: usize = 4;

const WHAT: &str = "rollup";

/// What one fold step did.
enum Folded {
    Done,
    /// It counted a chunk and more remain.
    More,
    /// Another fold wrote the rollup first: read it again.
    Moved,
}

fn rollup_key(run: RunId, sensor: &str, kind: &str) -> Item {
    HashMap::from([
        (PK.to_string(), s(rollup_pk(run))),
        (SK.to_string(), s(format!("{sensor}#{kind}"))),
    ])
}

/// `pend` of a reading: its (sensor, type) prefix, then its timestamp.
pub(crate) fn pend_key(sensor: &str, kind: &str, timestamp: &str) -> String {
    format!("{sensor}#{kind}#{timestamp}")
}

fn rollup_pk(run: RunId) -> String {
    format!("ROLLUP#{run}")
}

/// Count, sum, min, max, first and last of some readings of one (sensor, type), with the
/// semantics of [`SensorSummary::fold`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Aggregate {
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    first: Timestamp,
    last: Timestamp,
}

impl Aggregate {
    pub(crate) fn new(value: f64, at: Timestamp) -> Self {
        Self {
            count: 1,
            min: value,
            max: value,
            sum: value,
            first: at,
            last: at,
        }
    }

    pub(crate) fn add(&mut self, value: f64, at: Timestamp) {
        self.merge(&Self::new(value, at));
    }

    fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        self.sum += other.sum;
    }

    fn summary(&self, sensor: &str, kind: &str) -> Result<SensorSummary, StoreError> {
        #[allow(clippy::cast_precision_loss)]
        let avg = self.sum / self.count as f64;
        Ok(SensorSummary {
            sensor_id: SensorId::parse(sensor).map_err(|e| corrupt(WHAT, e))?,
            kind: kind.parse::<ReadingType>().map_err(|e| corrupt(WHAT, e))?,
            count: self.count,
            min: self.min,
            max: self.max,
            avg,
            first: self.first,
            last: self.last,
        })
    }
}

/// Merges `aggregate` into the group of `key` in `groups`.
fn merge_into<K: Ord>(groups: &mut BTreeMap<K, Aggregate>, key: K, aggregate: &Aggregate) {
    groups
        .entry(key)
        .and_modify(|group| group.merge(aggregate))
        .or_insert(*aggregate);
}

/// A pending reading, as the [`PENDING`] index returns it.
#[derive(Debug)]
struct Pending {
    /// The whole item, as read.
    item: Item,
    sensor: String,
    kind: String,
    /// The `timestamp` attribute's text (with sensor and type, the reading's key).
    at_text: String,
    at: Timestamp,
    value: f64,
    /// The batches in flight holding it.
    holders: Vec<String>,
}

impl Pending {
    fn from_item(item: Item) -> Result<Self, StoreError> {
        let at_text = get_s(&item, "timestamp", WHAT)?.to_string();
        Ok(Self {
            sensor: get_s(&item, "sensorId", WHAT)?.to_string(),
            kind: get_s(&item, "type", WHAT)?.to_string(),
            at: parse_ts(&at_text, "timestamp", WHAT)?,
            at_text,
            value: number(&item, "value")?,
            holders: holders(&item).to_vec(),
            item,
        })
    }
}

/// One rollup item.
#[derive(Debug)]
struct Rollup {
    aggregate: Aggregate,
    version: u64,
    /// Timestamps of the readings the last fold counted (their marks may still be set).
    folding: HashSet<String>,
}

impl Rollup {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let version = get_n(item, "version")?;
        let count = get_n(item, "count")?;
        Ok(Self {
            aggregate: Aggregate {
                count: count
                    .parse()
                    .map_err(|e| corrupt(WHAT, format!("count = {count}: {e}")))?,
                min: number(item, "min")?,
                max: number(item, "max")?,
                sum: number(item, "sum")?,
                first: parse_ts(get_s(item, "first", WHAT)?, "first", WHAT)?,
                last: parse_ts(get_s(item, "last", WHAT)?, "last", WHAT)?,
            },
            version: version
                .parse()
                .map_err(|e| corrupt(WHAT, format!("version = {version}: {e}")))?,
            folding: match item.get("folding") {
                Some(AttributeValue::Ss(set)) => set.iter().cloned().collect(),
                _ => HashSet::new(),
            },
        })
    }
}

fn get_n<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => Ok(n),
        other => Err(corrupt(WHAT, format!("{name} = {other:?}"))),
    }
}

fn number(item: &Item, name: &str) -> Result<f64, StoreError> {
    let text = get_n(item, name)?;
    text.parse()
        .map_err(|e| corrupt(WHAT, format!("{name} = {text}: {e}")))
}

/// Which pending readings a fold may count: never one only batches that may still take it back
/// hold, so only readings no batch holds, and those the folding batch itself holds once it has
/// succeeded (its success is an acknowledgement).
fn foldable(pending: &Pending, own_batch: Option<&str>) -> bool {
    pending.holders.is_empty()
        || own_batch.is_some_and(|own| pending.holders.iter().any(|h| h == own))
}

impl DynamoStore {
    /// Folds a single reading's (sensor, type) one time in `period` (1: every time). Folds are
    /// what keep a summary's reads few; correctness never depends on them.
    #[must_use]
    pub fn with_fold_period(mut self, period: u32) -> Self {
        self.fold_period = period.max(1);
        self
    }

    /// Whether this single reading folds its (sensor, type): one time in the fold period.
    pub(crate) fn fold_now(&self) -> bool {
        let period = u64::from(self.fold_period);
        period <= 1 || uuid::Uuid::new_v4().as_u64_pair().0.is_multiple_of(period)
    }

    /// [`Self::fold`], where a failure only costs a summary a few more reads: logged, not
    /// returned (the readings stay pending, and pending readings are counted).
    pub(crate) async fn fold_quietly(
        &self,
        run: RunId,
        sensor: &str,
        kind: &str,
        own_batch: Option<&str>,
    ) {
        if let Err(error) = self.fold(run, sensor, kind, own_batch).await {
            tracing::warn!(%run, sensor, kind, %error, "could not fold readings into their rollup");
        }
    }

    /// Counts the foldable pending readings of (`run`, `sensor`, `kind`) into its rollup, in
    /// chunks of [`FOLD_CHUNK`]; `own_batch` names the batch on whose success this runs.
    pub(crate) async fn fold(
        &self,
        run: RunId,
        sensor: &str,
        kind: &str,
        own_batch: Option<&str>,
    ) -> Result<(), StoreError> {
        let key = rollup_key(run, sensor, kind);
        for round in 0..MAX_ROUNDS {
            // The rollup first, then the pending readings: see `fold_once`.
            let rollup = self.get_rollup(&key).await?;
            let pending = self
                .pending_readings(run, Some(&format!("{sensor}#{kind}#")))
                .await?;
            match self
                .fold_once(run, (sensor, kind), rollup.as_ref(), pending, own_batch)
                .await?
            {
                Folded::Done => return Ok(()),
                Folded::More => {}
                Folded::Moved => {
                    tokio::time::sleep(backoff(
                        round,
                        Duration::from_millis(2),
                        Duration::from_millis(200),
                    ))
                    .await;
                }
            }
        }
        Err(StoreError::Busy(format!(
            "the rollup of {sensor} {kind} in run {run} kept changing under concurrent folds"
        )))
    }

    /// Folds the (sensor, type) `groups` of `run` after `own_batch` succeeded, failures logged
    /// (see [`Self::fold_quietly`]). Many groups are read at once: all rollups of the run, then
    /// all its pending readings, two queries instead of two requests per group; a group whose
    /// rollup moved meanwhile, or with more to count, goes on with [`Self::fold`].
    pub(crate) async fn fold_batch_quietly(
        &self,
        run: RunId,
        groups: &[(&str, &str)],
        own_batch: &str,
    ) {
        if groups.len() <= FEW_GROUPS {
            futures::stream::iter(groups)
                .for_each_concurrent(FOLD_CONCURRENCY, |(sensor, kind)| {
                    self.fold_quietly(run, sensor, kind, Some(own_batch))
                })
                .await;
            return;
        }
        let read = async {
            let rollups = self.rollups(run).await?;
            let mut pending: HashMap<(String, String), Vec<Pending>> = HashMap::new();
            for p in self.pending_readings(run, None).await? {
                pending
                    .entry((p.sensor.clone(), p.kind.clone()))
                    .or_default()
                    .push(p);
            }
            Ok::<_, StoreError>((rollups, pending))
        };
        let (rollups, mut pending) = match read.await {
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%run, %error, "could not read the rollups of a batch's run");
                return;
            }
        };
        let work: Vec<_> = groups
            .iter()
            .map(|&(sensor, kind)| {
                let key = (sensor.to_string(), kind.to_string());
                let group_pending = pending.remove(&key).unwrap_or_default();
                (sensor, kind, rollups.get(&key), group_pending)
            })
            .collect();
        futures::stream::iter(work)
            .for_each_concurrent(FOLD_CONCURRENCY, |(sensor, kind, rollup, group_pending)| async move {
                let once = self
                    .fold_once(run, (sensor, kind), rollup, group_pending, Some(own_batch))
                    .await;
                match once {
                    Ok(Folded::Done) => {}
                    Ok(Folded::More | Folded::Moved) => {
                        self.fold_quietly(run, sensor, kind, Some(own_batch)).await;
                    }
                    Err(error) => {
                        tracing::warn!(%run, sensor, kind, %error, "could not fold readings into their rollup");
                    }
                }
            })
            .await;
    }

    /// One fold step of a (sensor, type), from its `rollup` and its `pending` readings, which
    /// must have been read after the rollup: a reading counted by an earlier version than the
    /// one read has lost its mark before that version was written, so it is not pending any more.
    /// Clears the marks the rollup's last fold left (those still pending), counts up to
    /// [`FOLD_CHUNK`] foldable readings into a new version, then clears their marks.
    async fn fold_once(
        &self,
        run: RunId,
        (sensor, kind): (&str, &str),
        rollup: Option<&Rollup>,
        pending: Vec<Pending>,
        own_batch: Option<&str>,
    ) -> Result<Folded, StoreError> {
        let (stale, fresh): (Vec<Pending>, Vec<Pending>) = pending
            .into_iter()
            .partition(|p| rollup.is_some_and(|r| r.folding.contains(&p.at_text)));
        if !stale.is_empty() {
            self.clear_marks(&stale).await?;
        }
        let mut take = fresh.iter().filter(|p| foldable(p, own_batch));
        let chunk: Vec<&Pending> = take.by_ref().take(FOLD_CHUNK).collect();
        let more = take.next().is_some();
        let Some((head, tail)) = chunk.split_first() else {
            return Ok(Folded::Done);
        };
        let mut aggregate = Aggregate::new(head.value, head.at);
        for p in tail {
            aggregate.add(p.value, p.at);
        }
        if let Some(rollup) = rollup {
            aggregate.merge(&rollup.aggregate);
        }
        let counted: Vec<&str> = chunk.iter().map(|p| p.at_text.as_str()).collect();
        let key = rollup_key(run, sensor, kind);
        if !self
            .put_rollup(
                &key,
                (sensor, kind),
                &aggregate,
                rollup.map(|r| r.version),
                &counted,
            )
            .await?
        {
            return Ok(Folded::Moved);
        }
        self.clear_marks(&chunk).await?;
        Ok(if more { Folded::More } else { Folded::Done })
    }

    /// The pending readings of `run` (of one `<sensor>#<type>#` prefix), strongly consistent.
    async fn pending_readings(
        &self,
        run: RunId,
        prefix: Option<&str>,
    ) -> Result<Vec<Pending>, StoreError> {
        let mut pending = Vec::new();
        self.query_each(&self.pending_spec(run, prefix), None, |item| {
            pending.push(Pending::from_item(item)?);
            Ok(true)
        })
        .await?;
        Ok(pending)
    }

    /// The summary of `run`: its rollups plus the pending readings they have not counted, read
    /// between two reads of the rollups that must agree (see the module documentation).
    pub(crate) async fn summarize_rollups(
        &self,
        run: RunId,
    ) -> Result<Vec<SensorSummary>, StoreError> {
        for round in 0..MAX_ROUNDS {
            let before = self.rollups(run).await?;
            let pending = self.pending_readings(run, None).await?;
            let after = self.rollups(run).await?;
            let moved = before.len() != after.len()
                || before
                    .iter()
                    .any(|(k, r)| after.get(k).is_none_or(|a| a.version != r.version));
            if moved {
                tokio::time::sleep(backoff(
                    round,
                    Duration::from_millis(2),
                    Duration::from_millis(200),
                ))
                .await;
                continue;
            }
            let mut groups: BTreeMap<(String, String), Aggregate> = BTreeMap::new();
            for p in pending {
                let key = (p.sensor, p.kind);
                if before
                    .get(&key)
                    .is_some_and(|r| r.folding.contains(&p.at_text))
                {
                    continue;
                }
                merge_into(&mut groups, key, &Aggregate::new(p.value, p.at));
            }
            for (key, rollup) in before {
                merge_into(&mut groups, key, &rollup.aggregate);
            }
            return groups
                .iter()
                .map(|((sensor, kind), g)| g.summary(sensor, kind))
                .collect();
        }
        Err(StoreError::Busy(format!(
            "the summary of run {run} kept changing under concurrent folds; retry"
        )))
    }

    /// A strongly consistent query of `run`'s pending readings (of one `<sensor>#<type>#` prefix).
    fn pending_spec(&self, run: RunId, prefix: Option<&str>) -> QuerySpec<'_> {
        let mut spec = QuerySpec::new(&self.readings_table, "#pk = :pk")
            .name("#pk", PK)
            .value(":pk", s(run.to_string()));
        if let Some(prefix) = prefix {
            spec.key_condition
                .push_str(" AND begins_with(#pend, :prefix)");
            spec = spec.name("#pend", PEND).value(":prefix", s(prefix));
        }
        spec.index = Some(PENDING);
        spec.consistent = true;
        spec
    }

    /// Every rollup of `run`, by (sensor, type).
    async fn rollups(&self, run: RunId) -> Result<BTreeMap<(String, String), Rollup>, StoreError> {
        let mut spec = QuerySpec::new(&self.readings_table, "#pk = :pk")
            .name("#pk", PK)
            .value(":pk", s(rollup_pk(run)));
        spec.consistent = true;
        let mut rollups = BTreeMap::new();
        self.query_each(&spec, None, |item| {
            let key = (
                get_s(&item, "sensorId", WHAT)?.to_string(),
                get_s(&item, "type", WHAT)?.to_string(),
            );
            rollups.insert(key, Rollup::from_item(&item)?);
            Ok(true)
        })
        .await?;
        Ok(rollups)
    }

    async fn get_rollup(&self, key: &Item) -> Result<Option<Rollup>, StoreError> {
        self.get_consistent(&self.readings_table, key.clone())
            .await?
            .as_ref()
            .map(Rollup::from_item)
            .transpose()
    }

    /// Writes the rollup `aggregate` at the version after `version` (`None`: a new rollup),
    /// naming `counted` as the readings it has just counted. `false` when the version moved.
    async fn put_rollup(
        &self,
        key: &Item,
        (sensor, kind): (&str, &str),
        aggregate: &Aggregate,
        version: Option<u64>,
        counted: &[&str],
    ) -> Result<bool, StoreError> {
        let mut item = key.clone();
        item.extend([
            ("sensorId".to_string(), s(sensor)),
            ("type".to_string(), s(kind)),
            (
                "count".to_string(),
                n_int(i64::try_from(aggregate.count).unwrap_or(i64::MAX)),
            ),
            ("sum".to_string(), n_f64(aggregate.sum)),
            ("min".to_string(), n_f64(aggregate.min)),
            ("max".to_string(), n_f64(aggregate.max)),
            ("first".to_string(), s(aggregate.first.to_string())),
            ("last".to_string(), s(aggregate.last.to_string())),
            (
                "version".to_string(),
                n_int(i64::try_from(version.map_or(1, |v| v + 1)).unwrap_or(i64::MAX)),
            ),
            (
                "folding".to_string(),
                AttributeValue::Ss(counted.iter().map(|t| (*t).to_string()).collect()),
            ),
        ]);
        self.stamp_reading_expiry(&mut item);
        let put = self
            .client
            .put_item()
            .set_item(Some(item))
            .expression_attribute_names("#pk", PK);
        let put = match version {
            None => put.condition_expression("attribute_not_exists(#pk)"),
            Some(v) => put
                .condition_expression("attribute_exists(#pk) AND #v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", n_int(i64::try_from(v).unwrap_or(i64::MAX))),
        };
        Ok(matches!(
            self.put_if(&self.readings_table, put).await?,
            Put::Done
        ))
    }

    /// Removes the marks of counted readings, and any batch hold (a counted reading is for
    /// good): each is written back as read, without `pend` and `batch`.
    ///
    /// An unconditional rewrite is safe because nothing else changes a counted reading's content
    /// until then: only batches that succeeded held it when it was counted, so none will delete
    /// it; a batch may still join it or a single reading pin it, which only change its holders,
    /// and those are removed here all the same. (A reading the time to live deleted in between
    /// comes back with its past `expiresAt`, and goes again.)
    async fn clear_marks<P: std::borrow::Borrow<Pending>>(
        &self,
        counted: &[P],
    ) -> Result<(), StoreError> {
        let items = counted
            .iter()
            .map(|p| {
                let mut item = p.borrow().item.clone();
                item.remove(PEND);
                item.remove(BATCH);
                item
            })
            .collect();
        self.batch_put(&self.readings_table, items).await
    }
}
