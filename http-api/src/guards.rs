//! Middleware that guards every route: the request deadline (`408` in the API's error shape)
//! and the hygiene of a client-sent `X-Request-Id`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest `X-Request-Id` a client may send.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Answers `408 request_timeout` when the request is not done within `limit`.
pub(crate) async fn deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::request_timeout(limit).into_response(),
    }
}

/// Whether a client-sent request id may be kept: 1 to [`MAX_REQUEST_ID_LEN`] characters of
/// `A-Z a-z 0-9 - _ . :` (UUIDs, ULIDs, W3C trace ids), nothing that could forge or break a log
/// line.
pub fn is_well_formed_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Drops a client's `X-Request-Id` that is malformed or repeated, so that a fresh one is
/// generated in its place.
pub(crate) async fn drop_malformed_request_id(mut request: Request, next: Next) -> Response {
    let mut ids = request.headers().get_all("x-request-id").iter();
    let keep = match (ids.next(), ids.next()) {
        (None, _) => true,
        (Some(id), None) => is_well_formed_request_id(id.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn a_request_past_its_deadline_is_408_in_the_error_shape() {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(50),
                deadline,
            ));
        let request = axum::http::Request::get("/slow")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 408);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "request_timeout");
        assert!(body["message"].as_str().unwrap().contains("0.05 s"));
    }

    #[test]
    fn request_ids_are_bounded_in_length_and_charset() {
        for good in [
            "0f8e3b4a-9c1d-4e2f-8a7b-6c5d4e3f2a1b",
            "01HZX3J5Q8",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "a",
        ] {
            assert!(is_well_formed_request_id(good.as_bytes()), "{good}");
        }
        let long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for bad in [
            "",
            "with space",
            "line\nbreak",
            "quote\"",
            "é",
            "a;b=c",
            long.as_str(),
        ] {
            assert!(!is_well_formed_request_id(bad.as_bytes()), "{bad}");
        }
    }
}
