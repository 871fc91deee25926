//! `app-lambda` as HTTP contract targets:
//!
//! - [`LambdaEventTarget::http_api_v2`]: every request becomes an API Gateway **HTTP API**
//!   (payload v2) event, `$default` stage, as API Gateway builds it (lowercase header names,
//!   repeated headers joined with commas, cookies in `cookies`, binary bodies base64-encoded);
//!   the event goes through [`app_lambda::App::handle`] and the returned JSON back into a
//!   response.
//! - [`LambdaEventTarget::rest_v1_stage`]: **REST API** (payload v1) events of the stage
//!   `serverless-dev`: `path` is the resource path, `requestContext.path` carries the stage
//!   (`/serverless-dev/api/…`), `multiValueHeaders`/`multiValueQueryStringParameters` hold every
//!   value and `headers`/`queryStringParameters` the last one, as API Gateway sends them.
//! - [`EmulatorTarget`]: the real binary under `cargo lambda watch` (the Lambda runtime API
//!   emulator of cargo-lambda), reached over HTTP at its function-URL endpoint
//!   `http://127.0.0.1:PORT/lambda-url/app-lambda/…`. One emulator per scenario, on its own port
//!   and fresh tables; it needs `CARGO_LAMBDA` (`scripts/lib/lambda.sh`'s `ensure_cargo_lambda`).
//!
//! Each target runs on fresh DynamoDB tables of the emulator at `TEST_DYNAMODB_ENDPOINT` with the
//! [contract configuration](crate::target::contract_config), and deletes them in `cleanup`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use adapters_dynamo::{DynamoConfig, DynamoStore};
use app_lambda::{App, Config};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use crate::target::{HttpTarget, SocketTarget, TestRequest, TestResponse, contract_config};
use test_support::{TableNames, dynamodb_endpoint, services_required, unique_suffix};

/// The payload format a [`LambdaEventTarget`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// API Gateway HTTP API, payload format 2.0, `$default` stage.
    HttpApiV2,
    /// API Gateway REST API, payload format 1.0, on the stage [`REST_STAGE`].
    RestV1,
}

/// The stage of the REST API events.
pub const REST_STAGE: &str = "serverless-dev";

/// The command-line arguments of `app-lambda` for the contract configuration on `tables`.
fn contract_args(endpoint: &str, tables: &TableNames, timeouts: DynamoTimeouts) -> Vec<String> {
    let mut args = vec!["app-lambda".to_string()];
    args.extend(tables.app_lambda_args(endpoint));
    for (var, value) in timeouts.env() {
        args.push(format!("--{}", var.to_ascii_lowercase().replace('_', "-")));
        args.push(value);
    }
    for (var, value) in contract_config::env() {
        let flag = format!("--{}", var.to_ascii_lowercase().replace('_', "-"));
        args.push(flag);
        args.push(value);
    }
    args
}

/// The SDK timeouts of a function under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamoTimeouts {
    /// `DYNAMODB_OPERATION_TIMEOUT_MS`: one operation, retries included.
    pub operation: Duration,
    /// `DYNAMODB_ATTEMPT_TIMEOUT_MS`: one attempt (and connecting).
    pub attempt: Duration,
}

impl DynamoTimeouts {
    /// For scenarios that are not about timeouts: the emulator can be slow on a busy machine.
    pub const PATIENT: Self = Self {
        operation: test_support::PATIENT,
        attempt: test_support::PATIENT,
    };

    /// The settings as environment variables.
    pub fn env(self) -> [(&'static str, String); 2] {
        [
            (
                "DYNAMODB_OPERATION_TIMEOUT_MS",
                self.operation.as_millis().to_string(),
            ),
            (
                "DYNAMODB_ATTEMPT_TIMEOUT_MS",
                self.attempt.as_millis().to_string(),
            ),
        ]
    }
}

/// `app-lambda` driven by API Gateway events, in process.
#[derive(Debug, Clone)]
pub struct LambdaEventTarget {
    app: App,
    format: PayloadFormat,
}

impl LambdaEventTarget {
    /// HTTP API (v2) events; `None` when `TEST_DYNAMODB_ENDPOINT` is unset (and not required).
    pub async fn http_api_v2() -> Option<Self> {
        Self::new(PayloadFormat::HttpApiV2).await
    }

