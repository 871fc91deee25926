//! The commands that change runs: start, finish, interrupt all.

use super::{FinishRun, RunService, StartRun};
use crate::error::{CapacityScope, ServiceError};
use crate::model::{Run, RunId, RunStatus, Timestamp, Username};
use crate::ports::{Admission, Finish};
use crate::service::timed;

impl RunService {
    /// Starts a run for `user` if capacity allows. Under an idempotency key this user already
    /// started a run with, answers that run again (whatever the capacity now) when the
    /// parameters are the same.
    ///
    /// # Errors
    /// `CapacityExhausted` when a limit is reached; `IdempotencyKeyReused` when the key's run
    /// was started with other parameters; `Store` on store failures.
    pub async fn start(&self, user: &Username, request: StartRun) -> Result<Run, ServiceError> {
        let now = self.clock.now();
        let id = self.ids.new_run_id();
        let window = i64::from(request.duration_secs) + i64::from(self.config.timeout_grace_secs);
        let run = Run {
            id,
            username: user.clone(),
            status: RunStatus::Running,
            started_at: now,
            finished_at: None,
            deadline: now.plus_micros(window * 1_000_000),
            duration_secs: request.duration_secs,
            interval_secs: request.interval_secs,
            sensor_ids: request.sensor_ids.clone(),
            error_message: None,
            grafana_url: self.grafana_link(user, id),
        };
        let admission = timed(
            &*self.metrics,
            "create_run",
            self.runs.create_run(
                &run,
                self.config.limits,
                now,
                request.idempotency_key.as_ref(),
            ),
        )
        .await?;
        match admission {
            Admission::Replayed(earlier) => {
                let earlier = self.get(earlier).await?;
                if request.matches(&earlier) {
                    tracing::info!(run_id = %earlier.id, user = %user, "start replayed under its idempotency key");
                    Ok(earlier)
                } else {
                    Err(ServiceError::IdempotencyKeyReused(earlier.id))
                }
            }
            Admission::Admitted => {
                self.metrics.run_started(&run);
                tracing::info!(run_id = %run.id, user = %run.username, "Run {} started", run.id);
                Ok(run)
            }
            Admission::Refused(exhausted) => {
                let retry_after_secs = self.retry_after(user, exhausted.scope, now).await;
                Err(ServiceError::CapacityExhausted {
                    exhausted,
                    retry_after_secs,
                })
            }
        }
    }

    /// Seconds until the soonest running run of the exhausted scope is due to end (at least 1).
    async fn retry_after(&self, user: &Username, scope: CapacityScope, now: Timestamp) -> u32 {
        let filter = (scope == CapacityScope::User).then_some(user);
        let soonest = self
            .runs
            .running_runs(now, filter)
            .await
            .ok()
            .and_then(|runs| {
                runs.iter()
                    .map(|r| {
                        r.started_at
                            .plus_micros(i64::from(r.duration_secs) * 1_000_000)
                    })
                    .min()
            });
        soonest.map_or(5, |end| {
            let micros = end.unix_micros().saturating_sub(now.unix_micros()).max(0);
            u32::try_from((micros + 999_999) / 1_000_000)
                .unwrap_or(u32::MAX)
                .max(1)
        })
    }

    fn grafana_link(&self, user: &Username, id: RunId) -> Option<String> {
        // Usernames and ids are URL-safe by construction, so no escaping is needed.
        self.config
            .grafana_url
            .as_ref()
            .map(|dashboard| format!("{dashboard}?var-user={user}&var-run={id}"))
    }
    /// Finishes `user`'s running run.
    ///
    /// # Errors
    /// `RunNotFound` (missing or someone else's), `RunNotRunning`, `Store`.
    pub async fn finish(
        &self,
        user: &Username,
        id: RunId,
        request: FinishRun,
    ) -> Result<Run, ServiceError> {
        self.running_run_of(user, id).await?;
        let now = self.clock.now();
        let finish = Finish {
            status: if request.failed {
                RunStatus::Failed
            } else {
                RunStatus::Success
            },
            finished_at: now,
            error_message: request.message,
        };
        match timed(
            &*self.metrics,
            "finish_run",
            self.runs.finish_run(id, &finish, now),
        )
        .await?
        {
            Some(run) => {
                self.metrics.run_finished(&run);
                // The exact wording is relied upon by log-based report pipelines.
                tracing::info!(run_id = %run.id, user = %run.username, "Run {} finished {}", run.id, run.status);
                Ok(run)
            }
            // Lost a race with another finish, an interrupt or the deadline.
            None => {
                let status = self.get(id).await?.status;
                Err(ServiceError::RunNotRunning { id, status })
            }
        }
    }

