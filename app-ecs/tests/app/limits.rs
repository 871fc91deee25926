//! What bounds the resources one client can take: the sensor series cap of `/metrics`, the
//! connection limit, the header-read and keep-alive deadlines, the open-file limit.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;

/// `METRICS_MAX_SERIES` holds over HTTP: runs beyond it evict the older ones, and the evictions
/// are counted.
#[tokio::test]
async fn the_series_cap_evicts_older_runs() {
    let app = serve_with(|c| {
        c.metrics_max_series = 12;
    })
    .await;
    let sensors = ["s-1", "s-2", "s-3", "s-4"];
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = start_run(&app, "dave", &sensors).await;
        for sensor in sensors {
            let reading = json!({"sensorId": sensor, "type": "temperature", "reading": 1.5});
            assert_eq!(post_reading(&app, "dave", &run, reading).await, 201);
        }
        finish_run(&app, "dave", &run).await;
        runs.push(run);
    }

    let text = scrape(&app, "/metrics").await;
    let exposed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("sensor_data_"))
        .collect();
    assert_eq!(exposed.len(), 8, "{text}");
    assert!(exposed.iter().all(|l| l.contains(&runs[2])), "{text}");
    assert!(text.contains("sensor_series_evicted_total 16\n"), "{text}");
    app.stop().await;
}

/// The test configuration changed by `edit`, served.
async fn serve_with(edit: impl FnOnce(&mut app_ecs::Config)) -> Running {
    let mut config = config();
    edit(&mut config);
    Running::start(&config).await
}

fn address(app: &Running) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Sends `GET /health` on `stream` and returns the status of the answer (`None`: closed).
async fn health_on(stream: &mut TcpStream) -> Option<u16> {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .ok()?;
    read_response(stream).await.map(|(status, _)| status)
}

/// Reads one response from a kept-alive connection: status and body; `None` when the server
/// closed the connection (or did not answer within 20 s).
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let read = async {
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let status = head.get(9..12)?.parse().ok()?;
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                    return Some((status, body.into_owned()));
                }
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .ok()
        .flatten()
}

/// Waits until the server closes `stream` (a read returns end of file or an error); returns how
/// long that took, or `None` after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut byte = [0u8; 1];
    match tokio::time::timeout(within, stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => Some(started.elapsed()),
        Ok(Ok(_)) => panic!("unexpected data"),
        Err(_) => None,
    }
}

/// 1,100 idle connections do not stop the server: the open-file limit is raised at start, even
/// from a soft limit of 1,024 that the idle connections alone would exhaust.
#[tokio::test]
async fn health_answers_while_1100_idle_connections_are_open() {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, 1024, hard).unwrap();
    let app = Running::start(&config()).await;
    let address = address(&app);
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }

    let response = client().get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The idle connections are still served.
    let last = idle.last_mut().unwrap();
    assert_eq!(health_on(last).await, Some(200));
    drop(idle);
    app.stop().await;
}

/// Beyond `MAX_CONNECTIONS` a connection is answered `503 too_many_connections` at once, without
/// waiting for a slot; once a connection ends, new ones are served again.
#[tokio::test]
async fn a_connection_beyond_the_limit_is_refused_at_once() {
    let app = serve_with(|c| {
        c.max_connections = 3;
    })
    .await;
    let address = address(&app);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        assert_eq!(health_on(&mut stream).await, Some(200));
        held.push(stream);
    }

    let mut extra = TcpStream::connect(&address).await.unwrap();
    let (status, body) = read_response(&mut extra).await.expect("a refusal");
    assert_eq!(status, 503);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "too_many_connections");

    drop(held.pop());
    let mut served = false;
    for _ in 0..50 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        if health_on(&mut stream).await == Some(200) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a freed slot is served again");
    app.stop().await;
}

/// A client that sends its headers one byte at a time is cut off at the header-read deadline.
#[tokio::test]
async fn a_slowloris_connection_is_closed() {
    let app = serve_with(|c| {
        c.header_read_timeout_secs = 1;
    })
    .await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    let dripping = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stream.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), dripping)
        .await
        .unwrap();
    // Writing failed: the server closed the connection well before the 20 s of dripping.
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the slowloris connection is still open");
    app.stop().await;
}

/// A kept-alive connection may idle longer than the header deadline, and is closed after the
/// keep-alive timeout.
#[tokio::test]
async fn keep_alive_outlives_the_header_deadline_then_closes() {
    let app = serve_with(|c| {
        c.header_read_timeout_secs = 1;
        c.keep_alive_timeout_secs = 3;
    })
    .await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    assert_eq!(health_on(&mut stream).await, Some(200));

    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_eq!(health_on(&mut stream).await, Some(200));

    let closed = closed_within(&mut stream, Duration::from_secs(15)).await;
    let closed = closed.expect("the idle connection is closed");
    assert!(closed >= Duration::from_secs(2), "closed after {closed:?}");
    app.stop().await;
}
