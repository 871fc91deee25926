//! Opaque page cursors.
//!
//! A cursor is the keyset position of the last item of a page, written as hex so that clients
//! treat it as an opaque token. Every store reads the same positions, so a cursor means the same
//! thing whatever the backend, and stays valid when items are inserted between page reads.
//!
//! Only the exact token [`RunCursor::encode`] or [`ReadingCursor::encode`] makes is accepted (lower
//! case hex, the position written without `+` or leading zeros): one position has one token, and
//! the valid tokens are exactly the strings [`run_cursor_pattern`] and [`reading_cursor_pattern`]
//! match, which is what the API's document tells clients.

use crate::error::ValidationError;
use crate::model::{ReadingCursor, ReadingType, RunCursor, RunId, SensorId, Timestamp};

const SEP: char = '/';

/// A byte of the cursor text, in hex: one of `bytes`.
fn hex_byte_class(bytes: impl IntoIterator<Item = u8>) -> String {
    let alternatives: Vec<String> = bytes.into_iter().map(|b| format!("{b:02x}")).collect();
    format!("(?:{})", alternatives.join("|"))
}

/// The text `literal`, in hex.
fn hex_literal(literal: &str) -> String {
    to_hex(literal)
}

/// One decimal digit from `low` to `high`, in hex.
fn hex_digit(low: u8, high: u8) -> String {
    if low == high {
        format!("3{low}")
    } else {
        format!("3[{low}-{high}]")
    }
}

/// The decimal numbers 1 to `max` as Rust writes them (no sign, no leading zero), in hex: every
/// shorter number, then the numbers as long as `max` that are not above it, digit by digit.
fn hex_up_to(max: u64) -> String {
    let digits: Vec<u8> = max.to_string().bytes().map(|b| b - b'0').collect();
    let any = |n: usize| format!("(?:3[0-9]){{{n}}}");
    let mut alternatives = Vec::new();
    if digits.len() > 1 {
        alternatives.push(format!("3[1-9](?:3[0-9]){{0,{}}}", digits.len() - 2));
    }
    for (i, &d) in digits.iter().enumerate() {
        let low = u8::from(i == 0);
        if d > low {
            let prefix: String = digits[..i].iter().map(|&p| hex_digit(p, p)).collect();
            let rest = digits.len() - i - 1;
            alternatives.push(format!("{prefix}{}{}", hex_digit(low, d - 1), any(rest)));
        }
    }
    alternatives.push(digits.iter().map(|&p| hex_digit(p, p)).collect());
    format!("(?:{})", alternatives.join("|"))
}

/// Microseconds since the epoch of the first and the last [`Timestamp`] (0000-01-01T00:00:00Z and
/// 9999-12-31T23:59:59.999999Z).
const MIN_MICROS: i64 = -62_167_219_200_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// The microseconds of every [`Timestamp`], as Rust writes an `i64`, in hex.
fn hex_micros() -> String {
    format!(
        "(?:30|{}|2d{})",
        hex_up_to(MAX_MICROS.unsigned_abs()),
        hex_up_to(MIN_MICROS.unsigned_abs())
    )
}

/// A lowercase hex digit, in hex.
const HEX_DIGIT: &str = "(?:3[0-9]|6[1-6])";

/// The tokens [`RunCursor::decode`] accepts, as a regular expression (ECMA-262 and Rust syntax).
pub fn run_cursor_pattern() -> String {
    let group = |n: usize| format!("{HEX_DIGIT}{{{n}}}");
    let dash = hex_literal("-");
    format!(
        "^{}{}{}{}{}{dash}{}{dash}{}{dash}{}{dash}{}$",
        hex_literal("r"),
        hex_literal("/"),
        hex_micros(),
        hex_literal("/"),
        group(8),
        group(4),
        group(4),
        group(4),
        group(12),
    )
}

