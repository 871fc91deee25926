//! Stores under test: one isolated namespace per test (a fresh PostgreSQL database, fresh DynamoDB
//! tables), dropped afterwards.

use std::sync::Arc;
use std::time::Duration;

use adapters_dynamo::{DynamoConfig, DynamoStore};
use adapters_postgres::{GroupCommit, GroupOptions, PgOptions, PgStore};
use iot_core::clock::ManualClock;
use iot_core::memory::InMemoryStore;
use iot_core::ports::Clock;
use iot_core::ports::{CapacityLimits, NoMetrics, RandomIds, ReadingStore, RunStore, SystemClock};
use iot_core::service::{ReadingService, RunConfig, RunService};
use sqlx::Connection;

/// Whether a missing service must fail the run rather than skip it.
pub fn services_required() -> bool {
    ["CI", "CI_SERVICES_REQUIRED"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// Reads a service variable; `None` means "skip", and panics instead when services are required.
pub fn service_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if services_required() => {
            panic!("{name} is not set, and CI requires this backend: start it with scripts/test")
        }
        _ => {
            eprintln!("skipping: {name} is not set");
            None
        }
    }
}

/// What gets cleaned up after a test.
enum Namespace {
    Memory,
    Postgres(TestDatabase),
    Dynamo(DynamoStore),
}

/// A store under test, with services wired on a settable clock.
pub struct TestStore {
    /// Name of the backend (`memory`, `postgres`, `postgres_grouped`, `dynamo`).
    pub backend: &'static str,
    /// The store, as a run port.
    pub runs: Arc<dyn RunStore>,
    /// The store, as a reading port.
    pub readings: Arc<dyn ReadingStore>,
    namespace: Namespace,
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// A random lowercase suffix for namespaces.
pub fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

impl TestStore {
    /// The in-memory store.
    pub async fn memory() -> Option<Self> {
        let store = Arc::new(InMemoryStore::new());
        Some(Self {
            backend: "memory",
            runs: store.clone(),
            readings: store,
            namespace: Namespace::Memory,
        })
    }

    /// PostgreSQL, in a fresh migrated database created from `TEST_DATABASE_URL`.
    pub async fn postgres() -> Option<Self> {
        let (store, database) = Self::postgres_store().await?;
        let store = Arc::new(store);
        Some(Self {
            backend: "postgres",
            runs: store.clone(),
            readings: store,
            namespace: Namespace::Postgres(database),
        })
    }

    /// PostgreSQL as [`TestStore::postgres`], single readings stored by group commit.
    pub async fn postgres_grouped() -> Option<Self> {
        let (store, database) = Self::postgres_store().await?;
        let grouped = GroupCommit::new(store.clone(), &GroupOptions::default());
        Some(Self {
            backend: "postgres_grouped",
            runs: Arc::new(store),
            readings: Arc::new(grouped),
            namespace: Namespace::Postgres(database),
        })
    }

    async fn postgres_store() -> Option<(PgStore, TestDatabase)> {
        let database = TestDatabase::create().await?;
        let store = PgStore::connect(&database.url, &PgOptions::default())
            .await
            .expect("connect to test database");
        store.migrate().await.expect("migrate test database");
        Some((store, database))
    }

    /// DynamoDB emulator at `TEST_DYNAMODB_ENDPOINT`, with fresh tables.
    pub async fn dynamo() -> Option<Self> {
        let endpoint = service_var("TEST_DYNAMODB_ENDPOINT")?;
        let suffix = unique_suffix();
        let config = DynamoConfig {
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            runs_table: format!("ct-runs-{suffix}"),
            readings_table: format!("ct-readings-{suffix}"),
            // The scenarios are not about timeouts, and the emulator serves one request at a
            // time: on a busy machine a request can queue for seconds.
            operation_timeout: Duration::from_secs(120),
            attempt_timeout: Duration::from_secs(60),
        };
        let store = DynamoStore::connect(&config).await;
        store.create_tables().await.expect("create test tables");
        let shared = Arc::new(store.clone());
        Some(Self {
            backend: "dynamo",
            runs: shared.clone(),
            readings: shared,
            namespace: Namespace::Dynamo(store),
        })
    }

    /// Services on this store with `config` and a manual clock set to the current time.
    pub fn services(&self, config: RunConfig) -> Services {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let runs = RunService::new(
            self.runs.clone(),
            Arc::new(NoMetrics),
            clock.clone(),
            Arc::new(RandomIds),
            config,
        );
        let readings = ReadingService::new(runs.clone(), self.readings.clone());
        Services {
            runs,
            readings,
            clock,
        }
    }

    /// Drops the namespace.
    pub async fn cleanup(self) {
        match self.namespace {
            Namespace::Memory => {}
            Namespace::Postgres(database) => {
                drop(self.runs);
                drop(self.readings);
                database.drop().await;
            }
            Namespace::Dynamo(store) => {
                if let Err(e) = store.delete_tables().await {
                    eprintln!("could not delete test tables: {e}");
                }
            }
        }
    }
}

/// A fresh, empty PostgreSQL database on the server of `TEST_DATABASE_URL`.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// Its connection URL.
    pub url: String,
}

impl TestDatabase {
    /// Creates it; `None` when `TEST_DATABASE_URL` is unset (and services are not required).
    pub async fn create() -> Option<Self> {
        let admin_url = service_var("TEST_DATABASE_URL")?;
        let name = format!("iot_ct_{}", unique_suffix());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at TEST_DATABASE_URL: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        Some(Self {
            url: database_url(&admin_url, &name),
            admin_url,
            name,
        })
    }

    /// Drops it, closing whatever still connects to it.
    pub async fn drop(self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.admin_url).await {
            let drop_db = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(e) = sqlx::query(&drop_db).execute(&mut admin).await {
                eprintln!("could not drop {}: {e}", self.name);
            }
        }
    }
}

/// `url` with its database name replaced by `database`.
pub fn database_url(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// The services a scenario drives.
#[derive(Debug, Clone)]
pub struct Services {
    /// Runs.
    pub runs: RunService,
    /// Readings.
    pub readings: ReadingService,
    /// The clock both use.
    pub clock: Arc<ManualClock>,
}

/// The default configuration of the scenarios: the documented defaults, grace 120 s.
pub fn default_config() -> RunConfig {
    RunConfig {
        limits: CapacityLimits {
            global: 5,
            per_user: 5,
        },
        timeout_grace_secs: 120,
        admins: vec![iot_core::Username::parse("admin").unwrap_or_else(|_| unreachable!())],
        grafana_url: None,
    }
}
