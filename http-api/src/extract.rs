//! Reading requests in the order the API promises: body size (`413`), identity (`401`),
//! then body and parameters (`400`). Handlers take the raw request and call these helpers in that
//! order, so an axum extractor's rejection can never jump the queue.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use iot_core::model::IdempotencyKey;
use iot_core::{RunId, Username};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Largest body of single-item requests (start, finish, one reading).
pub const SMALL_BODY: usize = 16 * 1024;
/// Largest body of a batch.
pub const BATCH_BODY: usize = 1024 * 1024;

/// Reads the whole body, refusing more than `limit` bytes with `413`.
///
/// # Errors
/// `413 payload_too_large`.
pub async fn body(parts: &Parts, body: Body, limit: usize) -> ApiResult<Bytes> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))
}

/// The caller, required.
///
/// # Errors
/// `401 missing_user` when absent; `401 invalid_user` when malformed or repeated.
pub fn user(app: &AppState, parts: &Parts) -> ApiResult<Username> {
    app.identity.identify(parts)?.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "missing_user",
            "this endpoint acts for a user: send the X-User header",
        )
    })
}

/// The caller, when known (reads need no identity but validate one that is sent).
///
/// # Errors
/// `401 invalid_user` when malformed or repeated.
pub fn optional_user(app: &AppState, parts: &Parts) -> ApiResult<Option<Username>> {
    app.identity.identify(parts)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// Parses a JSON body into `T`, naming the offending field on failure.
///
/// # Errors
/// `415` without a JSON content type; `400 invalid_json` for malformed JSON; `400
/// validation_failed` naming the field for a missing field, a wrong type or an unknown value.
pub fn json<T: DeserializeOwned>(parts: &Parts, bytes: &[u8]) -> ApiResult<T> {
    if !is_json(&parts.headers) {
        return Err(ApiError::unsupported_media_type());
    }
    // Every body of the API is an object. Saying so up front keeps a bare array or a string from
    // being reported as serde sees it (a struct read from a sequence, field by field).
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::invalid_json("the body is empty")),
        Some(b'{') => {}
        Some(_) => {
            let what = serde_json::from_slice::<serde_json::Value>(bytes)
                .map_err(|e| ApiError::invalid_json(strip_position(&e.to_string())))
                .map(|v| json_kind(&v))?;
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "validation_failed",
                format!("the body must be a JSON object, not {what}"),
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = strip_position(&inner.to_string());
        if text.contains("number out of range") {
            return ApiError::invalid(&path, "validation_failed", "must be a finite number");
        }
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid_json(text);
        }
        if let Some(field) = missing_field(&text) {
            let field = if path == "." {
                field
            } else {
                format!("{path}.{field}")
            };
            return ApiError::invalid(&field, "validation_failed", "is required");
        }
        ApiError::invalid(&path, "validation_failed", plain_words(&text))
    })?;
    de.end()
        .map_err(|e| ApiError::invalid_json(strip_position(&e.to_string())))?;
    Ok(value)
}

/// A JSON value's kind, as a client would name it.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde's "invalid type: string \"x\", expected f64" in a client's words: "must be a number,
/// not a string". Anything else is kept as serde says it.
fn plain_words(text: &str) -> String {
    let Some(rest) = text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))
    else {
        return text.to_string();
    };
    let Some((got, expected)) = rest.split_once(", expected ") else {
        return text.to_string();
    };
    format!("must be {}, not {}", expected_kind(expected), got_kind(got))
}

fn expected_kind(expected: &str) -> &str {
    match expected {
        "f32" | "f64" => "a number",
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => "an integer",
        "a string" | "a borrowed string" => "a string",
        "a boolean" => "a boolean",
        "a sequence" => "an array",
        e if e.starts_with("struct ") || e == "a map" => "an object",
        e => e,
    }
}

fn got_kind(got: &str) -> &str {
    let kind = got.split([' ', '`']).next().unwrap_or(got);
    match kind {
        "string" => "a string",
        "integer" | "floating" => "a number",
        "boolean" => "a boolean",
        "sequence" => "an array",
        "map" => "an object",
        "null" | "unit" => "null",
        _ => got,
    }
}

/// `serde_json` ends its messages with "at line L column C": useful to humans, noise in an API.
fn strip_position(text: &str) -> String {
    text.split(" at line ").next().unwrap_or(text).to_string()
}

