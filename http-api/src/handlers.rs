//! The handlers of API v1. Each reads its request in the documented order (see [`crate::extract`])
//! and translates between JSON and the domain services.

use axum::Json;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use iot_core::model::{ReadingCursor, RunCursor, RunStatus, SensorId, Timestamp};
use iot_core::ports::{ReadingQuery, RunQuery};
use iot_core::service::{FinishRun, Ingested, NewReading, StartRun};
use iot_core::{Run, Username};

use crate::AppState;
use crate::dto::{
    BatchBody, BatchJson, CanStartJson, ErrorJson, FinishRunBody, HealthJson, InterruptJson,
    ReadingBody, ReadingJson, ReadingList, ReadingPage, RunJson, RunPage, StartRunBody,
    SummaryJson,
};
use crate::error::{ApiError, ApiResult};
use crate::export::{self, ExportFormat};
use crate::extract::{self, BATCH_BODY, SMALL_BODY};

type Ok<T> = ApiResult<T>;

fn runs_json(runs: Vec<Run>) -> Vec<RunJson> {
    runs.into_iter().map(RunJson::from).collect()
}

/// Start a run for the caller, under the capacity limits.
#[utoipa::path(post, path = "/api/runs/start", tag = "runs",
    request_body = StartRunBody,
    params(("X-User" = String, Header, description = "caller"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "makes retries safe: the same key and body give the first run again; ^[A-Za-z0-9._:-]{1,255}$")),
    responses(
        (status = 201, description = "started, or started earlier under the same Idempotency-Key", body = RunJson,
            headers(("Location" = String, description = "/api/runs/{id}"))),
        (status = 400, body = ErrorJson), (status = 401, body = ErrorJson),
        (status = 422, description = "the Idempotency-Key started a run with other parameters", body = ErrorJson),
        (status = 429, description = "a capacity limit is reached", body = ErrorJson,
            headers(("Retry-After" = u32))),
    ))]
pub async fn start_run(
    State(app): State<AppState>,
    OriginalUri(original): OriginalUri,
    request: Request,
) -> Ok<Response> {
    let (parts, body) = request.into_parts();
    let bytes = extract::body(&parts, body, SMALL_BODY).await?;
    let user = extract::user(&app, &parts)?;
    let body: StartRunBody = extract::json(&parts, &bytes)?;
    let key = extract::idempotency_key(&parts)?;
    let start =
        StartRun::new(body.sensor_ids, body.duration, body.interval)?.with_idempotency_key(key);
    let run = app.runs.start(&user, start).await?;
    // Relative to where the router is mounted: `/prefix/api/runs/start` → `/prefix/api/runs/{id}`.
    let base = original
        .path()
        .strip_suffix("start")
        .unwrap_or("/api/runs/");
    let location = format!("{base}{}", run.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(RunJson::from(run)),
    )
        .into_response())
}

/// Capacity now; with `X-User`, the caller's too.
#[utoipa::path(get, path = "/api/runs/can-start", tag = "runs",
    params(("X-User" = Option<String>, Header, description = "caller (optional)")),
    responses((status = 200, body = CanStartJson), (status = 400, body = ErrorJson)))]
pub async fn can_start(State(app): State<AppState>, parts: Parts) -> Ok<Json<CanStartJson>> {
    let user = extract::optional_user(&app, &parts)?;
    Ok(Json(app.runs.capacity(user.as_ref()).await?.into()))
}

/// Running runs of all users, newest first.
#[utoipa::path(get, path = "/api/runs/running", tag = "runs",
    responses((status = 200, body = Vec<RunJson>)))]
pub async fn running_runs(State(app): State<AppState>, parts: Parts) -> Ok<Json<Vec<RunJson>>> {
    extract::optional_user(&app, &parts)?;
    Ok(Json(runs_json(app.runs.running().await?)))
}

/// Runs, newest first, one page at a time.
#[utoipa::path(get, path = "/api/runs", tag = "runs",
    params(
        ("limit" = Option<u32>, Query, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page"),
        ("user" = Option<String>, Query, description = "only this user's runs"),
        ("status" = Option<String>, Query, description = "only runs in this status"),
    ),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorJson)))]