/// The tokens [`ReadingCursor::decode`] accepts, as a regular expression (ECMA-262 and Rust syntax).
pub fn reading_cursor_pattern() -> String {
    let sensor_char = hex_byte_class(
        (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .chain(b'a'..=b'z')
            .chain(*b"._:-"),
    );
    let kinds: Vec<String> = ReadingType::ALL
        .iter()
        .map(|kind| hex_literal(kind.as_str()))
        .collect();
    format!(
        "^{}{}{}{}{sensor_char}{{1,64}}{}(?:{})$",
        hex_literal("g"),
        hex_literal("/"),
        hex_micros(),
        hex_literal("/"),
        hex_literal("/"),
        kinds.join("|"),
    )
}

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

/// `cursor` when `token` is the one its encoding makes (no upper-case hex, `+`, leading zeros).
fn canonical<C>(cursor: C, token: &str, encode: fn(&C) -> String) -> Result<C, ValidationError> {
    if encode(&cursor) == token {
        Ok(cursor)
    } else {
        Err(invalid())
    }
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
        let cursor = Self {
            started_at: micros
                .parse()
                .ok()
                .and_then(Timestamp::from_unix_micros)
                .ok_or_else(invalid)?,
            id: RunId::parse("cursor", id).map_err(|_| invalid())?,
        };
        canonical(cursor, token, Self::encode)
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
        let cursor = Self {
            timestamp: micros
                .parse()
                .ok()
                .and_then(Timestamp::from_unix_micros)
                .ok_or_else(invalid)?,
            sensor_id: SensorId::parse(sensor).map_err(|_| invalid())?,
            kind: kind.parse::<ReadingType>().map_err(|_| invalid())?,
        };
        canonical(cursor, token, Self::encode)
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
    fn the_timestamp_range_ends_where_the_patterns_say() {
        assert!(Timestamp::from_unix_micros(MIN_MICROS).is_some());
        assert!(Timestamp::from_unix_micros(MIN_MICROS - 1).is_none());
        assert!(Timestamp::from_unix_micros(MAX_MICROS).is_some());
        assert!(Timestamp::from_unix_micros(MAX_MICROS + 1).is_none());
    }

    /// Every micros text near the interesting values, valid or not.
    fn micros_texts() -> Vec<String> {
        let mut texts: Vec<String> = ["", "-", "+1", "00", "01", "-0", "-01", "1e3", " 1"]
            .map(String::from)
            .to_vec();
        for edge in [0, 1, 9, 10, 99, MIN_MICROS, MAX_MICROS, i64::MAX / 10] {
            for delta in -11..=11 {
                for sign in [1, -1] {
                    let n = i128::from(edge) * sign + delta;
                    texts.push(n.to_string());
                }
            }
        }
        texts.push(format!("{MAX_MICROS}0"));
        texts
    }

    /// Asserts that `pattern` matches a token exactly when `decodes` accepts it; the number accepted.
    fn matches_exactly(pattern: &str, tokens: &[String], decodes: impl Fn(&str) -> bool) -> usize {
        let pattern = regex_lite::Regex::new(pattern).unwrap();
        let mut accepted = 0;
        for token in tokens {
            let decoded = decodes(token);
            assert_eq!(pattern.is_match(token), decoded, "{token}");
            accepted += usize::from(decoded);
        }
        accepted
    }

    #[test]
    fn the_run_cursor_pattern_matches_exactly_the_tokens_decode_accepts() {
        let id = "0f8e3b4a-9c1d-4e2f-8a7b-6c5d4e3f2a1b";
        let mut tokens: Vec<String> = micros_texts()
            .iter()
            .map(|m| to_hex(&format!("r/{m}/{id}")))
            .collect();
        for bad in [
            to_hex(&format!("r/1/{}", id.to_uppercase())),
            to_hex(&format!("r/1/{id}/")),
            to_hex(&format!("g/1/{id}")),
            to_hex(&format!("r/1/{}", &id[1..])),
            to_hex("r/1/0f8e3b4a9c1d4e2f8a7b6c5d4e3f2a1b"),
            to_hex(&format!("r/1/{id}")).to_uppercase(),
            String::new(),
            "zz".into(),
        ] {
            tokens.push(bad);
        }
        let accepted = matches_exactly(&run_cursor_pattern(), &tokens, |t| {
            RunCursor::decode(t).is_ok()
        });
        assert!(accepted > 100, "{accepted} accepted");
    }

    #[test]
    fn the_reading_cursor_pattern_matches_exactly_the_tokens_decode_accepts() {
        let long = "a".repeat(64);
        let mut tokens: Vec<String> = Vec::new();
        for micros in micros_texts() {
            for sensor in [
                "s1",
                "room:1.A-b_c",
                long.as_str(),
                "",
                "a b",
                &format!("{long}a"),
            ] {
                for kind in ["humidity", "pressure", "temperature", "Humidity", "wind"] {
                    tokens.push(to_hex(&format!("g/{micros}/{sensor}/{kind}")));
                }
            }
        }
        tokens.push(to_hex("g/1/s1/humidity/"));
        tokens.push(to_hex("g/1/s1/humidity").to_uppercase());
        let accepted = matches_exactly(&reading_cursor_pattern(), &tokens, |t| {
            ReadingCursor::decode(t).is_ok()
        });
        assert!(accepted > 1000, "{accepted} accepted");
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
