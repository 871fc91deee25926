//! [`RunStore`] on the runs table: run items, the capacity item and the newest-first GSIs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, Put, TransactWriteItem, Update};
use iot_core::StoreError;
use iot_core::error::CapacityExhausted;
use iot_core::model::{
    IdempotencyKey, Page, Run, RunCursor, RunId, RunStatus, Timestamp, Username,
};
use iot_core::ports::{Admission, CapacityLimits, Finish, RunQuery, RunStore, RunningCount};

use crate::DynamoStore;
use crate::batch::backoff;
use crate::codec::{
    ALL_RUNS, BY_START, BY_USER, Capacity, Item, PK, capacity_key, cursor_sk, run_from_item,
    run_item, run_key, s, user_pk,
};
use crate::consumed::{self, Units};
use crate::error::{build_error, reason_code, sdk_error};
use crate::query::QuerySpec;

mod capacity;
mod idempotency;

/// Attempts of the optimistic capacity loop of `create_run` before giving up.
const CAPACITY_TRIES: u32 = 50;
/// Attempts of a finish or expiry transaction that keeps conflicting with another transaction.
const CONFLICT_TRIES: u32 = 10;
/// `create_run` expires stale slots itself once there are this many (keeps the item small even
/// when no sweep runs).
const STALE_SLOTS_SWEEP: usize = 64;

/// Cancellation codes that mean "someone else got there first, read again and retry".
const RETRYABLE: &[&str] = &[
    "ConditionalCheckFailed",
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

/// Whether a transaction of a run update (item 0) and a capacity update (item 1) was canceled by
/// contention, and is worth another attempt: item 0's reason is retryable, or item 0 has none and
/// item 1's is.
fn lost_to_contention(reasons: &[CancellationReason]) -> bool {
    match reason_code(reasons, 0) {
        Some(code) => RETRYABLE.contains(&code),
        None => reason_code(reasons, 1).is_some_and(|c| RETRYABLE.contains(&c)),
    }
}

/// Outcome of a `TransactWriteItems`.
enum Tx {
    Committed,
    /// Canceled; the cancellation reason of each item (empty when the emulator gave none).
    Canceled(Vec<CancellationReason>),
    /// Refused as invalid before any condition was evaluated (e.g. a slot removal on a capacity
    /// item that has no `slots` map yet, which also means no run was ever admitted).
    Invalid(StoreError),
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn contention_pause(attempt: u32) -> Duration {
    backoff(
        attempt,
        Duration::from_millis(5),
        Duration::from_millis(250),
    )
}

impl DynamoStore {
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Tx, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(consumed::TOTAL)
            .send()
            .await
        {
            Ok(out) => {
                consumed::report(Units::Write, out.consumed_capacity());
                Ok(Tx::Committed)
            }
            Err(err) => {
                match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
                        Ok(Tx::Canceled(canceled.cancellation_reasons().to_vec()))
                    }
                    Some(e) if e.code() == Some("ValidationException") => Ok(Tx::Invalid(
                        sdk_error("TransactWriteItems", &self.runs_table, err),
                    )),
                    _ => Err(sdk_error("TransactWriteItems", &self.runs_table, err)),
                }
            }
        }
    }

    /// The item at `key` of the runs table (strongly consistent).
    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        self.get_consistent(&self.runs_table, key).await
    }

    async fn read_capacity(&self) -> Result<Capacity, StoreError> {
        Capacity::from_item(self.get_item(capacity_key()).await?.as_ref())
    }

    async fn read_run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        self.get_item(run_key(id))
            .await?
            .as_ref()
            .map(run_from_item)
            .transpose()
    }

    /// Runs by id (strongly consistent), in no particular order; missing ids are skipped.
    async fn read_runs(
        &self,
        ids: impl IntoIterator<Item = RunId>,
    ) -> Result<Vec<Run>, StoreError> {
        let keys: Vec<Item> = ids.into_iter().map(run_key).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.batch_get(&self.runs_table, keys)
            .await?
            .iter()
            .map(run_from_item)
            .collect()
    }

    /// The refusal of a start, unless the id is taken (which wins, as in every store).
    async fn refuse(
        &self,
        id: RunId,
        exhausted: CapacityExhausted,
    ) -> Result<Admission, StoreError> {
        if self.read_run(id).await?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        Ok(Admission::Refused(exhausted))
    }
}