pub async fn list_runs(State(app): State<AppState>, parts: Parts) -> Ok<Json<RunPage>> {
    extract::optional_user(&app, &parts)?;
    let params = extract::query(&parts)?;
    let query = RunQuery {
        user: params
            .get("user")
            .map(|u| Username::parse(u.as_str()).map_err(|e| e.in_field("user")))
            .transpose()?,
        status: params
            .get("status")
            .map(|s| s.parse::<RunStatus>())
            .transpose()?,
        limit: extract::limit(&params)?,
        after: params
            .get("cursor")
            .map(|c| RunCursor::decode(c))
            .transpose()?,
    };
    let page = app.runs.list(query).await?;
    Ok(Json(RunPage {
        items: runs_json(page.items),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// The newest runs as a bare array (at most `limit`, default 100).
#[utoipa::path(get, path = "/api/runs/all", tag = "runs",
    params(("limit" = Option<u32>, Query, description = "1..=1000, default 100")),
    responses((status = 200, body = Vec<RunJson>)))]
pub async fn all_runs(State(app): State<AppState>, parts: Parts) -> Ok<Json<Vec<RunJson>>> {
    extract::optional_user(&app, &parts)?;
    let params = extract::query(&parts)?;
    let query = RunQuery {
        user: None,
        status: None,
        limit: extract::limit(&params)?,
        after: None,
    };
    Ok(Json(runs_json(app.runs.list(query).await?.items)))
}

/// One run.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "run UUID")),
    responses((status = 200, body = RunJson), (status = 400, body = ErrorJson),
        (status = 404, body = ErrorJson)))]
pub async fn get_run(
    State(app): State<AppState>,
    Path(id): Path<String>,
    parts: Parts,
) -> Ok<Json<RunJson>> {
    extract::optional_user(&app, &parts)?;
    let id = extract::run_id("id", &id)?;
    Ok(Json(app.runs.get(id).await.map_err(ApiError::read)?.into()))
}

/// Finish the caller's running run, as SUCCESS (default) or FAILED.
#[utoipa::path(post, path = "/api/runs/{id}/finish", tag = "runs",
    params(("id" = String, Path, description = "run UUID"),
        ("X-User" = String, Header, description = "owner")),
    request_body(content = Option<FinishRunBody>, description = "optional: without a body the run finishes SUCCESS"),
    responses((status = 200, body = RunJson), (status = 404, body = ErrorJson),
        (status = 409, body = ErrorJson)))]
pub async fn finish_run(
    State(app): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Ok<Json<RunJson>> {
    let (parts, body) = request.into_parts();
    let bytes = extract::body(&parts, body, SMALL_BODY).await?;
    let user = extract::user(&app, &parts)?;
    // No body at all is the default finish; anything else must be a JSON object (whitespace
    // alone is malformed JSON).
    let body: FinishRunBody = if bytes.is_empty() {
        FinishRunBody::default()
    } else {
        extract::json(&parts, &bytes)?
    };
    let id = extract::run_id("id", &id)?;
    let finish = FinishRun::new(body.status.as_deref(), body.error_message.or(body.message))?;
    Ok(Json(app.runs.finish(&user, id, finish).await?.into()))
}

/// Cancel the caller's running runs (everyone's for admins).
#[utoipa::path(post, path = "/api/runs/interrupt-all", tag = "runs",
    params(("X-User" = String, Header, description = "caller")),
    responses((status = 200, body = InterruptJson), (status = 401, body = ErrorJson)))]
pub async fn interrupt_all(
    State(app): State<AppState>,
    request: Request,
) -> Ok<Json<InterruptJson>> {
    let (parts, body) = request.into_parts();
    extract::body(&parts, body, SMALL_BODY).await?;
    let user = extract::user(&app, &parts)?;
    let interrupted = app.runs.interrupt_all(&user).await?;
    let message = match interrupted {
        0 => "no running run to interrupt".to_string(),
        1 => "1 run interrupted".to_string(),
        n => format!("{n} runs interrupted"),
    };
    Ok(Json(InterruptJson {
        interrupted,
        message,
    }))
}

/// Per sensor and type: count, min, max, avg, first, last.
#[utoipa::path(get, path = "/api/runs/{id}/summary", tag = "runs",
    params(("id" = String, Path, description = "run UUID")),
    responses((status = 200, body = SummaryJson), (status = 404, body = ErrorJson)))]
