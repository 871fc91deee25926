//! The store handle: connection pool, options, migrations.

use std::str::FromStr;
use std::time::Duration;

use iot_core::StoreError;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::migrate_error;

/// How [`PgStore::connect`] sizes and bounds its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections open at once (per process).
    pub max_connections: u32,
    /// Longest wait for a free (or new) connection before a call fails with
    /// [`StoreError::Unavailable`]: a down database surfaces as `503`, never as a hang.
    pub acquire_timeout: Duration,
    /// Server-side `statement_timeout` of every connection (also bounds waits on locks).
    pub statement_timeout: Duration,
}

impl Default for PgOptions {
    /// 10 connections, 2 s to get one, 5 s per statement.
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// Runs and readings in PostgreSQL; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store on the database at `url` (`postgres://user:pass@host:port/db?…`).
    ///
    /// The pool connects lazily: this succeeds while the database is down, calls then fail with
    /// [`StoreError::Unavailable`] after `acquire_timeout`, and the pool recovers by itself once
    /// the database is back.
    ///
    /// # Errors
    /// [`StoreError::Internal`] when `url` is not a `postgres://` (or `postgresql://`) URL.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Internal(
                "invalid database URL: expected postgres://…".into(),
            ));
        }
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid database URL: {e}")))?
            .application_name("iot-playground")
            .options([(
                "statement_timeout",
                format!("{}ms", options.statement_timeout.as_millis()),
            )]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        Ok(Self { pool })
    }

    /// A store on an existing pool (its options are the caller's).
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, e.g. for health checks or closing it on shutdown.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the embedded migrations (`adapters-postgres/migrations`) that are not applied yet.
    /// Safe to call from many processes at once: sqlx serialises them with an advisory lock.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached; `Internal` when a migration fails or an
    /// applied one was changed.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = sqlx::migrate!("./migrations");
        migrator.run(&self.pool).await.map_err(migrate_error)?;
        tracing::info!(
            migrations = migrator.iter().count(),
            "database schema up to date"
        );
        Ok(())
    }
}
