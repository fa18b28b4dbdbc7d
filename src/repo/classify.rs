//! Classifies tokio-postgres errors into dbosd's [`Error`], in one place.

use tokio_postgres::error::SqlState;

use crate::error::Error;

/// Maps a driver error to the status the caller should see. `context` says what dbosd was doing.
pub fn classify(context: &str, err: tokio_postgres::Error) -> Error {
    let Some(code) = err.code() else {
        // No SQLSTATE: the connection broke or could not be made.
        return Error::Unavailable(format!(
            "the system database is unreachable while {context}: {err}; retry"
        ));
    };
    let text = err
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| err.to_string());
    match code {
        c if *c == SqlState::QUERY_CANCELED => {
            // A statement runs until its call's deadline, at most the ceiling (`statement`).
            Error::DeadlineExceeded(format!(
                "the database statement timed out while {context} (statements end by the call's \
                 deadline: its grpc-timeout or --rpc-timeout-ms, at most --statement-timeout-ms)"
            ))
        }
        c if *c == SqlState::TOO_MANY_CONNECTIONS => Error::ResourceExhausted(format!(
            "the system database refuses more connections ({text}); retry later"
        )),
        c if *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW
            || c.code().starts_with("08") =>
        {
            Error::Unavailable(format!(
                "the system database is unavailable while {context} ({text}); retry"
            ))
        }
        c if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            Error::Aborted(format!(
                "a concurrent change conflicted while {context}; retry"
            ))
        }
        // Data exceptions: a value the database cannot store (e.g. a NUL byte, a bad JSON text).
        c if c.code().starts_with("22") => Error::invalid("request", text),
        _ => Error::internal(context.to_owned(), err),
    }
}

/// Whether `err` is a unique violation on an index or constraint whose name contains `needle`.
pub(crate) fn is_unique_violation(err: &tokio_postgres::Error, needle: &str) -> bool {
    err.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && err
            .as_db_error()
            .and_then(|d| d.constraint())
            .is_some_and(|c| c.contains(needle))
}

/// Whether `err` is a foreign-key violation (a row references a workflow that does not exist).
pub(crate) fn is_foreign_key_violation(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}