fn missing_field(text: &str) -> Option<String> {
    let rest = text.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// The query string as a map (the last value wins for a repeated name).
///
/// # Errors
/// `400 invalid_query` for a malformed query string.
pub fn query(parts: &Parts) -> ApiResult<HashMap<String, String>> {
    Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|Query(pairs)| pairs.into_iter().collect())
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("the query string is malformed: {e}"),
            )
        })
}

/// A run id from the path or a header.
///
/// # Errors
/// `400 invalid_run_id`.
pub fn run_id(field: &'static str, text: &str) -> ApiResult<RunId> {
    Ok(RunId::parse(field, text)?)
}

/// The optional `Idempotency-Key` header of a start, as a bare token or a quoted string
/// (`"8e03978e-…"`, the structured-field form).
///
/// # Errors
/// `400 invalid_idempotency_key` when malformed or repeated.
pub fn idempotency_key(parts: &Parts) -> ApiResult<Option<IdempotencyKey>> {
    let mut values = parts.headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid =
        |message: &str| ApiError::invalid("Idempotency-Key", "invalid_idempotency_key", message);
    if values.next().is_some() {
        return Err(invalid("must be sent once"));
    }
    let text = value.to_str().unwrap_or("");
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|_| invalid("must be 1 to 255 characters of A-Z a-z 0-9 . _ : -"))
}

/// The `X-Run-Id` header, required and single.
///
/// # Errors
/// `400 missing_run_id`, or `400 invalid_run_id` when malformed or repeated.
pub fn run_id_header(parts: &Parts) -> ApiResult<RunId> {
    let mut values = parts.headers.get_all("x-run-id").iter();
    let Some(value) = values.next() else {
        return Err(ApiError::invalid(
            "X-Run-Id",
            "missing_run_id",
            "is required: the id of the run the reading belongs to",
        ));
    };
    if values.next().is_some() {
        return Err(ApiError::invalid(
            "X-Run-Id",
            "invalid_run_id",
            "must be sent once",
        ));
    }
    run_id("X-Run-Id", value.to_str().unwrap_or(""))
}

/// The `limit` parameter: 1..=1000, default 100.
///
/// # Errors
/// `400` naming `limit`.
pub fn limit(params: &HashMap<String, String>) -> ApiResult<u32> {
    match params.get("limit") {
        None => Ok(100),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    "validation_failed",
                    "must be an integer between 1 and 1000",
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;
    use crate::dto::{BatchBody, StartRunBody};

    fn json_parts() -> Parts {
        Request::builder()
            .header("content-type", "application/json")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn message_of<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (String, Option<String>) {
        let error = json::<T>(&json_parts(), body.as_bytes()).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(error.code(), "validation_failed");
        (
            error.message().to_string(),
            error.field().map(str::to_string),
        )
    }

    #[test]
    fn a_bare_array_sent_as_a_batch_is_told_to_be_an_object() {
        let (message, _) = message_of::<BatchBody>(r#"[{"sensorId":"s1"}]"#);
        assert_eq!(message, "the body must be a JSON object, not an array");
    }

    #[test]
    fn a_string_where_a_number_belongs_names_the_field_in_plain_words() {
        let (message, field) =
            message_of::<StartRunBody>(r#"{"sensorIds":["s1"],"duration":"60"}"#);
        assert_eq!(message, "duration must be an integer, not a string");
        assert_eq!(field.as_deref(), Some("duration"));
    }

    #[test]
    fn an_object_where_an_array_belongs_says_array() {
        let (message, field) = message_of::<BatchBody>(r#"{"readings":{"sensorId":"s1"}}"#);
        assert_eq!(message, "readings must be an array, not an object");
        assert_eq!(field.as_deref(), Some("readings"));
    }

    #[test]
    fn null_in_a_required_number_says_null() {
        let (message, _) = message_of::<BatchBody>(
            r#"{"readings":[{"sensorId":"s1","type":"humidity","reading":null}]}"#,
        );
        assert_eq!(message, "readings[0].reading must be a number, not null");
    }

    #[test]
    fn malformed_json_is_invalid_json_without_positions() {
        let error = json::<BatchBody>(&json_parts(), b"{\"readings\": [").unwrap_err();
        assert_eq!(error.code(), "invalid_json");
        assert!(!error.message().contains("line"), "{}", error.message());
    }
}
