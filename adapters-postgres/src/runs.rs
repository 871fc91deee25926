//! [`RunStore`] on the `runs` table.

use async_trait::async_trait;
use iot_core::StoreError;
use iot_core::model::{
    IdempotencyKey, Page, Run, RunCursor, RunId, RunStatus, Timestamp, Username,
};
use iot_core::ports::{Admission, CapacityLimits, Finish, RunQuery, RunStore, RunningCount};
use sqlx::{Connection as _, Postgres, QueryBuilder, Row};

use crate::error::{bad_row, store_error};
use crate::rows::{self, RUN_COLUMNS, get};
use crate::store::PgStore;

/// Key of the transaction-scoped advisory lock that serialises admissions ("iot_runs" in ASCII).
/// Every process takes the same lock, so check-then-insert is one step cluster-wide.
pub(crate) const CAPACITY_LOCK: i64 = 0x696f_745f_7275_6e73;

/// Runs holding capacity at the bound `now`.
const HOLDS_CAPACITY: &str = "status = 'RUNNING' AND deadline >= ";

#[async_trait]
impl RunStore for PgStore {
    async fn create_run<'k>(
        &self,
        run: &Run,
        limits: CapacityLimits,
        now: Timestamp,
        key: Option<&'k IdempotencyKey>,
    ) -> Result<Admission, StoreError> {
        let duration = i32::try_from(run.duration_secs).map_err(|_| {
            StoreError::Internal(format!("duration {} too large", run.duration_secs))
        })?;
        let now = now.as_datetime();
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(store_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CAPACITY_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        // A new snapshot after the lock: every admission committed before it is visible.
        if let Some(key) = key {
            let earlier: Option<uuid::Uuid> = sqlx::query_scalar(
                "SELECT id FROM runs WHERE username = $1 AND idempotency_key = $2",
            )
            .bind(run.username.as_str())
            .bind(key.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
            if let Some(earlier) = earlier {
                tx.rollback().await.map_err(store_error)?;
                return Ok(Admission::Replayed(RunId::from_uuid(earlier)));
            }
        }
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1) AS taken, \
                    (SELECT count(*) FROM runs \
                      WHERE status = 'RUNNING' AND deadline >= $2) AS global, \
                    (SELECT count(*) FROM runs \
                      WHERE status = 'RUNNING' AND deadline >= $2 AND username = $3) AS mine",
        )
        .bind(run.id.as_uuid())
        .bind(now)
        .bind(run.username.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        // Refusals roll back explicitly: the lock is released now, not whenever the pool next
        // touches the connection.
        if get::<bool>(&row, "taken")? {
            tx.rollback().await.map_err(store_error)?;
            return Err(StoreError::AlreadyExists);
        }
        let (global, mine) = (get(&row, "global")?, get(&row, "mine")?);
        if let Some(exhausted) = limits.refusal(rows::count(global), rows::count(mine)) {
            tx.rollback().await.map_err(store_error)?;
            return Ok(Admission::Refused(exhausted));
        }
        let sensors: Vec<&str> = run.sensor_ids.iter().map(|s| s.as_str()).collect();
        sqlx::query(
            "INSERT INTO runs (id, username, status, started_at, finished_at, deadline, \
                               duration_secs, interval_secs, sensor_ids, error_message, grafana_url, \
                               idempotency_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(run.id.as_uuid())
        .bind(run.username.as_str())
        .bind(run.status.as_str())
        .bind(run.started_at.as_datetime())
        .bind(run.finished_at.map(|t| t.as_datetime()))
        .bind(run.deadline.as_datetime())
        .bind(duration)
        .bind(run.interval_secs)
        .bind(&sensors)
        .bind(run.error_message.as_deref())
        .bind(run.grafana_url.as_deref())
        .bind(key.map(IdempotencyKey::as_str))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(Admission::Admitted)
    }

    async fn get_run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        row.as_ref().map(rows::run).transpose()
    }

    async fn list_runs(
        &self,
        query: &RunQuery,
        now: Timestamp,
    ) -> Result<Page<Run, RunCursor>, StoreError> {
        let now = now.as_datetime();
        let mut sql: QueryBuilder<'_, Postgres> =
            QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM runs WHERE TRUE"));
        if let Some(user) = &query.user {
            sql.push(" AND username = ").push_bind(user.as_str());
        }
        match query.status {
            None => {}
            Some(RunStatus::Running) => {
                sql.push(" AND ").push(HOLDS_CAPACITY).push_bind(now);
            }
            Some(RunStatus::Timeout) => {
                sql.push(" AND (status = 'TIMEOUT' OR (status = 'RUNNING' AND deadline < ")
                    .push_bind(now)
                    .push("))");
            }
            Some(status) => {
                sql.push(" AND status = ").push_bind(status.as_str());
            }
        }
        if let Some(after) = &query.after {
            sql.push(" AND (started_at, id) < (")
                .push_bind(after.started_at.as_datetime())
                .push(", ")
                .push_bind(after.id.as_uuid())
                .push(")");
        }
        sql.push(" ORDER BY started_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(query.limit) + 1);
        let found = sql
            .build()
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(Page::from_overfetch(
            rows::runs(&found)?,
            query.limit,
            Run::cursor,
        ))
    }

    async fn running_runs<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<Vec<Run>, StoreError> {
        let mut sql: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE {HOLDS_CAPACITY}"
        ));
        sql.push_bind(now.as_datetime());
        if let Some(user) = user {
            sql.push(" AND username = ").push_bind(user.as_str());
        }
        sql.push(" ORDER BY started_at DESC, id DESC");
        let found = sql
            .build()
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        rows::runs(&found)
    }

    async fn count_running<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<RunningCount, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS global, count(*) FILTER (WHERE username = $2) AS mine \
             FROM runs WHERE status = 'RUNNING' AND deadline >= $1",
        )
        .bind(now.as_datetime())
        .bind(user.map(Username::as_str))
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(store_error)?;
        Ok(RunningCount {
            global: rows::count(get(&row, "global")?),
            user: match user {
                Some(_) => Some(rows::count(get(&row, "mine")?)),
                None => None,
            },
        })
    }

    async fn finish_run(
        &self,
        id: RunId,
        finish: &Finish,
        now: Timestamp,
    ) -> Result<Option<Run>, StoreError> {
        if finish.status == RunStatus::Running {
            return Err(StoreError::Internal("finish to RUNNING".into()));
        }
        let row = sqlx::query(&format!(
            "UPDATE runs SET status = $2, finished_at = $3, error_message = $4 \
             WHERE id = $1 AND status = 'RUNNING' AND deadline >= $5 \
             RETURNING {RUN_COLUMNS}"
        ))
        .bind(id.as_uuid())
        .bind(finish.status.as_str())
        .bind(finish.finished_at.as_datetime())
        .bind(finish.error_message.as_deref())
        .bind(now.as_datetime())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(store_error)?;
        row.as_ref().map(rows::run).transpose()
    }

    async fn expire_runs(&self, now: Timestamp, max: u32) -> Result<Vec<Run>, StoreError> {
        // SKIP LOCKED: concurrent sweeps split the work; a run being finished right now is
        // locked by that UPDATE and skipped; one finished just before is re-checked and dropped.
        let found = sqlx::query(&format!(
            "UPDATE runs SET status = 'TIMEOUT', finished_at = deadline \
             WHERE status = 'RUNNING' AND id IN ( \
                 SELECT id FROM runs WHERE status = 'RUNNING' AND deadline < $1 \
                 ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING {RUN_COLUMNS}"
        ))
        .bind(now.as_datetime())
        .bind(i64::from(max))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(store_error)?;
        rows::runs(&found)
    }

    async fn purge_runs(&self, cutoff: Timestamp, max: u32) -> Result<u32, StoreError> {
        // Rollups go with their run (ON DELETE CASCADE), readings by the trigger
        // `runs_delete_readings`; SKIP LOCKED lets concurrent sweeps split the work.
        let deleted = sqlx::query(
            "DELETE FROM runs WHERE id IN ( \
                 SELECT id FROM runs WHERE deadline < $1 \
                 ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(cutoff.as_datetime())
        .bind(i64::from(max))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(store_error)?;
        Ok(u32::try_from(deleted.rows_affected()).unwrap_or(u32::MAX))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // Straight to the pool: readiness must not wait behind a long line of requests, and
        // with the gate in front of it, the pool itself has next to nobody waiting.
        let row = sqlx::query("SELECT 1 AS one")
            .fetch_one(self.pool())
            .await
            .map_err(store_error)?;
        match row.try_get::<i32, _>("one") {
            Ok(1) => Ok(()),
            other => Err(bad_row(format!("SELECT 1 answered {other:?}"))),
        }
    }
}
