//! `TransactWriteItems` with its outcomes told apart: committed, canceled (with each item's
//! reason), or refused as invalid.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use iot_core::StoreError;

use crate::DynamoStore;
use crate::consumed::{self, Units};
use crate::error::sdk_error;

/// Outcome of a `TransactWriteItems`.
pub(crate) enum Tx {
    Committed,
    /// Canceled; the cancellation reason of each item (empty when the emulator gave none).
    Canceled(Vec<CancellationReason>),
    /// Refused as invalid before any condition was evaluated (e.g. a slot removal on a capacity
    /// item that has no `slots` map yet, which also means no run was ever admitted).
    Invalid(StoreError),
}

impl DynamoStore {
    /// Runs one transaction; `table` names the table in errors.
    pub(crate) async fn transact(
        &self,
        table: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Tx, StoreError> {
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
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
                    Ok(Tx::Canceled(canceled.cancellation_reasons().to_vec()))
                }
                Some(e) if e.code() == Some("ValidationException") => {
                    Ok(Tx::Invalid(sdk_error("TransactWriteItems", table, err)))
                }
                _ => Err(sdk_error("TransactWriteItems", table, err)),
            },
        }
    }
}
