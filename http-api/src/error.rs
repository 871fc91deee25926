//! One error type for every failure the API reports, and its one mapping to status and JSON.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iot_core::error::{ServiceError, StoreError, ValidationError};
use serde_json::{Map, Value, json};

/// `Retry-After` of a `503 store_unavailable`: long enough for a pool or a connection to
/// recover, short enough not to lose a client.
pub const STORE_RETRY_AFTER_SECS: u32 = 1;

/// A failed request: a status, a snake_case code, a sentence, and fields that help.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Map<String, Value>,
    retry_after: Option<u32>,
}

impl ApiError {
    /// An error with no extra fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    /// Adds a field to the JSON body.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The sentence.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The field a `400` is about, when it names one.
    pub fn field(&self) -> Option<&str> {
        self.extra.get("field").and_then(Value::as_str)
    }

    /// A failure of a read. Reads need no ownership, so an unknown run is only unknown (a write
    /// also answers `404` for another user's run, and says so).
    pub fn read(e: ServiceError) -> Self {
        match e {
            ServiceError::RunNotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                "run_not_found",
                format!("run {id} does not exist"),
            )
            .with("runId", id.to_string()),
            other => other.into(),
        }
    }

    /// `400` on a named field.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(StatusCode::BAD_REQUEST, code, format!("{field} {message}")).with("field", field)
    }

    /// `401 invalid_user` on a named field: an identity was sent but is not a valid one (malformed,
    /// empty or repeated). Like a missing identity, it does not authenticate the caller, so it is
    /// answered the same way, `401`, and names what was wrong.
    pub fn invalid_user(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_user",
            format!("{field} {message}"),
        )
        .with("field", field)
    }

    /// `400` for a body that is not JSON at all.
    pub fn invalid_json(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {detail}"),
        )
    }

    /// `413`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        )
        .with("maxBytes", limit)
    }

    /// `415`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be sent with Content-Type: application/json",
        )
    }

    /// `404` for a path that is no route.
    pub fn route_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("no route for {path}"),
        )
    }

    /// `405`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        )
    }

    /// `408`: the request was not done within `limit`.
    pub fn request_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} s; it may or may not have taken effect",
                limit.as_secs_f64()
            ),
        )
    }

    /// Adds a `Retry-After` header of `secs` seconds.
    #[must_use]
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// `500`; the cause is logged (with the request id of the surrounding span), never returned.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; quote the X-Request-Id header when reporting it",
        )
    }
}

impl ApiError {
    /// `503 store_unavailable` with its `reason` (`busy` or `unavailable`) and `Retry-After`.
    fn store_unavailable(reason: &'static str, message: &'static str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            message,
        )
        .with("reason", reason)
        .retry_after(STORE_RETRY_AFTER_SECS)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::invalid(&e.field, e.code, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                Self::store_unavailable("unavailable", "the store is unavailable; retry later")
            }
            StoreError::Busy(cause) => {
                tracing::warn!(error = %cause, "store busy");
                Self::store_unavailable(
                    "busy",
                    "the store is up but busy: too many requests are waiting for it; retry after \
                     Retry-After",
                )
            }
            other => Self::internal(other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(v) => v.into(),
            ServiceError::RunNotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                "run_not_found",
                format!("run {id} does not exist or is not yours"),
            )
            .with("runId", id.to_string()),
            ServiceError::RunNotRunning { id, status } => Self::new(
                StatusCode::CONFLICT,
                "run_not_running",
                format!("run {id} is {status}, not RUNNING"),
            )
            .with("runId", id.to_string())
            .with("status", status.as_str()),
            // Well-formed, but at odds with the run it is sent to (its sensors were fixed at
            // start), like a reading for a finished run: a conflict with the run, not bad syntax.
            ServiceError::UnknownSensor { sensor_id } => Self::new(
                StatusCode::CONFLICT,
                "unknown_sensor",
                format!("sensor {sensor_id} is not one of the run's sensorIds"),
            )
            .with("field", "sensorId")
            .with("sensorId", sensor_id.as_str()),
            ServiceError::CapacityExhausted {
                exhausted,
                retry_after_secs,
            } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "capacity_exhausted",
                format!(
                    "{} run limit reached: {} of {} runs are running",
                    exhausted.scope.as_str(),
                    exhausted.current_running,
                    exhausted.max_allowed
                ),
            )
            .with("scope", exhausted.scope.as_str())
            .with("currentRunning", exhausted.current_running)
            .with("maxAllowed", exhausted.max_allowed)
            .with("retryAfterSeconds", retry_after_secs)
            .retry_after(retry_after_secs),
            ServiceError::IdempotencyKeyReused(id) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                format!(
                    "this Idempotency-Key already started run {id} with other parameters; \
                     use a new key for a new start"
                ),
            )
            .with("runId", id.to_string()),
            ServiceError::ReadingConflict(detail) => Self::new(
                StatusCode::CONFLICT,
                "reading_conflict",
                format!("{detail}; a retry must send the same value"),
            ),
            ServiceError::Store(store) => store.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let Value::Object(map) = &mut body {
            map.extend(self.extra);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_store_and_an_unavailable_one_answer_503_with_their_reason() {
        let cases = [
            (
                StoreError::Busy("too many readings waiting to be stored".into()),
                "busy",
            ),
            (
                StoreError::Unavailable("connection refused".into()),
                "unavailable",
            ),
        ];
        for (err, reason) in cases {
            let api = ApiError::from(err);
            assert_eq!(
                (
                    api.status(),
                    api.code(),
                    api.extra.get("reason"),
                    api.retry_after
                ),
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    Some(&json!(reason)),
                    Some(STORE_RETRY_AFTER_SECS)
                ),
                "{reason}"
            );
            // The message names the reason; the cause is logged, never sent.
            assert!(api.message().contains(reason), "{}", api.message());
            assert!(!api.message().contains("refused"), "{}", api.message());
            assert!(
                !api.message().contains("waiting to be stored"),
                "{}",
                api.message()
            );
        }
    }
}
