//! Makes the generated OpenAPI document as precise as the API's own checks, so that clients and
//! fuzzers are told exactly what is valid: formats, ranges, enums and patterns on parameters and
//! bodies, every status an operation can answer, and `X-User` as an `apiKey` security scheme.
//!
//! The handlers' annotations give the shape; the rules that every route shares (identity, run
//! ids, limits, the statuses the middleware adds) are applied here once, from the same constants
//! the checks use, instead of being repeated on every handler.

use iot_core::cursor;
use iot_core::model::ReadingType;
use iot_core::service::StartRun;
use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

/// A run id as the API accepts it (canonical UUID).
const RUN_ID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// A sensor id.
const SENSOR_ID: &str = "^[A-Za-z0-9._:-]{1,64}$";
/// A user name.
const USER: &str = "^[A-Za-z0-9._-]{3,20}$";
/// An RFC 3339 timestamp with at most six fractional digits.
const TIMESTAMP: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$";
const RUN_STATUSES: [&str; 5] = ["RUNNING", "SUCCESS", "FAILED", "CANCELED", "TIMEOUT"];

/// The refined document. Falls back to `doc` unchanged if the refinement cannot be read back
/// (it always can: only schema keywords are added).
pub(crate) fn refine(doc: OpenApi) -> OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    refine_value(&mut value);
    serde_json::from_value(value).unwrap_or(doc)
}

fn refine_value(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                refine_operation(path, method, op);
            }
        }
    }
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(components) = components.and_then(Value::as_object_mut) {
        components.insert(
            "securitySchemes".into(),
            json!({ "user": {
                "type": "apiKey", "in": "header", "name": "X-User",
                "description": format!("the caller, {USER}")
            }}),
        );
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            refine_schemas(schemas);
        }
    }
}

fn string(pattern: &str) -> Value {
    json!({ "type": "string", "pattern": pattern })
}

fn error(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorJson" } } } })
}

fn refine_operation(path: &str, method: &str, op: &mut Value) {
    let Some(op) = op.as_object_mut() else {
        return;
    };
    let api = path.starts_with("/api/runs") || path.ends_with("/sensors/data");
    let mut user = None;
    let mut has_input = op.contains_key("requestBody");
    if let Some(body) = op.get_mut("requestBody") {
        object_body(body);
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        params.retain(|p| {
            if p["name"] == "X-User" {
                user = Some(p["required"] == true);
                false
            } else {
                true
            }
        });
        has_input |= !params.is_empty();
        for p in params.iter_mut() {
            refine_parameter(path, p);
        }
    }
    // Every API route reads an `X-User` that is sent (reads validate it without requiring it),
    // whether or not its handler names the header.
    if api && user.is_none() {
        user = Some(false);
    }
    if let Some(required) = user {
        op.insert(
            "security".into(),
            if required {
                json!([{ "user": [] }])
            } else {
                json!([{}, { "user": [] }])
            },
        );
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status)
            .or_insert_with(|| error(description));
    };
    add("408", "the request took longer than the request timeout");
    add("500", "an internal error (quote X-Request-Id)");
    if has_input {
        add("400", "a malformed parameter or body");
    }
    match user {
        Some(true) => add(
            "401",
            "no valid caller identity: X-User missing, malformed or repeated",
        ),
        Some(false) => add("401", "X-User sent but malformed or repeated"),
        None => {}
    }
    if method == "post" {
        add("413", "the body is over its limit");
        add("415", "the body is not sent as application/json");
    }
    if path.contains("{id}") || path.ends_with("/sensors/data") {
        add("404", "no such run");
    }
    if method == "post" && (path.ends_with("/sensors/data") || path.ends_with("/readings")) {
        add(
            "409",
            "the run is not RUNNING, the sensor is not one of its sensors, or a stored reading has another value",
        );
    }
    if api || path == "/ready" {
        add(
            "503",
            "the store is unavailable or busy (`reason`); retry after Retry-After",
        );
    }
}

