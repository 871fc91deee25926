//! Who is calling. The source is pluggable: a deployment may trust a header sent by the client
//! (`X-User`, the default), a claim put in the request by an API Gateway JWT authorizer, or the
//! identity an ALB adds after OIDC login. Whatever the source, the name must be a valid
//! [`Username`]; a client-sent `X-User` is ignored when another source is configured.

use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine as _;
use iot_core::Username;

use crate::error::ApiError;

/// The identity header clients send.
pub const X_USER: &str = "x-user";

/// Finds the caller's identity in a request.
pub trait IdentitySource: Send + Sync + std::fmt::Debug {
    /// `Ok(None)` when the request carries no identity.
    ///
    /// # Errors
    /// `401 invalid_user` when an identity is present but malformed or ambiguous.
    fn identify(&self, request: &Parts) -> Result<Option<Username>, ApiError>;
}

/// Reads a single-valued header as a user name: absent → `None`, repeated or malformed → `401`.
///
/// # Errors
/// `401 invalid_user` when the header is repeated, empty or malformed.
pub fn user_from_header(headers: &HeaderMap, name: &str) -> Result<Option<Username>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_user(
            "X-User",
            "must be sent once; the request carries it more than once",
        ));
    }
    let text = value.to_str().unwrap_or("");
    Username::parse(text)
        .map(Some)
        .map_err(|e| ApiError::invalid_user("X-User", e.message))
}

/// Trusts the client's `X-User` header (playgrounds, private networks).
#[derive(Debug, Clone, Copy, Default)]
pub struct UserHeader;

impl IdentitySource for UserHeader {
    fn identify(&self, request: &Parts) -> Result<Option<Username>, ApiError> {
        user_from_header(&request.headers, X_USER)
    }
}

/// Takes the user from a claim of the OIDC token an AWS ALB forwards in `x-amzn-oidc-data`
/// after authenticating the user. The ALB overwrites that header on every request, so clients
/// cannot forge it; the signature is the ALB's and is not re-checked here.
#[derive(Debug, Clone)]
pub struct AlbOidc {
    /// The claim holding the user name (e.g. `preferred_username`).
    pub claim: String,
}

/// The ALB's OIDC header.
pub const ALB_OIDC_DATA: &str = "x-amzn-oidc-data";

impl IdentitySource for AlbOidc {
    fn identify(&self, request: &Parts) -> Result<Option<Username>, ApiError> {
        let Some(token) = request.headers.get(ALB_OIDC_DATA) else {
            return Ok(None);
        };
        let claims = token
            .to_str()
            .ok()
            .and_then(|t| t.split('.').nth(1))
            .and_then(|payload| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload.trim_end_matches('='))
                    .ok()
            })
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
        let name = claims
            .as_ref()
            .and_then(|c| c.get(&self.claim))
            .and_then(|v| v.as_str());
        match name {
            Some(name) => Username::parse(name)
                .map(Some)
                .map_err(|e| ApiError::invalid_user(&self.claim, e.message)),
            None => Ok(None),
        }
    }
}

/// Takes the user from a value an outer layer stored in the request extensions (the Lambda binary
/// puts the API Gateway JWT authorizer's claim there). The router never sees where it came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Authenticated;

/// A user name proven by infrastructure in front of the router, put in request extensions.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub String);

impl IdentitySource for Authenticated {
    fn identify(&self, request: &Parts) -> Result<Option<Username>, ApiError> {
        match request.extensions.get::<AuthenticatedUser>() {
            Some(AuthenticatedUser(name)) => Username::parse(name.as_str())
                .map(Some)
                .map_err(|e| ApiError::invalid_user("user", e.message)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().uri("/api/runs/start");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn token(claims: &serde_json::Value) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.signature",
            engine.encode(br#"{"alg":"ES256"}"#),
            engine.encode(claims.to_string())
        )
    }

    #[test]
    fn the_header_source_reads_one_valid_x_user() {
        let source = UserHeader;
        assert_eq!(source.identify(&parts(&[])).unwrap(), None);
        let alice = source.identify(&parts(&[("x-user", "alice")])).unwrap();
        assert_eq!(alice.unwrap().as_str(), "alice");
        for bad in [
            &[("x-user", "a b")][..],
            &[("x-user", "alice"), ("x-user", "bob")],
        ] {
            let err = source.identify(&parts(bad)).unwrap_err();
            assert_eq!((err.status().as_u16(), err.code()), (401, "invalid_user"));
        }
    }

    #[test]
    fn the_alb_source_reads_its_claim_and_ignores_x_user() {
        let source = AlbOidc {
            claim: "preferred_username".into(),
        };
        let data = token(&serde_json::json!({ "preferred_username": "carol", "sub": "123" }));
        let who = source
            .identify(&parts(&[(ALB_OIDC_DATA, &data), ("x-user", "mallory")]))
            .unwrap();
        assert_eq!(who.unwrap().as_str(), "carol");
        assert_eq!(
            source.identify(&parts(&[("x-user", "mallory")])).unwrap(),
            None
        );
        let bad = token(&serde_json::json!({ "preferred_username": "not valid!" }));
        assert!(source.identify(&parts(&[(ALB_OIDC_DATA, &bad)])).is_err());
    }

    #[test]
    fn the_authenticated_source_reads_the_extension_only() {
        let mut with_claim = parts(&[("x-user", "mallory")]);
        with_claim
            .extensions
            .insert(AuthenticatedUser("dave".into()));
        let who = Authenticated.identify(&with_claim).unwrap();
        assert_eq!(who.unwrap().as_str(), "dave");
        assert_eq!(
            Authenticated
                .identify(&parts(&[("x-user", "mallory")]))
                .unwrap(),
            None
        );
    }
}
