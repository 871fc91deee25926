//! The sweep: persists `TIMEOUT` on runs past their deadline and, when retention is on, deletes
//! runs past their retention.

use super::RunService;
use crate::error::{ServiceError, StoreError};
use crate::service::{SWEEP_BATCH, timed};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Runs set to `TIMEOUT`.
    pub expired: u32,
    /// Runs deleted with their readings, past their retention.
    pub purged: u32,
}

impl RunService {
    /// Persists `TIMEOUT` on runs past their deadline, then, when retention is on, deletes the
    /// runs whose deadline is older than the retention period, with their readings. Correctness
    /// never depends on the first step (reads and capacity apply the deadline themselves); it
    /// keeps stored states tidy.
    ///
    /// # Errors
    /// `Store` on store failures.
    pub async fn sweep(&self) -> Result<Swept, ServiceError> {
        let now = self.clock.now();
        let expired = in_batches(|| async move {
            let expired = timed(
                &*self.metrics,
                "expire_runs",
                self.runs.expire_runs(now, SWEEP_BATCH),
            )
            .await?;
            for run in &expired {
                self.metrics.run_finished(run);
            }
            Ok(u32::try_from(expired.len()).unwrap_or(u32::MAX))
        })
        .await?;
        let purged = match self.config.retention_days {
            Some(days) => {
                let cutoff = now.plus_micros(-i64::from(days) * 86_400 * 1_000_000);
                in_batches(|| async move {
                    timed(
                        &*self.metrics,
                        "purge_runs",
                        self.runs.purge_runs(cutoff, SWEEP_BATCH),
                    )
                    .await
                })
                .await?
            }
            None => 0,
        };
        Ok(Swept { expired, purged })
    }
}

/// Calls `step`, which handles at most [`SWEEP_BATCH`] runs and says how many, until a batch
/// comes back short; returns the total.
async fn in_batches<F, Fut>(mut step: F) -> Result<u32, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u32, StoreError>>,
{
    let mut total = 0;
    loop {
        let n = step().await?;
        total += n;
        if n < SWEEP_BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The sweep in isolation, with mocked ports.

    use super::*;
    use crate::ports::MockRunStore;
    use crate::service::RunConfig;
    use crate::service::fixtures::{
        now, quiet_metrics, run_service as service, run_service_with, running,
    };

    #[tokio::test]
    async fn the_sweep_goes_on_while_batches_come_back_full() {
        let mut runs = MockRunStore::new();
        let mut calls = 0;
        runs.expect_expire_runs().times(2).returning(move |_, max| {
            calls += 1;
            let n = if calls == 1 { max } else { 3 };
            Ok(vec![running("alice"); n as usize])
        });
        let mut metrics = quiet_metrics();
        metrics
            .expect_run_finished()
            .times(SWEEP_BATCH as usize + 3)
            .returning(|_| ());
        assert_eq!(
            service(runs, metrics).sweep().await.unwrap(),
            Swept {
                expired: SWEEP_BATCH + 3,
                purged: 0
            }
        );
    }

    #[tokio::test]
    async fn with_retention_the_sweep_purges_runs_past_deadline_plus_retention() {
        let mut runs = MockRunStore::new();
        runs.expect_expire_runs().returning(|_, _| Ok(Vec::new()));
        let mut calls = 0;
        runs.expect_purge_runs()
            .withf(|cutoff, _| *cutoff == now().plus_micros(-3 * 86_400 * 1_000_000))
            .times(2)
            .returning(move |_, max| {
                calls += 1;
                Ok(if calls == 1 { max } else { 1 })
            });
        let config = RunConfig {
            retention_days: Some(3),
            ..RunConfig::default()
        };
        let swept = run_service_with(runs, quiet_metrics(), config)
            .sweep()
            .await
            .unwrap();
        assert_eq!(
            swept,
            Swept {
                expired: 0,
                purged: SWEEP_BATCH + 1
            }
        );
    }

    #[tokio::test]
    async fn without_retention_the_sweep_never_purges() {
        let mut runs = MockRunStore::new();
        runs.expect_expire_runs().returning(|_, _| Ok(Vec::new()));
        runs.expect_purge_runs().never();
        assert_eq!(
            service(runs, quiet_metrics()).sweep().await.unwrap(),
            Swept::default()
        );
    }
}
