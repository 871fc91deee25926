//! The in-memory store: the embedded default of `app-ecs`, the store of library users and unit
//! tests, and the reference implementation of the storage ports.
//!
//! One mutex guards everything, which makes every port method trivially atomic; fine for a single
//! process, which is the only place this store can live.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::error::{StoreError, conflict_detail};
use crate::model::{
    IdempotencyKey, Page, ReadingCursor, ReadingType, Run, RunCursor, RunId, RunStatus, SensorId,
    SensorReading, SensorSummary, Timestamp, Username,
};
use crate::ports::{
    Admission, CapacityLimits, Finish, Inserted, ReadingQuery, ReadingStore, RunInsert, RunQuery,
    RunStore, RunningCount,
};

type ReadingOrder = (Timestamp, SensorId, ReadingType);

fn order(reading: &SensorReading) -> ReadingOrder {
    (reading.timestamp, reading.sensor_id.clone(), reading.kind)
}

#[derive(Debug, Default)]
struct State {
    runs: HashMap<RunId, Run>,
    /// Idempotency keys of starts, per user, with the run each created (kept as long as runs).
    idempotency_keys: HashMap<(Username, IdempotencyKey), RunId>,
    /// Per run, readings in listing order: (timestamp, sensorId, type).
    readings: HashMap<RunId, BTreeMap<ReadingOrder, SensorReading>>,
}

/// Runs and readings kept in process memory.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated (each method mutates
        // after all checks), so the data of a poisoned mutex is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn run_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[async_trait]