/// Every body of the API is a JSON object: an optional body (`Option<T>` in the annotation, which
/// the generator writes as "null or T") is one that may be left out, never a JSON `null`.
fn object_body(body: &mut Value) {
    let Some(schema) = body.pointer_mut("/content/application~1json/schema") else {
        return;
    };
    let Some(variants) = schema.get("oneOf").and_then(Value::as_array) else {
        return;
    };
    let objects: Vec<Value> = variants
        .iter()
        .filter(|v| **v != json!({ "type": "null" }))
        .cloned()
        .collect();
    if objects.len() < variants.len() {
        *schema = match <[Value; 1]>::try_from(objects) {
            Ok([only]) => only,
            Err(objects) => json!({ "oneOf": objects }),
        };
        body["required"] = json!(false);
    }
}

fn refine_parameter(path: &str, p: &mut Value) {
    let name = p["name"].as_str().unwrap_or_default().to_owned();
    let schema = match name.as_str() {
        // Only a token the endpoint returned (iot_core::cursor): the pattern is exact.
        "cursor" if path.ends_with("/readings") => Some(string(&cursor::reading_cursor_pattern())),
        "cursor" => Some(string(&cursor::run_cursor_pattern())),
        "id" | "runId" | "X-Run-Id" => {
            Some(json!({ "type": "string", "format": "uuid", "pattern": RUN_ID }))
        }
        "limit" => Some(json!({ "type": "integer", "minimum": 1, "maximum": 1000 })),
        "sensorId" => Some(string(SENSOR_ID)),
        "user" => Some(string(USER)),
        "type" => {
            Some(json!({ "type": "string", "enum": ReadingType::ALL.map(ReadingType::as_str) }))
        }
        "status" => Some(json!({ "type": "string", "enum": RUN_STATUSES })),
        "from" | "to" => {
            Some(json!({ "type": "string", "format": "date-time", "pattern": TIMESTAMP }))
        }
        "Idempotency-Key" => Some(string("^[A-Za-z0-9._:-]{1,255}$")),
        _ => None,
    };
    if let Some(schema) = schema {
        p["schema"] = schema;
    }
}

fn refine_schemas(schemas: &mut Map<String, Value>) {
    let set = |schemas: &mut Map<String, Value>, name: &str, field: &str, refined: Value| {
        if let Some(Value::Object(property)) = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(field))
            && let Value::Object(refined) = refined
        {
            property.extend(refined);
        }
    };
    set(
        schemas,
        "StartRunBody",
        "sensorIds",
        json!({
        "minItems": 1, "maxItems": 100, "uniqueItems": true, "items": string(SENSOR_ID) }),
    );
    set(
        schemas,
        "StartRunBody",
        "duration",
        json!({ "minimum": 1, "maximum": 86400 }),
    );
    set(
        schemas,
        "StartRunBody",
        "interval",
        json!({ "minimum": StartRun::MIN_INTERVAL, "maximum": 3600 }),
    );
    set(
        schemas,
        "FinishRunBody",
        "status",
        json!({ "enum": ["SUCCESS", "FAILED", null] }),
    );
    for field in ["errorMessage", "message"] {
        set(
            schemas,
            "FinishRunBody",
            field,
            json!({ "maxLength": 1000 }),
        );
    }
    set(
        schemas,
        "BatchBody",
        "readings",
        json!({ "minItems": 1, "maxItems": 1000 }),
    );
    for name in ["RunJson", "RunParams", "ReadingJson", "SummaryJson"] {
        for field in ["id", "runId"] {
            set(
                schemas,
                name,
                field,
                json!({ "format": "uuid", "pattern": RUN_ID }),
            );
        }
    }
    set(
        schemas,
        "RunJson",
        "status",
        json!({ "enum": RUN_STATUSES }),
    );
    // A reading's range depends on its type: one variant per type and piece of its range.
    if let Some(Value::Object(body)) = schemas.get_mut("ReadingBody") {
        let variants: Vec<Value> = ReadingType::ALL
            .into_iter()
            .flat_map(|kind| reading_ranges(kind).into_iter().map(move |range| (kind, range)))
            .map(|(kind, (min, max))| {
                json!({
                    "type": "object",
                    "required": ["sensorId", "type", "reading"],
                    "properties": {
                        "sensorId": string(SENSOR_ID),
                        "type": { "type": "string", "enum": [kind.as_str()] },
                        "reading": { "type": "number", "minimum": min, "maximum": max },
                        "timestamp": { "type": ["string", "null"], "format": "date-time", "pattern": TIMESTAMP },
                    }
                })
            })
            .collect();
        let kept: Vec<(String, Value)> = ["description", "example"]
            .into_iter()
            .filter_map(|key| body.get(key).map(|v| (key.to_string(), v.clone())))
            .collect();
        body.clear();
        body.insert("oneOf".into(), Value::Array(variants));
        body.extend(kept);
    }
}

