//! What a Lambda invocation carries, and the corrections an API Gateway event needs before the
//! router sees it.

use std::fmt;

use lambda_http::RequestExt as _;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::http::header::SET_COOKIE;
use lambda_http::http::request::Parts;
use lambda_http::http::{HeaderMap, HeaderValue, Uri};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_runtime::Diagnostic;
use serde_json::Value;

/// Why an invocation failed (reported to the Lambda runtime as the invocation's error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The payload is neither an API Gateway HTTP/REST event nor an EventBridge scheduled event.
    UnsupportedEvent(String),
    /// The timeout sweep failed (the store did not answer); EventBridge retries.
    SweepFailed(String),
    /// The response could not be encoded.
    Encoding(String),
}

impl InvokeError {
    /// The `errorType` the runtime reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::UnsupportedEvent(_) => "UnsupportedEvent",
            Self::SweepFailed(_) => "SweepFailed",
            Self::Encoding(_) => "ResponseEncoding",
        }
    }
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedEvent(why) => write!(f, "unsupported event: {why}"),
            Self::SweepFailed(why) => write!(f, "timeout sweep failed: {why}"),
            Self::Encoding(why) => write!(f, "could not encode the response: {why}"),
        }
    }
}

impl std::error::Error for InvokeError {}

impl From<InvokeError> for Diagnostic {
    fn from(error: InvokeError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}

/// A classified payload.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// An API Gateway HTTP API (payload v2, also Lambda function URLs) or REST API (v1) event.
    Http(Box<LambdaRequest>),
    /// An EventBridge scheduled event: run the timeout sweep.
    Scheduled,
}

/// Tells the event kinds apart by the members each one must have, then deserializes it.
pub(crate) fn classify(event: Value) -> Result<Incoming, InvokeError> {
    let text = |key: &str| event.get(key).and_then(Value::as_str);
    if text("source") == Some("aws.events") && text("detail-type") == Some("Scheduled Event") {
        return Ok(Incoming::Scheduled);
    }
    let context = event.get("requestContext");
    if text("version") == Some("2.0") && context.and_then(|c| c.get("http")).is_some() {
        let request: ApiGatewayV2httpRequest = serde_json::from_value(event)
            .map_err(|e| InvokeError::UnsupportedEvent(format!("bad HTTP API v2 event: {e}")))?;
        return Ok(Incoming::Http(Box::new(LambdaRequest::ApiGatewayV2(
            request,
        ))));
    }
    if text("httpMethod").is_some() && context.is_some_and(Value::is_object) {
        let mut request: ApiGatewayProxyRequest = serde_json::from_value(event)
            .map_err(|e| InvokeError::UnsupportedEvent(format!("bad REST API v1 event: {e}")))?;
        keep_repeated_headers(&mut request);
        return Ok(Incoming::Http(Box::new(LambdaRequest::ApiGatewayV1(
            request,
        ))));
    }
    let kind = text("detail-type")
        .or_else(|| text("source"))
        .unwrap_or("an unknown payload");
    Err(InvokeError::UnsupportedEvent(format!(
        "{kind}: expected an API Gateway HTTP (v2) or REST (v1) event, or an EventBridge \
         Scheduled Event"
    )))
}

/// A REST event carries every header in `multiValueHeaders` and the *last* value of each in
/// `headers`. `lambda_http` merges the two with `HeaderMap::extend`, which replaces the values
/// of a repeated header with that last one, so `X-User: alice` + `X-User: bob` would reach the
/// router as a single `bob`. Make `multiValueHeaders` the only source, adding the names that
/// only `headers` has.
fn keep_repeated_headers(request: &mut ApiGatewayProxyRequest) {
    let single = std::mem::take(&mut request.headers);
    for (name, value) in &single {
        if !request.multi_value_headers.contains_key(name) {
            request
                .multi_value_headers
                .append(name.clone(), value.clone());
        }
    }
}