pub async fn run_summary(
    State(app): State<AppState>,
    Path(id): Path<String>,
    parts: Parts,
) -> Ok<Json<SummaryJson>> {
    extract::optional_user(&app, &parts)?;
    let id = extract::run_id("id", &id)?;
    let sensors = app.readings.summary(id).await.map_err(ApiError::read)?;
    Ok(Json(SummaryJson {
        run_id: id.to_string(),
        sensors: sensors.into_iter().map(Into::into).collect(),
    }))
}

fn new_reading(body: ReadingBody) -> Result<NewReading, iot_core::ValidationError> {
    NewReading::new(
        &body.sensor_id,
        &body.kind,
        body.reading,
        body.timestamp.as_deref(),
    )
}

async fn ingest(app: AppState, request: Request) -> Ok<Response> {
    let (parts, body) = request.into_parts();
    let bytes = extract::body(&parts, body, SMALL_BODY).await?;
    let user = extract::user(&app, &parts)?;
    let body: ReadingBody = extract::json(&parts, &bytes)?;
    let run_id = extract::run_id_header(&parts)?;
    let reading = new_reading(body)?;
    let (status, stored) = match app.readings.ingest(&user, run_id, reading).await? {
        Ingested::Created(r) => (StatusCode::CREATED, r),
        Ingested::Replayed(r) => (StatusCode::OK, r),
    };
    Ok((status, Json(ReadingJson::from(stored))).into_response())
}

/// Ingest one reading (`201`; `200` for a replay of a stored one).
#[utoipa::path(post, path = "/api/sensors/data", tag = "readings",
    params(("X-User" = String, Header, description = "run owner"),
        ("X-Run-Id" = String, Header, description = "run UUID")),
    request_body = ReadingBody,
    responses((status = 201, body = ReadingJson), (status = 200, description = "replay", body = ReadingJson),
        (status = 400, body = ErrorJson), (status = 404, body = ErrorJson), (status = 409, body = ErrorJson)))]
pub async fn ingest_reading(State(app): State<AppState>, request: Request) -> Ok<Response> {
    ingest(app, request).await
}

/// Alias of `POST /api/sensors/data` for devices of the previous API.
#[utoipa::path(post, path = "/sensors/data", tag = "readings",
    params(("X-User" = String, Header, description = "run owner"),
        ("X-Run-Id" = String, Header, description = "run UUID")),
    request_body = ReadingBody,
    responses((status = 201, body = ReadingJson), (status = 200, description = "replay", body = ReadingJson)))]
pub async fn ingest_reading_alias(State(app): State<AppState>, request: Request) -> Ok<Response> {
    ingest(app, request).await
}

/// Ingest up to 1000 readings at once, all or nothing.
#[utoipa::path(post, path = "/api/runs/{id}/readings", tag = "readings",
    params(("id" = String, Path, description = "run UUID"),
        ("X-User" = String, Header, description = "run owner")),
    request_body = BatchBody,
    responses((status = 201, description = "stored at least one", body = BatchJson),
        (status = 200, description = "all duplicates", body = BatchJson),
        (status = 400, body = ErrorJson), (status = 409, body = ErrorJson), (status = 413, body = ErrorJson)))]
