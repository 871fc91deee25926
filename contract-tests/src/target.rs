//! The "target" of the HTTP contract: anything that answers an HTTP request. The same scenarios
//! run against `app-ecs` over a socket, `app-lambda` through API Gateway events, and `app-lambda`
//! behind a Lambda runtime emulator.

use async_trait::async_trait;
use serde_json::Value;

/// A request as a scenario writes it.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    /// `GET`, `POST`, `OPTIONS`…
    pub method: String,
    /// Path and query, e.g. `/api/runs?limit=2`.
    pub path: String,
    /// Headers, in order (a name may repeat).
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl TestRequest {
    /// A request without headers or body.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            ..Self::default()
        }
    }

    /// `GET path`.
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    /// `POST path` with a JSON body.
    pub fn post_json(path: &str, body: &Value) -> Self {
        Self::new("POST", path)
            .header("content-type", "application/json")
            .raw_body(body.to_string().into_bytes())
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds `X-User`.
    #[must_use]
    pub fn user(self, name: &str) -> Self {
        self.header("x-user", name)
    }

    /// Sets the body.
    #[must_use]
    pub fn raw_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: u16,
    /// Headers with lowercase names.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The `error` code of an error body.
    pub fn error_code(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Something that answers HTTP requests with the API under test.
#[async_trait]
pub trait HttpTarget: Send + Sync {
    /// Sends one request.
    async fn send(&self, request: TestRequest) -> TestResponse;

    /// Capability: a header sent twice reaches the backend as two values. A target that cannot
    /// do this says so, and only the assertions about repeated headers are left out there;
    /// every scenario still runs on every target.
    fn keeps_repeated_headers(&self) -> bool {
        true
    }

    /// Capability: a body that is not valid UTF-8 reaches the backend. The Lambda runtime
    /// emulator answers such a request with its own `500` before the function runs (API Gateway
    /// passes it base64-encoded); only the assertions that send one are left out there.
    fn carries_non_utf8_bodies(&self) -> bool {
        true
    }

    /// Capability: the store is DynamoDB, so responses report its consumed capacity
    /// (`Server-Timing: rcu`, `wcu`). Elsewhere those metrics must be absent.
    fn reports_consumed_capacity(&self) -> bool {
        false
    }

    /// Capability: the target's first response comes from a Lambda instance that has just
    /// started, so it reports its initialisation time (`Server-Timing: cold`). Elsewhere the first
    /// response reports none.
    fn first_response_is_a_cold_start(&self) -> bool {
        false
    }
}

/// A server reachable over a real socket.
#[derive(Debug, Clone)]
pub struct SocketTarget {
    base_url: String,
    client: reqwest::Client,
}

impl SocketTarget {
    /// Talks to `base_url` (e.g. `http://127.0.0.1:34567`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            client: reqwest::Client::builder()
                .timeout(test_support::PATIENT)
                .build()
                .expect("http client"),
        }
    }
}

#[async_trait]
impl HttpTarget for SocketTarget {
    async fn send(&self, request: TestRequest) -> TestResponse {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
        let mut builder = self
            .client
            .request(method, format!("{}{}", self.base_url, request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(request.body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {} failed: {e}", self.base_url));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response.bytes().await.expect("response body").to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

/// The configuration every HTTP target runs the contract with.
///
/// Small enough to reach limits quickly: 5 runs overall, 3 per user, no grace (a run of
/// `duration` 1 times out one second after it starts), `admin` is an admin, and the allowed CORS
/// origin is [`ALLOWED_ORIGIN`].
pub mod contract_config {
    /// `MAX_CONCURRENT_RUNS`.
    pub const MAX_CONCURRENT_RUNS: u32 = 5;
    /// `MAX_RUNS_PER_USER`.
    pub const MAX_RUNS_PER_USER: u32 = 3;
    /// `RUN_TIMEOUT_GRACE_SECS`.
    pub const RUN_TIMEOUT_GRACE_SECS: u32 = 0;
    /// `ADMIN_USERS`.
    pub const ADMIN_USERS: &str = "admin";
    /// `CORS_ALLOWED_ORIGINS`.
    pub const ALLOWED_ORIGIN: &str = "http://allowed.example";
    /// `GRAFANA_URL`.
    pub const GRAFANA_URL: &str = "https://grafana.example";

    /// `REQUEST_TIMEOUT_SECS`: generous, no scenario is about it and the machine may be busy.
    pub const REQUEST_TIMEOUT_SECS: u64 = test_support::PATIENT.as_secs();

    /// The settings as environment variables, for targets that are configured that way.
    pub fn env() -> Vec<(&'static str, String)> {
        vec![
            ("REQUEST_TIMEOUT_SECS", REQUEST_TIMEOUT_SECS.to_string()),
            ("MAX_CONCURRENT_RUNS", MAX_CONCURRENT_RUNS.to_string()),
            ("MAX_RUNS_PER_USER", MAX_RUNS_PER_USER.to_string()),
            ("RUN_TIMEOUT_GRACE_SECS", RUN_TIMEOUT_GRACE_SECS.to_string()),
            ("ADMIN_USERS", ADMIN_USERS.to_string()),
            ("CORS_ALLOWED_ORIGINS", ALLOWED_ORIGIN.to_string()),
            ("GRAFANA_URL", GRAFANA_URL.to_string()),
        ]
    }
}

pub use contract_config::ALLOWED_ORIGIN;

/// The router itself, called in process (no socket): the fastest target, and what a service
/// that embeds the router gets.
#[derive(Debug, Clone)]
pub struct RouterTarget {
    router: axum::Router,
}

impl RouterTarget {
    /// The API on a fresh in-memory store with the contract configuration.
    pub fn in_memory() -> Self {
        use std::sync::Arc;

        use iot_core::memory::InMemoryStore;
        use iot_core::ports::{CapacityLimits, NoMetrics};
        use iot_core::service::RunConfig;

        let store = Arc::new(InMemoryStore::new());
        let config = RunConfig {
            limits: CapacityLimits {
                global: contract_config::MAX_CONCURRENT_RUNS,
                per_user: contract_config::MAX_RUNS_PER_USER,
            },
            timeout_grace_secs: contract_config::RUN_TIMEOUT_GRACE_SECS,
            admins: vec![iot_core::Username::parse(contract_config::ADMIN_USERS).expect("admin")],
            grafana_url: Some(contract_config::GRAFANA_URL.to_string()),
            retention_days: None,
        };
        let state = iot_http::AppState::new(
            store.clone(),
            store,
            Arc::new(NoMetrics),
            config,
            Arc::new(iot_http::identity::UserHeader),
        );
        let http = iot_http::HttpConfig {
            cors_allowed_origins: vec![ALLOWED_ORIGIN.to_string()],
            ..iot_http::HttpConfig::default()
        };
        Self {
            router: iot_http::router(state, &http),
        }
    }

    /// Cleans up nothing: the store dies with the router.
    pub async fn cleanup(self) {}
}

impl std::ops::Deref for RouterTarget {
    type Target = dyn HttpTarget;
    fn deref(&self) -> &Self::Target {
        self
    }
}

#[async_trait]
impl HttpTarget for RouterTarget {
    async fn send(&self, request: TestRequest) -> TestResponse {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;

        let mut builder = axum::http::Request::builder()
            .method(request.method.as_str())
            .uri(request.path.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let http_request = builder
            .body(axum::body::Body::from(request.body))
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(http_request)
            .await
            .expect("infallible");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}
