//! The HTTP contract through AWS Lambda: `cargo nextest run -p contract-tests -E 'binary(http_lambda)'`.
//!
//! - `lambda_v2`: every scenario as API Gateway HTTP API (payload v2) events, handled in process
//!   by `app-lambda` (`App::handle`, the JSON the runtime exchanges); a fresh function per
//!   scenario, so its first response is a cold start.
//! - `lambda_v1_stage`: every scenario as REST API (payload v1) events of the stage
//!   `serverless-dev` (`requestContext.path` = `/serverless-dev/api/…`).
//! - `lambda_emulator`: the real binary under `cargo lambda watch` (or, with `APP_LAMBDA_BIN`, that
//!   prebuilt binary against `cargo lambda watch --only-lambda-apis`), over HTTP at its function URL,
//!   one emulator per scenario (≈ 0.35 s to start) on fresh tables; nextest runs them one at a
//!   time (`.config/nextest.toml`). Every scenario runs there too. The emulator keeps only the
//!   first value of a repeated header, so the target declares it
//!   ([`HttpTarget::keeps_repeated_headers`](contract_tests::target::HttpTarget::keeps_repeated_headers))
//!   and only the assertions about repeated headers are left out; `lambda_v2` and
//!   `lambda_v1_stage` check those with API Gateway's real encodings.
//!
//! Needs `TEST_DYNAMODB_ENDPOINT` (`scripts/lib/services.sh` `ensure_moto`), and `CARGO_LAMBDA`
//! for the emulator (`scripts/lib/lambda.sh` `ensure_cargo_lambda`); unset, they skip, unless
//! `CI`/`CI_SERVICES_REQUIRED` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use contract_tests::lambda::{EmulatorTarget, LambdaEventTarget};

contract_tests::http_suite!(lambda_v2, LambdaEventTarget::http_api_v2());
contract_tests::http_suite!(lambda_v1_stage, LambdaEventTarget::rest_v1_stage());

contract_tests::http_suite!(lambda_emulator, EmulatorTarget::start());
