//! The HTTP contract, once per target, e.g.
//! `cargo nextest run -p contract-tests -E 'test(/ecs_postgres::/)'`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use contract_tests::ecs::EcsTarget;
use contract_tests::target::RouterTarget;

contract_tests::http_suite!(router, async { Some(RouterTarget::in_memory()) });
contract_tests::http_suite!(ecs_memory, EcsTarget::in_memory());
contract_tests::http_suite!(ecs_postgres, EcsTarget::on_postgres());
