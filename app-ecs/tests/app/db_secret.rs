//! `DATABASE_SECRET_ID`: credentials read from a real Secrets Manager API (the moto emulator of
//! the test services) reach the pool of a real PostgreSQL store, as after an RDS rotation.

use adapters_postgres::{PgOptions, PgStore};
use app_ecs::db_secret::SecretCredentials;
use iot_core::ports::RunStore as _;

use test_support::{database_url, dynamodb_endpoint};

#[tokio::test]
async fn a_rotated_password_in_the_secret_reaches_new_connections() {
    let (Some(url), Some(endpoint)) = (database_url(), dynamodb_endpoint()) else {
        eprintln!("SKIPPED: TEST_DATABASE_URL and TEST_DYNAMODB_ENDPOINT (moto) are needed");
        return;
    };
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let user = options.get_username().to_string();
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, p)| p.to_string())
        .expect("TEST_DATABASE_URL carries a password");

    // The task started with a password that has since been rotated.
    let stale = url.replacen(&format!(":{password}@"), ":rotated-away@", 1);
    let quick = PgOptions {
        acquire_timeout: std::time::Duration::from_secs(10),
        ..PgOptions::default()
    };
    let store = PgStore::connect(&stale, &quick).await.unwrap();
    assert!(store.ping().await.is_err(), "the stale password is refused");

    // The secret, as RDS keeps it, holds the current password.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .load()
        .await;
    let admin = aws_sdk_secretsmanager::Client::new(&config);
    let name = format!("iot-db-{}", uuid::Uuid::new_v4());
    admin
        .create_secret()
        .name(&name)
        .secret_string(serde_json::json!({"username": user, "password": password}).to_string())
        .send()
        .await
        .expect("create the secret in moto");

    let source = SecretCredentials::new(&name, Some(&endpoint)).await;
    let applied = source.apply(&store, Some("rotated-away")).await.unwrap();
    assert_eq!(applied, password);
    store
        .ping()
        .await
        .expect("new connections use the secret's password");

    let again = source.apply(&store, Some(&applied)).await.unwrap();
    assert_eq!(again, applied, "an unchanged secret changes nothing");
    admin
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .ok();
}
