//! The store handle: connection pool, options, migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use iot_core::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{Connection, PgPool};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::migrate_error;
use crate::gate::{Conn, Gate, Line};

/// The schema's migrations (`adapters-postgres/migrations`), embedded in the binary. Test
/// fixtures build their template databases from it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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
    /// Most calls using the database at once; `None`: `max_connections`, so that a call that
    /// gets its turn finds a connection.
    pub max_in_flight: Option<u32>,
    /// Most calls waiting for their turn; one more fails at once with
    /// [`StoreError::Unavailable`] instead of waiting for `acquire_timeout`.
    pub max_waiting: usize,
    /// Longest wait for a turn before a call fails with [`StoreError::Unavailable`] (then comes
    /// the wait for a connection, bounded by `acquire_timeout`).
    pub queue_timeout: Duration,
}

/// A connection idle for this long is pinged before a call uses it; one used more recently is
/// used as it is. Under load connections are never idle that long, so calls pay no ping; after
/// a pause (a restarted or failed-over server), a dead connection is found and replaced before a
/// request meets it.
pub const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The default of [`PgOptions::queue_timeout`], in milliseconds.
pub const DEFAULT_QUEUE_TIMEOUT_MS: u64 = 10_000;

/// The default of [`PgOptions::queue_timeout`].
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_millis(DEFAULT_QUEUE_TIMEOUT_MS);

/// The default of [`PgOptions::statement_timeout`], in milliseconds.
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 5_000;

/// The default of [`PgOptions::max_waiting`]: room for every client of a busy instance.
pub const DEFAULT_MAX_WAITING: usize = 1024;

impl Default for PgOptions {
    /// 10 connections, 2 s to get one, 5 s per statement, as many calls in flight as
    /// connections, 1024 waiting at most 10 s for their turn.
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
            max_in_flight: None,
            max_waiting: DEFAULT_MAX_WAITING,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
        }
    }
}

/// Whether to skip TLS: no `sslmode` asked for, and the server is on this machine.
fn plain_on_loopback(url: &str, host: &str) -> bool {
    let asked = url
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p.starts_with("sslmode=")))
        || std::env::var_os("PGSSLMODE").is_some();
    let local = host.starts_with('/')
        || host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !asked && local
}

/// Runs and readings in PostgreSQL; cheap to clone (the pool is shared).
///
/// Every call goes through a gate in front of the pool: at most [`PgOptions::max_in_flight`]
/// calls use the database at once, at most [`PgOptions::max_waiting`] more wait in line (first
/// come, first served, at most [`PgOptions::queue_timeout`]), and one more fails at once with
/// [`StoreError::Unavailable`].
///
/// ```no_run
/// # async fn demo() -> Result<(), iot_core::StoreError> {
/// use adapters_postgres::{PgOptions, PgStore};
/// let store = PgStore::connect("postgres://iot:iot@127.0.0.1:5432/iot", &PgOptions::default()).await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    gate: Arc<Gate>,
    /// Single-reading statements left to send without trying the plain insert first (see
    /// `ingest.rs`).
    pub(crate) skip_plain: Arc<AtomicU32>,
}

impl PgStore {
    /// A store on the database at `url` (`postgres://user:pass@host:port/db?…`).
    ///
    /// TLS: as `sslmode` in the URL or `PGSSLMODE` says; when neither says anything, a server on
    /// the loopback interface or a Unix socket is reached without TLS (a local link has nothing
    /// to protect, and the default `prefer` would negotiate TLS on every new connection), any
    /// other host with `prefer`.
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
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid database URL: {e}")))?;
        if plain_on_loopback(url, connect.get_host()) {
            connect = connect.ssl_mode(PgSslMode::Disable);
        }
        let connect = connect.application_name("iot-playground").options([(
            "statement_timeout",
            format!("{}ms", options.statement_timeout.as_millis()),
        )]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // sqlx pings every connection it hands out unless told otherwise: one more round
            // trip per call. Only one that sat idle for a while is pinged.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(connect);
        let in_flight = options.max_in_flight.unwrap_or(options.max_connections);
        Ok(Self::gated(
            pool,
            in_flight,
            options.max_waiting,
            options.queue_timeout,
        ))
    }

    /// `pool` behind a gate of `in_flight` turns and `max_waiting` places in line.
    fn gated(pool: PgPool, in_flight: u32, max_waiting: usize, queue_timeout: Duration) -> Self {
        let in_flight = usize::try_from(in_flight).unwrap_or(usize::MAX);
        let gate = Gate::new(in_flight, max_waiting, queue_timeout);
        Self {
            pool,
            gate: Arc::new(gate),
            skip_plain: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Replaces the user and password of the connections the pool opens from now on; those
    /// already open stay as they are (PostgreSQL checks credentials only when a connection
    /// starts). For rotated secrets: RDS rotates its managed password while the service runs.
    pub fn set_credentials(&self, username: &str, password: &str) {
        let options = (*self.pool.connect_options())
            .clone()
            .username(username)
            .password(password);
        self.pool.set_connect_options(options);
    }

    /// The user new connections log in as.
    pub fn username(&self) -> String {
        self.pool.connect_options().get_username().to_string()
    }

    /// A store on an existing pool (its options are the caller's): as many calls in flight as
    /// the pool has connections, [`DEFAULT_MAX_WAITING`] waiting at most
    /// [`DEFAULT_QUEUE_TIMEOUT`].
    pub fn from_pool(pool: PgPool) -> Self {
        let in_flight = pool.options().get_max_connections();
        Self::gated(pool, in_flight, DEFAULT_MAX_WAITING, DEFAULT_QUEUE_TIMEOUT)
    }

    /// A connection for a request, through the gate: `Unavailable` at once when the line is
    /// full, or after `queue_timeout` in line or `acquire_timeout` waiting for the pool.
    pub(crate) async fn conn(&self) -> Result<Conn, StoreError> {
        self.gate.enter(&self.pool).await
    }

    /// A turn for work bounded elsewhere (group commit, on its own connections): it always
    /// queues, so groups take their share of the database with every other call.
    pub(crate) async fn turn_in_line(&self) -> Result<OwnedSemaphorePermit, StoreError> {
        self.gate.turn(Line::Always).await
    }

    /// The pool, e.g. for closing it on shutdown. Queries run on it directly bypass the gate.
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
        MIGRATOR.run(&self.pool).await.map_err(migrate_error)?;
        tracing::info!(
            migrations = MIGRATOR.iter().count(),
            "database schema up to date"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::plain_on_loopback;

    #[test]
    fn tls_is_skipped_only_for_a_local_server_without_sslmode() {
        assert!(plain_on_loopback(
            "postgres://u:p@127.0.0.1/db",
            "127.0.0.1"
        ));
        assert!(plain_on_loopback(
            "postgres://u:p@localhost/db",
            "localhost"
        ));
        assert!(plain_on_loopback("postgres://u:p@[::1]/db", "::1"));
        assert!(plain_on_loopback("postgres:///db", "/var/run/postgresql"));
        assert!(!plain_on_loopback(
            "postgres://u:p@127.0.0.1/db?sslmode=require",
            "127.0.0.1"
        ));
        assert!(!plain_on_loopback(
            "postgres://u:p@db.example.com/db",
            "db.example.com"
        ));
        assert!(!plain_on_loopback("postgres://u:p@10.0.0.5/db", "10.0.0.5"));
    }
}
