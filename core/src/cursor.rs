//! Opaque page cursors.
//!
//! A cursor is the keyset position of the last item of a page, written as hex so that clients
//! treat it as an opaque token. Every store reads the same positions, so a cursor means the same
//! thing whatever the backend, and stays valid when items are inserted between page reads.

use crate::error::ValidationError;
use crate::model::{ReadingCursor, ReadingType, RunCursor, RunId, SensorId, Timestamp};

const SEP: char = '/';

fn to_hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) || hex.len() > 512 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

fn invalid() -> ValidationError {
    ValidationError::new("cursor", "is not a cursor returned by this endpoint")
        .with_code("invalid_cursor")
}

impl RunCursor {
    /// The opaque token given to clients.
    pub fn encode(&self) -> String {
        to_hex(&format!(
            "r{SEP}{}{SEP}{}",
            self.started_at.unix_micros(),
            self.id
        ))
    }

    /// Reads a token made by [`RunCursor::encode`].
    ///
    /// # Errors
    /// `invalid_cursor` for anything else.
    pub fn decode(token: &str) -> Result<Self, ValidationError> {
        let text = from_hex(token).ok_or_else(invalid)?;
        let mut parts = text.split(SEP);
        let (Some("r"), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Self {
            started_at: micros
                .parse()
                .ok()
                .and_then(Timestamp::from_unix_micros)
                .ok_or_else(invalid)?,
            id: RunId::parse("cursor", id).map_err(|_| invalid())?,
        })
    }
}

impl ReadingCursor {
    /// The opaque token given to clients.
    pub fn encode(&self) -> String {
        to_hex(&format!(
            "g{SEP}{}{SEP}{}{SEP}{}",
            self.timestamp.unix_micros(),
            self.sensor_id,
            self.kind
        ))
    }

    /// Reads a token made by [`ReadingCursor::encode`].
    ///
    /// # Errors
    /// `invalid_cursor` for anything else.
    pub fn decode(token: &str) -> Result<Self, ValidationError> {
        let text = from_hex(token).ok_or_else(invalid)?;
        let mut parts = text.split(SEP);
        let (Some("g"), Some(micros), Some(sensor), Some(kind), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        Ok(Self {
            timestamp: micros
                .parse()
                .ok()
                .and_then(Timestamp::from_unix_micros)
                .ok_or_else(invalid)?,
            sensor_id: SensorId::parse(sensor).map_err(|_| invalid())?,
            kind: kind.parse::<ReadingType>().map_err(|_| invalid())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_cursors_round_trip() {
        let c = RunCursor {
            started_at: Timestamp::from_unix_micros(1_764_064_800_123_456).unwrap(),
            id: RunId::from_uuid(uuid::Uuid::new_v4()),
        };
        assert_eq!(RunCursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn reading_cursors_round_trip_with_separator_like_sensor_ids() {
        let c = ReadingCursor {
            timestamp: Timestamp::from_unix_micros(42).unwrap(),
            sensor_id: SensorId::parse("room:1.a-b_c").unwrap(),
            kind: ReadingType::Pressure,
        };
        assert_eq!(ReadingCursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn garbage_and_foreign_cursors_are_invalid() {
        assert!(RunCursor::decode("zz").is_err());
        assert!(RunCursor::decode("").is_err());
        let reading = ReadingCursor {
            timestamp: Timestamp::from_unix_micros(42).unwrap(),
            sensor_id: SensorId::parse("s1").unwrap(),
            kind: ReadingType::Humidity,
        };
        assert!(RunCursor::decode(&reading.encode()).is_err());
    }
}
