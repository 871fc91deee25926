//! # adapters-dynamo
//!
//! DynamoDB storage of iot-playground: two tables, **runs** (run items, one capacity item, two
//! newest-first GSIs) and **readings** (one partition per run, sorted by timestamp, sensor, type).
//! [`DynamoStore`] implements [`RunStore`](iot_core::ports::RunStore) and
//! [`ReadingStore`](iot_core::ports::ReadingStore) with no `Scan` anywhere.
//!
//! ```no_run
//! # async fn demo() -> Result<(), iot_core::StoreError> {
//! use adapters_dynamo::{DynamoConfig, DynamoStore};
//! let config = DynamoConfig {
//!     endpoint: Some("http://127.0.0.1:4566".into()), // an emulator; `None` → AWS
//!     ..DynamoConfig::default()
//! };
//! let store = DynamoStore::connect(&config).await;
//! store.create_tables().await?; // local and test runs only; production tables come from Terraform
//! # Ok(()) }
//! ```
//!
//! ## Runs table (`iot-playground-runs`)
//!
//! Key: `pk` (S, partition), `sk` (S, sort). Billing: on demand (`PAY_PER_REQUEST`).
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | run | `RUN#<uuid>` | `RUN` | `id, username, status, startedAt, finishedAt?, deadline, durationSecs (N), intervalSecs (N), sensorIds (L of S, in order), errorMessage?, grafanaUrl?`, `g1pk = RUNS`, `g1sk = <startedAt>#<uuid>`, `g2pk = USER#<username>`, `g2sk = <startedAt>#<uuid>` |
//! | capacity | `CAPACITY` | `GLOBAL` | `version (N)`, `slots (M)`: run id → `{u: username, d: deadline, s: startedAt}` |
//! | idempotency key of a start | `IDEM#<username>#<key>` | `IDEMPOTENCY` | `runId` (kept like the run) |
//!
//! Timestamps are the fixed-width text `2026-11-25T10:00:00.000000Z`, so text order is time order
//! and conditions such as `deadline >= :now` compare instants.
//!
//! GSIs (projection `ALL`):
//! - `by-start`: `g1pk` / `g1sk` — every run, newest first;
//! - `by-user`: `g2pk` / `g2sk` — one user's runs, newest first.
//!
//! ## Readings table (`iot-playground-readings`)
//!
//! Key: `pk` = `<runId>` (S), `sk` = `<timestamp>#<sensorId>#<type>` (S). Attributes `runId,
//! sensorId, type, value (N), timestamp, user`. The timestamp is fixed-width and `#` sorts below
//! every character a sensor id may contain, so `sk` order is exactly the listing order
//! (timestamp, sensor id, type) and the key is exactly the idempotency key of a reading.
//!
//! ## Access patterns
//!
//! | operation | served by |
//! |---|---|
//! | `get_run` | consistent `GetItem` on `RUN#<id>` / `RUN` |
//! | `create_run` | with an idempotency key, consistent `GetItem` of its item (a hit answers that run); consistent `GetItem` of the capacity item, then `TransactWriteItems` (capacity update + conditional run `Put` + conditional key `Put`) |
//! | `finish_run` | `TransactWriteItems` (conditional run update + slot removal), then consistent `GetItem` |
//! | `expire_runs` | capacity item (stale slots), one `TransactWriteItems` per run, `BatchGetItem` |
//! | `running_runs`, `count_running` | capacity item (consistent `GetItem`), then `BatchGetItem` of the live runs |
//! | `list_runs` | `Query` on `by-start` (or `by-user` with a user filter), descending, `g1sk < <cursor>`; the observed-status filter is a `FilterExpression` |
//! | `insert_reading` | conditional `PutItem` (`attribute_not_exists(pk)`), the stored item returned on failure |
//! | `insert_readings` | consistent `BatchGetItem` of every key, then `BatchWriteItem` of the new ones |
//! | `list_readings` | `Query` on `pk = <run>` with an `sk` range (`from`, `to`, cursor); sensor/type as `FilterExpression` |
//! | `latest_readings` | `Query` on `pk = <run>`, descending |
//! | `summarize` | `Query` of the whole run partition, folded per (sensor, type) |
//! | `ping` | `DescribeTable` on the runs table |
//!
//! A status-filtered listing reads past the runs that do not match (a `FilterExpression` is
//! applied after the read), so its cost grows with the runs skipped; the running board uses the
//! capacity item instead. The two GSIs are eventually consistent on real DynamoDB: a run created or finished a moment ago
//! may be missing from, or show its old status in, `list_runs` for a fraction of a second (moto
//! applies GSI updates immediately). Every other read is strongly consistent.
//!
//! ## Throughput limits and hot partitions
//!
//! A partition serves at most ~3000 RCU and ~1000 WCU per second (1 WCU = one write of ≤ 1 KB).
//! - **Capacity item**: every `create_run`, `finish_run` and expiry writes this one item
//!   (transactions cost 2 WCU per item), and every capacity read (`can-start`, the running board)
//!   reads it. One item is one partition: a ceiling of some hundreds of run starts/finishes per
//!   second, far above what the limits of a playground (a handful of concurrent runs) produce.
//!   It holds one ~130-byte slot per run stored `RUNNING`, including timed-out runs until they are
//!   expired; DynamoDB's 400 KB item limit therefore allows ~3000 slots. The sweep keeps it small,
//!   and `create_run` also expires stale slots itself once there are more than a few dozen.
//! - **`by-start` GSI**: all runs share the partition value `RUNS`, a hot key for writes (every run
//!   creation and status change is replicated there). A GSI partition that cannot keep up throttles
//!   the base table writes. Acceptable for run creation rates (a few per second); a high-volume
//!   deployment would shard `g1pk` (e.g. `RUNS#<day>`) and merge.
//! - **Readings**: one partition per run, so one run can ingest at most ~1000 readings (≤ 1 KB)
//!   per second; different runs scale independently. A 1000-reading batch consumes ~1000 WCU plus
//!   ~1000 RCU for the duplicate check (one strongly consistent read per key), all on the run's
//!   partition. `summarize` reads the whole partition: its cost grows with the run's size.
//! - **`by-sensor` local index** (`pk` / `ssk = <sensorId>#<timestamp>#<type>`, all attributes
//!   projected): a listing filtered by sensor reads only that sensor's items, strongly
//!   consistent like the table (a global index could not be). It costs one more write unit per
//!   reading, and caps one run's readings at 10 GB (a local index's item collection limit).
//!
//! ## Capacity protocol (optimistic concurrency on one item)
//!
//! The capacity item lists every run stored `RUNNING` (with its owner and deadline). Runs holding
//! capacity are the slots whose `deadline >= now`, so a run past its deadline stops counting at
//! that instant without anything being written.
//!
//! `create_run` loops (up to 50 times, with jittered exponential backoff):
//! 1. strongly consistent `GetItem` of the capacity item; count live slots, overall and for the
//!    user; refuse (global limit first) when full;
//! 2. `TransactWriteItems`: update the capacity item (`SET slots.<id> = <slot> ADD version 1`,
//!    condition `version = <version read>`; the very first write creates the item with
//!    `attribute_not_exists(version)`), and `Put` the run with `attribute_not_exists(pk)`.
//! 3. A canceled transaction whose capacity condition failed (someone else wrote in between) or
//!    that conflicted with another transaction goes back to 1; a failed run condition is
//!    `AlreadyExists`. After 50 losses: `Unavailable("capacity contention")`.
//!
//! Every change of the slot set bumps `version`, so two starts can never both be admitted from
//! the same snapshot: the check and the insert are one atomic step, in any number of processes.
//!
//! The protocol relies on DynamoDB applying each conditional write and each transaction
//! atomically. moto's threaded server does not (two concurrent conditional updates of one item can
//! both succeed, which the 32-concurrent-starts scenarios caught about once in ten runs), so the
//! test scripts serve moto one request at a time (`scripts/lib/moto_server_serial.py`).
//! `finish_run` updates the run (condition `status = RUNNING AND deadline >= now`) and removes its
//! slot in one transaction; `expire_runs` does the same for stale slots with the condition
//! `status = RUNNING AND deadline < now` (a run finished concurrently is left alone and its slot
//! merely removed), so each run is expired once however many sweeps run. The SDK gives every
//! `TransactWriteItems` a `ClientRequestToken`, so its own retry of a transaction that committed
//! but timed out on the way back is answered as a success, not as a failed condition.
//!
//! ## Write-once readings
//!
//! A stored reading never changes, under any concurrency. Every reading is written by a
//! conditional `PutItem` (`attribute_not_exists(pk)`); `BatchWriteItem`, which cannot carry
//! conditions, is not used for readings. A batch first reads every key (consistent
//! `BatchGetItem`, 100 keys per call): a key stored with a different value fails it with
//! `Conflict` before anything is written, and a replay costs reads only. It then writes the new
//! readings, 32 at a time, each item tagged with the batch's id (`batch` attribute). A batch that
//! meets a different value written meanwhile deletes exactly the items it wrote (each delete
//! conditioned on its id) and reports the conflict, so a conflicting batch stores nothing of its
//! own. A writer that finds the same value under a key still tagged by another batch *pins* it
//! (removes the tag, conditioned on that id) before counting it as a duplicate, so no
//! compensation can delete a reading someone has acknowledged (`write_once.rs`).
//!
//! Cost per reading: a new reading 1 WCU + 1 RCU (the up-front read); the first replay of a
//! batch 1 RCU + 1 WCU (the pin), later replays 1 RCU. A batch that loses a race pays its writes
//! and as many deletes. Readers may see a losing batch's readings for the moment between its
//! write and its compensation.
//!
//! ## Single readings: two requests, not a transaction
//!
//! A single reading costs one strongly consistent `GetItem` of its run (owner, status, deadline,
//! sensors) and one conditional `PutItem`. Making the run check atomic with the write would take a
//! `TransactWriteItems` with a `ConditionCheck` on the run item, which DynamoDB bills at 2 write
//! units per KB of the run item (a run naming 100 sensors is ~7 KB) plus 2 for the put. Per
//! million single readings, at the on-demand prices of `web/src/cost/prices.json`:
//!
//! | design | units per reading | per million |
//! |---|---|---|
//! | `GetItem` + conditional `PutItem` (+ the `by-sensor` index write) — chosen | 1–2 RRU + 2 WRU | $1.38–1.50 |
//! | `TransactWriteItems` (`ConditionCheck` run + `Put`) + index write | 5–17 WRU | $3.13–10.63 |
//!
//! The price of the cheaper design is a window: a reading whose run check passed just before a
//! concurrent finish is stored (and acknowledged) just after it. It is never acknowledged and lost.
//!
//! ## Errors
//!
//! Throttling (`ProvisionedThroughputExceeded`, `ThrottlingException`, `RequestLimitExceeded`),
//! timeouts and connection failures are
//! [`StoreError::Unavailable`](iot_core::StoreError::Unavailable); a missing table is
//! `Internal` naming the table; anything else is `Internal`. SDK calls run with explicit operation
//! and attempt timeouts ([`DynamoConfig`]) and the SDK's standard retry policy (3 attempts).

