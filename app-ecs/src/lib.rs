//! # app-ecs
//!
//! The always-on server of iot-playground: the `iot-http` router on PostgreSQL (or the in-memory
//! store when no `DATABASE_URL` is given), Prometheus metrics at `/metrics` (alias
//! `/actuator/prometheus`), the web UI's static files at `/`, an in-process timeout sweep and a
//! graceful shutdown on SIGTERM/SIGINT.
//!
//! Connections are served by [`server`]: a connection limit with a fast refusal, header-read and
//! keep-alive deadlines, and on SIGTERM a drain while the load balancer deregisters the task
//! (`/ready` answers `503`, responses carry `Connection: close`), then a graceful stop.
//!
//! The binary (`src/main.rs`) is a thin shell around [`serve`]; tests build the very same
//! application with [`build_app`] and serve it on a port of their own with [`App::serve`].
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = app_ecs::Config::defaults()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! app_ecs::serve(&config, listener).await
//! # }
//! ```

mod api_page;
mod config;
pub mod db_secret;
pub mod server;

use std::future::{Future, pending};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use adapters_postgres::metrics::{CONTENT_TYPE, PrometheusMetrics};
use adapters_postgres::{GroupCommit, GroupOptions, PgOptions, PgStore};
use anyhow::Context as _;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use iot_core::memory::InMemoryStore;
use iot_core::ports::{ReadingStore, RunStore};
use iot_core::service::{ReadingService, RunService, Swept};
use iot_http::identity::{AlbOidc, UserHeader};
use iot_http::{ApiError, AppState, HttpConfig, IdentitySource};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::{Config, DEFAULT_DRAIN_SECS, DEFAULT_KEEP_ALIVE_SECS, IdentityKind};
pub use iot_http::settings::LogFormat;

/// The store behind the services.
#[derive(Debug, Clone)]
pub enum StoreKind {
    /// `iot_core::memory::InMemoryStore`: nothing survives a restart.
    InMemory,
    /// PostgreSQL.
    Postgres(PgStore),
}

/// The application the binary serves: router, services, metrics.
#[derive(Debug)]
pub struct App {
    /// API v1 + `/metrics` + static UI, with the HTTP metrics middleware.
    pub router: Router,
    /// Run lifecycle (also driven by the timeout sweep).
    pub runs: RunService,
    /// Reading ingestion.
    pub readings: ReadingService,
    /// The Prometheus registry behind `/metrics`.
    pub metrics: Arc<PrometheusMetrics>,
    /// The store in use.
    pub store: StoreKind,
    /// The static UI directory served at `/`, if any.
    pub web_dir: Option<PathBuf>,
    /// Period of the timeout sweep.
    pub sweep_interval: Duration,
    /// Grace period of a shutdown.
    pub shutdown_timeout: Duration,
    /// How long a SIGTERM'd server keeps serving before it stops accepting.
    pub shutdown_drain: Duration,
    /// Connection limits and deadlines.
    pub limits: server::Limits,
    /// Set from the stop signal on: `/ready` answers `503` and connections close.
    pub draining: Arc<AtomicBool>,
}

/// How a server is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: keep serving for the drain period, then stop.
    Drain,
    /// SIGINT: stop accepting at once.
    Now,
}

impl From<()> for Stop {
    fn from((): ()) -> Self {
        Self::Drain
    }
}

/// The Grafana dashboard the per-run links open (`dashboards/json/iot-playground-runs.json`).
pub const GRAFANA_DASHBOARD: &str = "iot-playground-runs";

