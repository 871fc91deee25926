//! The run lifecycle: start under capacity, finish, interrupt, list, timeout sweep.

use std::sync::Arc;

use super::{SWEEP_BATCH, check_limit, timed};
use crate::error::{CapacityScope, ServiceError, ValidationError};
use crate::model::{
    IdempotencyKey, Page, Run, RunCursor, RunId, RunStatus, SensorId, Timestamp, Username,
};
use crate::ports::{
    Admission, CapacityLimits, Clock, Finish, IdGenerator, Metrics, RunQuery, RunStore,
};

/// Settings of the run lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// Capacity limits.
    pub limits: CapacityLimits,
    /// Seconds after `duration` before a run times out.
    pub timeout_grace_secs: u32,
    /// Users whose interrupt-all cancels every user's runs.
    pub admins: Vec<Username>,
    /// URL of the Grafana dashboard of a run; a run's link adds `?var-user=…&var-run=…`.
    pub grafana_url: Option<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            limits: CapacityLimits {
                global: 5,
                per_user: 5,
            },
            timeout_grace_secs: 120,
            admins: Vec::new(),
            grafana_url: None,
        }
    }
}

/// A validated start request.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRun {
    sensor_ids: Vec<SensorId>,
    duration_secs: u32,
    interval_secs: f64,
    idempotency_key: Option<IdempotencyKey>,
}

impl StartRun {
    /// Default `duration` in seconds.
    pub const DEFAULT_DURATION: u32 = 60;
    /// Default `interval` in seconds.
    pub const DEFAULT_INTERVAL: f64 = 5.0;

    /// Validates a start request: 1 to 100 unique sensor ids, a duration of 1 to 86400 seconds, an
    /// interval greater than 0 and at most 3600 seconds.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `sensorIds`, `sensorIds[i]`, `duration` or `interval`.
    pub fn new(
        sensor_ids: Vec<String>,
        duration: Option<i64>,
        interval: Option<f64>,
    ) -> Result<Self, ValidationError> {
        if sensor_ids.is_empty() || sensor_ids.len() > 100 {
            return Err(ValidationError::new(
                "sensorIds",
                "must hold between 1 and 100 sensor ids",
            ));
        }
        let mut parsed: Vec<SensorId> = Vec::with_capacity(sensor_ids.len());
        for (i, raw) in sensor_ids.into_iter().enumerate() {
            let id = SensorId::parse(raw).map_err(|e| e.in_field(format!("sensorIds[{i}]")))?;
            if parsed.contains(&id) {
                return Err(ValidationError::new(
                    format!("sensorIds[{i}]"),
                    format!("repeats sensor id {id}; sensor ids must be unique"),
                ));
            }
            parsed.push(id);
        }
        let duration_secs = match duration {
            None => Self::DEFAULT_DURATION,
            Some(d) => u32::try_from(d)
                .ok()
                .filter(|d| (1..=86_400).contains(d))
                .ok_or_else(|| {
                    ValidationError::new(
                        "duration",
                        "must be an integer between 1 and 86400 seconds",
                    )
                })?,
        };
        let interval_secs = interval.unwrap_or(Self::DEFAULT_INTERVAL);
        if !(interval_secs.is_finite() && interval_secs > 0.0 && interval_secs <= 3600.0) {
            return Err(ValidationError::new(
                "interval",
                "must be a number of seconds greater than 0 and at most 3600",
            ));
        }
        Ok(Self {
            sensor_ids: parsed,
            duration_secs,
            interval_secs,
            idempotency_key: None,
        })
    }

    /// The same request under an idempotency key: a retry with the same key and the same
    /// parameters gets the run the first attempt created instead of a second one.
    #[must_use]
    pub fn with_idempotency_key(mut self, key: Option<IdempotencyKey>) -> Self {
        self.idempotency_key = key;
        self
    }

    /// Whether `run` was started with these parameters.
    fn matches(&self, run: &Run) -> bool {
        run.sensor_ids == self.sensor_ids
            && run.duration_secs == self.duration_secs
            && run.interval_secs == self.interval_secs
    }
}

/// How a run owner finishes a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishRun {
    failed: bool,
    message: Option<String>,
}

impl FinishRun {
    /// Longest stored message, in characters.
    pub const MAX_MESSAGE: usize = 1000;

    /// Validates a finish request: `status` is `SUCCESS` (default) or `FAILED`; the message is kept
    /// only for `FAILED`.
    ///
    /// # Errors
    /// `status` is another value, or the message is longer than [`Self::MAX_MESSAGE`].
    pub fn new(status: Option<&str>, message: Option<String>) -> Result<Self, ValidationError> {
        let failed = match status {
            None | Some("SUCCESS") => false,
            Some("FAILED") => true,
            Some(_) => {
                return Err(ValidationError::new("status", "must be SUCCESS or FAILED"));
            }
        };
        if message
            .as_ref()
            .is_some_and(|m| m.chars().count() > Self::MAX_MESSAGE)
        {
            return Err(ValidationError::new(
                "errorMessage",
                "must be at most 1000 characters",
            ));
        }
        Ok(Self {
            failed,
            message: if failed { message } else { None },
        })
    }

    /// A successful finish.
    pub fn success() -> Self {
        Self {
            failed: false,
            message: None,
        }
    }
}

