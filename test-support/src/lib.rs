//! Fixtures shared by the test suites of iot-playground (a dev-dependency only, not published):
//! the service-or-fail rule, fresh PostgreSQL databases, unique names, EMF checks and expected
//! summaries.
//!
//! The crate's `README.md` lists what it holds ("Contents") and how it is tested ("Tests").

pub mod emf;
pub mod postgres;
pub mod summaries;

use std::future::Future;
use std::time::Duration;

/// The timeout of any wait that a test does not examine (a pool acquire, an SDK operation, an
/// HTTP request): long enough that a busy machine never trips it. Tests about a timeout set their
/// own small value instead, and assert with a wide margin.
pub const PATIENT: Duration = Duration::from_secs(60);

/// Whether a missing service must fail the test rather than skip it: `CI` or
/// `CI_SERVICES_REQUIRED` is set to anything but empty, `0` or `false`.
pub fn services_required() -> bool {
    ["CI", "CI_SERVICES_REQUIRED"].iter().any(|name| {
        std::env::var(name)
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    })
}

/// The value of the service variable `name` (`TEST_DATABASE_URL`, `TEST_DYNAMODB_ENDPOINT`, …).
/// `None` means "skip this test"; when [`services_required`], a missing variable panics instead.
///
/// # Panics
/// The variable is unset or empty while services are required.
pub fn service_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if services_required() => panic!(
            "{name} is not set, and CI requires this service: start it with scripts/test \
             (or eval \"$(scripts/dev-services)\")"
        ),
        _ => {
            eprintln!("skipping: {name} is not set");
            None
        }
    }
}

/// `TEST_DYNAMODB_ENDPOINT`, under the rule of [`service_var`].
pub fn dynamodb_endpoint() -> Option<String> {
    service_var("TEST_DYNAMODB_ENDPOINT")
}

/// `TEST_DATABASE_URL`, under the rule of [`service_var`].
pub fn database_url() -> Option<String> {
    service_var("TEST_DATABASE_URL")
}

/// A random lowercase suffix of 12 hex digits, for names that must not collide between tests.
pub fn unique_suffix() -> String {
    let mut suffix = uuid::Uuid::new_v4().simple().to_string();
    suffix.truncate(12);
    suffix
}

/// `prefix` followed by a [`unique_suffix`], e.g. `unique_name("ct-runs-")`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", unique_suffix())
}

/// The runs and readings table names of one test, unique on the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// The runs table.
    pub runs: String,
    /// The readings table.
    pub readings: String,
}

impl TableNames {
    /// Fresh names starting with `prefix` (`ct`, `ad`, …): `{prefix}-runs-{suffix}` and
    /// `{prefix}-readings-{suffix}`.
    pub fn unique(prefix: &str) -> Self {
        let suffix = unique_suffix();
        Self {
            runs: format!("{prefix}-runs-{suffix}"),
            readings: format!("{prefix}-readings-{suffix}"),
        }
    }

    /// The command-line flags that point `app-lambda` at these tables on the emulator at
    /// `endpoint` (region `us-east-1`), creating them at start.
    pub fn app_lambda_args(&self, endpoint: &str) -> Vec<String> {
        [
            "--dynamodb-endpoint",
            endpoint,
            "--region",
            "us-east-1",
            "--runs-table",
            &self.runs,
            "--readings-table",
            &self.readings,
            "--create-tables",
        ]
        .map(str::to_string)
        .to_vec()
    }
}

/// Runs `scenario` on its own task, then `cleanup` whatever happened, then re-raises the
/// scenario's panic if it had one: a failed test still deletes its tables or database.
///
/// # Panics
/// Re-raises the panic of `scenario`.
pub async fn then_clean_up<T, Clean>(
    scenario: impl Future<Output = T> + Send + 'static,
    cleanup: Clean,
) -> T
where
    T: Send + 'static,
    Clean: Future<Output = ()>,
{
    let outcome = tokio::spawn(scenario).await;
    cleanup.await;
    match outcome {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the scenario task did not finish: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn unique_names_differ_and_keep_their_prefix() {
        let (a, b) = (TableNames::unique("t"), TableNames::unique("t"));
        assert_ne!(a, b);
        assert!(a.runs.starts_with("t-runs-") && a.readings.starts_with("t-readings-"));
        assert_eq!(unique_name("x_").len(), 2 + 12);
    }

    #[tokio::test]
    async fn cleanup_runs_after_a_panicking_scenario_and_the_panic_goes_on() {
        let cleaned = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = cleaned.clone();
        let outcome = tokio::spawn(then_clean_up(
            async { panic!("scenario failed") },
            async move {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            },
        ))
        .await;
        assert!(outcome.unwrap_err().is_panic());
        assert!(cleaned.load(std::sync::atomic::Ordering::SeqCst));
    }
}
