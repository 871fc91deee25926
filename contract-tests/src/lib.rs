//! # contract-tests
//!
//! The behavioural suites every backend must pass, as libraries of scenarios:
//!
//! - [`storage`]: one `pub async fn` per behaviour of the storage ports, run through the domain
//!   services on a store under test. `tests/storage.rs` stamps the list out once per store
//!   (in-memory, PostgreSQL, DynamoDB emulator) with [`storage_suite!`], so a failure names the
//!   scenario and the backend, and every store runs the same count.
//! - [`http`]: the API of `docs/api.md` as scenarios over an [`target::HttpTarget`] (send a request, get status,
//!   headers, body), stamped out per binary with [`http_suite!`]: `app-ecs` over a socket on the
//!   in-memory store and on PostgreSQL, `app-lambda` through API Gateway events and behind a
//!   Lambda runtime emulator.
//!
//! Stores that need a service run when their variable is set (`TEST_DATABASE_URL`,
//! `TEST_DYNAMODB_ENDPOINT`); when `CI` or `CI_SERVICES_REQUIRED` is set, a missing service fails
//! the test instead of skipping it.

// Test code: a failed expectation is a panic, by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod ecs;
pub mod env;
pub mod http;
pub mod lambda;
pub mod proxy;
pub mod storage;
pub mod target;
