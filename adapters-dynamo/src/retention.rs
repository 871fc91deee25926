//! Data retention on DynamoDB (docs/api.md, "Data retention"): with a retention period set, every
//! run, idempotency and reading item the adapter writes carries its expiry in [`EXPIRES_AT`]
//! (seconds since the Unix epoch), the attribute the tables' time to live reads. DynamoDB then
//! deletes expired items by itself, at no write cost, usually within a few days of the expiry;
//! the sweep has nothing to delete ([`iot_core::ports::RunStore::purge_runs`] answers 0).
//!
//! - A run item and its idempotency item expire at the run's deadline plus the retention.
//! - A reading item expires at the time it was written plus the retention plus
//!   [`READING_SLACK`]. A reading is only written while its run accepts readings, that is before
//!   the run's deadline, and the longest run lasts a day plus its grace; so a reading never expires
//!   before its run, and outlives it by at most the slack, unreachable (every reading route
//!   answers `404` once the run is gone).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{TimeToLiveSpecification, TimeToLiveStatus};
use iot_core::StoreError;
use iot_core::model::Timestamp;

use crate::DynamoStore;
use crate::codec::{Item, n_int};
use crate::error::{build_error, sdk_error};

/// The time-to-live attribute: when the item expires, in seconds since the Unix epoch.
pub const EXPIRES_AT: &str = "expiresAt";

/// How much longer than the retention a reading item lives after it was written: the longest
/// run (one day) plus a day of margin for its grace.
pub const READING_SLACK: Duration = Duration::from_secs(2 * 86_400);

fn epoch_secs(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl DynamoStore {
    /// Adds the expiry of the run whose deadline is `deadline` to `item`, when retention is on.
    pub(crate) fn stamp_run_expiry(&self, item: &mut Item, deadline: Timestamp) {
        if let Some(retention) = self.retention {
            let at = epoch_secs(deadline.unix_micros()).saturating_add(secs(retention));
            item.insert(EXPIRES_AT.into(), n_int(at));
        }
    }

    /// Adds the expiry of a reading written now to `item`, when retention is on.
    pub(crate) fn stamp_reading_expiry(&self, item: &mut Item) {
        if let Some(retention) = self.retention {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, secs);
            let at = now
                .saturating_add(secs(retention))
                .saturating_add(secs(READING_SLACK));
            item.insert(EXPIRES_AT.into(), n_int(at));
        }
    }

    /// Turns the time to live on, on [`EXPIRES_AT`], for `table`, unless it is already on.
    pub(crate) async fn enable_time_to_live(&self, table: &str) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTimeToLive", table, e))?;
        let status = described
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(EXPIRES_AT)
            .enabled(true)
            .build()
            .map_err(build_error)?;
        self.client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateTimeToLive", table, e))?;
        Ok(())
    }
}
