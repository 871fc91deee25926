//! Batch reads with the limit real DynamoDB enforces (100 keys per `BatchGetItem`) and retries of
//! unprocessed keys until a deadline. (Readings are written one conditional put each: see
//! `write_once`; `BatchWriteItem` cannot carry conditions.)

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::KeysAndAttributes;
use iot_core::StoreError;

use crate::DynamoStore;
use crate::codec::Item;
use crate::consumed::{self, Units};
use crate::error::{build_error, sdk_error};

/// Keys per `BatchGetItem` call (DynamoDB limit).
pub(crate) const GET_CHUNK: usize = 100;
/// How long unprocessed keys are retried before the call fails loudly.
pub(crate) const UNPROCESSED_DEADLINE: Duration = Duration::from_secs(10);

/// A random duration in `[0, max)`, from the OS-seeded UUID generator (no extra dependency).
pub(crate) fn jitter(max: Duration) -> Duration {
    let max_micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX).max(1);
    let random = uuid::Uuid::new_v4().as_u64_pair().0;
    Duration::from_micros(random % max_micros)
}

/// Exponential backoff with full jitter: attempt 0 waits up to `base`, doubling up to `cap`.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32 << attempt.min(16);
    jitter(base.saturating_mul(factor).min(cap))
}

impl DynamoStore {
    /// Strongly consistent `BatchGetItem` of `keys` in `table`, in chunks of 100, unprocessed keys
    /// retried with backoff. Items come back in no particular order; missing keys are absent.
    pub(crate) async fn batch_get(
        &self,
        table: &str,
        keys: Vec<Item>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        let started = Instant::now();
        for chunk in keys.chunks(GET_CHUNK) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(table, request)
                    .return_consumed_capacity(consumed::TOTAL)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", table, e))?;
                consumed::report(Units::Read, out.consumed_capacity());
                if let Some(mut responses) = out.responses {
                    found.extend(responses.remove(table).unwrap_or_default());
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    if started.elapsed() > UNPROCESSED_DEADLINE {
                        return Err(StoreError::Unavailable(format!(
                            "DynamoDB BatchGetItem on {table}: {} keys still unprocessed after {}s \
                             of retries",
                            pending.len(),
                            UNPROCESSED_DEADLINE.as_secs()
                        )));
                    }
                    tracing::debug!(table, left = pending.len(), "retrying unprocessed keys");
                    tokio::time::sleep(backoff(
                        attempt,
                        Duration::from_millis(20),
                        Duration::from_secs(1),
                    ))
                    .await;
                    attempt += 1;
                }
            }
        }
        Ok(found)
    }
}
