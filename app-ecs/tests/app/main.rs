//! The application the binary runs, on real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod embed;
mod limits;
mod postgres;
mod shutdown;
mod smoke;
