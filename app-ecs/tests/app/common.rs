//! Helpers: serve an [`App`] on 127.0.0.1:0 and stop it.

use std::sync::Arc;
use std::time::Duration;

use adapters_postgres::metrics::PrometheusMetrics;
use app_ecs::{App, Config, build_app};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The documented defaults, whatever the environment says, except that a stop does not drain
/// (the drain has tests of its own).
pub fn config() -> Config {
    let mut config = Config::defaults().expect("defaults parse");
    config.shutdown_drain_secs = 0;
    config
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(test_support::PATIENT)
        .build()
        .expect("client")
}

/// An app served on a real socket.
pub struct Running {
    pub base: String,
    pub metrics: Arc<PrometheusMetrics>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn start(config: &Config) -> Self {
        Self::start_app(build_app(config).await.expect("build_app")).await
    }

    pub async fn start_app(app: App) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let metrics = app.metrics.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        Self {
            base,
            metrics,
            shutdown: Some(tx),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the shutdown signal (the test's SIGTERM).
    pub fn signal(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Signals, then waits for `serve` to return (at most `within`).
    pub async fn stop_within(mut self, within: Duration) -> anyhow::Result<()> {
        self.signal();
        tokio::time::timeout(within, self.handle)
            .await
            .expect("serve returned in time")
            .expect("serve task")
    }

    pub async fn stop(self) {
        self.stop_within(test_support::PATIENT)
            .await
            .expect("serve ended without error");
    }
}

/// The `/metrics` text.
pub async fn scrape(app: &Running, path: &str) -> String {
    let response = client().get(app.url(path)).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.text().await.expect("metrics body")
}

/// Starts a run for `user` and returns its id.
pub async fn start_run(app: &Running, user: &str, sensors: &[&str]) -> String {
    let response = client()
        .post(app.url("/api/runs/start"))
        .header("X-User", user)
        .json(&serde_json::json!({"sensorIds": sensors, "duration": 600, "interval": 1}))
        .send()
        .await
        .expect("start");
    assert_eq!(response.status(), 201);
    let run: serde_json::Value = response.json().await.expect("run json");
    run["id"].as_str().expect("id").to_owned()
}

/// Posts one reading; returns the status.
pub async fn post_reading(
    app: &Running,
    user: &str,
    run: &str,
    body: serde_json::Value,
) -> reqwest::StatusCode {
    client()
        .post(app.url("/api/sensors/data"))
        .header("X-User", user)
        .header("X-Run-Id", run)
        .json(&body)
        .send()
        .await
        .expect("reading")
        .status()
}

pub async fn finish_run(app: &Running, user: &str, run: &str) {
    let response = client()
        .post(app.url(&format!("/api/runs/{run}/finish")))
        .header("X-User", user)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("finish");
    assert_eq!(response.status(), 200);
}

/// The label set of a sensor series, in the order the dashboards read them.
pub fn sensor_labels(sensor: &str, kind: &str, user: &str, run: &str) -> String {
    format!(r#"{{sensor_id="{sensor}",type="{kind}",user="{user}",run="{run}"}}"#)
}
