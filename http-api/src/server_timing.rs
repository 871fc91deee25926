//! The `Server-Timing` header (W3C Server Timing): the cost drivers of each request, measured by
//! the backend itself so that a client can compute cost from what was measured.
//!
//! | entry | meaning |
//! |---|---|
//! | `app;dur=<ms>` | time in the router, from the request to the response head |
//! | `store;dur=<ms>` | time in storage calls during the request (summed) |
//! | `rcu;dur=<units>`, `wcu;dur=<units>` | read/write capacity units consumed (DynamoDB only; the `dur` field carries units, not milliseconds) |
//! | `cold;dur=<ms>` | added by the Lambda binary on an instance's first response: its initialisation time |
//!
//! A header value is one comma-separated list, so the Lambda emulator and proxies that keep only
//! one value of a header lose nothing.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use iot_core::meter::{MeterTotals, RequestMeter};

/// The header's name.
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// Middleware: meters the request and writes `Server-Timing` on its response.
pub async fn server_timing(request: Request, next: Next) -> Response {
    let meter = RequestMeter::new();
    let started = Instant::now();
    let mut response = meter.instrument(next.run(request)).await;
    let value = header_value(started.elapsed(), &meter.totals());
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(SERVER_TIMING, value);
    }
    response
}

fn millis(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1000.0)
}

/// The header value for a request that took `app` in total and recorded `totals`.
pub fn header_value(app: Duration, totals: &MeterTotals) -> String {
    let mut value = format!(
        "app;dur={}, store;dur={}",
        millis(app),
        millis(totals.store_time)
    );
    if totals.read_units > 0.0 {
        value.push_str(&format!(", rcu;dur={}", totals.read_units));
    }
    if totals.write_units > 0.0 {
        value.push_str(&format!(", wcu;dur={}", totals.write_units));
    }
    value
}

/// Appends an entry (e.g. `cold;dur=123.4`) to the `Server-Timing` header of `headers`.
pub fn append(headers: &mut HeaderMap, entry: &str) {
    let value = match headers.get(&SERVER_TIMING).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.is_empty() => format!("{existing}, {entry}"),
        _ => entry.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(SERVER_TIMING, value);
    }
}

/// The `cold` entry for an initialisation that took `init`.
pub fn cold_entry(init: Duration) -> String {
    format!("cold;dur={}", millis(init))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_lists_app_and_store_time_in_milliseconds() {
        let totals = MeterTotals {
            store_time: Duration::from_micros(1500),
            store_calls: 2,
            ..MeterTotals::default()
        };
        assert_eq!(
            header_value(Duration::from_micros(2250), &totals),
            "app;dur=2.250, store;dur=1.500"
        );
    }

    #[test]
    fn capacity_units_appear_only_when_consumed() {
        let totals = MeterTotals {
            read_units: 0.5,
            write_units: 2.0,
            ..MeterTotals::default()
        };
        assert_eq!(
            header_value(Duration::ZERO, &totals),
            "app;dur=0.000, store;dur=0.000, rcu;dur=0.5, wcu;dur=2"
        );
    }

    #[test]
    fn append_joins_into_one_value() {
        let mut headers = HeaderMap::new();
        append(&mut headers, "app;dur=1.000");
        append(&mut headers, &cold_entry(Duration::from_millis(80)));
        assert_eq!(
            headers.get(SERVER_TIMING).and_then(|v| v.to_str().ok()),
            Some("app;dur=1.000, cold;dur=80.000")
        );
    }
}