    /// REST API (v1) events on the stage `serverless-dev`.
    pub async fn rest_v1_stage() -> Option<Self> {
        Self::new(PayloadFormat::RestV1).await
    }

    async fn new(format: PayloadFormat) -> Option<Self> {
        let endpoint = dynamodb_endpoint()?;
        Some(Self::at(format, &endpoint, DynamoTimeouts::PATIENT).await)
    }

    /// The function on fresh tables of the DynamoDB endpoint `endpoint` (e.g. a
    /// [`TcpProxy`](crate::proxy::TcpProxy) in front of the emulator), with SDK `timeouts`.
    pub async fn at(format: PayloadFormat, endpoint: &str, timeouts: DynamoTimeouts) -> Self {
        let tables = TableNames::unique("ctl");
        let args = contract_args(endpoint, &tables, timeouts);
        let config = Config::from_args_without_env(args).expect("contract configuration");
        let app = app_lambda::build_with_emf_writer(&config, Box::new(std::io::sink()))
            .await
            .expect("build app-lambda");
        Self { app, format }
    }

    /// The function under test.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Deletes the tables.
    pub async fn cleanup(self) {
        if let Err(e) = self.app.store().delete_tables().await {
            eprintln!("could not delete test tables: {e}");
        }
    }
}

impl std::ops::Deref for LambdaEventTarget {
    type Target = dyn HttpTarget;
    fn deref(&self) -> &Self::Target {
        self
    }
}

#[async_trait]
impl HttpTarget for LambdaEventTarget {
    async fn send(&self, request: TestRequest) -> TestResponse {
        let event = match self.format {
            PayloadFormat::HttpApiV2 => http_api_event(&request),
            PayloadFormat::RestV1 => rest_event(&request, REST_STAGE),
        };
        let answer = self.app.handle(event).await;
        response_from(&answer)
    }

    fn reports_consumed_capacity(&self) -> bool {
        true
    }

    /// A fresh function per target: its first event is the instance's first.
    fn first_response_is_a_cold_start(&self) -> bool {
        true
    }
}

/// An API Gateway HTTP API (payload 2.0) event for `request` on the `$default` stage.
pub fn http_api_event(request: &TestRequest) -> Value {
    let (raw_path, query) = split_path(&request.path);
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| c.trim().to_string()));
        } else {
            headers.entry(name).or_default().push(value.clone());
        }
    }
    add_gateway_headers(&mut headers, request, false);
    // HTTP APIs join the values of a repeated header with commas.
    let headers: Map<String, Value> = headers
        .into_iter()
        .map(|(name, values)| (name, Value::String(values.join(","))))
        .collect();
    let (body, base64) = encode_body(request);
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "lambdatest",
            "domainName": "lambdatest.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "lambdatest",
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": first_header(request, "user-agent").unwrap_or("contract-tests"),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_600_800_000_u64,
        },
        "body": body,
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in query_pairs(query) {
            params.entry(key).or_default().push(value);
        }
        let joined: Map<String, Value> = params
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.join(","))))
            .collect();
        event["queryStringParameters"] = Value::Object(joined);
    }
    event
}

