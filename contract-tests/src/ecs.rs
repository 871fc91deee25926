//! `app-ecs` as an HTTP target: the real binary's app (same config parsing, same wiring), served
//! on a real socket, on the in-memory store or on a fresh PostgreSQL database.

use async_trait::async_trait;
use tokio::task::JoinHandle;

use crate::env::TestDatabase;
use crate::target::{HttpTarget, SocketTarget, TestRequest, TestResponse, contract_config};

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
        Some(Self::start(None, None).await)
    }

    /// `app-ecs` on a fresh PostgreSQL database (migrated at start, as the binary does).
    pub async fn on_postgres() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let url = database.url.clone();
        Some(Self::start(Some(url), Some(database)).await)
    }

    /// `app-ecs` on `database`, reached at `url` (e.g. through a [`TcpProxy`](crate::proxy::TcpProxy)).
    pub async fn on_postgres_at(url: String, database: TestDatabase) -> Self {
        Self::start(Some(url), Some(database)).await
    }

    async fn start(url: Option<String>, database: Option<TestDatabase>) -> Self {
        let mut args: Vec<String> = vec!["app-ecs".into()];
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
        for _ in 0..100 {
            if http.send(TestRequest::get("/health")).await.status == 200 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
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
