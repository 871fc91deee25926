//! Paginated `Query` shared by the listings.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_core::StoreError;

use crate::DynamoStore;
use crate::codec::Item;
use crate::consumed::{self, Units};
use crate::error::sdk_error;

/// One `Query`, paged through by [`DynamoStore::query_each`].
#[derive(Debug, Clone)]
pub(crate) struct QuerySpec<'a> {
    pub(crate) table: &'a str,
    pub(crate) index: Option<&'static str>,
    pub(crate) key_condition: String,
    pub(crate) filter: Option<String>,
    pub(crate) projection: Option<String>,
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    /// Ascending sort key order when `true`.
    pub(crate) forward: bool,
    /// Strongly consistent reads (base table only: GSIs are eventually consistent).
    pub(crate) consistent: bool,
}

impl<'a> QuerySpec<'a> {
    pub(crate) fn new(table: &'a str, key_condition: impl Into<String>) -> Self {
        Self {
            table,
            index: None,
            key_condition: key_condition.into(),
            filter: None,
            projection: None,
            names: HashMap::new(),
            values: HashMap::new(),
            forward: true,
            consistent: false,
        }
    }

    pub(crate) fn name(mut self, placeholder: &str, attribute: impl Into<String>) -> Self {
        self.names.insert(placeholder.into(), attribute.into());
        self
    }

    pub(crate) fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.into(), value);
        self
    }

    /// Adds `condition` to the filter with `AND`.
    pub(crate) fn and_filter(mut self, condition: &str) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => format!("({existing}) AND ({condition})"),
            None => condition.to_string(),
        });
        self
    }
}

/// Largest `Limit` sent per page.
const MAX_PAGE: usize = 1000;

impl DynamoStore {
    /// Runs `spec` page after page, handing each item to `visit`, which answers whether the item
    /// counts towards `want`. Stops once `want` items were counted or the key range ends.
    ///
    /// Pages are sized to what is still wanted (larger when a filter may drop items), so a
    /// listing reads little more than it returns.
    pub(crate) async fn query_each<F>(
        &self,
        spec: &QuerySpec<'_>,
        want: Option<usize>,
        mut visit: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(Item) -> Result<bool, StoreError> + Send,
    {
        let mut counted = 0usize;
        let mut start_key: Option<Item> = None;
        loop {
            let page_limit = want.map(|w| {
                let remaining = w.saturating_sub(counted).max(1);
                let sized = if spec.filter.is_some() {
                    remaining.saturating_mul(2).max(100)
                } else {
                    remaining
                };
                i32::try_from(sized.min(MAX_PAGE)).unwrap_or(1000)
            });
            let out = self
                .client
                .query()
                .table_name(spec.table)
                .set_index_name(spec.index.map(str::to_string))
                .key_condition_expression(spec.key_condition.as_str())
                .set_filter_expression(spec.filter.clone())
                .set_projection_expression(spec.projection.clone())
                .set_expression_attribute_names(
                    (!spec.names.is_empty()).then(|| spec.names.clone()),
                )
                .set_expression_attribute_values(
                    (!spec.values.is_empty()).then(|| spec.values.clone()),
                )
                .scan_index_forward(spec.forward)
                .consistent_read(spec.consistent)
                .set_limit(page_limit)
                .set_exclusive_start_key(start_key.take())
                .return_consumed_capacity(consumed::TOTAL)
                .send()
                .await
                .map_err(|e| sdk_error("Query", spec.table, e))?;
            consumed::report(Units::Read, out.consumed_capacity());
            for item in out.items.unwrap_or_default() {
                if visit(item)? {
                    counted += 1;
                    if want.is_some_and(|w| counted >= w) {
                        return Ok(());
                    }
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(()),
            }
        }
    }
}