    /// Cancels the running runs of `user`, or of everyone when `user` is an admin. Returns how many
    /// were canceled.
    ///
    /// # Errors
    /// `Store` on store failures.
    pub async fn interrupt_all(&self, user: &Username) -> Result<u32, ServiceError> {
        let now = self.clock.now();
        let scope = (!self.config.admins.contains(user)).then_some(user);
        let running = timed(
            &*self.metrics,
            "running_runs",
            self.runs.running_runs(now, scope),
        )
        .await?;
        let finish = Finish {
            status: RunStatus::Canceled,
            finished_at: now,
            error_message: Some(format!("Interrupted by {user}")),
        };
        let mut interrupted = 0;
        for run in running {
            if let Some(run) = timed(
                &*self.metrics,
                "finish_run",
                self.runs.finish_run(run.id, &finish, now),
            )
            .await?
            {
                self.metrics.run_finished(&run);
                interrupted += 1;
            }
        }
        Ok(interrupted)
    }
}

#[cfg(test)]
mod tests {
    //! Run commands in isolation, with mocked ports: what the service asks of the store and what
    //! it makes of the answers. Store behaviour itself is the contract suite's business.

    use super::*;
    use crate::error::CapacityExhausted;
    use crate::ports::MockRunStore;
    use crate::service::fixtures::{
        alice, now, quiet_metrics, run_id, run_service as service, running,
    };

    #[tokio::test]
    async fn a_start_stores_a_running_run_due_at_duration_plus_grace_and_counts_it() {
        let mut runs = MockRunStore::new();
        runs.expect_create_run()
            .withf(|run, limits, at, key| {
                run.status == RunStatus::Running
                    && run.deadline == now().plus_micros((60 + 120) * 1_000_000)
                    && limits.global == 5
                    && *at == now()
                    && key.is_none()
            })
            .times(1)
            .returning(|_, _, _, _| Ok(Admission::Admitted));
        let mut metrics = quiet_metrics();
        metrics.expect_run_started().times(1).returning(|_| ());
        let start = StartRun::new(vec!["s1".into()], Some(60), None).unwrap();
        let run = service(runs, metrics).start(&alice(), start).await.unwrap();
        assert_eq!((run.id, run.interval_secs), (run_id(), 5.0));
    }

    #[tokio::test]
    async fn a_refused_start_says_when_to_retry_from_the_soonest_running_end() {
        let mut runs = MockRunStore::new();
        runs.expect_create_run().returning(|_, _, _, _| {
            Ok(Admission::Refused(CapacityExhausted {
                scope: CapacityScope::Global,
                current_running: 5,
                max_allowed: 5,
            }))
        });
        // Started 10 s ago for 60 s: due in 50 s.
        runs.expect_running_runs()
            .withf(|at, user| *at == now() && user.is_none())
            .returning(|_, _| Ok(vec![running("bob")]));
        let start = StartRun::new(vec!["s1".into()], Some(60), None).unwrap();
        let err = service(runs, quiet_metrics()).start(&alice(), start).await;
        assert!(
            matches!(
                err,
                Err(ServiceError::CapacityExhausted {
                    retry_after_secs: 50,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn another_users_finish_never_reaches_the_store() {
        let mut runs = MockRunStore::new();
        runs.expect_get_run()
            .returning(|_| Ok(Some(running("bob"))));
        runs.expect_finish_run().never();
        let err = service(runs, quiet_metrics())
            .finish(&alice(), run_id(), FinishRun::success())
            .await;
        assert_eq!(err, Err(ServiceError::RunNotFound(run_id())));
    }

    #[tokio::test]
    async fn a_finish_that_loses_a_race_reports_the_winners_status() {
        let mut runs = MockRunStore::new();
        let mut reads = 0;
        runs.expect_get_run().returning(move |_| {
            reads += 1;
            let mut run = running("alice");
            if reads > 1 {
                run.status = RunStatus::Canceled;
            }
            Ok(Some(run))
        });
        runs.expect_finish_run()
            .times(1)
            .returning(|_, _, _| Ok(None));
        let mut metrics = quiet_metrics();
        metrics.expect_run_finished().never();
        let err = service(runs, metrics)
            .finish(&alice(), run_id(), FinishRun::success())
            .await;
        assert_eq!(
            err,
            Err(ServiceError::RunNotRunning {
                id: run_id(),
                status: RunStatus::Canceled
            })
        );
    }
}
