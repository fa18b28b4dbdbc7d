//! The one error type of dbosd and its exhaustive mapping to gRPC status codes.
//!
//! Each variant is named after the status it becomes, so `From<Error> for Status` is a 1:1 match with no
//! catch-all arm: a new variant does not compile until someone decides its code.

use std::time::Duration;

use tonic::{metadata::MetadataMap, Code, Status};

/// Every failure a request can end with, in the caller's terms.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is malformed; `field` names it as the proto does.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// The thing the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A non-idempotent replay: the id or deduplication id is taken by something else.
    #[error("{0}")]
    AlreadyExists(String),
    /// The caller's token does not cover what the call touches.
    #[error("{0}")]
    PermissionDenied(String),
    /// The current state forbids the operation.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A wait or statement ran out of time.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// No database connection became free in time, or the database refuses more connections.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A limit of this dbosd is reached (calls or waits in flight, a token's rate): RESOURCE_EXHAUSTED
    /// with gRPC's retry pushback, so a client with a retry policy waits `retry_after` first.
    #[error("{message}")]
    Overloaded {
        message: String,
        retry_after: Duration,
    },
    /// The database cannot be reached, or dbosd is shutting down; the call can be retried.
    #[error("{0}")]
    Unavailable(String),
    /// This replica is draining (SIGTERM): UNAVAILABLE with a retry hint, so the client retries on
    /// another replica.
    #[error("dbosd is shutting down; retry")]
    Draining,
    /// A transaction conflict that survived the retries.
    #[error("{0}")]
    Aborted(String),
    /// A bug or an undecodable row; the details go to the log, not to the caller.
    #[error("{context}: {source}")]
    Internal {
        context: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result alias used across dbosd.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A malformed request field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An internal failure with what dbosd was doing when it happened.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The same failure for another caller of a shared statement (the details of an internal one
    /// stay in the log).
    pub fn for_another_caller(&self) -> Error {
        match self {
            Error::InvalidArgument { field, reason } => Error::invalid(field, reason),
            Error::NotFound(m) => Error::NotFound(m.clone()),
            Error::AlreadyExists(m) => Error::AlreadyExists(m.clone()),
            Error::PermissionDenied(m) => Error::PermissionDenied(m.clone()),
            Error::FailedPrecondition(m) => Error::FailedPrecondition(m.clone()),
            Error::DeadlineExceeded(m) => Error::DeadlineExceeded(m.clone()),
            Error::ResourceExhausted(m) => Error::ResourceExhausted(m.clone()),
            Error::Overloaded {
                message,
                retry_after,
            } => Error::Overloaded {
                message: message.clone(),
                retry_after: *retry_after,
            },
            Error::Unavailable(m) => Error::Unavailable(m.clone()),
            Error::Draining => Error::Draining,
            Error::Aborted(m) => Error::Aborted(m.clone()),
            Error::Internal { context, source } => Error::internal(context, source.to_string()),
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Error::Unavailable(_)
                | Error::Draining
                | Error::ResourceExhausted(_)
                | Error::Overloaded { .. }
                | Error::Aborted(_)
                | Error::DeadlineExceeded(_)
        )
    }
}

/// A status with gRPC's retry pushback (gRFC A6), which clients with a retry policy obey.
pub fn status_with_pushback(code: Code, message: String, retry_after: Duration) -> Status {
    let mut metadata = MetadataMap::new();
    // At least 1 ms: a pushback of 0 would mean "retry at once".
    let pushback = retry_after.as_millis().max(1).to_string();
    if let Ok(value) = pushback.parse() {
        metadata.insert(RETRY_PUSHBACK_HEADER, value);
    }
    Status::with_metadata(code, message, metadata)
}

/// What a caller is told of an internal failure; the RPC layer adds the request id to find it in the log.
pub const INTERNAL_MESSAGE: &str = "internal error; the dbosd log has the details";

/// The trailer that tells a gRPC client how long to wait before retrying.
/// How long a client should wait before retrying a call that draining ended (sent as gRPC's
/// `grpc-retry-pushback-ms`); by then the load balancer routes it to another replica.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

pub const RETRY_PUSHBACK_HEADER: &str = "grpc-retry-pushback-ms";

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        match err {
            Error::InvalidArgument { field, reason } => {
                Status::new(Code::InvalidArgument, format!("{field}: {reason}"))
            }
            Error::NotFound(msg) => Status::new(Code::NotFound, msg),
            Error::AlreadyExists(msg) => Status::new(Code::AlreadyExists, msg),
            Error::PermissionDenied(msg) => Status::new(Code::PermissionDenied, msg),
            Error::FailedPrecondition(msg) => Status::new(Code::FailedPrecondition, msg),
            Error::DeadlineExceeded(msg) => Status::new(Code::DeadlineExceeded, msg),
            Error::ResourceExhausted(msg) => Status::new(Code::ResourceExhausted, msg),
            Error::Unavailable(msg) => Status::new(Code::Unavailable, msg),
            Error::Overloaded {
                message,
                retry_after,
            } => status_with_pushback(Code::ResourceExhausted, message, retry_after),
            Error::Draining => {
                status_with_pushback(Code::Unavailable, Error::Draining.to_string(), RETRY_AFTER)
            }
            Error::Aborted(msg) => Status::new(Code::Aborted, msg),
            Error::Internal { context, source } => {
                // The cause (driver text, SQL, relation names) goes to the log only; the log line is
                // in the call's span, and the RPC layer appends the same request id to the message.
                tracing::error!(%context, error = %source, "internal error");
                Status::new(Code::Internal, INTERNAL_MESSAGE)
            }
        }
    }
}
