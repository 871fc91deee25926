//! Write-once readings under any concurrency.
//!
//! Every reading is written with a conditional `PutItem` (`attribute_not_exists(pk)`), so a stored
//! reading is never replaced, whoever else writes the same key at the same moment. A batch cannot be
//! one DynamoDB transaction (at most 100 items), so all-or-nothing is kept by compensation:
//!
//! 1. an item a batch writes is *held*: the `batch` attribute is the set of the ids of the batches
//!    in flight that stored or found it;
//! 2. a batch that finds the same value under a key held by other batches *joins* them (adds its id
//!    to the set, while the set exists), and counts it as a duplicate;
//! 3. a batch that meets a stored different value stops, lets go of every item it holds (it deletes
//!    an item it alone holds, and takes its id out of the set of one others hold too), and reports
//!    the conflict; so a refused batch leaves nothing behind but readings another batch in flight
//!    also holds, or someone acknowledged;
//! 4. a single reading that finds the same value under a held key *pins* it (`REMOVE batch`) before
//!    acknowledging it as a duplicate, so no compensation can delete it any more. A join or a pin
//!    that finds the item gone (taken back meanwhile) writes the reading again.
//!
//! A batch that succeeds leaves its readings held until it counts them into their rollups, which
//! removes the set (see `rollup`): a counted reading is for good.

use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use iot_core::StoreError;
use iot_core::error::conflict_detail;
use iot_core::model::SensorReading;

use crate::DynamoStore;
use crate::codec::{Item, PK, reading_from_item, reading_item, reading_key, s};
use crate::item::Put;

/// Attribute holding the ids of the batches in flight that hold an item (a string set).
pub(crate) const BATCH: &str = "batch";

/// Conditional writes a batch keeps in flight at once.
pub(crate) const PUT_CONCURRENCY: usize = 32;

/// How many times one key is retried when the item under it keeps vanishing (a compensating
/// batch deleting it between our reads): far more than any real interleaving produces.
const MAX_ROUNDS: usize = 16;

/// What became of one reading handed to [`DynamoStore::write_once`].
#[derive(Debug)]
pub(crate) enum KeyOutcome {
    /// This call stored the reading.
    Written,
    /// The same value was already stored (and is now pinned if a batch held it).
    Stored(SensorReading),
    /// The same value was stored and held by other batches, and this batch now holds it too.
    Joined,
    /// A different value is stored under the key.
    Conflicting(SensorReading),
    /// Not attempted: the batch had already met a conflict or an error.
    Skipped,
}

/// The batches holding `item` (none: the reading is for good).
pub(crate) fn holders(item: &Item) -> &[String] {
    match item.get(BATCH) {
        Some(AttributeValue::Ss(ids)) => ids,
        _ => &[],
    }
}

/// What letting go of an item found.
enum LetGo {
    Done,
    /// The holders changed meanwhile: look again.
    Moved,
}

impl DynamoStore {
    /// Stores `reading` unless its key is taken, tagging the item with `batch` when given.
    ///
    /// `stop` is checked before each write: once set (by a sibling of the same batch that met a
    /// conflict), nothing more is written and the outcome is [`KeyOutcome::Skipped`].
    pub(crate) async fn write_once(
        &self,
        reading: &SensorReading,
        batch: Option<&str>,
        known: Option<Item>,
        stop: &AtomicBool,
    ) -> Result<KeyOutcome, StoreError> {
        let mut found = known;
        for _ in 0..MAX_ROUNDS {
            let item = match found.take() {
                Some(item) => item,
                None => {
                    if stop.load(Ordering::Acquire) {
                        return Ok(KeyOutcome::Skipped);
                    }
                    match self.put_if_absent(reading, batch).await? {
                        Put::Done => return Ok(KeyOutcome::Written),
                        Put::Taken(Some(item)) => item,
                        // Not every emulator returns the old item on a failed condition.
                        Put::Taken(None) => match self.get_reading_item(reading).await? {
                            Some(item) => item,
                            None => continue,
                        },
                    }
                }
            };
            let stored = reading_from_item(&item)?;
            if !stored.same_value_as(reading) {
                return Ok(KeyOutcome::Conflicting(stored));
            }
            let held = holders(&item);
            if held.is_empty() {
                return Ok(KeyOutcome::Stored(stored));
            }
            match batch {
                // Our own write, answered as taken because the SDK retried a put that had
                // succeeded: it is ours to report (and to compensate).
                Some(id) if held.iter().any(|h| h == id) => return Ok(KeyOutcome::Written),
                Some(id) => {
                    if self.join(reading, id).await? {
                        return Ok(KeyOutcome::Joined);
                    }
                }
                None => {
                    if self.pin(reading).await? {
                        return Ok(KeyOutcome::Stored(stored));
                    }
                }
            }
            // Taken back meanwhile, or no longer held by anyone: look again.
            found = self.get_reading_item(reading).await?;
        }
        Err(StoreError::Busy(format!(
            "reading {} {} at {} kept changing under concurrent batches; retry",
            reading.sensor_id, reading.kind, reading.timestamp
        )))
    }

