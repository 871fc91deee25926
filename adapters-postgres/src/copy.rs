//! A batch of new readings through `COPY … FROM STDIN`, PostgreSQL's bulk path: it buffers rows
//! and writes the heap a page at a time (one WAL record per page instead of one per row), where
//! `INSERT … SELECT` writes row by row. Triggers fire as for an `INSERT`, so the statement-level
//! rollup trigger (with its run check) runs once for the whole batch.
//!
//! `COPY` has no `ON CONFLICT`: a taken key fails the whole statement with a unique violation and
//! nothing is kept, which the caller turns into its slower path.

use std::fmt::Write as _;

use iot_core::StoreError;
use iot_core::model::{SensorReading, Timestamp};
use sqlx::postgres::PgConnection;

use crate::error::{is_unique_violation, store_error};
use crate::gate::Conn;
use time::UtcOffset;

/// The statement; rows in PostgreSQL's text format, in the column order below.
const COPY_READINGS: &str =
    "COPY readings (run_id, sensor_id, type, value, ts, username) FROM STDIN";

/// What became of a [`copy_readings`].
pub(crate) enum Copied {
    /// Every reading is stored, and committed.
    Stored,
    /// A key was taken (unique violation): nothing is stored. The connection, for the next try.
    Taken(Conn),
}

/// Stores `readings` in one `COPY`, committed on its own. A taken key (one stored before, or one
/// repeated in `readings`) stores nothing and hands the connection back; a missing run (the
/// rollup's foreign key) stores nothing and fails with `NotFound`.
///
/// The `COPY` runs in a task of its own: a request dropped halfway (its client gone, its deadline
/// passed) must not drop a `COPY` halfway, which would return the connection to the pool in the
/// middle of the copy protocol. The task finishes the `COPY` (the batch is stored, as a retry of
/// it would be) and only then gives the connection back.
pub(crate) async fn copy_readings(
    mut conn: Conn,
    readings: &[SensorReading],
) -> Result<Copied, StoreError> {
    let rows = rows(readings)
        .map_err(|_| StoreError::Internal("a reading did not format for COPY".into()))?;
    let task = tokio::spawn(async move {
        let result = send_rows(&mut conn, rows).await;
        if let Err(e) = &result
            && !matches!(e, sqlx::Error::Database(_))
        {
            // Whatever state the protocol was left in, this connection is not reused.
            conn.close_on_drop();
        }
        (conn, result)
    });
    let (conn, result) = task
        .await
        .map_err(|e| StoreError::Internal(format!("the COPY task failed: {e}")))?;
    match result {
        Ok(()) => Ok(Copied::Stored),
        Err(e) if is_unique_violation(&e) => Ok(Copied::Taken(conn)),
        Err(e) => Err(store_error(e)),
    }
}

async fn send_rows(conn: &mut PgConnection, rows: String) -> Result<(), sqlx::Error> {
    let mut copy = conn.copy_in_raw(COPY_READINGS).await?;
    copy.send(rows.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// The rows of `readings` in key order, `(run_id, ts, sensor_id, type)` with text in byte order
/// (the order of `COLLATE "C"` and of the batch `INSERT`'s `ORDER BY`): two batches sharing keys
/// lock them in the same order, whichever path each takes, and cannot deadlock.
fn rows(readings: &[SensorReading]) -> Result<String, std::fmt::Error> {
    let mut ordered: Vec<&SensorReading> = readings.iter().collect();
    ordered.sort_unstable_by(|a, b| {
        (a.run_id, a.timestamp, a.sensor_id.as_str(), a.kind.as_str()).cmp(&(
            b.run_id,
            b.timestamp,
            b.sensor_id.as_str(),
            b.kind.as_str(),
        ))
    });
    let mut out = String::with_capacity(readings.len() * 112);
    for r in ordered {
        write!(out, "{}\t", r.run_id.as_uuid())?;
        push_field(&mut out, r.sensor_id.as_str());
        write!(out, "\t{}\t{}\t", r.kind.as_str(), r.value)?;
        push_timestamp(&mut out, r.timestamp)?;
        out.push('\t');
        push_field(&mut out, r.user.as_str());
        out.push('\n');
    }
    Ok(out)
}

/// `at` as PostgreSQL reads a `timestamptz`, in UTC to the microsecond. PostgreSQL counts no
/// year 0: the domain's year 0000 (ISO 8601) is its 1 BC.
fn push_timestamp(out: &mut String, at: Timestamp) -> std::fmt::Result {
    let t = at.as_datetime().to_offset(UtcOffset::UTC);
    let (year, era) = match t.year() {
        year if year > 0 => (year, ""),
        year => (1 - year, " BC"),
    };
    write!(
        out,
        "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00{era}",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// `value` as a text-format field: backslash, tab, newline and carriage return escaped.
fn push_field(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_core::model::{ReadingType, RunId, SensorId, Timestamp, Username};

    fn reading(sensor: &str, micros: i64, value: f64) -> SensorReading {
        SensorReading {
            run_id: RunId::from_uuid(uuid::Uuid::nil()),
            sensor_id: SensorId::parse(sensor).unwrap(),
            kind: ReadingType::Temperature,
            value,
            timestamp: Timestamp::from_unix_micros(micros).unwrap(),
            user: Username::parse("alice").unwrap(),
        }
    }

    #[test]
    fn rows_are_in_key_order_with_exact_values() {
        let text = rows(&[
            reading("b", 1_800_000_000_000_001, 0.1),
            reading("a", 1_800_000_000_000_001, -1e-7),
            reading("z", 1_800_000_000_000_000, 21.5),
        ])
        .unwrap();
        let nil = uuid::Uuid::nil();
        assert_eq!(
            text,
            format!(
                "{nil}\tz\ttemperature\t21.5\t2027-01-15 08:00:00.000000+00\talice\n\
                 {nil}\ta\ttemperature\t-0.0000001\t2027-01-15 08:00:00.000001+00\talice\n\
                 {nil}\tb\ttemperature\t0.1\t2027-01-15 08:00:00.000001+00\talice\n"
            )
        );
    }

    #[test]
    fn year_zero_is_one_bc() {
        let mut out = String::new();
        let at = Timestamp::parse("t", "0000-03-01T12:34:56.000001Z").unwrap();
        push_timestamp(&mut out, at).unwrap();
        assert_eq!(out, "0001-03-01 12:34:56.000001+00 BC");
    }

    #[test]
    fn fields_escape_what_the_text_format_reserves() {
        let mut out = String::new();
        push_field(&mut out, "a\\b\tc\nd\re");
        assert_eq!(out, "a\\\\b\\tc\\nd\\re");
    }
}