/// Builds the application described by `config`: store (PostgreSQL, migrated when asked, or in
/// memory), services, metrics and router.
///
/// # Errors
/// An invalid database URL, a failed migration, an invalid admin user name.
pub async fn build_app(config: &Config) -> anyhow::Result<App> {
    let metrics = Arc::new(
        PrometheusMetrics::new(config.metrics_retention())
            .with_max_series(config.metrics_max_series),
    );
    let (runs_store, readings_store, store): (Arc<dyn RunStore>, Arc<dyn ReadingStore>, _) =
        match config.database_url() {
            Some(url) => {
                let options = PgOptions {
                    max_connections: config.db_max_connections,
                    acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
                    statement_timeout: Duration::from_millis(config.db_statement_timeout_ms),
                    max_in_flight: config.db_max_in_flight,
                    max_waiting: config.db_max_waiting,
                    queue_timeout: Duration::from_millis(config.db_queue_timeout_ms),
                };
                let pg = PgStore::connect(url, &options)
                    .await
                    .context("cannot configure the PostgreSQL store")?;
                if let Some(secret_id) = &config.database_secret_id {
                    // The task lives as long as the process; it holds only a pool handle.
                    let source = db_secret::SecretCredentials::new(secret_id, None).await;
                    let password = source.apply(&pg, None).await?;
                    let every = Duration::from_secs(config.database_secret_refresh_secs);
                    db_secret::spawn_refresher(source, pg.clone(), password, every);
                }
                if config.migrate {
                    pg.migrate().await.context("database migrations failed")?;
                }
                // Single readings are committed in groups; everything else goes straight through.
                let grouping = GroupOptions {
                    max_group: config.group_max_size,
                    max_wait: Duration::from_micros(config.group_max_wait_us),
                    queue: config.group_queue,
                    in_flight: config.groups_in_flight,
                };
                let grouped = Arc::new(GroupCommit::new(pg.clone(), &grouping));
                (Arc::new(pg.clone()), grouped, StoreKind::Postgres(pg))
            }
            None => {
                let memory = Arc::new(InMemoryStore::new());
                (memory.clone(), memory, StoreKind::InMemory)
            }
        };

    let run_config = config.api.run_config(GRAFANA_DASHBOARD)?;
    let identity: Arc<dyn IdentitySource> = match config.identity {
        IdentityKind::Header => Arc::new(UserHeader),
        IdentityKind::AlbOidc => Arc::new(AlbOidc {
            claim: config.identity_claim.clone(),
        }),
    };
    let state = AppState::new(
        runs_store,
        readings_store,
        metrics.clone(),
        run_config,
        identity,
    );
    let (runs, readings) = (state.runs.clone(), state.readings.clone());
    let web_dir = resolve_web_dir(config.web_dir.as_deref());
    let http_config = HttpConfig {
        web_dir: web_dir.clone(),
        ..config
            .api
            .http_config(Duration::from_secs(config.request_timeout_secs))
    };
    let draining = Arc::new(AtomicBool::new(false));
    let router = build_router(state, &http_config, metrics.clone(), draining.clone());
    Ok(App {
        router,
        runs,
        readings,
        metrics,
        store,
        web_dir,
        sweep_interval: config.sweep_interval(),
        shutdown_timeout: config.shutdown_timeout(),
        shutdown_drain: config.shutdown_drain(),
        limits: config.limits(),
        draining,
    })
}

/// The UI directory: the configured one, else `./web/dist` or `./web` when it holds an
/// `index.html`; `None` (and no UI) otherwise.
fn resolve_web_dir(configured: Option<&Path>) -> Option<PathBuf> {
    match configured {
        Some(dir) if dir.is_dir() => Some(dir.to_path_buf()),
        Some(dir) => {
            tracing::warn!(dir = %dir.display(), "WEB_DIR is not a directory; serving no web UI");
            None
        }
        None => ["web/dist", "web"]
            .into_iter()
            .map(PathBuf::from)
            .find(|dir| dir.join("index.html").is_file()),
    }
}

/// `/metrics`, its alias and the API page, the binary's own routes.
fn exposition() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics_exposition))
        .routes(routes!(actuator_prometheus))
        .merge(api_page::routes())
}

/// API v1 with `/metrics` and its alias (documented in the OpenAPI document like every route) and
/// the static UI, all timed by route template.
fn build_router(
    state: AppState,
    http_config: &HttpConfig,
    metrics: Arc<PrometheusMetrics>,
    draining: Arc<AtomicBool>,
) -> Router {
    // `Router::layer` wraps each route after matching, so `MatchedPath` is known here; only the
    // fallback (no route matched) lacks it.
    iot_http::router_with(state, http_config, exposition)
        .layer(middleware::from_fn_with_state(draining, drain_gate))
        .layer(Extension(metrics.clone()))
        .layer(middleware::from_fn_with_state(metrics, track_http))
}

/// While draining: `/ready` answers `503 draining` (keeping the headers the API adds, such as
/// `X-Request-Id`), and every response asks the client to close its connection, so that clients
/// reconnect to instances the load balancer still routes to.
async fn drain_gate(
    State(draining): State<Arc<AtomicBool>>,
    request: Request,
    next: Next,
) -> Response {
    let is_ready = request.uri().path() == "/ready";
    let response = next.run(request).await;
    if !draining.load(Ordering::Relaxed) {
        return response;
    }
    let mut response = if is_ready {
        let (inner, _) = response.into_parts();
        let mut refusal = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this instance is shutting down",
        )
        .into_response();
        for (name, value) in &inner.headers {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                refusal.headers_mut().insert(name.clone(), value.clone());
            }
        }
        refusal
    } else {
        response
    };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Prometheus metrics, text format 0.0.4.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain")))]
async fn metrics_exposition(Extension(metrics): Extension<Arc<PrometheusMetrics>>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()).into_response()
}

/// Alias of `/metrics` for dashboards of the previous system.
#[utoipa::path(get, path = "/actuator/prometheus", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain")))]
async fn actuator_prometheus(metrics: Extension<Arc<PrometheusMetrics>>) -> Response {
    metrics_exposition(metrics).await
}

