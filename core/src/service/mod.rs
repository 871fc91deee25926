//! The two application services. They hold the rules (validation, ownership, lazy timeout,
//! idempotency) and call the ports; adapters never re-implement a rule.
//!
//! [`RunService`] (in `run`) owns the run lifecycle; [`ReadingService`] (in `reading`) ingests
//! and reads back readings, asking the run service whether a run accepts them.

use std::future::Future;
use std::time::Instant;

use crate::error::{ServiceError, StoreError, ValidationError};
use crate::ports::Metrics;

#[cfg(test)]
mod fixtures;
mod reading;
mod run;

pub use reading::{BatchOutcome, Ingested, NewReading, ReadingService};
pub use run::{Capacity, FinishRun, RunConfig, RunService, StartRun, Swept};

/// Largest page, and largest batch.
pub const MAX_LIMIT: u32 = 1000;
/// Runs expired per sweep call.
pub const SWEEP_BATCH: u32 = 100;

pub(crate) fn validation(field: &str, message: &str) -> ServiceError {
    ServiceError::Invalid(ValidationError::new(field, message))
}

/// Checks a `limit` parameter.
///
/// # Errors
/// Outside 1 ..= 1000.
pub fn check_limit(limit: u32) -> Result<u32, ValidationError> {
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ValidationError::new(
            "limit",
            "must be an integer between 1 and 1000",
        ))
    }
}

/// Times one storage call into the metrics port.
pub(crate) async fn timed<T>(
    metrics: &dyn Metrics,
    operation: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    metrics.store_call(operation, started.elapsed(), result.is_ok());
    result
}