    /// Writes every reading of a batch (keys already distinct) under the batch id `batch`, at most
    /// [`PUT_CONCURRENCY`] at a time. `known` gives the item already read for a key, if any.
    ///
    /// On a conflict or an error, what this call wrote is deleted again before it returns.
    pub(crate) async fn write_batch_once(
        &self,
        batch: &str,
        readings: Vec<(&SensorReading, Option<Item>)>,
    ) -> Result<Vec<KeyOutcome>, StoreError> {
        let stop = AtomicBool::new(false);
        // Each write is created when a place in flight frees up, so at most PUT_CONCURRENCY of
        // them exist at once (an SDK call's future is large: a thousand made up front took
        // ~10 MB). Outcomes come in the order of `readings`.
        let mut in_flight = FuturesOrdered::new();
        let mut outcomes: Vec<Result<KeyOutcome, StoreError>> = Vec::with_capacity(readings.len());
        let mut next = readings.iter();
        loop {
            while in_flight.len() < PUT_CONCURRENCY {
                let Some((reading, known)) = next.next() else {
                    break;
                };
                in_flight.push_back(self.write_tagged(reading, batch, known.clone(), &stop));
            }
            match in_flight.next().await {
                Some(outcome) => outcomes.push(outcome),
                None => break,
            }
        }
        if !stop.load(Ordering::Acquire) {
            return outcomes.into_iter().collect();
        }
        let written: Vec<&SensorReading> = readings
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| matches!(outcome, Ok(KeyOutcome::Written | KeyOutcome::Joined)))
            .map(|((reading, _), _)| *reading)
            .collect();
        self.compensate(batch, &written).await?;
        let mut first_error = None;
        for ((reading, _), outcome) in readings.iter().zip(outcomes) {
            match outcome {
                Ok(KeyOutcome::Conflicting(_)) => {
                    return Err(StoreError::Conflict(conflict_detail(reading)));
                }
                Err(e) if first_error.is_none() => first_error = Some(e),
                _ => {}
            }
        }
        Err(first_error.unwrap_or_else(|| {
            StoreError::Internal("batch stopped without a conflict or an error".into())
        }))
    }

    /// [`Self::write_once`] for one reading of a batch; sets `stop` on anything but success.
    async fn write_tagged(
        &self,
        reading: &SensorReading,
        batch: &str,
        known: Option<Item>,
        stop: &AtomicBool,
    ) -> Result<KeyOutcome, StoreError> {
        let outcome = self.write_once(reading, Some(batch), known, stop).await;
        if !matches!(
            outcome,
            Ok(KeyOutcome::Written | KeyOutcome::Stored(_) | KeyOutcome::Joined)
        ) {
            stop.store(true, Ordering::Release);
        }
        outcome
    }

    /// Lets go of the items `batch` wrote or joined (see [`Self::let_go`]).
    async fn compensate(&self, batch: &str, written: &[&SensorReading]) -> Result<(), StoreError> {
        let mut deletes = Vec::with_capacity(written.len());
        for reading in written {
            deletes.push(self.let_go(reading, batch));
        }
        let results: Vec<Result<(), StoreError>> = futures::stream::iter(deletes)
            .buffer_unordered(PUT_CONCURRENCY)
            .collect()
            .await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        if failed == 0 {
            return Ok(());
        }
        tracing::warn!(
            batch,
            failed,
            written = written.len(),
            "could not take back every reading of a conflicting batch"
        );
        Err(StoreError::Unavailable(format!(
            "the batch met a conflict and {failed} of the {} readings it had written could not be \
             removed again",
            written.len()
        )))
    }

    async fn put_if_absent(
        &self,
        reading: &SensorReading,
        batch: Option<&str>,
    ) -> Result<Put, StoreError> {
        let mut item = reading_item(reading);
        self.stamp_reading_expiry(&mut item);
        if let Some(id) = batch {
            item.insert(BATCH.into(), AttributeValue::Ss(vec![id.to_string()]));
        }
        self.put_if(
            &self.readings_table,
            self.client
                .put_item()
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                ),
        )
        .await
    }

    /// Makes the item of `reading` permanent (no batch holds it any more). `false` when it is
    /// gone.
    async fn pin(&self, reading: &SensorReading) -> Result<bool, StoreError> {
        self.update_reading(
            reading,
            self.client
                .update_item()
                .update_expression("REMOVE #b")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK),
        )
        .await
    }

    /// Adds `batch` to the holders of the item of `reading`. `false` when it is gone or no batch
    /// holds it any more.
    async fn join(&self, reading: &SensorReading, batch: &str) -> Result<bool, StoreError> {
        self.update_reading(
            reading,
            self.client
                .update_item()
                .update_expression("ADD #b :b")
                .condition_expression("attribute_exists(#b)")
                .expression_attribute_values(":b", AttributeValue::Ss(vec![batch.to_string()])),
        )
        .await
    }

    /// Sends `update` (with `#b` naming [`BATCH`]) on the item of `reading`. `false` when its
    /// condition failed.
    async fn update_reading(
        &self,
        reading: &SensorReading,
        update: UpdateItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        self.update_if(
            &self.readings_table,
            update
                .set_key(Some(reading_key(reading)))
                .expression_attribute_names("#b", BATCH),
        )
        .await
    }

    /// Lets go of the item of `reading` for `batch`: deletes it if `batch` alone holds it, takes
    /// `batch` out of its holders if others hold it too, and leaves it alone if `batch` does not
    /// hold it (pinned, or counted: someone acknowledged it).
    async fn let_go(&self, reading: &SensorReading, batch: &str) -> Result<(), StoreError> {
        for _ in 0..MAX_ROUNDS {
            let Some(item) = self.get_reading_item(reading).await? else {
                return Ok(());
            };
            let held = holders(&item);
            if !held.iter().any(|h| h == batch) {
                return Ok(());
            }
            let outcome = if held.len() == 1 {
                self.delete_held(reading, batch).await?
            } else {
                let released = self
                    .update_reading(
                        reading,
                        self.client
                            .update_item()
                            .update_expression("DELETE #b :b")
                            .condition_expression("contains(#b, :id) AND size(#b) > :one")
                            .expression_attribute_values(
                                ":b",
                                AttributeValue::Ss(vec![batch.to_string()]),
                            )
                            .expression_attribute_values(":id", s(batch))
                            .expression_attribute_values(":one", AttributeValue::N("1".into())),
                    )
                    .await?;
                if released { LetGo::Done } else { LetGo::Moved }
            };
            if matches!(outcome, LetGo::Done) {
                return Ok(());
            }
        }
        Err(StoreError::Busy(format!(
            "reading {} {} at {}: its holders kept changing while a refused batch let go of it",
            reading.sensor_id, reading.kind, reading.timestamp
        )))
    }

    /// Deletes the item of `reading` while `batch` is its only holder.
    async fn delete_held(&self, reading: &SensorReading, batch: &str) -> Result<LetGo, StoreError> {
        let deleted = self
            .delete_if(
                &self.readings_table,
                self.client
                    .delete_item()
                    .set_key(Some(reading_key(reading)))
                    .condition_expression("contains(#b, :id) AND size(#b) = :one")
                    .expression_attribute_names("#b", BATCH)
                    .expression_attribute_values(":id", s(batch))
                    .expression_attribute_values(":one", AttributeValue::N("1".into())),
            )
            .await?;
        Ok(if deleted { LetGo::Done } else { LetGo::Moved })
    }

    /// The stored item under the key of `reading` (strongly consistent).
    pub(crate) async fn get_reading_item(
        &self,
        reading: &SensorReading,
    ) -> Result<Option<Item>, StoreError> {
        self.get_consistent(&self.readings_table, reading_key(reading))
            .await
    }
}
