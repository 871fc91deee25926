//! The connection layer of `app-ecs`: what one client (or many) can hold, and how it ends.
//!
//! - The file-descriptor soft limit is raised to the hard limit at start ([`raise_fd_limit`]).
//! - At most [`Limits::max_connections`] connections are served; one more is answered at once
//!   with `503` (`Retry-After: 1`) and closed, so a flood never starves `accept`.
//! - A request's headers must arrive within [`Limits::header_read_timeout`] of its first byte
//!   (of the accept, for a connection's first request): slowloris connections are closed.
//! - A kept-alive connection with no request for [`Limits::keep_alive_timeout`] is closed; the
//!   default outlives the load balancer's idle timeout, so the balancer closes first and never
//!   sends on a connection the server is closing.
//! - On stop, accepting ends, idle connections close, in-flight requests finish within the grace
//!   period ([`serve`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// File descriptors kept for everything but client connections (database pool, logs, files).
const RESERVED_FDS: u64 = 128;

/// What a connection may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more are refused with `503`.
    pub max_connections: usize,
    /// Longest time from a request's first byte to the end of its headers.
    pub header_read_timeout: Duration,
    /// Longest wait for the next request on a kept-alive connection.
    pub keep_alive_timeout: Duration,
}

/// Raises the soft limit on open files to the hard limit and returns it (`None` where the
/// platform has no such limit or refuses).
pub fn raise_fd_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            None
        }
    }
}

/// `wanted`, lowered so that every connection can have its file descriptor under `fd_limit`.
pub fn connections_within(wanted: usize, fd_limit: Option<u64>) -> usize {
    match fd_limit {
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
            if room < wanted {
                tracing::warn!(
                    wanted,
                    fd_limit = limit,
                    serving = room,
                    "the open-file limit is too low for MAX_CONNECTIONS; serving fewer"
                );
            }
            wanted.min(room).max(1)
        }
        None => wanted,
    }
}

/// Serves `router` on `listener` until `stop_accepting` resolves; then closes idle connections
/// and waits at most `grace` for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop_accepting: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    // Header and idle deadlines are enforced by `Deadlines`, which tells the two apart.
    http.header_read_timeout(None);
    tokio::pin!(stop_accepting);
    loop {
        let stream = tokio::select! {
            biased;
            () = &mut stop_accepting => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or memory: wait for connections to end.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Deadlines::new(stream, limits));
        let connection =
            graceful.watch(http.serve_connection(io, TowerToHyperService::new(router.clone())));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(timeout_secs = grace.as_secs(), "in-flight requests still running after the shutdown timeout; exiting");
        }
    }
}

/// The body of the answer to a connection beyond the limit.
const REFUSAL: &str =
    r#"{"error":"too_many_connections","message":"the server is at its connection limit; retry"}"#;

/// Answers `503` without reading the request, and closes.
async fn refuse(mut stream: TcpStream) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{REFUSAL}",
        REFUSAL.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Where a connection is between requests, and the deadline that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of the next request (keep-alive deadline).
    Idle,
    /// Reading a request's headers (header deadline); the last 4 bytes seen.
    Head(u32),
    /// Headers read: the body and the handler run under the request timeout.
    Request,
}

/// A TCP stream that fails reads past the deadline of its [`Phase`]. It follows HTTP/1.1 from
/// the bytes it carries: a response written means the connection is idle, the next byte read
/// starts a request, and a blank line ends its headers.
struct Deadlines {
    stream: TcpStream,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    limits: Limits,
}

impl Deadlines {
    fn new(stream: TcpStream, limits: Limits) -> Self {
        Self {
            stream,
            phase: Phase::Head(0),
            deadline: Box::pin(tokio::time::sleep(limits.header_read_timeout)),
            limits,
        }
    }

    fn on_read(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Idle {
            self.phase = Phase::Head(0);
            let at = Instant::now() + self.limits.header_read_timeout;
            self.deadline.as_mut().reset(at);
        }
        if let Phase::Head(mut last) = self.phase {
            for &b in bytes {
                last = (last << 8) | u32::from(b);
                if last == u32::from_be_bytes(*b"\r\n\r\n") {
                    self.phase = Phase::Request;
                    return;
                }
            }
            self.phase = Phase::Head(last);
        }
    }

    /// A response is being written: the connection is idle once it is sent.
    fn on_write(&mut self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.phase = Phase::Idle;
            let at = Instant::now() + self.limits.keep_alive_timeout;
            self.deadline.as_mut().reset(at);
        }
        polled
    }
}

impl AsyncRead for Deadlines {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.phase != Phase::Request && this.deadline.as_mut().poll(cx).is_ready() {
            let what = if this.phase == Phase::Idle {
                "keep-alive timeout"
            } else {
                "header read timeout"
            };
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            if !read.is_empty() {
                this.on_read(read);
            }
        }
        polled
    }
}

impl AsyncWrite for Deadlines {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.on_write(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.on_write(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