/// The values of a reading of type `kind`, as inclusive ranges that do not overlap: its range
/// without the magnitudes below [`ReadingType::SMALLEST_MAGNITUDE`] other than 0.
fn reading_ranges(kind: ReadingType) -> Vec<(f64, f64)> {
    let (min, max) = kind.range();
    let tiny = ReadingType::SMALLEST_MAGNITUDE;
    let mut ranges = vec![(0.0, 0.0)];
    if max >= tiny {
        ranges.push((tiny, max));
    }
    if min <= -tiny {
        ranges.push((min, -tiny));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_user_becomes_a_security_scheme_and_statuses_are_completed() {
        let mut doc = json!({
            "paths": { "/api/runs/{id}/finish": { "post": {
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "X-User", "in": "header", "required": true, "schema": { "type": "string" } }
                ],
                "requestBody": {},
                "responses": { "200": { "description": "finished" } }
            }}},
            "components": { "schemas": {} }
        });
        refine_value(&mut doc);
        let op = &doc["paths"]["/api/runs/{id}/finish"]["post"];
        assert_eq!(op["security"], json!([{ "user": [] }]));
        assert_eq!(op["parameters"].as_array().unwrap().len(), 1);
        assert_eq!(op["parameters"][0]["schema"]["format"], "uuid");
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(
            statuses,
            [
                "200", "400", "401", "404", "408", "413", "415", "500", "503"
            ]
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["user"]["name"],
            "X-User"
        );
    }

    #[test]
    fn reads_declare_an_optional_identity_and_cursors_their_exact_pattern() {
        let mut doc = json!({
            "paths": { "/api/runs/{id}/readings": { "get": {
                "parameters": [
                    { "name": "cursor", "in": "query", "required": false, "schema": { "type": "string" } }
                ],
                "responses": { "200": { "description": "a page" } }
            }}},
            "components": { "schemas": {} }
        });
        refine_value(&mut doc);
        let op = &doc["paths"]["/api/runs/{id}/readings"]["get"];
        assert_eq!(op["security"], json!([{}, { "user": [] }]));
        assert!(op["responses"]["401"].is_object());
        assert_eq!(
            op["parameters"][0]["schema"]["pattern"],
            json!(cursor::reading_cursor_pattern())
        );
    }

    #[test]
    fn an_optional_body_is_an_object_or_nothing_never_null() {
        let mut body = json!({ "content": { "application/json": { "schema": {
            "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/FinishRunBody" }]
        }}}});
        object_body(&mut body);
        assert_eq!(
            body,
            json!({ "required": false, "content": { "application/json": { "schema":
                { "$ref": "#/components/schemas/FinishRunBody" } } } })
        );
    }

    #[test]
    fn reading_ranges_leave_out_only_the_magnitudes_no_store_keeps() {
        let tiny = ReadingType::SMALLEST_MAGNITUDE;
        assert_eq!(
            reading_ranges(ReadingType::Temperature),
            [(0.0, 0.0), (tiny, 1000.0), (-273.15, -tiny)]
        );
        assert_eq!(
            reading_ranges(ReadingType::Humidity),
            [(0.0, 0.0), (tiny, 100.0)]
        );
    }
}
