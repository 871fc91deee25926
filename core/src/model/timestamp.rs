//! [`Timestamp`]: an instant in UTC with microsecond precision, and its one textual form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::error::ValidationError;

/// A point in time, in UTC, with microsecond precision.
///
/// It renders as RFC 3339 with a `Z` and exactly six fractional digits
/// (`2026-11-25T10:00:00.000000Z`), so the textual form sorts like the instant itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

const FIXED_MICROS: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

impl Timestamp {
    /// Builds a timestamp from microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .ok()
            .filter(|t| (0..=9999).contains(&t.year()))
            .map(Self)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        // Always exact: construction truncates to whole microseconds and bounds the year.
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
    }

    /// Truncates any instant to microsecond precision (used by clocks, never for client input).
    pub fn from_datetime_truncating(at: OffsetDateTime) -> Self {
        let at = at.to_offset(UtcOffset::UTC);
        let micros = at.unix_timestamp_nanos() / 1_000;
        Self(
            OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    /// Parses a client timestamp: RFC 3339 with any offset, normalised to UTC.
    ///
    /// # Errors
    /// Not RFC 3339, a year outside 0000–9999, or more than six fractional digits (never truncated
    /// silently).
    pub fn parse(field: &'static str, text: &str) -> Result<Self, ValidationError> {
        if fraction_digits(text) > 6 {
            return Err(ValidationError::new(
                field,
                "must have at most 6 fractional digits (microseconds)",
            ));
        }
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
            ValidationError::new(
                field,
                "must be an RFC 3339 timestamp, e.g. 2026-11-25T10:00:00Z",
            )
        })?;
        let utc = parsed.to_offset(UtcOffset::UTC);
        if !(0..=9999).contains(&utc.year()) {
            return Err(ValidationError::new(field, "year must be within 0000-9999"));
        }
        Ok(Self(utc))
    }

    /// The instant `micros` microseconds later (saturating at the representable range).
    #[must_use]
    pub fn plus_micros(&self, micros: i64) -> Self {
        Self(self.0.saturating_add(Duration::microseconds(micros)))
    }

    /// The instant as a `time` value, in UTC.
    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }
}

/// Number of digits after the seconds' decimal point in an RFC 3339 text.
fn fraction_digits(text: &str) -> usize {
    let Some(t_pos) = text.find(['T', 't', ' ']) else {
        return 0;
    };
    let time_part = &text[t_pos..];
    match time_part.find('.') {
        Some(dot) => time_part[dot + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count(),
        None => 0,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(FIXED_MICROS) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl FromStr for Timestamp {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("timestamp", s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse("timestamp", &text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_with_six_fraction_digits_and_z() {
        let t = Timestamp::parse("timestamp", "2026-11-25T11:00:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-25T10:00:00.000000Z");
    }

    #[test]
    fn timestamps_keep_microseconds_exactly() {
        let t = Timestamp::parse("timestamp", "2026-11-25T10:00:00.123456Z").unwrap();
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()), Some(t));
        assert_eq!(t.to_string(), "2026-11-25T10:00:00.123456Z");
    }

    #[test]
    fn timestamps_with_nanoseconds_are_refused_not_truncated() {
        let err = Timestamp::parse("timestamp", "2026-11-25T10:00:00.1234567Z").unwrap_err();
        assert_eq!(err.field, "timestamp");
    }
}
