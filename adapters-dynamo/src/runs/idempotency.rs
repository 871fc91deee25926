//! Idempotency keys of starts: one item per (user, key) recording the run it created, written in
//! the same transaction as the run and kept as long as the run.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put};
use iot_core::StoreError;
use iot_core::model::{IdempotencyKey, Run, RunId, Username};

use crate::DynamoStore;
use crate::codec::{Item, PK, SK, s};
use crate::error::build_error;

/// Sort key of the item that records the run a user started under an idempotency key.
const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

/// Key of the item recording the run `user` started under `key` (`#` is in neither).
fn idempotency_item_key(user: &Username, key: &IdempotencyKey) -> Item {
    HashMap::from([
        (PK.to_string(), s(format!("IDEM#{user}#{key}"))),
        (SK.to_string(), s(IDEMPOTENCY_SK)),
    ])
}

impl DynamoStore {
    /// The run `user` started under `key`, if any (strongly consistent).
    pub(super) async fn read_idempotency_key(
        &self,
        user: &Username,
        key: &IdempotencyKey,
    ) -> Result<Option<RunId>, StoreError> {
        self.get_item(idempotency_item_key(user, key))
            .await?
            .as_ref()
            .and_then(|item| item.get("runId"))
            .map(|id| match id {
                AttributeValue::S(id) => RunId::parse("runId", id)
                    .map_err(|e| StoreError::Internal(format!("idempotency item: {e}"))),
                other => Err(StoreError::Internal(format!(
                    "idempotency item: runId is {other:?}"
                ))),
            })
            .transpose()
    }

    /// The conditional put recording that `run` was started under `key`.
    pub(super) fn idempotency_put(
        &self,
        run: &Run,
        key: &IdempotencyKey,
    ) -> Result<Put, StoreError> {
        let mut item = idempotency_item_key(&run.username, key);
        item.insert("runId".to_string(), s(run.id.to_string()));
        self.stamp_run_expiry(&mut item, run.deadline);
        Put::builder()
            .table_name(&self.runs_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build_error)
    }
}
