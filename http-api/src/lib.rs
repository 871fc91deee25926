//! # iot-http
//!
//! The inbound HTTP adapter of iot-playground: API v1 as one axum [`Router`], served unchanged by
//! the ECS binary (a TCP server) and the Lambda binary (`lambda_http`). It translates HTTP to calls
//! of the domain services of `iot-core` and back; it knows nothing of the store behind them.
//!
//! What it does for every route: identity from a pluggable [`IdentitySource`], one error shape
//! ([`ApiError`]: `{"error", "message", …}`), `X-Request-Id` and `Server-Timing` on every response, body limits
//! (`413`), the CORS allow-list, a request timeout, panics turned into `500`, and an OpenAPI 3.1
//! document generated from the handlers at `/api/openapi.json`.
//!
//! ## Embedding
//! Mount the router under a prefix of your own axum app, here on the in-memory store:
//!
//! ```
//! use std::sync::{Arc, OnceLock};
//! use axum::Router;
//! use iot_core::{memory::InMemoryStore, ports::NoMetrics, service::RunConfig};
//! use iot_http::{AppState, HttpConfig, identity::UserHeader};
//!
//! let store = Arc::new(InMemoryStore::new());
//! let state = AppState::new(
//!     store.clone(), store, Arc::new(NoMetrics), RunConfig::default(), Arc::new(UserHeader),
//! );
//! let app: Router = Router::new().nest("/iot", iot_http::router(state, &HttpConfig::default()));
//! ```

mod config;
mod cors;
pub mod dto;
pub mod error;
pub mod export;
pub mod extract;
pub mod guards;
pub mod handlers;
pub mod identity;
mod openapi;
pub mod server_timing;
#[cfg(feature = "cli")]
pub mod settings;
mod state;

use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt as _;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::{DEFAULT_CORS_ORIGINS, HttpConfig, parse_origins};
pub use error::{ApiError, ApiResult};
pub use identity::IdentitySource;
pub use state::{AppState, Services};

#[derive(OpenApi)]
#[openapi(
    info(title = "iot-playground API", version = "1.0.0",
        description = "Simulate IoT sensors; the same API on ECS and on Lambda."),
    tags((name = "runs"), (name = "readings"), (name = "operations"))
)]
struct ApiDoc;

/// Calls `$then!` with every handler of API v1, grouped by path as `utoipa_axum::routes!` takes
/// them. The router and the OpenAPI document are both built from this one list, so the document
/// cannot drift from the router.
macro_rules! with_api_handlers {
    ($then:ident) => {
        $then! {
            [start_run] [can_start] [running_runs] [list_runs] [all_runs] [get_run] [finish_run]
            [interrupt_all] [run_summary] [ingest_batch, list_readings]
            [ingest_reading, latest_readings] [ingest_reading_alias] [health] [actuator_health]
            [ready] [openapi_json]
        }
    };
}

/// The document's reading of the list: every handler with its whole OpenAPI operation.
macro_rules! documented_routes {
    ($([$($handler:ident),+])+) => {
        OpenApiRouter::with_openapi(ApiDoc::openapi())
            $(.routes(routes!($(handlers::$handler),+)))+
    };
}

/// The router's reading of the list: each handler on the methods and path of its
/// `#[utoipa::path]`, without building its operation (the document is built when first asked
/// for, which keeps it out of a Lambda cold start).
macro_rules! plain_routes {
    ($([$($handler:ident),+])+) => {{
        let router = Router::new();
        $($(
            let router = utoipa_axum::paste! {
                route::<handlers::[<__path_ $handler>], _, _>(router, handlers::$handler)
            };
        )+)+
        router
    }};
}

/// `router` plus `handler` on the methods and path `P` documents.
fn route<P, H, T>(router: Router<AppState>, handler: H) -> Router<AppState>
where
    P: utoipa::Path,
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    use utoipa_axum::PathItemExt as _;
    let methods = P::methods()
        .iter()
        .fold(axum::routing::MethodRouter::new(), |methods, method| {
            methods.on(method.to_method_filter(), handler.clone())
        });
    router.route(&P::path(), methods)
}

/// Routes a binary adds to API v1, with their OpenAPI operations: called once for the router and
/// once more for the document, when it is first asked for.
pub type ExtraRoutes = fn() -> OpenApiRouter<AppState>;

/// The OpenAPI document of a router (served at `/api/openapi.json`), built on the first request
/// for it.
pub struct ApiDocument {
    extra: ExtraRoutes,
    doc: OnceLock<utoipa::openapi::OpenApi>,
}

impl std::fmt::Debug for ApiDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiDocument")
            .field("built", &self.doc.get().is_some())
            .finish_non_exhaustive()
    }
}

impl ApiDocument {
    /// The document, built on the first call.
    pub fn get(&self) -> &utoipa::openapi::OpenApi {
        self.doc.get_or_init(|| {
            let (_, doc) = with_api_handlers!(documented_routes)
                .merge((self.extra)())
                .split_for_parts();
            openapi::refine(doc)
        })
    }
}

/// The API v1 router with its middleware, ready to serve or to nest.
pub fn router(state: AppState, config: &HttpConfig) -> Router {
    router_with(state, config, OpenApiRouter::new)
}

/// [`router`] plus routes of the binary's own (e.g. `/metrics`), documented with
/// `#[utoipa::path]`: they get the same middleware and appear in `/api/openapi.json`.
pub fn router_with(state: AppState, config: &HttpConfig, extra: ExtraRoutes) -> Router {
    let (extra_routes, _) = extra().split_for_parts();
    let routes = with_api_handlers!(plain_routes).merge(extra_routes);
    let doc = ApiDocument {
        extra,
        doc: OnceLock::new(),
    };
    let routes = match &config.web_dir {
        // Files first; a path that is no file gets the same JSON 404 as without a UI.
        Some(dir) => routes.fallback_service(
            ServeDir::new(dir)
                .call_fallback_on_method_not_allowed(true)
                .fallback(route_not_found.into_service()),
        ),
        None => routes.fallback(route_not_found),
    };
    routes
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(Extension(Arc::new(doc)))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            config.request_timeout,
            guards::deadline,
        ))
        .layer(cors::cors(config))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.cors_allowed_origins.clone()),
            cors::foreign_origins_get_no_cors_headers,
        ))
        .layer(axum::middleware::from_fn(server_timing::server_timing))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(guards::drop_malformed_request_id))
}

async fn route_not_found(uri: axum::http::Uri) -> Response {
    ApiError::route_not_found(uri.path()).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}
