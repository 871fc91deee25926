//! The timeout sweep: persists `TIMEOUT` on runs past their deadline.

use super::RunService;
use crate::error::ServiceError;
use crate::service::{SWEEP_BATCH, timed};

impl RunService {
    /// Persists `TIMEOUT` on runs past their deadline; returns how many. Correctness never depends
    /// on it (reads and capacity apply the deadline themselves); it keeps stored states tidy.
    ///
    /// # Errors
    /// `Store` on store failures.
    pub async fn sweep(&self) -> Result<u32, ServiceError> {
        let now = self.clock.now();
        let mut total = 0;
        loop {
            let expired = timed(
                &*self.metrics,
                "expire_runs",
                self.runs.expire_runs(now, SWEEP_BATCH),
            )
            .await?;
            for run in &expired {
                self.metrics.run_finished(run);
            }
            let n = u32::try_from(expired.len()).unwrap_or(u32::MAX);
            total += n;
            if n < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The sweep in isolation, with mocked ports.

    use super::*;
    use crate::ports::MockRunStore;
    use crate::service::fixtures::{quiet_metrics, run_service as service, running};

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
            SWEEP_BATCH + 3
        );
    }
}