impl RunStore for InMemoryStore {
    async fn create_run<'k>(
        &self,
        run: &Run,
        limits: CapacityLimits,
        now: Timestamp,
        key: Option<&'k IdempotencyKey>,
    ) -> Result<Admission, StoreError> {
        let mut state = self.lock();
        let key = key.map(|k| (run.username.clone(), k.clone()));
        if let Some(earlier) = key.as_ref().and_then(|k| state.idempotency_keys.get(k)) {
            return Ok(Admission::Replayed(*earlier));
        }
        if state.runs.contains_key(&run.id) {
            return Err(StoreError::AlreadyExists);
        }
        let running: Vec<&Run> = state
            .runs
            .values()
            .filter(|r| r.is_running_at(now))
            .collect();
        let global = run_count(running.len());
        let user = run_count(
            running
                .iter()
                .filter(|r| r.username == run.username)
                .count(),
        );
        if let Some(exhausted) = limits.refusal(global, user) {
            return Ok(Admission::Refused(exhausted));
        }
        state.runs.insert(run.id, run.clone());
        if let Some(key) = key {
            state.idempotency_keys.insert(key, run.id);
        }
        Ok(Admission::Admitted)
    }

    async fn get_run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        Ok(self.lock().runs.get(&id).cloned())
    }

    async fn list_runs(
        &self,
        query: &RunQuery,
        now: Timestamp,
    ) -> Result<Page<Run, RunCursor>, StoreError> {
        let state = self.lock();
        let mut runs: Vec<Run> = state
            .runs
            .values()
            .filter(|r| query.user.as_ref().is_none_or(|u| &r.username == u))
            .filter(|r| query.status.is_none_or(|s| r.status_at(now) == s))
            .filter(|r| query.after.as_ref().is_none_or(|c| c.is_before(r)))
            .cloned()
            .collect();
        runs.sort_by(Run::newest_first);
        runs.truncate(query.limit as usize + 1);
        Ok(Page::from_overfetch(runs, query.limit, Run::cursor))
    }

    async fn running_runs<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<Vec<Run>, StoreError> {
        let state = self.lock();
        let mut runs: Vec<Run> = state
            .runs
            .values()
            .filter(|r| r.is_running_at(now) && user.is_none_or(|u| &r.username == u))
            .cloned()
            .collect();
        runs.sort_by(Run::newest_first);
        Ok(runs)
    }

    async fn count_running<'u>(
        &self,
        now: Timestamp,
        user: Option<&'u Username>,
    ) -> Result<RunningCount, StoreError> {
        let state = self.lock();
        let running = || state.runs.values().filter(|r| r.is_running_at(now));
        Ok(RunningCount {
            global: run_count(running().count()),
            user: user.map(|u| run_count(running().filter(|r| &r.username == u).count())),
        })
    }

    async fn finish_run(
        &self,
        id: RunId,
        finish: &Finish,
        now: Timestamp,
    ) -> Result<Option<Run>, StoreError> {
        let mut state = self.lock();
        let Some(run) = state.runs.get_mut(&id).filter(|r| r.is_running_at(now)) else {
            return Ok(None);
        };
        run.status = finish.status;
        run.finished_at = Some(finish.finished_at);
        run.error_message.clone_from(&finish.error_message);
        Ok(Some(run.clone()))
    }

    async fn expire_runs(&self, now: Timestamp, max: u32) -> Result<Vec<Run>, StoreError> {
        let mut state = self.lock();
        let expired = state
            .runs
            .values_mut()
            .filter(|run| run.status == RunStatus::Running && now > run.deadline)
            .take(max as usize)
            .map(|run| {
                run.status = RunStatus::Timeout;
                run.finished_at = Some(run.deadline);
                run.clone()
            })
            .collect();
        Ok(expired)
    }

    async fn purge_runs(&self, cutoff: Timestamp, max: u32) -> Result<u32, StoreError> {
        let mut state = self.lock();
        let doomed: Vec<RunId> = state
            .runs
            .values()
            .filter(|run| run.deadline < cutoff)
            .take(max as usize)
            .map(|run| run.id)
            .collect();
        for id in &doomed {
            state.runs.remove(id);
            state.readings.remove(id);
        }
        state.idempotency_keys.retain(|_, id| !doomed.contains(id));
        Ok(run_count(doomed.len()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl ReadingStore for InMemoryStore {
    async fn insert_reading(&self, reading: &SensorReading) -> Result<Inserted, StoreError> {
        Ok(insert(&mut self.lock(), reading))
    }

    async fn insert_into_running_run(
        &self,
        reading: &SensorReading,
        now: Timestamp,
    ) -> Result<RunInsert, StoreError> {
        // One lock for check and insert: a finish cannot come between them.
        let mut state = self.lock();
        let allowed = state.runs.get(&reading.run_id).is_some_and(|run| {
            run.username == reading.user
                && run.is_running_at(now)
                && run.has_sensor(&reading.sensor_id)
        });
        if !allowed {
            return Ok(RunInsert::Refused);
        }
        Ok(RunInsert::Checked(insert(&mut state, reading)))
    }

    async fn insert_readings(&self, readings: &[SensorReading]) -> Result<Vec<bool>, StoreError> {
        let mut state = self.lock();
        let mut is_new = Vec::with_capacity(readings.len());
        for reading in readings {
            let stored = state
                .readings
                .get(&reading.run_id)
                .and_then(|run| run.get(&order(reading)));
            match stored {
                Some(stored) if stored.same_value_as(reading) => is_new.push(false),
                Some(_) => return Err(StoreError::Conflict(conflict_detail(reading))),
                None => is_new.push(true),
            }
        }
        // All checks passed: write, so that a conflict above left nothing behind.
        for (reading, _) in readings.iter().zip(&is_new).filter(|(_, new)| **new) {
            let run = state.readings.entry(reading.run_id).or_default();
            run.insert(order(reading), reading.clone());
        }
        Ok(is_new)
    }

    async fn list_readings(
        &self,
        query: &ReadingQuery,
    ) -> Result<Page<SensorReading, ReadingCursor>, StoreError> {
        let state = self.lock();
        let items: Vec<SensorReading> = run_readings(&state, query.run_id)
            .filter(|r| query.sensor_id.as_ref().is_none_or(|s| &r.sensor_id == s))
            .filter(|r| query.kind.is_none_or(|k| r.kind == k))
            .filter(|r| query.from.is_none_or(|from| r.timestamp >= from))
            .filter(|r| query.to.is_none_or(|to| r.timestamp < to))
            .filter(|r| query.after.as_ref().is_none_or(|c| c.is_before(r)))
            .take(query.limit as usize + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(
            items,
            query.limit,
            SensorReading::cursor,
        ))
    }

    async fn latest_readings<'s>(
        &self,
        run_id: RunId,
        sensor_id: Option<&'s SensorId>,
        limit: u32,
    ) -> Result<Vec<SensorReading>, StoreError> {
        let state = self.lock();
        Ok(run_readings(&state, run_id)
            .rev()
            .filter(|r| sensor_id.is_none_or(|s| &r.sensor_id == s))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn summarize(&self, run_id: RunId) -> Result<Vec<SensorSummary>, StoreError> {
        let state = self.lock();
        let mut groups: BTreeMap<(&SensorId, ReadingType), Vec<&SensorReading>> = BTreeMap::new();
        for r in run_readings(&state, run_id) {
            groups.entry((&r.sensor_id, r.kind)).or_default().push(r);
        }
        Ok(groups
            .into_values()
            .filter_map(SensorSummary::fold)
            .collect())
    }
}

/// Stores `reading` unless its key is taken.
fn insert(state: &mut State, reading: &SensorReading) -> Inserted {
    let run = state.readings.entry(reading.run_id).or_default();
    match run.entry(order(reading)) {
        Entry::Occupied(stored) => Inserted::Existing(stored.get().clone()),
        Entry::Vacant(slot) => {
            slot.insert(reading.clone());
            Inserted::New
        }
    }
}

/// The readings of one run, in listing order.
fn run_readings(state: &State, run_id: RunId) -> impl DoubleEndedIterator<Item = &SensorReading> {
    state
        .readings
        .get(&run_id)
        .into_iter()
        .flat_map(BTreeMap::values)
}