/// `GET /health` on `127.0.0.1:port`: whether it answers `200` within `timeout`. For container
/// health checks, where the image has no HTTP client of its own.
pub async fn probe_health(port: u16, timeout: Duration) -> bool {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = Vec::new();
        stream.read_to_end(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200 "))
    };
    tokio::time::timeout(timeout, probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Records `http_request_duration_seconds` by route template, never by raw path.
async fn track_http(
    State(metrics): State<Arc<PrometheusMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.observe_http(
        method,
        route.as_deref().unwrap_or("unmatched"),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Standard methods by name; anything else is `other` (bounded cardinality).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl App {
    /// Serves on `listener` (after raising the open-file limit) until `shutdown` resolves; on
    /// [`Stop::Drain`] keeps serving for [`App::shutdown_drain`] with `/ready` at `503`; then
    /// stops accepting and lets in-flight requests finish for at most [`App::shutdown_timeout`].
    /// Runs the timeout sweep meanwhile.
    ///
    /// # Errors
    /// None today; kept for the binary's error path.
    pub async fn serve<S>(self, listener: TcpListener, shutdown: S) -> anyhow::Result<()>
    where
        S: Future + Send + 'static,
        S::Output: Into<Stop>,
    {
        let sweeper = spawn_sweeper(self.runs.clone(), self.metrics.clone(), self.sweep_interval);
        let limits = server::Limits {
            max_connections: server::connections_within(
                self.limits.max_connections,
                server::raise_fd_limit(),
            ),
            ..self.limits
        };
        let (draining, drain) = (self.draining.clone(), self.shutdown_drain);
        let stop_accepting = async move {
            let stop = shutdown.await.into();
            draining.store(true, Ordering::Relaxed);
            if stop == Stop::Drain && !drain.is_zero() {
                tracing::info!(
                    drain_secs = drain.as_secs(),
                    "draining: /ready answers 503, still serving until the load balancer lets go"
                );
                tokio::time::sleep(drain).await;
            }
            tracing::info!("shutting down: finishing in-flight requests");
        };
        server::serve(
            listener,
            self.router,
            limits,
            stop_accepting,
            self.shutdown_timeout,
        )
        .await;
        sweeper.abort();
        if let StoreKind::Postgres(pg) = &self.store {
            // Bounded: connections held by abandoned requests would make close() wait.
            let _ = tokio::time::timeout(Duration::from_secs(2), pg.pool().close()).await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Persists `TIMEOUT` on expired runs every `every`, and prunes the metrics of finished runs.
/// A failed or panicking sweep is logged; the next one runs as planned.
fn spawn_sweeper(
    runs: RunService,
    metrics: Arc<PrometheusMetrics>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let sweep = tokio::spawn({
                let runs = runs.clone();
                async move { runs.sweep().await }
            });
            match sweep.await {
                Ok(Ok(swept)) if swept == Swept::default() => {}
                Ok(Ok(Swept { expired, purged })) => {
                    tracing::info!(expired, purged, "sweep: runs timed out, runs purged");
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "timeout sweep failed"),
                Err(e) => tracing::error!(error = %e, "timeout sweep panicked"),
            }
            metrics.prune(Instant::now());
        }
    })
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    stop_signal().await;
}

/// Resolves on SIGTERM ([`Stop::Drain`]) or SIGINT, Ctrl-C ([`Stop::Now`]).
pub async fn stop_signal() -> Stop {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = pending::<()>();
    tokio::select! {
        () = interrupt => {
            tracing::info!("SIGINT received");
            Stop::Now
        }
        () = terminate => {
            tracing::info!("SIGTERM received");
            Stop::Drain
        }
    }
}

/// The URL a person on this machine opens: `http://localhost:8080/` for a server bound to every
/// interface (or to loopback), the address itself otherwise.
pub fn browsable_url(addr: std::net::SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_unspecified() || ip.is_loopback() {
        format!("http://localhost:{}/", addr.port())
    } else {
        format!("http://{addr}/")
    }
}

/// Builds the application of `config` and serves it on `listener` until SIGTERM/SIGINT.
///
/// # Errors
/// See [`build_app`] and [`App::serve`].
pub async fn serve(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    let app = build_app(config).await?;
    let store = match &app.store {
        StoreKind::InMemory => "in-memory (data is lost on exit)",
        StoreKind::Postgres(_) => "postgresql",
    };
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        store,
        web_dir = app.web_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_else(|| "none".into()),
        "app-ecs listening on {}",
        browsable_url(addr)
    );
    app.serve(listener, stop_signal()).await
}

/// Installs the global tracing subscriber: `RUST_LOG` filter (default `info`), JSON or
/// human-readable lines.
///
/// # Errors
/// A subscriber is already installed.
pub fn init_tracing(format: LogFormat) -> anyhow::Result<()> {
    iot_http::settings::init_logging(format, std::io::stdout).map_err(anyhow::Error::msg)
}
