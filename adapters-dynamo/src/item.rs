//! One item at a time: strongly consistent reads and conditional writes, their capacity reported
//! into the request's meter and their errors mapped.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use iot_core::StoreError;

use crate::DynamoStore;
use crate::codec::Item;
use crate::consumed::{self, Units};
use crate::error::sdk_error;

/// What a conditional put found.
pub(crate) enum Put {
    Done,
    /// The condition failed; the item it met, when the request asked for it and there was one.
    Taken(Option<Item>),
}

impl DynamoStore {
    /// Sends `put` (item, condition and expressions set by the caller) to `table`.
    pub(crate) async fn put_if(
        &self,
        table: &str,
        put: PutItemFluentBuilder,
    ) -> Result<Put, StoreError> {
        let result = put
            .table_name(table)
            .return_consumed_capacity(consumed::TOTAL)
            .send()
            .await;
        match result {
            Ok(out) => {
                consumed::report(Units::Write, out.consumed_capacity());
                Ok(Put::Done)
            }
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => Ok(Put::Taken(
                    failed.item().filter(|item| !item.is_empty()).cloned(),
                )),
                _ => Err(sdk_error("PutItem", table, err)),
            },
        }
    }

    /// The item at `key` of `table` (strongly consistent).
    pub(crate) async fn get_consistent(
        &self,
        table: &str,
        key: Item,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(consumed::TOTAL)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", table, e))?;
        consumed::report(Units::Read, out.consumed_capacity());
        Ok(out.item)
    }

    /// Sends `update` (key, expressions and condition set by the caller) to `table`; `false`
    /// when its condition failed.
    pub(crate) async fn update_if(
        &self,
        table: &str,
        update: UpdateItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        let result = update
            .table_name(table)
            .return_consumed_capacity(consumed::TOTAL)
            .send()
            .await;
        match result {
            Ok(out) => {
                consumed::report(Units::Write, out.consumed_capacity());
                Ok(true)
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_error("UpdateItem", table, err)),
            },
        }
    }

    /// Sends `delete` (key and condition set by the caller) to `table`; `false` when its
    /// condition failed.
    pub(crate) async fn delete_if(
        &self,
        table: &str,
        delete: DeleteItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        let result = delete
            .table_name(table)
            .return_consumed_capacity(consumed::TOTAL)
            .send()
            .await;
        match result {
            Ok(out) => {
                consumed::report(Units::Write, out.consumed_capacity());
                Ok(true)
            }
            Err(err) => match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_error("DeleteItem", table, err)),
            },
        }
    }
}
