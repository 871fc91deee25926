//! Reading ingestion (one at a time or in batches, idempotent on client timestamps) and
//! read-back.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::{MAX_LIMIT, RunService, check_limit, timed, validation};
use crate::error::{ServiceError, StoreError, ValidationError, conflict_detail};
use crate::model::{
    Page, ReadingCursor, ReadingType, RunId, SensorId, SensorReading, SensorSummary, Timestamp,
    Username,
};
use crate::ports::{Clock, Inserted, Metrics, ReadingQuery, ReadingStore, RunInsert};

/// A reading as sent by a client, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    sensor_id: SensorId,
    kind: ReadingType,
    value: f64,
    timestamp: Option<Timestamp>,
}

impl NewReading {
    /// Validates one reading: known type, finite value within the type's range and either 0 or at
    /// least [`ReadingType::SMALLEST_MAGNITUDE`] in magnitude, timestamp of at most microsecond
    /// precision.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `sensorId`, `type`, `reading` or `timestamp`.
    pub fn new(
        sensor_id: &str,
        kind: &str,
        value: f64,
        timestamp: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let sensor_id = SensorId::parse(sensor_id)?;
        let kind: ReadingType = kind.parse()?;
        let (low, high) = kind.range();
        if !value.is_finite() || value < low || value > high {
            return Err(ValidationError::new(
                "reading",
                format!("must be a finite number between {low} and {high} for {kind}"),
            ));
        }
        if value != 0.0 && value.abs() < ReadingType::SMALLEST_MAGNITUDE {
            return Err(ValidationError::new(
                "reading",
                "must be 0 or at least 1e-130 in magnitude",
            ));
        }
        let timestamp = timestamp
            .map(|t| Timestamp::parse("timestamp", t))
            .transpose()?;
        Ok(Self {
            sensor_id,
            kind,
            value,
            timestamp,
        })
    }

    /// The sensor.
    pub fn sensor_id(&self) -> &SensorId {
        &self.sensor_id
    }
}

/// Result of ingesting one reading.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// Newly stored (`201`).
    Created(SensorReading),
    /// The same reading was already stored (`200`): a safe retry.
    Replayed(SensorReading),
}

/// Result of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchOutcome {
    /// Readings newly stored.
    pub accepted: u32,
    /// Readings not stored because already stored, or repeated in the batch, with the same value.
    pub duplicates: u32,
}

/// Tries before giving up on finding a free server timestamp (each try moves 1 µs later).
const SERVER_TIMESTAMP_TRIES: i64 = 16;