/// An API Gateway REST API (payload 1.0) event for `request`, proxy resource `/{proxy+}` on
/// `stage`.
pub fn rest_event(request: &TestRequest, stage: &str) -> Value {
    let (path, query) = split_path(&request.path);
    // Header names keep the client's spelling; a name seen again in another case joins it.
    let mut multi: Vec<(String, Vec<String>)> = Vec::new();
    let mut push = |name: &str, value: &str| match multi
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, values)) => values.push(value.to_string()),
        None => multi.push((name.to_string(), vec![value.to_string()])),
    };
    for (name, value) in &request.headers {
        push(name, value);
    }
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    add_gateway_headers(&mut extra, request, true);
    for (name, values) in extra {
        for value in values {
            push(&name, &value);
        }
    }
    let single: Map<String, Value> = multi
        .iter()
        .map(|(n, v)| (n.clone(), json!(v.last())))
        .collect();
    let multi: Map<String, Value> = multi.into_iter().map(|(n, v)| (n, json!(v))).collect();

    let mut query_multi: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in query_pairs(query) {
        match query_multi.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => query_multi.push((key, vec![value])),
        }
    }
    let (query_single, query_multi) = if query_multi.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (
            Value::Object(
                query_multi
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v.last())))
                    .collect(),
            ),
            Value::Object(
                query_multi
                    .into_iter()
                    .map(|(k, v)| (k, json!(v)))
                    .collect(),
            ),
        )
    };
    let (body, base64) = encode_body(request);
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": query_multi,
        "pathParameters": { "proxy": path.trim_start_matches('/') },
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "lambdatest",
            "resourceId": "abc123",
            "resourcePath": "/{proxy+}",
            "httpMethod": request.method,
            "path": format!("/{stage}{path}"),
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainName": "lambdatest.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "lambdatest",
            "requestId": uuid::Uuid::new_v4().to_string(),
            "requestTime": "25/Nov/2026:10:00:00 +0000",
            "requestTimeEpoch": 1_795_600_800_000_u64,
            "identity": {
                "sourceIp": "127.0.0.1",
                "userAgent": first_header(request, "user-agent").unwrap_or("contract-tests"),
            },
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// The headers API Gateway adds (`Host`, `X-Forwarded-*`, `Content-Length`), unless sent.
fn add_gateway_headers(
    headers: &mut BTreeMap<String, Vec<String>>,
    request: &TestRequest,
    title_case: bool,
) {
    let mut add = |lower: &str, title: &str, value: String| {
        if first_header(request, lower).is_none() {
            let name = if title_case { title } else { lower };
            headers.entry(name.to_string()).or_default().push(value);
        }
    };
    add(
        "host",
        "Host",
        "lambdatest.execute-api.us-east-1.amazonaws.com".into(),
    );
    add("x-forwarded-for", "X-Forwarded-For", "127.0.0.1".into());
    add("x-forwarded-port", "X-Forwarded-Port", "443".into());
    add("x-forwarded-proto", "X-Forwarded-Proto", "https".into());
    if !request.body.is_empty() {
        add(
            "content-length",
            "Content-Length",
            request.body.len().to_string(),
        );
    }
}

fn first_header<'a>(request: &'a TestRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn split_path(path: &str) -> (&str, &str) {
    path.split_once('?').unwrap_or((path, ""))
}

/// Text bodies travel as text, anything else base64-encoded (`isBase64Encoded`), as API
/// Gateway does for binary payloads; an empty body is `null`.
fn encode_body(request: &TestRequest) -> (Value, bool) {
    if request.body.is_empty() {
        return (Value::Null, false);
    }
    let textual = first_header(request, "content-type").is_none_or(|c| {
        let c = c.to_ascii_lowercase();
        c.starts_with("text/") || c.contains("json") || c.contains("xml")
    });
    match std::str::from_utf8(&request.body) {
        Ok(text) if textual => (Value::String(text.to_string()), false),
        _ => (Value::String(BASE64.encode(&request.body)), true),
    }
}

