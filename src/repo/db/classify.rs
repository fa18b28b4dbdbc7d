//! Classifies tokio-postgres errors into dbosd's [`Error`], in one place.
//!
//! Callers are told what failed in their terms, never the driver's or PostgreSQL's text: those name
//! relations, columns, constraints and SQL. The full error goes to the log (in the call's span,
//! which carries the request id).

use tokio_postgres::error::SqlState;

use crate::error::Error;

/// Maps a driver error to the status the caller should see. `context` says what dbosd was doing.
pub fn classify(context: &str, err: tokio_postgres::Error) -> Error {
    let Some(code) = err.code() else {
        // No SQLSTATE: the connection broke or could not be made.
        tracing::warn!(%context, error = %err, "system database unreachable");
        return Error::Unavailable(format!(
            "the system database is unreachable while {context}; retry"
        ));
    };
    match code {
        c if *c == SqlState::QUERY_CANCELED => {
            // A statement runs until its call's deadline, at most the ceiling (`statement`).
            Error::DeadlineExceeded(format!(
                "the database statement timed out while {context} (statements end by the call's \
                 deadline: its grpc-timeout or --rpc-timeout-ms, at most --statement-timeout-ms)"
            ))
        }
        c if *c == SqlState::TOO_MANY_CONNECTIONS => Error::ResourceExhausted(
            "the system database refuses more connections; retry later".to_owned(),
        ),
        c if *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW
            || c.code().starts_with("08") =>
        {
            tracing::warn!(%context, error = %err, "system database unavailable");
            Error::Unavailable(format!(
                "the system database is unavailable while {context}; retry"
            ))
        }
        c if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            Error::Aborted(format!(
                "a concurrent change conflicted while {context}; retry"
            ))
        }
        // Data exceptions: a value the database cannot store (e.g. a NUL byte, a bad JSON text).
        c if c.code().starts_with("22") => {
            tracing::info!(%context, error = %err, "value refused by the system database");
            Error::invalid("request", data_exception(c))
        }
        _ => Error::internal(context.to_owned(), err),
    }
}

/// A data exception (SQLSTATE class 22) in the caller's terms: which kind of value was refused.
fn data_exception(code: &SqlState) -> String {
    let what = match code.code() {
        "22001" => "a text value is longer than the system database stores",
        "22003" => "a number is out of the range the system database stores",
        "22007" | "22008" => "a time is out of the range the system database stores",
        "22021" => "a text value has bytes the system database cannot store",
        "22P02" | "22P05" | "22030" | "22032" => {
            "a value is not text or JSON the system database can store"
        }
        _ => "a value the system database cannot store",
    };
    format!("{what} (SQLSTATE {})", code.code())
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
