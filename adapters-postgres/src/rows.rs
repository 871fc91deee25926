//! Rows ↔ domain values: every stored text goes back through the domain's own parser, so a row
//! that breaks a rule surfaces as `Internal` instead of an invalid value.

use iot_core::StoreError;
use iot_core::model::{
    ReadingType, Run, RunId, RunStatus, SensorId, SensorReading, Timestamp, Username,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::error::{bad_row, store_error};

/// Columns of `runs`, in the order [`run`] reads them.
pub(crate) const RUN_COLUMNS: &str = "id, username, status, started_at, finished_at, deadline, \
     duration_secs, interval_secs, sensor_ids, error_message, grafana_url";

/// Columns of `readings`, in the order [`reading`] reads them.
pub(crate) const READING_COLUMNS: &str = "run_id, sensor_id, type, value, ts, username";

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(store_error)
}

/// A `timestamptz` column (whole microseconds, so the conversion is exact).
pub(crate) fn timestamp(row: &PgRow, column: &str) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_datetime_truncating(get::<OffsetDateTime>(
        row, column,
    )?))
}

pub(crate) fn reading_type(text: &str) -> Result<ReadingType, StoreError> {
    text.parse()
        .map_err(|_| bad_row(format!("reading type {text:?}")))
}

pub(crate) fn sensor_id(text: String) -> Result<SensorId, StoreError> {
    SensorId::parse(text).map_err(|e| bad_row(format!("sensor id: {e}")))
}

fn username(text: String) -> Result<Username, StoreError> {
    Username::parse(text).map_err(|e| bad_row(format!("username: {e}")))
}

/// A row of `runs`.
pub(crate) fn run(row: &PgRow) -> Result<Run, StoreError> {
    let status: String = get(row, "status")?;
    let duration: i32 = get(row, "duration_secs")?;
    let finished_at =
        get::<Option<OffsetDateTime>>(row, "finished_at")?.map(Timestamp::from_datetime_truncating);
    Ok(Run {
        id: RunId::from_uuid(get(row, "id")?),
        username: username(get(row, "username")?)?,
        status: status
            .parse::<RunStatus>()
            .map_err(|_| bad_row(format!("run status {status:?}")))?,
        started_at: timestamp(row, "started_at")?,
        finished_at,
        deadline: timestamp(row, "deadline")?,
        duration_secs: u32::try_from(duration)
            .map_err(|_| bad_row(format!("duration_secs {duration}")))?,
        interval_secs: get(row, "interval_secs")?,
        sensor_ids: get::<Vec<String>>(row, "sensor_ids")?
            .into_iter()
            .map(sensor_id)
            .collect::<Result<_, _>>()?,
        error_message: get(row, "error_message")?,
        grafana_url: get(row, "grafana_url")?,
    })
}

/// Rows of `runs`.
pub(crate) fn runs(rows: &[PgRow]) -> Result<Vec<Run>, StoreError> {
    rows.iter().map(run).collect()
}

/// A row of `readings`.
pub(crate) fn reading(row: &PgRow) -> Result<SensorReading, StoreError> {
    let kind: String = get(row, "type")?;
    Ok(SensorReading {
        run_id: RunId::from_uuid(get(row, "run_id")?),
        sensor_id: sensor_id(get(row, "sensor_id")?)?,
        kind: reading_type(&kind)?,
        value: get(row, "value")?,
        timestamp: timestamp(row, "ts")?,
        user: username(get(row, "username")?)?,
    })
}

/// Rows of `readings`.
pub(crate) fn readings(rows: &[PgRow]) -> Result<Vec<SensorReading>, StoreError> {
    rows.iter().map(reading).collect()
}

/// A row count as the ports report it (saturating; counts are never negative).
pub(crate) fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}
