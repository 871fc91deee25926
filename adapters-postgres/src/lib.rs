//! # adapters-postgres
//!
//! The PostgreSQL adapter of iot-playground: [`PgStore`] implements the storage ports
//! [`RunStore`](iot_core::ports::RunStore) and [`ReadingStore`](iot_core::ports::ReadingStore)
//! of `iot-core` with sqlx (runtime queries only, no compile-time database), and carries its
//! schema as embedded migrations ([`PgStore::migrate`]). Its behaviour is that of the reference
//! store, `iot_core::memory::InMemoryStore`, proven by the `contract-tests` suite.
//!
//! ```no_run
//! # async fn demo() -> Result<(), iot_core::StoreError> {
//! use adapters_postgres::{PgOptions, PgStore};
//! let store = PgStore::connect("postgres://iot:iot@127.0.0.1:5432/iot", &PgOptions::default()).await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```
//!
//! ## Schema (`migrations/`)
//!
//! - `runs`: `id uuid` primary key, `username`, `status` (`CHECK` on the five statuses),
//!   `started_at`, `finished_at?`, `deadline` (`timestamptz`: microseconds, the domain's precision,
//!   so instants round-trip exactly), `duration_secs int`, `interval_secs double precision`,
//!   `sensor_ids text[]`, `error_message?`, `grafana_url?`. The stored status may say `RUNNING`
//!   past the deadline; queries apply the deadline themselves (lazy timeout).
//! - `readings`: `run_id` (→ `runs`), `sensor_id`, `type`, `value double precision`, `ts`,
//!   `username`; primary key `(run_id, ts, sensor_id, type)`, the idempotency key in listing
//!   order.
//! - `reading_rollups`: per `(run_id, sensor_id, type)` the count, min, max, sum, first and last
//!   timestamp of the readings, kept by the statement-level trigger `readings_rollup` in the
//!   transaction of every `INSERT` into `readings` (one upsert per key and statement, in key
//!   order). `summarize` reads these rows only, so a summary costs the same at 10 readings as at
//!   a million. The sum grows in insertion order: the mean may differ from one computed over the
//!   readings in timestamp order in the last bits.
//!
//! Text columns use `COLLATE "C"`: byte order, the order of the domain's `Ord`, whatever the
//! database default, so SQL ordering, keyset comparisons and cursors agree with every other store.
//!
//! ## Indexes: one per query shape, no request scans a table
//!
//! | index | serves |
//! |---|---|
//! | `runs` primary key | `get_run`, duplicate check, `finish_run` |
//! | `runs_started (started_at DESC, id DESC)` | newest-first listing, keyset `(started_at, id) < cursor` |
//! | `runs_user_started (username, started_at DESC, id DESC)` | the same, per user |
//! | `runs_status_started (status, started_at DESC, id DESC)` | listing filtered by a stored terminal status |
//! | `runs_running_deadline (deadline) WHERE status='RUNNING'` | capacity counts, running board, timeout sweep (oldest deadline first) |
//! | `runs_running_user (username, deadline) WHERE status='RUNNING'` | per-user capacity count and board |
//! | `readings` primary key `(run_id, ts, sensor_id, type)` | idempotent insert, ascending listing and its keyset, `latest` (backward scan), summary |
//! | `readings_run_sensor (run_id, sensor_id, ts, type)` | listing and `latest` of one sensor, in order, keyset as an index range |
//!
//! The partial indexes stay small: they hold only runs stored `RUNNING` (the sweep turns expired
//! ones into `TIMEOUT`).
//!
//! ## Atomic capacity
//!
//! `create_run` runs one transaction: `pg_advisory_xact_lock` on a constant key (the same in every
//! process), then, in a fresh snapshot, the duplicate-id check and the global and per-user counts
//! of runs holding capacity (`status='RUNNING' AND deadline >= now`), then the `INSERT`, then
//! `COMMIT`, which releases the lock. Admissions are thus serialised cluster-wide, for any number
//! of `app-ecs` or Lambda instances; they are rare and short, so one lock is no bottleneck.
//! The other writes need no lock: `finish_run` is one conditional `UPDATE … WHERE
//! status='RUNNING' AND deadline >= now` (two finishes: one wins), the sweep is one `UPDATE` over
//! `SELECT … FOR UPDATE SKIP LOCKED` (parallel sweeps split the work), readings use
//! `INSERT … ON CONFLICT DO NOTHING` on the key; a batch is one `INSERT … SELECT FROM UNNEST`
//! followed by a check of the keys already taken, in one transaction rolled back on a conflict.
//!
//! ## Single readings: one statement, grouped
//!
//! `insert_into_running_run` is one round trip for a new reading: one statement takes a share lock
//! on the run row (`FOR SHARE`: a concurrent finish waits for it, or it sees the finished run),
//! checks owner, status, deadline and sensor, inserts with `ON CONFLICT DO NOTHING` and says, per
//! reading, whether it was stored, refused or found taken; it commits on its own (no
//! `BEGIN`/`COMMIT`). Only a taken key costs a second statement, to read the stored reading. The
//! service works out why a reading was refused (missing run, someone else's, not running, unknown
//! sensor) only when it was. sqlx prepares each statement once per connection and reuses it.
//!
//! [`GroupCommit`] puts the same statement behind a queue: single readings offered at the same
//! time go as one multi-row statement and one commit (at most `max_group` readings; waiting at
//! most `max_wait`, and only while other groups are being stored; at most `in_flight` groups at
//! once). Each caller is answered after the commit of its own reading, with its own outcome; a
//! reading repeating the key of another in the same group goes in the next statement, so the
//! first is stored and the second is its replay or conflict. A full queue answers
//! `Unavailable` at once. `app-ecs` stores single readings through it.
//!
//! ## TLS
//!
//! `sslmode` in the URL (or `PGSSLMODE`) decides. Without either, a server on the loopback
//! interface or a Unix socket is reached without TLS, since sqlx's default `prefer` would
//! negotiate TLS with a local server on every connection; any other host keeps `prefer`.
//!
//! ## Failures
//!
//! Every driver error is translated at the edge: no connection within `acquire_timeout`, I/O,
//! closed pool, statement timeout, too many connections, shutdown, serialization failure or
//! deadlock → [`StoreError::Unavailable`](iot_core::StoreError::Unavailable) (the HTTP layer
//! answers `503`, never hangs); duplicate key → `AlreadyExists`; a reading of a missing run →
//! `NotFound`; anything else, including a stored row the domain refuses → `Internal`.
//!
//! [`metrics::PrometheusMetrics`] implements the `Metrics` port of `iot-core` for Prometheus.

mod error;
mod group;
mod ingest;
mod readings;
mod rows;
mod runs;
mod store;

pub use group::{GroupCommit, GroupOptions};
pub use store::{MIGRATOR, PgOptions, PgStore};
pub mod metrics;