/// The path the router must see. `lambda_http` prefixes the URI path with `/{stage}` for a
/// named stage (aws-lambda-rust-runtime issues #450, #782, #919), unless
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, and that variable does not help HTTP APIs,
/// whose `rawPath` itself starts with the stage. The routes never include a stage, so:
/// - REST (v1): the event's `path` is the resource path (`/api/runs`) while
///   `requestContext.path` has the stage (`/serverless-dev/api/runs`): use `path` as sent; only
///   when `path` equals `requestContext.path` and starts with `/{stage}/` (a proxy that put the
///   stage in `path`) strip it.
/// - HTTP API (v2): `rawPath` starts with `/{stage}` on a named stage: strip it; `$default`
///   has no prefix.
pub(crate) fn route_path(parts: &Parts) -> Option<String> {
    let raw = parts.raw_http_path();
    let (stage, strip) = match parts.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => {
            let stage = context.stage.as_deref()?;
            let strip = context.path.as_deref() == Some(raw);
            (stage, strip)
        }
        RequestContext::ApiGatewayV2(context) => (context.stage.as_deref()?, true),
        _ => return None,
    };
    let mut path = raw;
    if strip
        && !stage.is_empty()
        && stage != "$default"
        && let Some(rest) = raw.strip_prefix('/').and_then(|r| r.strip_prefix(stage))
        && (rest.is_empty() || rest.starts_with('/'))
    {
        path = rest;
    }
    Some(if path.is_empty() {
        "/".to_string()
    } else {
        percent_encode_path(path)
    })
}

/// Sets the request URI to `path` plus the query `lambda_http` built.
pub(crate) fn set_path(parts: &mut Parts, path: &str) {
    let target = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    match target.parse::<Uri>() {
        Ok(uri) => parts.uri = uri,
        Err(e) => tracing::warn!(%target, error = %e, "cannot rebuild the request URI"),
    }
}

/// Encodes what may not appear raw in a URI path (spaces, non-ASCII…); `%` escapes already in
/// the path stay as they are.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The user name in the API Gateway authorizer's claim `claim`: HTTP API JWT authorizer
/// (`authorizer.jwt.claims`), REST Cognito authorizer (`authorizer.claims`), or a Lambda
/// authorizer's context (`authorizer.lambda` on HTTP APIs, `authorizer` on REST APIs).
pub(crate) fn authorizer_claim(parts: &Parts, claim: &str) -> Option<String> {
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    match parts.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => {
            let authorizer = context.authorizer.as_ref()?;
            authorizer
                .jwt
                .as_ref()
                .and_then(|jwt| jwt.claims.get(claim).cloned())
                .or_else(|| authorizer.fields.get(claim).and_then(as_text))
        }
        RequestContext::ApiGatewayV1(context) => {
            let fields = &context.authorizer.fields;
            fields
                .get("claims")
                .and_then(|claims| claims.get(claim))
                .and_then(as_text)
                .or_else(|| fields.get(claim).and_then(as_text))
        }
        _ => None,
    }
}

