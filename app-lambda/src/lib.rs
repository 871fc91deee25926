//! # app-lambda
//!
//! The Serverless binary of iot-playground: the very `iot-http` router that `app-ecs` serves,
//! on DynamoDB, invoked by AWS Lambda. One function handles three kinds of payload:
//!
//! | payload | what happens | result |
//! |---|---|---|
//! | API Gateway HTTP API event (payload v2; also Lambda function URLs) | the router | an HTTP API response (`statusCode, headers, cookies, body, isBase64Encoded`) |
//! | API Gateway REST API event (payload v1) | the router, on the path without the stage | a REST response (`statusCode, multiValueHeaders, body, isBase64Encoded`) |
//! | EventBridge `Scheduled Event` | [`RunService::sweep`] persists `TIMEOUT` on expired runs, purges runs past their retention | `{"expired": n, "purged": m}` |
//! | anything else | — | an invocation error (`UnsupportedEvent`) |
//!
//! Everything costly is built once per execution environment by [`build`] (SDK client,
//! services, router, EMF writer), then [`run`] serves invocations. Tests call [`App::handle`]
//! with an event's JSON and get the JSON the runtime would send back, no runtime needed:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = app_lambda::Config::from_args_without_env([
//!     "app-lambda", "--dynamodb-endpoint", "http://127.0.0.1:4566", "--create-tables",
//! ])?;
//! let app = app_lambda::build(&config).await?;
//! let answer = app
//!     .handle(serde_json::json!({
//!         "version": "2.0", "rawPath": "/health", "rawQueryString": "", "headers": {},
//!         "requestContext": { "stage": "$default", "http": { "method": "GET", "path": "/health" } },
//!         "isBase64Encoded": false
//!     }))
//!     .await;
//! assert_eq!(answer["statusCode"], 200);
//! # Ok(()) }
//! ```
//!
//! Identity: `IDENTITY_SOURCE=header` trusts `X-User`; `IDENTITY_SOURCE=jwt-claim` takes the
//! claim `IDENTITY_CLAIM` from the API Gateway authorizer in the request context and hands it
//! to the router as [`AuthenticatedUser`] (a client-sent `X-User` is then ignored).
//!
//! Metrics: CloudWatch EMF lines on stdout ([`adapters_dynamo::emf`]), a `ColdStart` line on the
//! first invocation of the process. Logs go to stderr, so stdout carries nothing but metrics.

mod config;
mod event;

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters_dynamo::DynamoStore;
use adapters_dynamo::emf::EmfMetrics;
use anyhow::Context as _;
use axum::Router;
use axum::body::{Body as AxumBody, Bytes};
use http_body_util::Full;
use iot_core::service::{ReadingService, RunService, Swept};
use iot_http::identity::{Authenticated, AuthenticatedUser, UserHeader};
use iot_http::{ApiError, AppState, IdentitySource, server_timing};
use lambda_http::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use lambda_http::http::{HeaderValue, Response};
use lambda_http::request::RequestOrigin;
use lambda_runtime::{Context, Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub use config::{Config, IdentityKind};
pub use event::InvokeError;
pub use iot_http::settings::LogFormat;

/// The function, built once per execution environment; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    router: Router,
    runs: RunService,
    readings: ReadingService,
    store: DynamoStore,
    metrics: Arc<EmfMetrics>,
    /// How long [`build`] took: reported as `cold;dur=` on the instance's first response.
    init: Duration,
    /// The authorizer claim holding the user, with `IDENTITY_SOURCE=jwt-claim`.
    identity_claim: Option<String>,
}

/// The Grafana dashboard the per-run links open (`dashboards/json/iot-playground-serverless.json`).
pub const GRAFANA_DASHBOARD: &str = "iot-playground-serverless";

/// Builds the function described by `config`, its EMF metrics on stdout.
///
/// # Errors
/// An invalid admin user name; tables that cannot be created (with `CREATE_TABLES`).
pub async fn build(config: &Config) -> anyhow::Result<App> {
    build_with_emf_writer(config, Box::new(std::io::stdout())).await
}

/// [`build`], with the EMF lines written to `emf` (tests pass a
/// `test_support::emf::SharedBuffer` or [`std::io::sink`]).
///
/// # Errors
/// As [`build`].
pub async fn build_with_emf_writer(
    config: &Config,
    emf: Box<dyn Write + Send>,
) -> anyhow::Result<App> {
    let init_started = Instant::now();
    let store = DynamoStore::connect(&config.dynamo()).await;
    if config.create_tables {
        store
            .create_tables()
            .await
            .context("cannot create the DynamoDB tables")?;
    }
    let metrics = Arc::new(EmfMetrics::new(config.emf_dimensions.clone(), emf));

    let run_config = config.api.run_config(GRAFANA_DASHBOARD)?;
    let (identity, identity_claim): (Arc<dyn IdentitySource>, _) = match config.identity {
        IdentityKind::Header => (Arc::new(UserHeader), None),
        IdentityKind::JwtClaim => (Arc::new(Authenticated), Some(config.identity_claim.clone())),
    };
    let shared = Arc::new(store.clone());
    let state = AppState::new(
        shared.clone(),
        shared,
        metrics.clone(),
        run_config,
        identity,
    );
    let (runs, readings) = (state.runs.clone(), state.readings.clone());
    let http_config = config
        .api
        .http_config(Duration::from_secs(config.request_timeout_secs));
    let router = iot_http::router(state, &http_config);
    tracing::info!(
        runs_table = %config.runs_table,
        readings_table = %config.readings_table,
        identity = ?config.identity,
        emf_dimensions = %config.emf_dimensions,
        "app-lambda initialised"
    );
    Ok(App {
        inner: Arc::new(Inner {
            router,
            runs,
            readings,
            store,
            metrics,
            init: init_started.elapsed(),
            identity_claim,
        }),
    })
}

