//! Translation of driver errors into [`StoreError`], at the edge of every port method.

use iot_core::StoreError;
use sqlx::migrate::MigrateError;

/// SQLSTATE of a unique violation (duplicate run id).
const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE of a foreign-key violation (a reading of a run that does not exist).
const FOREIGN_KEY_VIOLATION: &str = "23503";

/// Whether a SQLSTATE means "retry later": connection exceptions (class 08), invalid
/// authorization (28: a rotated password, until the new one is read), insufficient resources (53,
/// e.g. too many connections), operator intervention (57: statement timeout, shutdown, "cannot
/// connect now"), serialization failures and deadlocks (40001, 40P01).
fn transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("28")
        || code.starts_with("53")
        || code.starts_with("57")
        || code == "40001"
        || code == "40P01"
}

/// Maps a sqlx error: unreachable or overloaded database → `Unavailable`, duplicate key →
/// `AlreadyExists`, missing parent row → `NotFound`, anything else → `Internal`.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("timed out waiting for a database connection".into())
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable("the connection pool is closed".into()),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(UNIQUE_VIOLATION) => StoreError::AlreadyExists,
            Some(FOREIGN_KEY_VIOLATION) => StoreError::NotFound,
            Some(code) if transient(code) => StoreError::Unavailable(err.to_string()),
            _ => StoreError::Internal(err.to_string()),
        },
        _ => StoreError::Internal(err.to_string()),
    }
}

/// Whether `err` is a unique violation (a key already taken).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(UNIQUE_VIOLATION))
}

/// Maps a migration failure: a database error as above, anything else (a changed or missing
/// migration) → `Internal`.
pub(crate) fn migrate_error(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(inner) => store_error(inner),
        other => StoreError::Internal(format!("migration failed: {other}")),
    }
}

/// A stored row that does not parse back into the domain.
pub(crate) fn bad_row(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt row: {what}"))
}