/// An HTTP API response has one string per header name and `lambda_http` serializes only the
/// first value of a repeated header: join repeated values with `, ` (RFC 9110 §5.3) so none is
/// lost. `Set-Cookie` is left alone: it goes to the `cookies` array.
pub(crate) fn join_repeated_headers(headers: &mut HeaderMap) {
    let repeated: Vec<_> = headers
        .keys()
        .filter(|name| *name != SET_COOKIE && headers.get_all(*name).iter().count() > 1)
        .cloned()
        .collect();
    for name in repeated {
        let joined: Vec<u8> = headers
            .get_all(&name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect::<Vec<_>>()
            .join(&b", "[..]);
        match HeaderValue::from_bytes(&joined) {
            Ok(value) => {
                headers.insert(name, value);
            }
            Err(e) => tracing::warn!(header = %name, error = %e, "cannot join header values"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use lambda_http::Request;
    use serde_json::json;

    use super::*;

    fn parts_of(event: Value) -> Parts {
        let Incoming::Http(request) = classify(event).unwrap() else {
            panic!("not an HTTP event")
        };
        let request: Request = (*request).into();
        request.into_parts().0
    }

    fn v1(path: &str, context_path: &str, stage: &str) -> Value {
        json!({
            "resource": "/{proxy+}", "path": path, "httpMethod": "GET",
            "headers": { "X-User": "bob", "Host": "abc.execute-api.us-east-1.amazonaws.com" },
            "multiValueHeaders": { "X-User": ["alice", "bob"], "Host": ["abc.execute-api.us-east-1.amazonaws.com"] },
            "queryStringParameters": { "limit": "2" },
            "multiValueQueryStringParameters": { "limit": ["2"] },
            "requestContext": {
                "resourcePath": "/{proxy+}", "httpMethod": "GET", "path": context_path,
                "stage": stage, "requestId": "r1",
                "authorizer": { "claims": { "username": "carol" } }
            },
            "body": null, "isBase64Encoded": false
        })
    }

    fn v2(raw_path: &str, stage: &str) -> Value {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": "a=1",
            "headers": { "x-user": "alice,bob" },
            "requestContext": {
                "stage": stage, "requestId": "r2",
                "http": { "method": "POST", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1" },
                "authorizer": { "jwt": { "claims": { "preferred_username": "dave" }, "scopes": null } }
            },
            "isBase64Encoded": false
        })
    }

    #[test]
    fn rest_events_route_on_the_resource_path_without_the_stage() {
        let parts = parts_of(v1(
            "/api/runs",
            "/serverless-dev/api/runs",
            "serverless-dev",
        ));
        assert_eq!(
            parts.uri.path(),
            "/serverless-dev/api/runs",
            "what lambda_http makes of it"
        );
        assert_eq!(route_path(&parts).as_deref(), Some("/api/runs"));
        // A proxy that put the stage into `path` too.
        let parts = parts_of(v1(
            "/serverless-dev/api/runs",
            "/serverless-dev/api/runs",
            "serverless-dev",
        ));
        assert_eq!(route_path(&parts).as_deref(), Some("/api/runs"));
        // A route that merely starts like the stage keeps its path.
        let parts = parts_of(v1(
            "/serverless-dev/x",
            "/serverless-dev/serverless-dev/x",
            "serverless-dev",
        ));
        assert_eq!(route_path(&parts).as_deref(), Some("/serverless-dev/x"));
    }

    #[test]
    fn http_api_events_lose_a_named_stage_prefix_only() {
        let parts = parts_of(v2("/dev/api/runs", "dev"));
        assert_eq!(route_path(&parts).as_deref(), Some("/api/runs"));
        let parts = parts_of(v2("/dev", "dev"));
        assert_eq!(route_path(&parts).as_deref(), Some("/"));
        let parts = parts_of(v2("/devices/x", "dev"));
        assert_eq!(route_path(&parts).as_deref(), Some("/devices/x"));
        let parts = parts_of(v2("/api/runs", "$default"));
        assert_eq!(route_path(&parts).as_deref(), Some("/api/runs"));
        let mut parts = parts_of(v2("/dev/a b", "dev"));
        let path = route_path(&parts).unwrap();
        assert_eq!(path, "/a%20b");
        set_path(&mut parts, &path);
        assert_eq!(parts.uri.to_string(), "/a%20b?a=1");
    }

    #[test]
    fn repeated_rest_headers_stay_repeated() {
        let parts = parts_of(v1("/api/runs", "/s/api/runs", "s"));
        let users: Vec<_> = parts.headers.get_all("x-user").iter().collect();
        assert_eq!(users, ["alice", "bob"]);
        assert_eq!(parts.headers.get_all("host").iter().count(), 1);
        assert_eq!(parts.uri.query(), Some("limit=2"));
    }

    #[test]
    fn claims_come_from_the_authorizer() {
        let parts = parts_of(v1("/api/runs", "/s/api/runs", "s"));
        assert_eq!(
            authorizer_claim(&parts, "username").as_deref(),
            Some("carol")
        );
        assert_eq!(authorizer_claim(&parts, "preferred_username"), None);
        let parts = parts_of(v2("/api/runs", "$default"));
        assert_eq!(
            authorizer_claim(&parts, "preferred_username").as_deref(),
            Some("dave")
        );
        assert_eq!(authorizer_claim(&parts, "username"), None);
    }

    #[test]
    fn other_payloads_are_told_apart() {
        let scheduled = json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "1", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:1:rule/sweep"], "detail": {}
        });
        assert!(matches!(classify(scheduled), Ok(Incoming::Scheduled)));
        for other in [
            json!({}),
            json!({ "source": "aws.events", "detail-type": "EC2 Instance State-change Notification" }),
            json!({ "Records": [] }),
            json!("hello"),
            json!({ "version": "2.0", "requestContext": { "http": { "method": 7 } } }),
        ] {
            let error = classify(other.clone()).unwrap_err();
            assert!(
                matches!(error, InvokeError::UnsupportedEvent(_)),
                "{other}: {error}"
            );
        }
    }

    #[test]
    fn repeated_response_headers_are_joined_except_cookies() {
        let mut headers = HeaderMap::new();
        headers.append("vary", HeaderValue::from_static("origin"));
        headers.append(
            "vary",
            HeaderValue::from_static("access-control-request-method"),
        );
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        join_repeated_headers(&mut headers);
        assert_eq!(headers["vary"], "origin, access-control-request-method");
        assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
    }
}