#[async_trait]
impl RunStore for DynamoStore {
    async fn create_run<'k>(
        &self,
        run: &Run,
        limits: CapacityLimits,
        now: Timestamp,
        key: Option<&'k IdempotencyKey>,
    ) -> Result<Admission, StoreError> {
        let mut swept = false;
        for attempt in 0..CAPACITY_TRIES {
            if let Some(key) = key
                && let Some(earlier) = self.read_idempotency_key(&run.username, key).await?
            {
                return Ok(Admission::Replayed(earlier));
            }
            let capacity = self.read_capacity().await?;
            let global = count(capacity.live(now).count());
            let user = count(
                capacity
                    .live(now)
                    .filter(|slot| slot.username == run.username.as_str())
                    .count(),
            );
            if let Some(exhausted) = limits.refusal(global, user) {
                return self.refuse(run.id, exhausted).await;
            }
            if !swept && capacity.stale(now).count() >= STALE_SLOTS_SWEEP {
                swept = true;
                let max = u32::try_from(STALE_SLOTS_SWEEP).unwrap_or(u32::MAX);
                match self.expire_runs(now, max).await {
                    Ok(expired) => tracing::info!(expired = expired.len(), "expired stale runs"),
                    Err(e) => tracing::warn!(error = %e, "could not expire stale runs"),
                }
                continue;
            }

            let mut item = run_item(run);
            self.stamp_run_expiry(&mut item, run.deadline);
            let put = Put::builder()
                .table_name(&self.runs_table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(build_error)?;
            let mut items = vec![
                TransactWriteItem::builder()
                    .update(self.admit_update(&capacity, run)?)
                    .build(),
                TransactWriteItem::builder().put(put).build(),
            ];
            if let Some(key) = key {
                items.push(
                    TransactWriteItem::builder()
                        .put(self.idempotency_put(run, key)?)
                        .build(),
                );
            }
            match self.transact(items).await? {
                Tx::Committed => return Ok(Admission::Admitted),
                Tx::Invalid(e) => return Err(e),
                // Another start under the same key won: the next round answers its run.
                Tx::Canceled(reasons)
                    if reason_code(&reasons, 2) == Some("ConditionalCheckFailed") => {}
                Tx::Canceled(reasons) => {
                    match (reason_code(&reasons, 0), reason_code(&reasons, 1)) {
                        (_, Some("ConditionalCheckFailed")) => {
                            return Err(StoreError::AlreadyExists);
                        }
                        (None, None) if reasons.is_empty() => {
                            if self.read_run(run.id).await?.is_some() {
                                return Err(StoreError::AlreadyExists);
                            }
                        }
                        (a, b)
                            if a.is_none_or(|c| RETRYABLE.contains(&c))
                                && b.is_none_or(|c| RETRYABLE.contains(&c)) => {}
                        (a, b) => {
                            return Err(StoreError::Internal(format!(
                                "creating run {}: transaction canceled ({a:?}, {b:?})",
                                run.id
                            )));
                        }
                    }
                }
            }
            tracing::debug!(run_id = %run.id, attempt, "capacity item changed, retrying");
            tokio::time::sleep(contention_pause(attempt.min(6))).await;
        }
        Err(StoreError::Busy(format!(
            "capacity contention: run {} not admitted after {CAPACITY_TRIES} attempts",
            run.id
        )))
    }

    async fn get_run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        self.read_run(id).await
    }

    async fn list_runs(
        &self,
        query: &RunQuery,
        now: Timestamp,
    ) -> Result<Page<Run, RunCursor>, StoreError> {
        let (index, pk, sk, partition) = match &query.user {
            Some(user) => (BY_USER, "g2pk", "g2sk", user_pk(user)),
            None => (BY_START, "g1pk", "g1sk", ALL_RUNS.to_string()),
        };
        let mut spec = QuerySpec::new(&self.runs_table, "#gpk = :gpk")
            .name("#gpk", pk)
            .value(":gpk", s(partition));
        spec.index = Some(index);
        spec.forward = false;
        if let Some(after) = &query.after {
            spec.key_condition.push_str(" AND #gsk < :cursor");
            spec = spec.name("#gsk", sk).value(":cursor", s(cursor_sk(after)));
        }
        spec = match query.status {
            None => spec,
            Some(RunStatus::Running) => spec
                .and_filter("#st = :running AND #dl >= :now")
                .name("#st", "status")
                .name("#dl", "deadline")
                .value(":running", s(RunStatus::Running.as_str()))
                .value(":now", s(now.to_string())),
            Some(RunStatus::Timeout) => spec
                .and_filter("#st = :timeout OR (#st = :running AND #dl < :now)")
                .name("#st", "status")
                .name("#dl", "deadline")
                .value(":timeout", s(RunStatus::Timeout.as_str()))
                .value(":running", s(RunStatus::Running.as_str()))
                .value(":now", s(now.to_string())),
            Some(status) => spec
                .and_filter("#st = :status")
                .name("#st", "status")
                .value(":status", s(status.as_str())),
        };

        let limit = query.limit as usize;
        let mut runs = Vec::with_capacity(limit + 1);
        self.query_each(&spec, Some(limit + 1), |item| {
            runs.push(run_from_item(&item)?);
            Ok(true)
        })
        .await?;
        Ok(Page::from_overfetch(runs, query.limit, Run::cursor))
    }

    async fn running_runs<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<Vec<Run>, StoreError> {
        let capacity = self.read_capacity().await?;
        let ids: Vec<RunId> = capacity
            .live(now)
            .filter(|slot| user.is_none_or(|u| slot.username == u.as_str()))
            .map(|slot| slot.run_id)
            .collect();
        let mut runs: Vec<Run> = self
            .read_runs(ids)
            .await?
            .into_iter()
            .filter(|r| r.is_running_at(now) && user.is_none_or(|u| &r.username == u))
            .collect();
        runs.sort_by(Run::newest_first);
        Ok(runs)
    }

    async fn count_running<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<RunningCount, StoreError> {
        let capacity = self.read_capacity().await?;
        Ok(RunningCount {
            global: count(capacity.live(now).count()),
            user: user.map(|u| {
                count(
                    capacity
                        .live(now)
                        .filter(|slot| slot.username == u.as_str())
                        .count(),
                )
            }),
        })
    }

    async fn finish_run(
        &self,
        id: RunId,
        finish: &Finish,
        now: Timestamp,
    ) -> Result<Option<Run>, StoreError> {
        for attempt in 0..CONFLICT_TRIES {
            let mut run_update = Update::builder()
                .table_name(&self.runs_table)
                .set_key(Some(run_key(id)))
                .condition_expression("#st = :running AND #dl >= :now")
                .expression_attribute_names("#st", "status")
                .expression_attribute_names("#dl", "deadline")
                .expression_attribute_names("#em", "errorMessage")
                .expression_attribute_values(":status", s(finish.status.as_str()))
                .expression_attribute_values(":finished", s(finish.finished_at.to_string()))
                .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
                .expression_attribute_values(":now", s(now.to_string()));
            run_update = match &finish.error_message {
                Some(message) => run_update
                    .update_expression("SET #st = :status, finishedAt = :finished, #em = :em")
                    .expression_attribute_values(":em", s(message.as_str())),
                None => run_update
                    .update_expression("SET #st = :status, finishedAt = :finished REMOVE #em"),
            };
            let items = vec![
                TransactWriteItem::builder()
                    .update(run_update.build().map_err(build_error)?)
                    .build(),
                TransactWriteItem::builder()
                    .update(self.release_update(id)?)
                    .build(),
            ];
            match self.transact(items).await? {
                Tx::Committed => {
                    // A terminal run never changes again: this read sees exactly what we wrote.
                    return match self.read_run(id).await? {
                        Some(run) => Ok(Some(run)),
                        None => Err(StoreError::Internal(format!(
                            "run {id} vanished right after being finished"
                        ))),
                    };
                }
                // No `slots` map: no run was ever admitted, so this one is not running.
                Tx::Invalid(e) => {
                    return match self.read_run(id).await? {
                        Some(run) if run.is_running_at(now) => Err(e),
                        _ => Ok(None),
                    };
                }
                Tx::Canceled(reasons) => match reason_code(&reasons, 0) {
                    // Missing, terminal or past its deadline: nothing changed.
                    Some("ConditionalCheckFailed") => return Ok(None),
                    _ if lost_to_contention(&reasons) => {}
                    None if reasons.is_empty() => {
                        if !self
                            .read_run(id)
                            .await?
                            .is_some_and(|r| r.is_running_at(now))
                        {
                            return Ok(None);
                        }
                    }
                    other => {
                        return Err(StoreError::Internal(format!(
                            "finishing run {id}: transaction canceled ({other:?}, {:?})",
                            reason_code(&reasons, 1)
                        )));
                    }
                },
            }
            tokio::time::sleep(contention_pause(attempt)).await;
        }
        Err(StoreError::Busy(format!(
            "finishing run {id}: conflicting transactions after {CONFLICT_TRIES} attempts"
        )))
    }

    async fn expire_runs(&self, now: Timestamp, max: u32) -> Result<Vec<Run>, StoreError> {
        let capacity = self.read_capacity().await?;
        let mut stale: Vec<(Timestamp, RunId)> = capacity
            .stale(now)
            .map(|slot| (slot.deadline, slot.run_id))
            .collect();
        stale.sort_unstable();
        let mut expired = Vec::new();
        for (_, id) in stale.into_iter().take(max as usize) {
            if self.expire_one(id, now).await? {
                expired.push(id);
            }
        }
        let mut runs = self.read_runs(expired).await?;
        runs.sort_by_key(|r| (r.deadline, r.id));
        Ok(runs)
    }

    async fn purge_runs(&self, _cutoff: Timestamp, _max: u32) -> Result<u32, StoreError> {
        // Items carry their expiry; DynamoDB's time to live deletes them (see `retention`).
        Ok(0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.runs_table)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DescribeTable", &self.runs_table, e))
    }
}
