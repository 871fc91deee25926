//! The storage contract, once per store: `cargo nextest run -p contract-tests -E 'test(/memory::/)'`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use contract_tests::env::TestStore;

contract_tests::storage_suite!(memory, TestStore::memory());
contract_tests::storage_suite!(postgres, TestStore::postgres());
contract_tests::storage_suite!(postgres_grouped, TestStore::postgres_grouped());
contract_tests::storage_suite!(dynamo, TestStore::dynamo());
