//! Batch reads and writes with the limits real DynamoDB enforces (100 keys per `BatchGetItem`,
//! 25 puts per `BatchWriteItem`) and retries of what it leaves unprocessed until a deadline.
//! (New readings are written one conditional put each: see `write_once`; `BatchWriteItem` cannot
//! carry conditions, so it only rewrites items whose content is settled, see `rollup`.)

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use futures::StreamExt as _;
use iot_core::StoreError;

use crate::DynamoStore;
use crate::codec::Item;
use crate::consumed::{self, Units};
use crate::error::{build_error, sdk_error};

/// Keys per `BatchGetItem` call (DynamoDB limit).
pub(crate) const GET_CHUNK: usize = 100;
/// Puts per `BatchWriteItem` call (DynamoDB limit).
const PUT_CHUNK: usize = 25;
/// `BatchWriteItem` calls in flight at once.
const PUT_CALLS_IN_FLIGHT: usize = 4;
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
        for chunk in keys.chunks(GET_CHUNK) {
            let items = until_processed("BatchGetItem", table, chunk.to_vec(), |keys| async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
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
                let items = out
                    .responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default();
                let left = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                Ok((items, left))
            })
            .await?;
            found.extend(items);
        }
        Ok(found)
    }

    /// Unconditional `BatchWriteItem` puts of `items` into `table`, 25 per call, a few calls at
    /// once, unprocessed items retried with backoff.
    pub(crate) async fn batch_put(&self, table: &str, items: Vec<Item>) -> Result<(), StoreError> {
        let requests = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(build_error)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let chunks: Vec<Vec<WriteRequest>> =
            requests.chunks(PUT_CHUNK).map(<[_]>::to_vec).collect();
        let calls = chunks.into_iter().map(|chunk| {
            until_processed("BatchWriteItem", table, chunk, |requests| async move {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(table, requests)
                    .return_consumed_capacity(consumed::TOTAL)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", table, e))?;
                consumed::report(Units::Write, out.consumed_capacity());
                let left = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
                Ok((Vec::<()>::new(), left))
            })
        });
        let results: Vec<Result<Vec<()>, StoreError>> = futures::stream::iter(calls)
            .buffer_unordered(PUT_CALLS_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().try_for_each(|r| r.map(drop))
    }
}

/// Sends `requests` with `send`, which answers what it got back and the requests DynamoDB left
/// unprocessed, until none is left; retried with backoff for up to [`UNPROCESSED_DEADLINE`].
async fn until_processed<T, R, F, Fut>(
    call: &str,
    table: &str,
    mut requests: Vec<T>,
    mut send: F,
) -> Result<Vec<R>, StoreError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<(Vec<R>, Vec<T>), StoreError>>,
{
    let started = Instant::now();
    let mut answers = Vec::new();
    let mut attempt = 0;
    loop {
        let (got, left) = send(std::mem::take(&mut requests)).await?;
        answers.extend(got);
        if left.is_empty() {
            return Ok(answers);
        }
        if started.elapsed() > UNPROCESSED_DEADLINE {
            return Err(StoreError::Busy(format!(
                "DynamoDB {call} on {table}: {} requests still unprocessed after {}s of retries",
                left.len(),
                UNPROCESSED_DEADLINE.as_secs()
            )));
        }
        tracing::debug!(
            call,
            table,
            left = left.len(),
            "retrying unprocessed requests"
        );
        tokio::time::sleep(backoff(
            attempt,
            Duration::from_millis(20),
            Duration::from_secs(1),
        ))
        .await;
        attempt += 1;
        requests = left;
    }
}
