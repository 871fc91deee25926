//! Export of a run's readings as CSV or NDJSON, streamed page by page from the store.
//!
//! `GET /api/runs/{id}/readings` answers these formats when the `Accept` header asks for them.
//! The first page is read before the response starts, so a bad request or a missing run still
//! gets its JSON error; the following pages are read only as the client consumes the body, so
//! memory stays flat whatever the size of the run. A store failure after the first page ends the
//! body early (the client sees a truncated transfer, never a silently short file that looks
//! complete: the connection is aborted).

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iot_core::model::{Page, ReadingCursor, SensorReading};
use iot_core::ports::ReadingQuery;
use iot_core::service::ReadingService;

use crate::dto::ReadingJson;
use crate::error::{ApiError, ApiResult};

/// Readings per store page while exporting: small enough that one DynamoDB `Query` page stays
/// well within the SDK's attempt timeout, large enough that PostgreSQL round trips stay cheap.
pub const EXPORT_PAGE: u32 = 250;

/// A streamed representation of a run's readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row, CRLF line ends.
    Csv,
    /// One JSON reading per line.
    Ndjson,
}

/// CSV columns, the JSON field names of a reading.
const CSV_HEADER: [&str; 6] = ["runId", "sensorId", "type", "reading", "timestamp", "user"];

impl ExportFormat {
    /// The export format the `Accept` header asks for, if any (JSON otherwise).
    pub fn from_accept(headers: &HeaderMap) -> Option<Self> {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|media| {
                media
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect::<Vec<_>>();
        accept.iter().find_map(|media| match media.as_str() {
            "text/csv" => Some(Self::Csv),
            "application/x-ndjson" => Some(Self::Ndjson),
            _ => None,
        })
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8; header=present",
            Self::Ndjson => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }

    /// The bytes of one page (the CSV header row first when `first`).
    fn encode(self, readings: Vec<SensorReading>, first: bool) -> Result<Bytes, std::io::Error> {
        match self {
            Self::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(Vec::with_capacity(readings.len() * 96 + 64));
                if first {
                    csv.write_record(CSV_HEADER)?;
                }
                for reading in readings {
                    let r = ReadingJson::from(reading);
                    let value = r.reading.to_string();
                    csv.write_record([
                        &r.run_id,
                        &r.sensor_id,
                        &r.kind,
                        &value,
                        &r.timestamp,
                        &r.user,
                    ])?;
                }
                csv.into_inner()
                    .map(Bytes::from)
                    .map_err(|e| std::io::Error::other(e.to_string()))
            }
            Self::Ndjson => {
                let mut out = Vec::with_capacity(readings.len() * 160);
                for reading in readings {
                    serde_json::to_writer(&mut out, &ReadingJson::from(reading))?;
                    out.push(b'\n');
                }
                Ok(Bytes::from(out))
            }
        }
    }
}

enum Step {
    Emit(Page<SensorReading, ReadingCursor>, ReadingQuery, bool),
    Fetch(ReadingQuery),
    Done,
}

/// The response streaming every reading of `query` (from its `after` position on) as `format`.
///
/// # Errors
/// What reading the first page fails with (`400`, `404`, `503`…), before anything is sent.
pub async fn respond(
    readings: ReadingService,
    mut query: ReadingQuery,
    format: ExportFormat,
) -> ApiResult<Response> {
    query.limit = EXPORT_PAGE;
    let first = readings.list(query.clone()).await.map_err(ApiError::read)?;
    let file = format!("run-{}.{}", query.run_id, format.extension());
    let pages = futures::stream::unfold(Step::Emit(first, query, true), move |state| {
        let readings = readings.clone();
        async move {
            let (page, mut query, first) = match state {
                Step::Done => return None,
                Step::Emit(page, query, first) => (page, query, first),
                Step::Fetch(query) => match readings.list(query.clone()).await {
                    Ok(page) => (page, query, false),
                    Err(e) => {
                        tracing::error!(error = %e, run = %query.run_id, "export stopped");
                        return Some((Err(std::io::Error::other(e.to_string())), Step::Done));
                    }
                },
            };
            let next = match page.next {
                Some(cursor) => {
                    query.after = Some(cursor);
                    Step::Fetch(query)
                }
                None => Step::Done,
            };
            Some((format.encode(page.items, first), next))
        }
    });
    let mut response = (StatusCode::OK, Body::from_stream(pages)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(header::ACCEPT, v);
        }
        headers
    }

    #[test]
    fn accept_picks_csv_or_ndjson_and_defaults_to_json() {
        assert_eq!(
            ExportFormat::from_accept(&accept("text/csv")),
            Some(ExportFormat::Csv)
        );
        assert_eq!(
            ExportFormat::from_accept(&accept("Application/X-NDJSON; q=0.9, */*")),
            Some(ExportFormat::Ndjson)
        );
        assert_eq!(ExportFormat::from_accept(&accept("application/json")), None);
        assert_eq!(ExportFormat::from_accept(&accept("*/*")), None);
        assert_eq!(ExportFormat::from_accept(&HeaderMap::new()), None);
    }

    #[test]
    fn an_empty_first_page_of_csv_is_the_header_row() {
        let bytes = ExportFormat::Csv.encode(Vec::new(), true).ok();
        assert_eq!(
            bytes.as_deref(),
            Some(&b"runId,sensorId,type,reading,timestamp,user\r\n"[..])
        );
    }
}
