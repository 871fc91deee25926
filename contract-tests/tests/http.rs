//! The HTTP contract, once per target: `cargo nextest run -p contract-tests -E 'test(/router::/)'`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use contract_tests::target::RouterTarget;

contract_tests::http_suite!(router, async { Some(RouterTarget::in_memory()) });