/// `key=value` pairs of a raw query, percent-decoded (as API Gateway decodes REST query
/// parameters; a `+` stays a `+`).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Lambda proxy response (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`,
/// `isBase64Encoded`) as API Gateway turns it into an HTTP response.
pub fn response_from(answer: &Value) -> TestResponse {
    let status = answer["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or_else(|| panic!("not a proxy response: {answer}"));
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(multi) = answer["multiValueHeaders"].as_object() {
        for (name, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                headers.push((
                    name.to_ascii_lowercase(),
                    value.as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    if let Some(single) = answer["headers"].as_object() {
        for (name, value) in single {
            let name = name.to_ascii_lowercase();
            if !headers.iter().any(|(n, _)| *n == name) {
                headers.push((name, value.as_str().unwrap_or_default().to_string()));
            }
        }
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        headers.push((
            "set-cookie".into(),
            cookie.as_str().unwrap_or_default().to_string(),
        ));
    }
    let body = match answer["body"].as_str() {
        None => Vec::new(),
        Some(text) if answer["isBase64Encoded"] == json!(true) => BASE64
            .decode(text)
            .unwrap_or_else(|e| panic!("isBase64Encoded body is not base64: {e}")),
        Some(text) => text.as_bytes().to_vec(),
    };
    TestResponse {
        status,
        headers,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// cargo lambda watch

/// `app-lambda` under `cargo lambda watch`, one emulator per target, on fresh tables.
#[derive(Debug)]
pub struct EmulatorTarget {
    socket: SocketTarget,
    store: DynamoStore,
    watcher: Watcher,
    /// Time from spawning the watcher to the first answered request.
    pub startup: Duration,
}

/// The watcher process group, stopped when dropped.
#[derive(Debug)]
struct Watcher {
    child: Child,
    /// The function processes when started from a prebuilt binary (same process group): each
    /// is one Lambda instance, serving one request at a time.
    functions: Vec<Child>,
    log: PathBuf,
    env_file: PathBuf,
}

/// The prebuilt function binary and how many processes of it to start.
#[derive(Debug, Clone, Copy)]
struct Instances<'a> {
    binary: &'a str,
    count: usize,
}

impl Watcher {
    /// The emulator's APIs only (`--only-lambda-apis`), and the prebuilt `binary` started against
    /// its Runtime API as the function `app-lambda`: what `cargo lambda watch` does, without
    /// building the binary a second time with another feature set (`scripts/test` passes the
    /// binary its own test build just made, as `APP_LAMBDA_BIN`).
    fn prebuilt(
        cargo_lambda: &str,
        function: Instances<'_>,
        port: u16,
        env: &[(String, String)],
        log_file: std::fs::File,
        env_file: PathBuf,
        log: PathBuf,
    ) -> Self {
        let log_err = log_file.try_clone().expect("clone the log handle");
        let child = Command::new(cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--disable-cors",
                "--quiet",
            ])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone the log handle"))
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cargo_lambda}: {e}"));
        let deadline = Instant::now() + test_support::PATIENT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the runtime emulator did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let group = i32::try_from(child.id()).expect("pid");
        let Instances { binary, count } = function;
        let spawn_function = || {
            Command::new(binary)
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("AWS_LAMBDA_FUNCTION_NAME", "app-lambda")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
                .env(
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("http://127.0.0.1:{port}/.rt/app-lambda"),
                )
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("clone the log handle"))
                .stderr(log_file.try_clone().expect("clone the log handle"))
                .process_group(group)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"))
        };
        Self {
            child,
            functions: (0..count).map(|_| spawn_function()).collect(),
            log,
            env_file,
        }
    }

    fn stop(&mut self) {
        // `cargo lambda watch` runs `cargo run` which runs the function: stop the whole group.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        for function in &mut self.functions {
            let _ = function.kill();
            let _ = function.wait();
        }
        let _ = std::fs::remove_file(&self.env_file);
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The workspace root (where `cargo lambda watch` must run).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl EmulatorTarget {
    /// Starts `cargo lambda watch` for `app-lambda` on a free port and fresh tables, and waits
    /// until the function answers. `None` (skip) when `CARGO_LAMBDA` or
    /// `TEST_DYNAMODB_ENDPOINT` is unset, unless CI requires them.
    pub async fn start() -> Option<Self> {
        Self::start_instances(1).await
    }

    /// [`Self::start`] with `instances` function processes polling the one emulator, as several
    /// Lambda instances behind one function URL. More than one needs the prebuilt binary
    /// (`APP_LAMBDA_BIN`, which `scripts/test` sets): without it, a test that asks for several is
    /// skipped, or fails when CI requires every suite.
    pub async fn start_instances(instances: usize) -> Option<Self> {
        let prebuilt = std::env::var("APP_LAMBDA_BIN")
            .ok()
            .filter(|b| !b.is_empty());
        if instances > 1 && prebuilt.is_none() {
            assert!(
                !services_required(),
                "APP_LAMBDA_BIN is not set, and CI requires the multi-instance emulator target"
            );
            eprintln!("skipping: APP_LAMBDA_BIN is not set (needed for several instances)");
            return None;
        }
        let cargo_lambda = match std::env::var("CARGO_LAMBDA") {
            Ok(path) if !path.is_empty() => path,
            _ if services_required() => panic!(
                "CARGO_LAMBDA is not set, and CI requires the emulator target: \
                 source scripts/lib/lambda.sh && ensure_cargo_lambda"
            ),
            _ => {
                eprintln!("skipping: CARGO_LAMBDA is not set");
                return None;
            }
        };
        let endpoint = dynamodb_endpoint()?;
        let suffix = unique_suffix();
        let tables = TableNames::unique("cte");
        let config = DynamoConfig {
            endpoint: Some(endpoint.clone()),
            region: Some("us-east-1".into()),
            runs_table: tables.runs,
            readings_table: tables.readings,
            ..DynamoConfig::default()
        };
        let store = DynamoStore::connect(&config).await;
        store.create_tables().await.expect("create test tables");

        let port = free_port();
        let mut env = vec![
            ("DYNAMODB_ENDPOINT".to_string(), endpoint),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("RUNS_TABLE".into(), config.runs_table.clone()),
            ("READINGS_TABLE".into(), config.readings_table.clone()),
            ("CREATE_TABLES".into(), "false".into()),
            ("LOG_FORMAT".into(), "json".into()),
            ("RUST_LOG".into(), "warn".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let value = std::env::var(var).unwrap_or_else(|_| "test".into());
            env.push((var.to_string(), value));
        }
        for (var, value) in contract_config::env()
            .into_iter()
            .chain(DynamoTimeouts::PATIENT.env())
        {
            env.push((var.to_string(), value));
        }
        let dir = std::env::temp_dir();
        let env_file = dir.join(format!("iot-lambda-watch-{suffix}.env"));
        let log = dir.join(format!("iot-lambda-watch-{suffix}.log"));
        let env_text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&env_file, env_text).expect("write the function's env file");
        let log_file = std::fs::File::create(&log).expect("create the watcher log");
        let log_err = log_file.try_clone().expect("clone the log handle");

        let spawned = Instant::now();
        let mut watcher = match prebuilt {
            Some(binary) => Watcher::prebuilt(
                &cargo_lambda,
                Instances {
                    binary: &binary,
                    count: instances,
                },
                port,
                &env,
                log_file,
                env_file,
                log,
            ),
            None => {
                let child = Command::new(&cargo_lambda)
                    .args(["lambda", "watch", "-p", "app-lambda", "--bin", "app-lambda"])
                    .args(["--ignore-changes", "--disable-cors", "--quiet"])
                    .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
                    .arg(port.to_string())
                    .arg("--env-file")
                    .arg(&env_file)
                    .current_dir(workspace_root())
                    .stdin(Stdio::null())
                    .stdout(log_file)
                    .stderr(log_err)
                    .process_group(0)
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot start {cargo_lambda}: {e}"));
                Watcher {
                    child,
                    functions: Vec::new(),
                    log,
                    env_file,
                }
            }
        };

        let base = format!("http://127.0.0.1:{port}/lambda-url/app-lambda");
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        // The first request may wait for `cargo run` to build the binary.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Ok(Some(status)) = watcher.child.try_wait() {
                panic!(
                    "cargo lambda watch exited ({status}):\n{}",
                    watcher.log_tail()
                );
            }
            if let Ok(response) = probe.get(format!("{base}/health")).send().await
                && response.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "app-lambda did not answer under cargo lambda watch:\n{}",
                watcher.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let startup = spawned.elapsed();
        eprintln!(
            "cargo lambda watch answered {:.0} ms after spawning",
            startup.as_secs_f64() * 1000.0
        );
        Some(Self {
            socket: SocketTarget::new(base),
            store,
            watcher,
            startup,
        })
    }

    /// Stops the emulator and the function, and deletes the tables.
    pub async fn cleanup(mut self) {
        self.watcher.stop();
        if let Err(e) = self.store.delete_tables().await {
            eprintln!("could not delete test tables: {e}");
        }
    }
}

impl std::ops::Deref for EmulatorTarget {
    type Target = dyn HttpTarget;
    fn deref(&self) -> &Self::Target {
        self
    }
}

#[async_trait]
impl HttpTarget for EmulatorTarget {
    async fn send(&self, request: TestRequest) -> TestResponse {
        self.socket.send(request).await
    }

    /// The emulator builds its event from the first value of a repeated header (it serializes the
    /// request as single-valued `headers`), where API Gateway and real function URLs join the
    /// values with commas: the repeat never reaches the function.
    fn keeps_repeated_headers(&self) -> bool {
        false
    }

    /// The emulator answers a body that is not valid UTF-8 with its own `500`: the function never
    /// sees it.
    fn carries_non_utf8_bodies(&self) -> bool {
        false
    }

    fn reports_consumed_capacity(&self) -> bool {
        true
    }

    // The first response went to the readiness probe of `start`.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_api_events_join_repeated_headers_and_move_cookies() {
        let request = TestRequest::post_json("/api/runs?limit=2&sensorId=bad%20id", &json!({}))
            .user("alice")
            .user("bob")
            .header("Cookie", "a=1; b=2");
        let event = http_api_event(&request);
        assert_eq!(event["rawPath"], json!("/api/runs"));
        assert_eq!(event["rawQueryString"], json!("limit=2&sensorId=bad%20id"));
        assert_eq!(event["headers"]["x-user"], json!("alice,bob"));
        assert_eq!(event["headers"]["content-length"], json!("2"));
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["queryStringParameters"]["sensorId"], json!("bad id"));
        assert_eq!(event["body"], json!("{}"));
        assert_eq!(event["isBase64Encoded"], json!(false));
        assert_eq!(event["requestContext"]["http"]["method"], json!("POST"));
    }

    #[test]
    fn rest_events_carry_the_stage_and_every_value() {
        let request = TestRequest::get("/api/runs?limit=2&limit=3")
            .user("alice")
            .header("X-User", "bob");
        let event = rest_event(&request, REST_STAGE);
        assert_eq!(event["path"], json!("/api/runs"));
        assert_eq!(
            event["requestContext"]["path"],
            json!("/serverless-dev/api/runs")
        );
        assert_eq!(
            event["multiValueHeaders"]["x-user"],
            json!(["alice", "bob"])
        );
        assert_eq!(event["headers"]["x-user"], json!("bob"));
        assert_eq!(
            event["multiValueQueryStringParameters"]["limit"],
            json!(["2", "3"])
        );
        assert_eq!(event["queryStringParameters"]["limit"], json!("3"));
        assert_eq!(event["body"], Value::Null);
    }

    #[test]
    fn binary_bodies_are_base64_and_responses_decode() {
        let request = TestRequest::new("POST", "/x")
            .header("content-type", "application/octet-stream")
            .raw_body(vec![0xff, 0x00]);
        let event = http_api_event(&request);
        assert_eq!(event["isBase64Encoded"], json!(true));
        assert_eq!(event["body"], json!("/wA="));
        let response = response_from(&json!({
            "statusCode": 201, "headers": { "Location": "/a" },
            "multiValueHeaders": { "X-Request-Id": ["r1"] }, "cookies": ["c=1"],
            "body": "/wA=", "isBase64Encoded": true
        }));
        assert_eq!(response.status, 201);
        assert_eq!(response.body, vec![0xff, 0x00]);
        assert_eq!(response.header("location"), Some("/a"));
        assert_eq!(response.header("x-request-id"), Some("r1"));
        assert_eq!(response.header("set-cookie"), Some("c=1"));
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("bad%20id"), "bad id");
        assert_eq!(percent_decode("a+b%2"), "a+b%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%"), "%");
    }
}
