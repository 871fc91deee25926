//! Database credentials that follow a rotated secret.
//!
//! RDS rotates the managed master password (every 7 days by default) while the service runs. The
//! ECS task gets `PGUSER`/`PGPASSWORD` once, at start; after a rotation every new connection
//! would fail until the tasks were replaced. With `DATABASE_SECRET_ID` set, app-ecs reads the
//! secret (`{"username": …, "password": …}`, the RDS-managed format) from Secrets Manager at start
//! and again every `DATABASE_SECRET_REFRESH_SECS`, and gives a changed password to the pool for
//! its next connections. Connections already open are not affected (PostgreSQL checks the
//! password only when a connection starts), so a rotation costs at most one refresh period of
//! `503`s on new connections, without a redeploy.

use std::time::Duration;

use adapters_postgres::PgStore;
use anyhow::{Context as _, anyhow};
use aws_sdk_secretsmanager::Client;

/// A Secrets Manager secret holding database credentials.
#[derive(Debug, Clone)]
pub struct SecretCredentials {
    client: Client,
    secret_id: String,
}

impl SecretCredentials {
    /// A reader of `secret_id` (name or ARN), with the default AWS configuration (the task role
    /// on ECS); `endpoint` overrides the service endpoint (an emulator).
    pub async fn new(secret_id: &str, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Self {
            client: Client::new(&loader.load().await),
            secret_id: secret_id.to_string(),
        }
    }

    /// The current user name and password.
    ///
    /// # Errors
    /// Secrets Manager cannot be reached or refuses, or the secret is not the JSON of RDS.
    pub async fn fetch(&self) -> anyhow::Result<(String, String)> {
        let secret = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .with_context(|| format!("cannot read the secret {}", self.secret_id))?;
        let text = secret
            .secret_string()
            .ok_or_else(|| anyhow!("the secret {} has no SecretString", self.secret_id))?;
        let json: serde_json::Value = serde_json::from_str(text)
            .with_context(|| format!("the secret {} is not JSON", self.secret_id))?;
        let field = |name: &str| {
            json.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| anyhow!("the secret {} has no string {name}", self.secret_id))
        };
        Ok((field("username")?, field("password")?))
    }

    /// Reads the secret and hands the credentials to `store` when they differ from `current`
    /// (the password last applied); returns the password now in use.
    ///
    /// # Errors
    /// See [`SecretCredentials::fetch`].
    pub async fn apply(&self, store: &PgStore, current: Option<&str>) -> anyhow::Result<String> {
        let (username, password) = self.fetch().await?;
        if current != Some(password.as_str()) {
            store.set_credentials(&username, &password);
            if current.is_some() {
                tracing::info!(user = %username, "database password changed: new connections use the new one");
            }
        }
        Ok(password)
    }
}

/// Applies the secret every `every` for as long as the returned task runs; a failed read is
/// logged and retried at the next period (the pool keeps the credentials it has).
pub fn spawn_refresher(
    source: SecretCredentials,
    store: PgStore,
    current: String,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut current = current;
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate: the caller has just applied it
        loop {
            ticks.tick().await;
            match source.apply(&store, Some(&current)).await {
                Ok(password) => current = password,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "database secret refresh failed")
                }
            }
        }
    })
}
