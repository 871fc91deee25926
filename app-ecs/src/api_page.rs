//! `GET /api/docs`: the OpenAPI document (`/api/openapi.json`) as a browsable page, rendered by
//! Redoc from a copy compiled into the binary (`assets/redoc/`, see its `VERSION.md`).
//!
//! The page's Content-Security-Policy allows nothing outside the server's own origin, so the page
//! works offline and cannot leak its visitors to a third party (Redoc would otherwise load a logo
//! from its CDN).

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

const REDOC_JS: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Relative URLs, so the page also works when the API is mounted under a prefix.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>iot-playground API</title>
  <style>body { margin: 0; }</style>
</head>
<body>
  <redoc spec-url="openapi.json"></redoc>
  <script src="docs/redoc.standalone.js"></script>
</body>
</html>
"#;

/// The page and its script (undocumented in OpenAPI: they are not part of the API).
pub fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .route("/api/docs", get(page))
        .route("/api/docs/redoc.standalone.js", get(script))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Html(PAGE),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        REDOC_JS,
    )
        .into_response()
}