/// Turns client-stamped readings into stored readings with distinct keys: a key repeated with the
/// same value counts once (the repeats are returned as a count), with another value is invalid.
fn dedupe_client_stamped(
    user: &Username,
    run_id: RunId,
    readings: Vec<(usize, NewReading)>,
) -> Result<(Vec<SensorReading>, u32), ServiceError> {
    let mut unique: Vec<SensorReading> = Vec::with_capacity(readings.len());
    let mut seen: HashMap<(Timestamp, SensorId, ReadingType), usize> = HashMap::new();
    let mut repeats = 0u32;
    for (i, r) in readings {
        let Some(timestamp) = r.timestamp else {
            continue;
        };
        let reading = SensorReading {
            run_id,
            sensor_id: r.sensor_id,
            kind: r.kind,
            value: r.value,
            timestamp,
            user: user.clone(),
        };
        match seen.entry((timestamp, reading.sensor_id.clone(), reading.kind)) {
            Entry::Occupied(first) if unique[*first.get()].same_value_as(&reading) => repeats += 1,
            Entry::Occupied(_) => {
                return Err(validation(
                    &format!("readings[{i}]"),
                    "repeats the key (sensorId, type, timestamp) of an earlier reading with a different value",
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(unique.len());
                unique.push(reading);
            }
        }
    }
    Ok((unique, repeats))
}

/// Reading ingestion and read-back.
#[derive(Clone)]
pub struct ReadingService {
    runs: RunService,
    readings: Arc<dyn ReadingStore>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ReadingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadingService").finish_non_exhaustive()
    }
}

impl ReadingService {
    /// Wires the service; run checks go through `runs`, whose metrics and clock it shares.
    pub fn new(runs: RunService, readings: Arc<dyn ReadingStore>) -> Self {
        let (metrics, clock) = runs.shared_ports();
        Self {
            runs,
            readings,
            metrics,
            clock,
        }
    }

    /// Ingests one reading into `user`'s running run.
    ///
    /// A reading with a client timestamp is idempotent: the same key and value again is
    /// [`Ingested::Replayed`]; another value is `ReadingConflict`. Without a timestamp the server
    /// assigns a fresh one, unique per (run, sensor, type).
    ///
    /// # Errors
    /// `RunNotFound`, `RunNotRunning`, `UnknownSensor`, `ReadingConflict`, `Store`.
    pub async fn ingest(
        &self,
        user: &Username,
        run_id: RunId,
        reading: NewReading,
    ) -> Result<Ingested, ServiceError> {
        let client_timestamp = reading.timestamp;
        let now = self.clock.now();
        let mut stored = SensorReading {
            run_id,
            sensor_id: reading.sensor_id,
            kind: reading.kind,
            value: reading.value,
            timestamp: client_timestamp.unwrap_or(now),
            user: user.clone(),
        };
        // The run check travels with the insert; why a refused reading was refused is worked
        // out only then.
        for _ in 0..SERVER_TIMESTAMP_TRIES {
            match timed(
                &*self.metrics,
                "insert_reading",
                self.readings.insert_into_running_run(&stored, now),
            )
            .await?
            {
                RunInsert::Refused => return Err(self.refusal(user, &stored).await),
                RunInsert::Checked(Inserted::New) => {
                    self.metrics
                        .readings_ingested(std::slice::from_ref(&stored));
                    return Ok(Ingested::Created(stored));
                }
                RunInsert::Checked(Inserted::Existing(existing)) if client_timestamp.is_some() => {
                    return if existing.same_value_as(&stored) {
                        Ok(Ingested::Replayed(existing))
                    } else {
                        Err(ServiceError::ReadingConflict(conflict_detail(&stored)))
                    };
                }
                // Two server-stamped readings in the same microsecond: take the next one.
                RunInsert::Checked(Inserted::Existing(_)) => {
                    stored.timestamp = stored.timestamp.plus_micros(1);
                }
            }
        }
        Err(ServiceError::Store(StoreError::Internal(
            "no free server timestamp for the reading".into(),
        )))
    }

    /// Why the store refused `reading`: the run is missing or someone else's, not running, or
    /// without the sensor, checked in that order.
    async fn refusal(&self, user: &Username, reading: &SensorReading) -> ServiceError {
        match self.runs.running_run_of(user, reading.run_id).await {
            Err(e) => e,
            Ok(run) if !run.has_sensor(&reading.sensor_id) => ServiceError::UnknownSensor {
                sensor_id: reading.sensor_id.clone(),
            },
            Ok(_) => ServiceError::Store(StoreError::Internal(
                "the store refused a reading into a running run".into(),
            )),
        }
    }

    /// Ingests a batch into `user`'s running run, all or nothing.
    ///
    /// # Errors
    /// `Invalid` for an empty or oversized batch or a key repeated with different values;
    /// `RunNotFound`, `RunNotRunning`, `UnknownSensor`, `ReadingConflict`, `Store`.
    pub async fn ingest_batch(
        &self,
        user: &Username,
        run_id: RunId,
        readings: Vec<NewReading>,
    ) -> Result<BatchOutcome, ServiceError> {
        if readings.is_empty() || readings.len() > MAX_LIMIT as usize {
            return Err(validation(
                "readings",
                "must hold between 1 and 1000 readings",
            ));
        }
        let run = self.runs.running_run_of(user, run_id).await?;
        if let Some(unknown) = readings.iter().find(|r| !run.has_sensor(&r.sensor_id)) {
            return Err(ServiceError::UnknownSensor {
                sensor_id: unknown.sensor_id.clone(),
            });
        }
        let (client_stamped, server_stamped): (Vec<_>, Vec<_>) = readings
            .into_iter()
            .enumerate()
            .partition(|(_, r)| r.timestamp.is_some());
        let server_stamped = server_stamped.into_iter().map(|(_, r)| r).collect();
        let (unique, repeats) = dedupe_client_stamped(user, run_id, client_stamped)?;
        // Client-stamped readings first, all or nothing: a conflict there is the client's.
        let is_new = timed(
            &*self.metrics,
            "insert_readings",
            self.readings.insert_readings(&unique),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(detail) => ServiceError::ReadingConflict(detail),
            other => ServiceError::Store(other),
        })?;
        let mut stored: Vec<SensorReading> = unique
            .into_iter()
            .zip(&is_new)
            .filter_map(|(r, new)| new.then_some(r))
            .collect();
        let duplicates = u32::try_from(is_new.len() - stored.len()).unwrap_or(u32::MAX) + repeats;
        stored.extend(
            self.insert_server_stamped(user, run_id, server_stamped)
                .await?,
        );
        if !stored.is_empty() {
            self.metrics.readings_ingested(&stored);
        }
        Ok(BatchOutcome {
            accepted: u32::try_from(stored.len()).unwrap_or(u32::MAX),
            duplicates,
        })
    }

    /// Stores readings without a client timestamp under fresh server timestamps: one instant for
    /// the batch, 1 µs apart within a (sensor, type). A key found taken (by an earlier request in
    /// the same microsecond) is moved on by 1 µs and tried again, so nothing is lost or merged.
    async fn insert_server_stamped(
        &self,
        user: &Username,
        run_id: RunId,
        readings: Vec<NewReading>,
    ) -> Result<Vec<SensorReading>, ServiceError> {
        let now = self.clock.now();
        let mut offsets: HashMap<(SensorId, ReadingType), i64> = HashMap::new();
        let mut pending: Vec<SensorReading> = readings
            .into_iter()
            .map(|r| {
                let offset = offsets.entry((r.sensor_id.clone(), r.kind)).or_insert(-1);
                *offset += 1;
                SensorReading {
                    run_id,
                    sensor_id: r.sensor_id,
                    kind: r.kind,
                    value: r.value,
                    timestamp: now.plus_micros(*offset),
                    user: user.clone(),
                }
            })
            .collect();
        let mut stored = Vec::with_capacity(pending.len());
        for _ in 0..SERVER_TIMESTAMP_TRIES {
            if pending.is_empty() {
                return Ok(stored);
            }
            // Past the largest offset, so moved readings cannot meet each other.
            let shift = i64::try_from(pending.len()).unwrap_or(i64::MAX);
            match timed(
                &*self.metrics,
                "insert_readings",
                self.readings.insert_readings(&pending),
            )
            .await
            {
                Ok(is_new) => {
                    let mut taken = Vec::new();
                    for (reading, new) in pending.into_iter().zip(is_new) {
                        if new {
                            stored.push(reading);
                        } else {
                            taken.push(reading);
                        }
                    }
                    pending = taken;
                }
                Err(StoreError::Conflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
            for reading in &mut pending {
                reading.timestamp = reading.timestamp.plus_micros(shift);
            }
        }
        if pending.is_empty() {
            Ok(stored)
        } else {
            Err(StoreError::Internal("no free server timestamps for the batch".into()).into())
        }
    }

    /// One page of a run's readings, ascending.
    ///
    /// # Errors
    /// `limit` out of range; `RunNotFound`; `Store`.
    pub async fn list(
        &self,
        query: ReadingQuery,
    ) -> Result<Page<SensorReading, ReadingCursor>, ServiceError> {
        check_limit(query.limit)?;
        self.runs.fetch(query.run_id).await?;
        Ok(timed(
            &*self.metrics,
            "list_readings",
            self.readings.list_readings(&query),
        )
        .await?)
    }

    /// The newest readings of a run, newest first.
    ///
    /// # Errors
    /// `limit` out of range; `RunNotFound`; `Store`.
    pub async fn latest(
        &self,
        run_id: RunId,
        sensor_id: Option<&SensorId>,
        limit: u32,
    ) -> Result<Vec<SensorReading>, ServiceError> {
        check_limit(limit)?;
        self.runs.fetch(run_id).await?;
        Ok(timed(
            &*self.metrics,
            "latest_readings",
            self.readings.latest_readings(run_id, sensor_id, limit),
        )
        .await?)
    }

    /// Per sensor and type: count, min, max, avg, first, last.
    ///
    /// # Errors
    /// `RunNotFound`; `Store`.
    pub async fn summary(&self, run_id: RunId) -> Result<Vec<SensorSummary>, ServiceError> {
        self.runs.fetch(run_id).await?;
        Ok(timed(&*self.metrics, "summarize", self.readings.summarize(run_id)).await?)
    }
}

#[cfg(test)]
mod tests {
    //! Reading rules in isolation, with mocked ports: what the service asks of the stores and
    //! what it makes of the answers.

    use std::sync::Arc;

    use mockall::predicate::always;

    use super::*;
    use crate::ports::{MockMetrics, MockReadingStore, MockRunStore};
    use crate::service::fixtures::{alice, now, quiet_metrics, run_id, run_service, running};

    fn readings_service(readings: MockReadingStore, metrics: MockMetrics) -> ReadingService {
        let mut runs = MockRunStore::new();
        runs.expect_get_run()
            .returning(|_| Ok(Some(running("alice"))));
        ReadingService::new(run_service(runs, metrics), Arc::new(readings))
    }

    fn stored(value: f64, micros: i64) -> SensorReading {
        SensorReading {
            run_id: run_id(),
            sensor_id: SensorId::parse("s1").unwrap(),
            kind: ReadingType::Temperature,
            value,
            timestamp: now().plus_micros(micros),
            user: alice(),
        }
    }

    #[tokio::test]
    async fn a_replay_returns_the_stored_reading_and_counts_nothing() {
        let mut readings = MockReadingStore::new();
        readings
            .expect_insert_into_running_run()
            .returning(|_, _| Ok(RunInsert::Checked(Inserted::Existing(stored(21.5, 0)))));
        let mut metrics = quiet_metrics();
        metrics.expect_readings_ingested().never();
        let at = now().to_string();
        let reading = NewReading::new("s1", "temperature", 21.5, Some(&at)).unwrap();
        let result = readings_service(readings, metrics)
            .ingest(&alice(), run_id(), reading)
            .await;
        assert_eq!(result, Ok(Ingested::Replayed(stored(21.5, 0))));
    }

    #[tokio::test]
    async fn a_taken_server_timestamp_moves_on_by_one_microsecond() {
        let mut readings = MockReadingStore::new();
        let mut seq = mockall::Sequence::new();
        readings
            .expect_insert_into_running_run()
            .withf(|r, at| r.timestamp == now() && *at == now())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(RunInsert::Checked(Inserted::Existing(stored(20.0, 0)))));
        readings
            .expect_insert_into_running_run()
            .withf(|r, at| r.timestamp == now().plus_micros(1) && *at == now())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(RunInsert::Checked(Inserted::New)));
        let mut metrics = quiet_metrics();
        metrics
            .expect_readings_ingested()
            .times(1)
            .returning(|_| ());
        let reading = NewReading::new("s1", "temperature", 21.0, None).unwrap();
        let result = readings_service(readings, metrics)
            .ingest(&alice(), run_id(), reading)
            .await;
        assert_eq!(result, Ok(Ingested::Created(stored(21.0, 1))));
    }

    #[tokio::test]
    async fn a_refused_reading_is_explained_from_the_run() {
        for (owner, sensor, expected) in [
            ("bob", "s1", ServiceError::RunNotFound(run_id())),
            (
                "alice",
                "s9",
                ServiceError::UnknownSensor {
                    sensor_id: SensorId::parse("s9").unwrap(),
                },
            ),
        ] {
            let mut runs = MockRunStore::new();
            runs.expect_get_run()
                .times(1)
                .returning(move |_| Ok(Some(running(owner))));
            let mut readings = MockReadingStore::new();
            readings
                .expect_insert_into_running_run()
                .times(1)
                .returning(|_, _| Ok(RunInsert::Refused));
            let mut metrics = quiet_metrics();
            metrics.expect_readings_ingested().never();
            let service = ReadingService::new(run_service(runs, metrics), Arc::new(readings));
            let reading = NewReading::new(sensor, "temperature", 21.0, None).unwrap();
            let result = service.ingest(&alice(), run_id(), reading).await;
            assert_eq!(result, Err(expected));
        }
    }

    #[tokio::test]
    async fn an_accepted_reading_costs_no_run_read() {
        let mut runs = MockRunStore::new();
        runs.expect_get_run().never();
        let mut readings = MockReadingStore::new();
        readings
            .expect_insert_into_running_run()
            .times(1)
            .returning(|_, _| Ok(RunInsert::Checked(Inserted::New)));
        let mut metrics = quiet_metrics();
        metrics
            .expect_readings_ingested()
            .times(1)
            .returning(|_| ());
        let service = ReadingService::new(run_service(runs, metrics), Arc::new(readings));
        let reading = NewReading::new("s1", "temperature", 21.0, None).unwrap();
        let result = service.ingest(&alice(), run_id(), reading).await;
        assert_eq!(result, Ok(Ingested::Created(stored(21.0, 0))));
    }

    #[tokio::test]
    async fn a_batch_conflict_is_a_reading_conflict_and_counts_nothing() {
        let mut readings = MockReadingStore::new();
        readings
            .expect_insert_readings()
            .with(always())
            .returning(|_| Err(StoreError::Conflict("taken".into())));
        let mut metrics = quiet_metrics();
        metrics.expect_readings_ingested().never();
        let at = now().to_string();
        let batch = vec![NewReading::new("s1", "temperature", 20.0, Some(&at)).unwrap()];
        let result = readings_service(readings, metrics)
            .ingest_batch(&alice(), run_id(), batch)
            .await;
        assert_eq!(result, Err(ServiceError::ReadingConflict("taken".into())));
    }
}
