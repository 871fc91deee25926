//! The HTTP contract through AWS Lambda: `cargo nextest run -p contract-tests -E 'binary(http_lambda)'`.
//!
//! - `lambda_v2`: every scenario as API Gateway HTTP API (payload v2) events, handled in process
//!   by `app-lambda` (`App::handle`, the JSON the runtime exchanges).
//! - `lambda_v1_stage`: every scenario as REST API (payload v1) events of the stage
//!   `serverless-dev` (`requestContext.path` = `/serverless-dev/api/…`).
//! - `lambda_emulator`: the real binary under `cargo lambda watch` (or, with `APP_LAMBDA_BIN`, that
//!   prebuilt binary against `cargo lambda watch --only-lambda-apis`), over HTTP at its function URL,
//!   one emulator per scenario (≈ 0.35 s to start) on fresh tables; nextest runs them one at a
//!   time (`.config/nextest.toml`). Every scenario runs there except the two that send a header
//!   twice: the emulator builds its event from the first value only (it serializes the request
//!   `HeaderMap` as single-valued `headers`), where API Gateway and real function URLs join the
//!   values with commas, so the duplicate never reaches the function. `lambda_v2` and
//!   `lambda_v1_stage` cover those two with API Gateway's real encodings.
//!
//! Needs `TEST_DYNAMODB_ENDPOINT` (`scripts/lib/services.sh` `ensure_moto`), and `CARGO_LAMBDA`
//! for the emulator (`scripts/lib/lambda.sh` `ensure_cargo_lambda`); unset, they skip, unless
//! `CI`/`CI_SERVICES_REQUIRED` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use contract_tests::lambda::{EmulatorTarget, LambdaEventTarget};

contract_tests::http_suite!(lambda_v2, LambdaEventTarget::http_api_v2());
contract_tests::http_suite!(lambda_v1_stage, LambdaEventTarget::rest_v1_stage());

contract_tests::http_suite!(@with lambda_emulator, EmulatorTarget::start();
    start_answers_201_with_location_and_the_run,
    start_treats_null_as_absent_and_keeps_fractional_intervals,
    start_rejects_bad_bodies_naming_the_field,
    oversized_bodies_are_413_before_anything_else,
    checks_happen_in_the_documented_order,
    a_full_global_capacity_is_429_with_retry_after,
    a_full_user_capacity_is_429_scoped_to_the_user,
    concurrent_starts_never_exceed_capacity,
    running_lists_every_users_running_runs_newest_first,
    runs_page_with_a_cursor_and_filter,
    unknown_and_malformed_run_ids,
    finish_follows_ownership_and_status_rules,
    interrupt_all_cancels_own_runs_and_admins_cancel_all,
    a_timed_out_run_is_timeout_everywhere,
    a_reading_is_stored_and_echoed,
    readings_with_a_timestamp_are_idempotent,
    bad_readings_are_400_naming_the_field,
    batches_count_duplicates_and_validate_as_a_whole,
    a_conflicting_batch_stores_nothing_and_1000_fit,
    readings_list_with_filters_and_a_cursor,
    the_compatibility_listing_is_newest_first_with_a_count,
    the_summary_aggregates_per_sensor_and_type,
    operations_and_unknown_routes,
    cors_allows_listed_origins_only,
    the_openapi_document_lists_every_route,
    every_response_reports_server_timing,
    cold_is_reported_at_most_on_an_instances_first_response,
    csv_export_streams_every_reading_with_a_header_row,
    ndjson_export_streams_every_reading_in_listing_order,
    dynamodb_responses_report_consumed_capacity,
    only_canonical_run_ids_are_accepted,
    a_malformed_request_id_is_replaced,
    a_start_with_an_idempotency_key_is_answered_once,
);

// Scenarios only a DynamoDB-backed Lambda instance meets.
contract_tests::http_suite!(@with lambda_v2_costs, LambdaEventTarget::http_api_v2();
    dynamodb_responses_report_consumed_capacity,
    a_new_lambda_instance_reports_its_init_time,
);