mod batch;
mod codec;
mod consumed;
mod error;
mod query;
mod readings;
mod runs;
mod tables;
mod write_once;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;

/// Where and how to reach DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoConfig {
    /// Endpoint override (`DYNAMODB_ENDPOINT`, e.g. an emulator); `None` → AWS.
    pub endpoint: Option<String>,
    /// Region; `None` → the SDK's environment/profile chain.
    pub region: Option<String>,
    /// Name of the runs table.
    pub runs_table: String,
    /// Name of the readings table.
    pub readings_table: String,
    /// Longest time one SDK call may take, retries included.
    pub operation_timeout: Duration,
    /// Longest time one attempt of an SDK call may take.
    pub attempt_timeout: Duration,
}

impl DynamoConfig {
    /// Default name of the runs table.
    pub const DEFAULT_RUNS_TABLE: &'static str = "iot-playground-runs";
    /// Default name of the readings table.
    pub const DEFAULT_READINGS_TABLE: &'static str = "iot-playground-readings";
}

impl Default for DynamoConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            runs_table: Self::DEFAULT_RUNS_TABLE.into(),
            readings_table: Self::DEFAULT_READINGS_TABLE.into(),
            operation_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(2),
        }
    }
}

/// Runs and readings in DynamoDB (see the [crate documentation](crate) for the key design).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    runs_table: String,
    readings_table: String,
}

impl DynamoStore {
    /// A client from the SDK's default chain (credentials, region), with `config`'s endpoint,
    /// region, explicit operation/attempt timeouts and the standard retry policy.
    pub async fn connect(config: &DynamoConfig) -> Self {
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(config.operation_timeout)
            .operation_attempt_timeout(config.attempt_timeout)
            .connect_timeout(config.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint.as_str());
        }
        let sdk_config = loader.load().await;
        Self::new(Client::new(&sdk_config), config)
    }

    /// A store on an existing client (its timeouts and endpoint are the caller's); only the table
    /// names of `config` are used.
    pub fn new(client: Client, config: &DynamoConfig) -> Self {
        Self {
            client,
            runs_table: config.runs_table.clone(),
            readings_table: config.readings_table.clone(),
        }
    }

    /// The SDK client (for metrics or administration by the embedding binary).
    pub fn client(&self) -> &Client {
        &self.client
    }
}
pub mod emf;
