//! Bounded in-flight work in front of the pool: at most `max_in_flight` calls hold (or wait on)
//! a pooled connection, at most `max_waiting` more wait in line for their turn, first come first
//! served, and a call beyond both is refused at once with [`StoreError::Busy`] (`503` with
//! `Retry-After`) instead of waiting for the pool's acquire timeout. A caller waits at most the
//! queue timeout for its turn, then at most the pool's acquire timeout for its connection (at
//! once, unless the database is slow to connect or down).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iot_core::StoreError;
use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::store_error;

/// Whether a caller may be turned away when the line is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line {
    /// A request: refused at once when `max_waiting` callers are already in line.
    Bounded,
    /// Work that is already bounded elsewhere (the group commit collector): it always queues,
    /// within the queue timeout.
    Always,
}

/// The gate in front of one pool.
#[derive(Debug)]
pub(crate) struct Gate {
    turns: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    queue_timeout: Duration,
}

/// A pooled connection held with its turn; the connection goes back to the pool before the turn
/// passes to the next caller.
#[derive(Debug)]
pub(crate) struct Conn {
    conn: PoolConnection<Postgres>,
    _turn: OwnedSemaphorePermit,
}

impl std::ops::Deref for Conn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Counts a caller in line for as long as it waits.
struct InLine<'a>(&'a AtomicUsize);

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// `max_in_flight` calls at once (at least one), `max_waiting` in line, each waiting at most
    /// `queue_timeout` for its turn.
    pub(crate) fn new(max_in_flight: usize, max_waiting: usize, queue_timeout: Duration) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(max_in_flight.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            queue_timeout,
        }
    }

    /// Waits for a turn, then for a connection of `pool` (within the pool's acquire timeout).
    pub(crate) async fn enter(&self, pool: &PgPool) -> Result<Conn, StoreError> {
        let turn = self.turn(Line::Bounded).await?;
        let conn = pool.acquire().await.map_err(store_error)?;
        Ok(Conn { conn, _turn: turn })
    }

    /// Waits for a turn (refused at once when the line is full and `line` is
    /// [`Line::Bounded`]).
    pub(crate) async fn turn(&self, line: Line) -> Result<OwnedSemaphorePermit, StoreError> {
        let turn = match self.turns.clone().try_acquire_owned() {
            Ok(turn) => turn,
            Err(_) => {
                let before = self.waiting.fetch_add(1, Ordering::AcqRel);
                let in_line = InLine(&self.waiting);
                if line == Line::Bounded && before >= self.max_waiting {
                    return Err(StoreError::Busy(
                        "the database is busy: too many requests waiting for it".into(),
                    ));
                }
                let turn =
                    tokio::time::timeout(self.queue_timeout, self.turns.clone().acquire_owned())
                        .await
                        .map_err(|_| {
                            StoreError::Unavailable("timed out waiting for a database turn".into())
                        })?
                        .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
                drop(in_line);
                turn
            }
        };
        Ok(turn)
    }

    /// Callers waiting in line now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool that never connects: only the gate's own bookkeeping is exercised.
    fn unreachable_pool() -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(50))
            .connect_lazy("postgres://u:p@127.0.0.1:1/db")
            .unwrap()
    }

    #[tokio::test]
    async fn a_full_line_refuses_at_once_and_always_queues_anyway() {
        let gate = Arc::new(Gate::new(1, 1, Duration::from_secs(600)));
        let pool = unreachable_pool();
        // Hold the only turn.
        let held = gate.turns.clone().try_acquire_owned().unwrap();
        let queued = tokio::spawn({
            let (gate, pool) = (gate.clone(), pool.clone());
            async move { gate.enter(&pool).await.map(|_| ()) }
        });
        while gate.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        let refused = gate.enter(&pool).await;
        assert!(
            matches!(&refused, Err(StoreError::Busy(m)) if m.contains("waiting")),
            "{refused:?}"
        );
        let patient = tokio::spawn({
            let gate = gate.clone();
            async move { gate.turn(Line::Always).await.map(|_| ()) }
        });
        while gate.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        assert!(!queued.is_finished() && !patient.is_finished());
        drop(held);
        // Both got their turn; the pool (nothing listens) then fails the request as an outage.
        let outcome = queued.await.unwrap();
        assert!(
            matches!(&outcome, Err(StoreError::Unavailable(_))),
            "{outcome:?}"
        );
        patient.await.unwrap().unwrap();
        assert_eq!(gate.waiting(), 0);
    }

    #[tokio::test]
    async fn a_wait_in_line_is_bounded_by_the_queue_timeout() {
        let gate = Gate::new(1, 8, Duration::from_millis(20));
        let pool = unreachable_pool();
        let _held = gate.turns.clone().try_acquire_owned().unwrap();
        let outcome = gate.enter(&pool).await;
        assert!(
            matches!(&outcome, Err(StoreError::Unavailable(m)) if m.contains("turn")),
            "{outcome:?}"
        );
        assert_eq!(gate.waiting(), 0);
    }
}
