//! Pool behaviour the contract suite does not cover: a down database fails fast with
//! `Unavailable`, and connections carry the configured statement timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use adapters_postgres::{PgOptions, PgStore};
use iot_core::StoreError;
use iot_core::model::RunId;
use iot_core::ports::{ReadingStore, RunStore};

/// Small timeouts, for the tests about a database that does not answer: they must fail fast.
fn quick() -> PgOptions {
    PgOptions {
        acquire_timeout: Duration::from_millis(300),
        ..PgOptions::default()
    }
}

/// Generous timeouts, for the tests that expect an answer: a TLS handshake on a busy machine can
/// take seconds.
fn patient() -> PgOptions {
    PgOptions {
        acquire_timeout: test_support::PATIENT,
        ..PgOptions::default()
    }
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_not_a_hang() {
    // Nothing listens on port 1; `connect` is lazy, so it succeeds and the calls fail.
    let store = PgStore::connect("postgres://iot:iot@127.0.0.1:1/iot", &quick())
        .await
        .expect("lazy connect");
    let started = Instant::now();
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    let id = RunId::from_uuid(uuid::Uuid::new_v4());
    assert!(matches!(
        store.get_run(id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.summarize(id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.migrate().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_malformed_url_is_refused() {
    for url in [
        "mysql://iot@localhost/iot",
        "postgres://iot@localhost:port/iot",
    ] {
        let err = PgStore::connect(url, &PgOptions::default()).await;
        assert!(matches!(err, Err(StoreError::Internal(_))), "{url}");
    }
}

#[tokio::test]
async fn connections_can_require_tls() {
    let Some(url) = test_support::database_url() else {
        return;
    };
    // Managed databases (RDS) refuse clear-text connections; the local cluster offers TLS too.
    let separator = if url.contains('?') { '&' } else { '?' };
    let store = PgStore::connect(&format!("{url}{separator}sslmode=require"), &patient())
        .await
        .expect("connect");
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .expect("query over TLS");
    assert!(ssl, "the connection is encrypted");
}

#[tokio::test]
async fn connections_carry_the_statement_timeout() {
    let Some(url) = test_support::database_url() else {
        return;
    };
    let options = PgOptions {
        statement_timeout: Duration::from_millis(1500),
        ..patient()
    };
    let store = PgStore::connect(&url, &options).await.expect("connect");
    let shown: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(store.pool())
        .await
        .expect("show");
    assert_eq!(shown, "1500ms");
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn new_credentials_take_effect_for_the_next_connections() {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("CI_SERVICES_REQUIRED").is_none(),
            "TEST_DATABASE_URL is required in CI"
        );
        eprintln!("SKIPPED: TEST_DATABASE_URL is not set");
        return;
    };
    // The password of TEST_DATABASE_URL, as a rotated secret would hold it, and a stale one.
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let (user, password) = (
        options.get_username().to_string(),
        url.split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .map(|(_, p)| p.to_string())
            .expect("TEST_DATABASE_URL carries a password"),
    );
    let stale = url.replacen(&format!(":{password}@"), ":not-the-password@", 1);
    let store = PgStore::connect(&stale, &quick()).await.unwrap();
    let refused = store.ping().await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "a stale password cannot connect: {refused:?}"
    );

    store.set_credentials(&user, &password);

    store
        .ping()
        .await
        .expect("the next connection uses the new password");
    assert_eq!(store.username(), user);
}
