//! Translation of SDK errors into [`StoreError`] at the edge of the adapter.

use std::fmt::Debug;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;
use iot_core::StoreError;

/// Error codes that mean "up, but refusing this rate for now": `Busy`.
const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
];

/// Error codes of a failure on DynamoDB's side: `Unavailable`.
const SERVER_FAILURE: &[&str] = &["InternalServerError", "ServiceUnavailable"];

/// Maps a failed SDK call on `table` to a [`StoreError`].
///
/// Throttling is `Busy`; server failures, timeouts, dispatch (connection) failures and
/// unparsable responses are `Unavailable`: the caller may retry later. A missing table is
/// `Internal` naming the table (a deployment error, not a transient one). Everything else is
/// `Internal`.
pub(crate) fn sdk_error<E, R>(operation: &str, table: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) => {
            StoreError::Unavailable(format!("DynamoDB {operation} on {table} timed out"))
        }
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => StoreError::Unavailable(
            format!("DynamoDB {operation} on {table} could not be sent: {detail}"),
        ),
        SdkError::ServiceError(_) => match err.code() {
            Some(code) if THROTTLING.contains(&code) => StoreError::Busy(format!(
                "DynamoDB {operation} on {table} throttled ({code})"
            )),
            Some(code) if SERVER_FAILURE.contains(&code) => {
                StoreError::Unavailable(format!("DynamoDB {operation} on {table} failed ({code})"))
            }
            Some("ResourceNotFoundException") => StoreError::Internal(format!(
                "DynamoDB table {table} not found ({operation}); create it (CREATE_TABLES) or \
                 check RUNS_TABLE/READINGS_TABLE"
            )),
            _ => StoreError::Internal(format!("DynamoDB {operation} on {table}: {detail}")),
        },
        _ => StoreError::Internal(format!("DynamoDB {operation} on {table}: {detail}")),
    }
}

/// A request that could not even be built (a bug of this adapter).
pub(crate) fn build_error(err: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("invalid DynamoDB request: {err}"))
}

/// An item that does not have the shape this adapter writes.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} item in DynamoDB: {detail}"))
}

/// The cancellation code of item `index` of a canceled transaction (`ConditionalCheckFailed`,
/// `TransactionConflict`, `None`, …).
pub(crate) fn reason_code(reasons: &[CancellationReason], index: usize) -> Option<&str> {
    reasons
        .get(index)
        .and_then(CancellationReason::code)
        .filter(|c| *c != "None")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// A `GetItem` that DynamoDB answered with `status` and error `code`.
    fn answered(status: u16, code: &str) -> StoreError {
        let err = GetItemError::generic(ErrorMetadata::builder().code(code).build());
        let raw = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        sdk_error("GetItem", "runs", SdkError::service_error(err, raw))
    }

    #[test]
    fn throttling_is_busy_and_a_failure_on_dynamodbs_side_is_unavailable() {
        for code in THROTTLING {
            assert!(
                matches!(answered(400, code), StoreError::Busy(m) if m.contains(code)),
                "{code}"
            );
        }
        for code in SERVER_FAILURE {
            assert!(
                matches!(answered(500, code), StoreError::Unavailable(m) if m.contains(code)),
                "{code}"
            );
        }
        assert!(matches!(
            answered(404, "ResourceNotFoundException"),
            StoreError::Internal(m) if m.contains("runs")
        ));
        assert!(matches!(
            answered(400, "ValidationException"),
            StoreError::Internal(_)
        ));
    }
}
