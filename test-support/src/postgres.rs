//! Fresh PostgreSQL databases on the server of `TEST_DATABASE_URL`, one per test.
//!
//! [`TestDatabase::migrated`] copies a template database that holds the schema
//! (`CREATE DATABASE … TEMPLATE`), which is much faster than running the migrations in every
//! test. The template is named after the migrations it holds (`iot_tpl_<hash>`), so a changed or
//! added migration gets a new template and every test binary on the server agrees on it; it is
//! built once per server, under an advisory lock, and published by a rename, so a test never
//! sees a half-migrated template.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection};

/// Time allowed to connect to the server: generous, the machine may be busy.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// A database of its own for one test, dropped by [`TestDatabase::drop`].
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// Its connection URL.
    pub url: String,
}

impl TestDatabase {
    /// An empty database; `None` when `TEST_DATABASE_URL` is unset and services are not required.
    ///
    /// # Panics
    /// The server cannot be reached, or refuses to create the database.
    pub async fn create() -> Option<Self> {
        let admin_url = crate::database_url()?;
        let name = crate::unique_name("iot_test_");
        let mut admin = admin_connection(&admin_url).await;
        execute(&mut admin, &format!("CREATE DATABASE {name}")).await;
        admin.close().await.ok();
        Some(Self::named(admin_url, name))
    }

    /// A database holding the schema of `migrator`, copied from its template; `None` when
    /// `TEST_DATABASE_URL` is unset and services are not required.
    ///
    /// # Panics
    /// The server cannot be reached, a migration fails, or the copy is refused.
    pub async fn migrated(migrator: &Migrator) -> Option<Self> {
        let admin_url = crate::database_url()?;
        let mut admin = admin_connection(&admin_url).await;
        let template = ensure_template(&mut admin, &admin_url, migrator).await;
        let name = crate::unique_name("iot_test_");
        execute(
            &mut admin,
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        )
        .await;
        admin.close().await.ok();
        Some(Self::named(admin_url, name))
    }

    fn named(admin_url: String, name: String) -> Self {
        Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        }
    }

    /// Its name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops it, closing whatever still connects to it. A failure is reported, not raised: the
    /// test's own outcome matters more than its clean-up.
    pub async fn drop(self) {
        match PgConnection::connect(&self.admin_url).await {
            Ok(mut admin) => {
                let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                if let Err(e) = sqlx::query(&sql).execute(&mut admin).await {
                    eprintln!("could not drop {}: {e}", self.name);
                }
                admin.close().await.ok();
            }
            Err(e) => eprintln!("could not drop {}: {e}", self.name),
        }
    }
}

/// `url` with its database name replaced by `database` (the query string is kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// The template's name: a hash of the migrations' versions and checksums.
fn template_name(migrator: &Migrator) -> String {
    let mut hasher = DefaultHasher::new();
    for migration in migrator.iter() {
        migration.version.hash(&mut hasher);
        migration.checksum.hash(&mut hasher);
    }
    format!("iot_tpl_{:016x}", hasher.finish())
}

/// Builds the template of `migrator` unless it exists; returns its name.
async fn ensure_template(admin: &mut PgConnection, admin_url: &str, migrator: &Migrator) -> String {
    let name = template_name(migrator);
    // One builder per server at a time; the others wait here, then find it built.
    execute(admin, "SELECT pg_advisory_lock(7262011)").await;
    if !database_exists(admin, &name).await {
        let building = format!("{name}_building");
        execute(
            admin,
            &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        )
        .await;
        execute(admin, &format!("CREATE DATABASE {building}")).await;
        let mut conn = PgConnection::connect(&with_database(admin_url, &building))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {building}: {e}"));
        migrator
            .run(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot migrate the template {building}: {e}"));
        conn.close().await.ok();
        execute(
            admin,
            &format!("ALTER DATABASE {building} RENAME TO {name}"),
        )
        .await;
    }
    execute(admin, "SELECT pg_advisory_unlock(7262011)").await;
    name
}

async fn database_exists(admin: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(admin)
        .await
        .unwrap_or_else(|e| panic!("cannot list databases: {e}"))
}

async fn admin_connection(url: &str) -> PgConnection {
    tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url))
        .await
        .unwrap_or_else(|_| {
            panic!("PostgreSQL at TEST_DATABASE_URL did not answer in {CONNECT_TIMEOUT:?}")
        })
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at TEST_DATABASE_URL: {e}"))
}

async fn execute(conn: &mut PgConnection, sql: &str) {
    sqlx::query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/iot?sslmode=require", "x"),
            "postgres://u:p@h:5432/x?sslmode=require"
        );
        assert_eq!(with_database("postgres://h/iot", "x"), "postgres://h/x");
    }
}
