//! Start and finish requests, validated before they reach the service.

use crate::error::ValidationError;
use crate::model::{IdempotencyKey, Run, SensorId};

/// A validated start request.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRun {
    pub(super) sensor_ids: Vec<SensorId>,
    pub(super) duration_secs: u32,
    pub(super) interval_secs: f64,
    pub(super) idempotency_key: Option<IdempotencyKey>,
}

impl StartRun {
    /// Default `duration` in seconds.
    pub const DEFAULT_DURATION: u32 = 60;
    /// Default `interval` in seconds.
    pub const DEFAULT_INTERVAL: f64 = 5.0;

    /// Shortest `interval` in seconds: one millisecond.
    pub const MIN_INTERVAL: f64 = 0.001;

    /// Validates a start request: 1 to 100 unique sensor ids, a duration of 1 to 86400 seconds, an
    /// interval of 0.001 to 3600 seconds.
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
        if !(Self::MIN_INTERVAL..=3600.0).contains(&interval_secs) {
            return Err(ValidationError::new(
                "interval",
                "must be a number of seconds from 0.001 to 3600",
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
    pub(super) fn matches(&self, run: &Run) -> bool {
        run.sensor_ids == self.sensor_ids
            && run.duration_secs == self.duration_secs
            && run.interval_secs == self.interval_secs
    }
}

/// How a run owner finishes a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishRun {
    pub(super) failed: bool,
    pub(super) message: Option<String>,
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

#[cfg(test)]
mod tests {
    //! What a request refuses, and which field it names.

    use super::*;

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
