//! `app-ecs` as an HTTP target: the real binary's app (same config parsing, same wiring), served
//! on a real socket, on the in-memory store or on a fresh PostgreSQL database.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::task::JoinHandle;

use crate::target::{HttpTarget, SocketTarget, TestRequest, TestResponse, contract_config};
use adapters_postgres::MIGRATOR;
use test_support::postgres::TestDatabase;

/// A running `app-ecs`.
#[derive(Debug)]
pub struct EcsTarget {
    http: SocketTarget,
    server: JoinHandle<()>,
    database: Option<TestDatabase>,
}

impl EcsTarget {
    /// `app-ecs` on its embedded in-memory store.
    pub async fn in_memory() -> Option<Self> {
        Some(Self::start(None, None, test_support::PATIENT, &[]).await)
    }

    /// `app-ecs` on a fresh PostgreSQL database copied from the migrated template (the binary
    /// still runs its migrations at start, and finds nothing left to do).
    pub async fn on_postgres() -> Option<Self> {
        Self::on_postgres_with(&[]).await
    }

    /// [`Self::on_postgres`] with more command-line flags, e.g. `("--db-max-waiting", "1")`; they
    /// may replace the patient `--db-acquire-timeout-ms`.
    pub async fn on_postgres_with(flags: &[(&str, &str)]) -> Option<Self> {
        let database = TestDatabase::migrated(&MIGRATOR).await?;
        let url = database.url.clone();
        Some(Self::start(Some(url), Some(database), test_support::PATIENT, flags).await)
    }

    /// The URL of the database the app uses, if it is on PostgreSQL.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    /// `app-ecs` on `database`, reached at `url` (e.g. through a [`TcpProxy`](crate::proxy::TcpProxy)),
    /// giving up on a pool connection after `acquire_timeout` (small in the outage tests).
    pub async fn on_postgres_at(
        url: String,
        database: TestDatabase,
        acquire_timeout: Duration,
    ) -> Self {
        Self::start(Some(url), Some(database), acquire_timeout, &[]).await
    }

    async fn start(
        url: Option<String>,
        database: Option<TestDatabase>,
        acquire_timeout: Duration,
        flags: &[(&str, &str)],
    ) -> Self {
        let mut args: Vec<String> = vec!["app-ecs".into()];
        if !flags
            .iter()
            .any(|(name, _)| *name == "--db-acquire-timeout-ms")
        {
            args.push("--db-acquire-timeout-ms".into());
            args.push(acquire_timeout.as_millis().to_string());
        }
        for (name, value) in flags {
            args.push((*name).to_string());
            args.push((*value).to_string());
        }
        for (name, value) in contract_config::env() {
            args.push(format!("--{}", name.to_ascii_lowercase().replace('_', "-")));
            args.push(value);
        }
        if let Some(url) = url {
            args.push("--database-url".into());
            args.push(url);
        }
        let config = app_ecs::Config::from_args_without_env(&args).expect("contract configuration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            if let Err(e) = app_ecs::serve(&config, listener).await {
                panic!("app-ecs stopped: {e:#}");
            }
        });
        let http = SocketTarget::new(format!("http://{address}"));
        // Serving starts after migrations; wait until the app answers.
        let deadline = Instant::now() + test_support::PATIENT;
        while http.send(TestRequest::get("/health")).await.status != 200 {
            assert!(Instant::now() < deadline, "app-ecs did not answer /health");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            http,
            server,
            database,
        }
    }

    /// Stops the server and drops its database.
    pub async fn cleanup(self) {
        self.server.abort();
        let _ = self.server.await;
        if let Some(db) = self.database {
            db.drop().await;
        }
    }
}

impl std::ops::Deref for EcsTarget {
    type Target = dyn HttpTarget;
    fn deref(&self) -> &Self::Target {
        self
    }
}

#[async_trait]
impl HttpTarget for EcsTarget {
    async fn send(&self, request: TestRequest) -> TestResponse {
        self.http.send(request).await
    }
}
