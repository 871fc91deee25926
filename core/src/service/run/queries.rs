//! The queries: capacity, running runs, pages of runs, one run, readiness.

use super::RunService;
use crate::error::ServiceError;
use crate::model::{Page, Run, RunCursor, RunId, Username};
use crate::ports::RunQuery;
use crate::service::{check_limit, timed};

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

impl RunService {
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
    pub(in crate::service) async fn fetch(&self, id: RunId) -> Result<Run, ServiceError> {
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
    //! Run queries in isolation, with mocked ports.

    use super::*;
    use crate::error::StoreError;
    use crate::ports::MockRunStore;
    use crate::service::fixtures::{quiet_metrics, run_service as service};

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
}
