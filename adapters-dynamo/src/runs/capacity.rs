//! Upkeep of the capacity item: the slot a start adds, the slot a finish or an expiry gives back,
//! and the expiry of runs whose slots went stale.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use iot_core::StoreError;
use iot_core::model::{Run, RunId, RunStatus, Timestamp};

use super::{CONFLICT_TRIES, Tx, contention_pause, lost_to_contention};
use crate::DynamoStore;
use crate::codec::{Capacity, capacity_key, n_int, run_key, s, slot_value};
use crate::error::{build_error, reason_code};

impl DynamoStore {
    /// The capacity update of a start: add the run's slot and bump `version`, on condition that
    /// the item is still at the version read.
    pub(super) fn admit_update(
        &self,
        capacity: &Capacity,
        run: &Run,
    ) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.runs_table)
            .set_key(Some(capacity_key()))
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":one", n_int(1));
        let set = if run.status == RunStatus::Running {
            update = update.expression_attribute_names("#sl", "slots");
            if capacity.slots.is_some() {
                update = update
                    .expression_attribute_names("#id", run.id.to_string())
                    .expression_attribute_values(":slot", slot_value(run));
                "SET #sl.#id = :slot "
            } else {
                let slots = HashMap::from([(run.id.to_string(), slot_value(run))]);
                update = update.expression_attribute_values(":slots", AttributeValue::M(slots));
                "SET #sl = :slots "
            }
        } else {
            ""
        };
        update = match capacity.version {
            Some(version) => update
                .condition_expression("#ver = :v")
                .expression_attribute_values(":v", n_int(version)),
            None => update.condition_expression("attribute_not_exists(#ver)"),
        };
        update
            .update_expression(format!("{set}ADD #ver :one"))
            .build()
            .map_err(build_error)
    }

    /// The capacity update that gives a run's slot back.
    pub(super) fn release_update(&self, id: RunId) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.runs_table)
            .set_key(Some(capacity_key()))
            .update_expression("REMOVE #sl.#id ADD #ver :one")
            .expression_attribute_names("#sl", "slots")
            .expression_attribute_names("#id", id.to_string())
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":one", n_int(1))
            .build()
            .map_err(build_error)
    }

    /// Removes the slot of a run that is no longer stored `RUNNING` (if still there).
    pub(super) async fn drop_slot(&self, id: RunId) -> Result<(), StoreError> {
        self.update_if(
            &self.runs_table,
            self.client
                .update_item()
                .set_key(Some(capacity_key()))
                .update_expression("REMOVE #sl.#id ADD #ver :one")
                .condition_expression("attribute_exists(#sl.#id)")
                .expression_attribute_names("#sl", "slots")
                .expression_attribute_names("#id", id.to_string())
                .expression_attribute_names("#ver", "version")
                .expression_attribute_values(":one", n_int(1)),
        )
        .await
        .map(drop)
    }

    /// Persists `TIMEOUT` on one run whose slot is stale; `true` when this call changed it.
    pub(super) async fn expire_one(&self, id: RunId, now: Timestamp) -> Result<bool, StoreError> {
        for attempt in 0..CONFLICT_TRIES {
            let run_update = Update::builder()
                .table_name(&self.runs_table)
                .set_key(Some(run_key(id)))
                .update_expression("SET #st = :timeout, finishedAt = #dl")
                .condition_expression("#st = :running AND #dl < :now")
                .expression_attribute_names("#st", "status")
                .expression_attribute_names("#dl", "deadline")
                .expression_attribute_values(":timeout", s(RunStatus::Timeout.as_str()))
                .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
                .expression_attribute_values(":now", s(now.to_string()))
                .build()
                .map_err(build_error)?;
            let items = vec![
                TransactWriteItem::builder().update(run_update).build(),
                TransactWriteItem::builder()
                    .update(self.release_update(id)?)
                    .build(),
            ];
            match self.transact(items).await? {
                Tx::Committed => return Ok(true),
                Tx::Invalid(e) => return Err(e),
                Tx::Canceled(reasons) => match reason_code(&reasons, 0) {
                    // Finished concurrently, or already expired by another sweep.
                    Some("ConditionalCheckFailed") => {
                        self.drop_slot(id).await?;
                        return Ok(false);
                    }
                    _ if lost_to_contention(&reasons) => {}
                    None if reasons.is_empty() => {
                        if !self
                            .read_run(id)
                            .await?
                            .is_some_and(|r| r.status == RunStatus::Running)
                        {
                            self.drop_slot(id).await?;
                            return Ok(false);
                        }
                    }
                    other => {
                        return Err(StoreError::Internal(format!(
                            "expiring run {id}: transaction canceled ({other:?})"
                        )));
                    }
                },
            }
            tokio::time::sleep(contention_pause(attempt)).await;
        }
        // Another process keeps working on this run: it will finish or expire it.
        tracing::debug!(run_id = %id, "expiry skipped after repeated transaction conflicts");
        Ok(false)
    }
}