pub async fn ingest_batch(
    State(app): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Ok<Response> {
    let (parts, body) = request.into_parts();
    let bytes = extract::body(&parts, body, BATCH_BODY).await?;
    let user = extract::user(&app, &parts)?;
    let body: BatchBody = extract::json(&parts, &bytes)?;
    let run_id = extract::run_id("id", &id)?;
    let readings = body
        .readings
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            new_reading(r).map_err(|e| {
                let field = format!("readings[{i}].{}", e.field);
                e.in_field(field)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = app.readings.ingest_batch(&user, run_id, readings).await?;
    let status = if outcome.accepted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(BatchJson::from(outcome))).into_response())
}

fn timestamp_param(
    params: &std::collections::HashMap<String, String>,
    name: &'static str,
) -> ApiResult<Option<Timestamp>> {
    Ok(params
        .get(name)
        .map(|t| Timestamp::parse(name, t))
        .transpose()?)
}

fn sensor_param(params: &std::collections::HashMap<String, String>) -> ApiResult<Option<SensorId>> {
    Ok(params
        .get("sensorId")
        .map(|s| SensorId::parse(s.as_str()))
        .transpose()?)
}

/// A run's readings, ascending by timestamp, sensorId, type: one page as JSON, or with
/// `Accept: text/csv` / `Accept: application/x-ndjson` every reading from `cursor` on, streamed
/// (`limit` is then ignored).
#[utoipa::path(get, path = "/api/runs/{id}/readings", tag = "readings",
    params(("id" = String, Path, description = "run UUID"),
        ("sensorId" = Option<String>, Query), ("type" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "inclusive, RFC 3339"),
        ("to" = Option<String>, Query, description = "exclusive, RFC 3339"),
        ("limit" = Option<u32>, Query, description = "1..=1000, default 100 (JSON only)"),
        ("cursor" = Option<String>, Query),
        ("Accept" = Option<String>, Header,
            description = "`text/csv` or `application/x-ndjson` for an export of every reading")),
    responses(
        (status = 200, description = "a page (JSON) or every reading (CSV with a header row, NDJSON)",
            content(
                (ReadingPage = "application/json"),
                (String = "text/csv"),
                (String = "application/x-ndjson"),
            )),
        (status = 400, body = ErrorJson),
        (status = 404, body = ErrorJson)))]
pub async fn list_readings(
    State(app): State<AppState>,
    Path(id): Path<String>,
    parts: Parts,
) -> Ok<Response> {
    extract::optional_user(&app, &parts)?;
    let params = extract::query(&parts)?;
    let query = ReadingQuery {
        run_id: extract::run_id("id", &id)?,
        sensor_id: sensor_param(&params)?,
        kind: params.get("type").map(|t| t.parse()).transpose()?,
        from: timestamp_param(&params, "from")?,
        to: timestamp_param(&params, "to")?,
        limit: extract::limit(&params)?,
        after: params
            .get("cursor")
            .map(|c| ReadingCursor::decode(c))
            .transpose()?,
    };
    if let Some(format) = ExportFormat::from_accept(&parts.headers) {
        return export::respond(app.readings.clone(), query, format).await;
    }
    let page = app.readings.list(query).await.map_err(ApiError::read)?;
    Ok(Json(ReadingPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    })
    .into_response())
}

/// Compatibility listing: a run's newest readings, `{items, count}`.
#[utoipa::path(get, path = "/api/sensors/data", tag = "readings",
    params(("runId" = String, Query, description = "run UUID (required)"),
        ("sensorId" = Option<String>, Query),
        ("limit" = Option<u32>, Query, description = "1..=1000, default 100")),
    responses((status = 200, body = ReadingList), (status = 400, body = ErrorJson),
        (status = 404, body = ErrorJson)))]
pub async fn latest_readings(State(app): State<AppState>, parts: Parts) -> Ok<Json<ReadingList>> {
    extract::optional_user(&app, &parts)?;
    let params = extract::query(&parts)?;
    let run_id = params
        .get("runId")
        .ok_or_else(|| ApiError::invalid("runId", "validation_failed", "is required"))?;
    let run_id = extract::run_id("runId", run_id)?;
    let sensor = sensor_param(&params)?;
    let limit = extract::limit(&params)?;
    let items: Vec<ReadingJson> = app
        .readings
        .latest(run_id, sensor.as_ref(), limit)
        .await
        .map_err(ApiError::read)?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(ReadingList {
        count: items.len(),
        items,
    }))
}

/// Liveness: the process answers (no store call).
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = HealthJson)))]
pub async fn health() -> Json<HealthJson> {
    Json(HealthJson { status: "UP" })
}

/// Alias of `/health`.
#[utoipa::path(get, path = "/actuator/health", tag = "operations",
    responses((status = 200, body = HealthJson)))]
pub async fn actuator_health() -> Json<HealthJson> {
    health().await
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = HealthJson), (status = 503, body = ErrorJson)))]
pub async fn ready(State(app): State<AppState>) -> Ok<Json<HealthJson>> {
    app.runs.ready().await?;
    Ok(Json(HealthJson { status: "UP" }))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_json(
    axum::Extension(doc): axum::Extension<std::sync::Arc<crate::ApiDocument>>,
) -> Response {
    Json(doc.get()).into_response()
}
