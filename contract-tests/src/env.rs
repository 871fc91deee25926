//! Stores under test: one isolated namespace per test (a fresh PostgreSQL database, fresh DynamoDB
//! tables), dropped afterwards.

use std::sync::Arc;

use adapters_dynamo::{DynamoConfig, DynamoStore};
use adapters_postgres::{GroupCommit, GroupOptions, MIGRATOR, PgOptions, PgStore};
use iot_core::clock::ManualClock;
use iot_core::memory::InMemoryStore;
use iot_core::ports::Clock;
use iot_core::ports::{CapacityLimits, NoMetrics, RandomIds, ReadingStore, RunStore, SystemClock};
use iot_core::service::{ReadingService, RunConfig, RunService};
use test_support::postgres::TestDatabase;
use test_support::{PATIENT, TableNames, dynamodb_endpoint};

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

    /// PostgreSQL, in a fresh database copied from the migrated template on the server of
    /// `TEST_DATABASE_URL`, with a pool that waits as long as a busy machine needs.
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

    /// A fresh database copied from the migrated template on the server of `TEST_DATABASE_URL`,
    /// with a pool that waits as long as a busy machine needs (no scenario is about it).
    async fn postgres_store() -> Option<(PgStore, TestDatabase)> {
        let database = TestDatabase::migrated(&MIGRATOR).await?;
        let options = PgOptions {
            acquire_timeout: PATIENT,
            statement_timeout: PATIENT,
            ..PgOptions::default()
        };
        let store = PgStore::connect(&database.url, &options)
            .await
            .expect("connect to test database");
        Some((store, database))
    }

    /// DynamoDB emulator at `TEST_DYNAMODB_ENDPOINT`, with fresh tables, and SDK timeouts that a
    /// busy machine does not reach (no storage scenario is about them).
    pub async fn dynamo() -> Option<Self> {
        let endpoint = dynamodb_endpoint()?;
        let tables = TableNames::unique("ct");
        let config = DynamoConfig {
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            runs_table: tables.runs,
            readings_table: tables.readings,
            operation_timeout: PATIENT,
            attempt_timeout: PATIENT,
            retention: None,
        };
        // Half the single readings fold, so folds race each other and the summaries.
        let store = DynamoStore::connect(&config).await.with_fold_period(2);
        store.create_tables().await.expect("create test tables");
        let shared = Arc::new(store.clone());
        Some(Self {
            backend: "dynamo",
            runs: shared.clone(),
            readings: shared,
            namespace: Namespace::Dynamo(store),
        })
    }

    /// Whether the sweep deletes runs past their retention itself (`false` for DynamoDB, whose
    /// items carry their expiry for the table's time to live instead).
    pub fn purges_in_the_sweep(&self) -> bool {
        !matches!(self.namespace, Namespace::Dynamo(_))
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
        retention_days: None,
    }
}