/// Capacity as seen by `can-start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Whether a start by this caller would be admitted now.
    pub can_start: bool,
    /// Running runs, all users.
    pub current_running: u32,
    /// Global limit.
    pub max_allowed: u32,
    /// Free global slots (never negative).
    pub available: u32,
    /// The caller's running runs and limit, when the caller is known.
    pub user: Option<(u32, u32)>,
}

/// Run lifecycle: start under capacity, finish, interrupt, list, timeout sweep.
#[derive(Clone)]
pub struct RunService {
    runs: Arc<dyn RunStore>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: Arc<RunConfig>,
}

impl std::fmt::Debug for RunService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RunService {
    /// Wires the service to its ports.
    pub fn new(
        runs: Arc<dyn RunStore>,
        metrics: Arc<dyn Metrics>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        config: RunConfig,
    ) -> Self {
        Self {
            runs,
            metrics,
            clock,
            ids,
            config: Arc::new(config),
        }
    }

    /// The metrics and clock handles, for a service working beside this one.
    pub(super) fn shared_ports(&self) -> (Arc<dyn Metrics>, Arc<dyn Clock>) {
        (self.metrics.clone(), self.clock.clone())
    }

    /// The configuration in force.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

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

    /// Capacity now, for everyone or for `user`.
    ///
    /// # Errors
    /// `Store` on store failures.
    pub async fn capacity(&self, user: Option<&Username>) -> Result<Capacity, ServiceError> {
        let now = self.clock.now();
        let count = timed(
            &*self.metrics,
            "count_running",
            self.runs.count_running(now, user),
        )
        .await?;
        let limits = self.config.limits;
        let user = count.user.map(|n| (n, limits.per_user));
        Ok(Capacity {
            can_start: count.global < limits.global
                && user.is_none_or(|(running, max)| running < max),
            current_running: count.global,
            max_allowed: limits.global,
            available: limits.global.saturating_sub(count.global),
            user,
        })
    }

    /// Runs holding capacity, all users, newest first.
    ///
    /// # Errors
    /// `Store` on store failures.
    pub async fn running(&self) -> Result<Vec<Run>, ServiceError> {
        let now = self.clock.now();
        Ok(timed(
            &*self.metrics,
            "running_runs",
            self.runs.running_runs(now, None),
        )
        .await?)
    }

    /// One page of runs, newest first, as observed now.
    ///
    /// # Errors
    /// `limit` out of range; `Store` on store failures.
    pub async fn list(&self, query: RunQuery) -> Result<Page<Run, RunCursor>, ServiceError> {
        check_limit(query.limit)?;
        let now = self.clock.now();
        let page = timed(
            &*self.metrics,
            "list_runs",
            self.runs.list_runs(&query, now),
        )
        .await?;
        Ok(Page {
            items: page.items.into_iter().map(|r| r.observed_at(now)).collect(),
            next: page.next,
        })
    }

    /// One run, as observed now.
    ///
    /// # Errors
    /// `RunNotFound`; `Store` on store failures.
    pub async fn get(&self, id: RunId) -> Result<Run, ServiceError> {
        let now = self.clock.now();
        self.fetch(id).await.map(|r| r.observed_at(now))
    }

    /// One run as stored, or `RunNotFound`.
    pub(super) async fn fetch(&self, id: RunId) -> Result<Run, ServiceError> {
        timed(&*self.metrics, "get_run", self.runs.get_run(id))
            .await?
            .ok_or(ServiceError::RunNotFound(id))
    }

    /// A run that `user` owns and that is running now; the checks every write goes through.
    ///
    /// # Errors
    /// `RunNotFound` when missing or owned by someone else; `RunNotRunning` otherwise.
    pub async fn running_run_of(&self, user: &Username, id: RunId) -> Result<Run, ServiceError> {
        let run = self.fetch(id).await?;
        if &run.username != user {
            return Err(ServiceError::RunNotFound(id));
        }
        let now = self.clock.now();
        if !run.is_running_at(now) {
            return Err(ServiceError::RunNotRunning {
                id,
                status: run.status_at(now),
            });
        }
        Ok(run)
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

    /// Whether the store answers.
    ///
    /// # Errors
    /// `Store` when it does not.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        Ok(self.runs.ping().await?)
    }
}

#[cfg(test)]
mod tests {
    //! Run rules in isolation, with mocked ports: what the service asks of the store and what it
    //! makes of the answers. Store behaviour itself is the contract suite's business.

    use super::*;
    use crate::error::{CapacityExhausted, StoreError};
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

    #[tokio::test]
    async fn a_store_outage_surfaces_as_unavailable() {
        let mut runs = MockRunStore::new();
        runs.expect_count_running()
            .returning(|_, _| Err(StoreError::Unavailable("pool timed out".into())));
        let err = service(runs, quiet_metrics()).capacity(None).await;
        assert!(matches!(
            err,
            Err(ServiceError::Store(StoreError::Unavailable(_)))
        ));
    }

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

    #[test]
    fn start_requests_name_the_offending_field() {
        let field = |r: Result<StartRun, ValidationError>| r.unwrap_err().field;
        assert_eq!(field(StartRun::new(vec![], None, None)), "sensorIds");
        assert_eq!(
            field(StartRun::new(vec!["a".into(), "a".into()], None, None)),
            "sensorIds[1]"
        );
        assert_eq!(
            field(StartRun::new(vec!["a".into()], Some(0), None)),
            "duration"
        );
        assert_eq!(
            field(StartRun::new(vec!["a".into()], None, Some(f64::NAN))),
            "interval"
        );
    }
}