impl App {
    /// Run lifecycle (also driven by the scheduled sweep).
    pub fn runs(&self) -> &RunService {
        &self.inner.runs
    }

    /// Reading ingestion.
    pub fn readings(&self) -> &ReadingService {
        &self.inner.readings
    }

    /// The DynamoDB store (tests delete their tables through it).
    pub fn store(&self) -> &DynamoStore {
        &self.inner.store
    }

    /// The EMF metrics writer.
    pub fn metrics(&self) -> &EmfMetrics {
        &self.inner.metrics
    }

    /// The API router, as mounted behind the Lambda adapter.
    pub fn router(&self) -> Router {
        self.inner.router.clone()
    }

    /// Handles one payload the way the runtime does and returns the JSON the runtime would send
    /// back: the API Gateway response, `{"expired": n, "purged": m}`, or for a failed invocation the error
    /// document `{"errorType", "errorMessage"}` the runtime posts to its error endpoint.
    pub async fn handle(&self, event: Value) -> Value {
        match self
            .invoke(LambdaEvent::new(event, Context::default()))
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                let diagnostic = Diagnostic::from(error);
                json!({
                    "errorType": diagnostic.error_type,
                    "errorMessage": diagnostic.error_message,
                })
            }
        }
    }

    /// One invocation: what [`run`] calls for every event.
    ///
    /// # Errors
    /// [`InvokeError::UnsupportedEvent`] for a payload that is no API Gateway or scheduled
    /// event; [`InvokeError::SweepFailed`] when the sweep cannot reach the store.
    pub async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, InvokeError> {
        let cold = self.inner.metrics.cold_start();
        let LambdaEvent { payload, context } = event;
        match event::classify(payload) {
            Ok(event::Incoming::Http(request)) => self.handle_http(*request, context, cold).await,
            Ok(event::Incoming::Scheduled) => {
                let Swept { expired, purged } = self.inner.runs.sweep().await.map_err(|e| {
                    tracing::error!(error = %e, "timeout sweep failed");
                    InvokeError::SweepFailed(e.to_string())
                })?;
                tracing::info!(expired, purged, "sweep done");
                Ok(json!({ "expired": expired, "purged": purged }))
            }
            Err(error) => {
                tracing::warn!(%error, "rejected an invocation");
                Err(error)
            }
        }
    }

    /// An API Gateway event through `lambda_http` (request and response conversion for the
    /// event's type) around [`App::route`]; `cold` on the instance's first invocation.
    async fn handle_http(
        &self,
        request: lambda_http::request::LambdaRequest,
        context: Context,
        cold: bool,
    ) -> Result<Value, InvokeError> {
        let http_api = matches!(request.request_origin(), RequestOrigin::ApiGatewayV2);
        let app = self.clone();
        let service = tower::service_fn(move |request: lambda_http::Request| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.route(request, http_api, cold).await) }
        });
        let response = lambda_http::Adapter::from(service)
            .oneshot(LambdaEvent::new(request, context))
            .await
            .unwrap_or_else(|never: Infallible| match never {});
        serde_json::to_value(response).map_err(|e| InvokeError::Encoding(e.to_string()))
    }

    /// Fixes what API Gateway and `lambda_http` leave for us (stage in the path, the
    /// authorizer's claim), calls the router and collects the body (into a `Sync` body, which
    /// keeps the `lambda_http` adapter's future `Send`). A cold response also carries the
    /// instance's initialisation time in `Server-Timing` (`cold;dur=`).
    async fn route(
        &self,
        request: lambda_http::Request,
        http_api: bool,
        cold: bool,
    ) -> Response<Full<Bytes>> {
        let (mut parts, body) = request.into_parts();
        if let Some(path) = event::route_path(&parts) {
            event::set_path(&mut parts, &path);
        }
        if let Some(claim) = &self.inner.identity_claim
            && let Some(user) = event::authorizer_claim(&parts, claim)
        {
            parts.extensions.insert(AuthenticatedUser(user));
        }
        let body = match body {
            lambda_http::Body::Text(text) => AxumBody::from(text),
            lambda_http::Body::Binary(bytes) => AxumBody::from(bytes),
            _ => AxumBody::empty(),
        };
        let request = axum::extract::Request::from_parts(parts, body);
        let response = match self.inner.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (mut parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            Err(e) => {
                // Keep the request id and CORS headers; replace status and body.
                let error = axum::response::IntoResponse::into_response(ApiError::internal(
                    format!("could not read the response body: {e}"),
                ));
                parts.status = error.status();
                parts.headers.remove(CONTENT_LENGTH);
                parts
                    .headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                axum::body::to_bytes(error.into_body(), usize::MAX)
                    .await
                    .unwrap_or_default()
            }
        };
        if cold {
            server_timing::append(
                &mut parts.headers,
                &server_timing::cold_entry(self.inner.init),
            );
        }
        if http_api {
            event::join_repeated_headers(&mut parts.headers);
        }
        Response::from_parts(parts, Full::new(bytes))
    }
}

/// Serves invocations with the Lambda runtime until the environment is shut down.
///
/// # Errors
/// When the runtime API cannot be reached.
pub async fn run(app: App) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { app.invoke(event).await }
    }))
    .await
}

/// Logs to stderr as JSON or pretty lines, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    if let Err(e) = iot_http::settings::init_logging(format, std::io::stderr) {
        eprintln!("{e}");
    }
}
