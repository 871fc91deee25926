//! The application the binary runs, on real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_page;
mod common;
mod db_secret;
mod limits;
mod postgres;
mod shutdown;
mod smoke;
