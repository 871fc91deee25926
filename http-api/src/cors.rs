//! The CORS allow-list: tower-http's layer, plus a guard that strips every `Access-Control-*`
//! header from answers to foreign origins.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::HttpConfig;

/// The CORS policy: the configured origins only, the methods and headers the API uses.
pub(crate) fn cors(config: &HttpConfig) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            HeaderName::from_static("content-type"),
            HeaderName::from_static("x-user"),
            HeaderName::from_static("x-run-id"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("location"),
            HeaderName::from_static("server-timing"),
        ])
        .max_age(Duration::from_secs(3600))
}

/// `CorsLayer` answers a preflight from any origin with its allow-methods/headers/max-age and
/// omits only `Access-Control-Allow-Origin`; we promise a foreign origin no `Access-Control-*`
/// header at all, so that nothing about the policy leaks.
pub(crate) async fn foreign_origins_get_no_cors_headers(
    axum::extract::State(allowed): axum::extract::State<Arc<Vec<String>>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let foreign = request
        .headers()
        .get(axum::http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|origin| !allowed.iter().any(|a| a == origin));
    let mut response = next.run(request).await;
    if foreign {
        let cors: Vec<HeaderName> = response
            .headers()
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            response.headers_mut().remove(name);
        }
    }
    response
}
