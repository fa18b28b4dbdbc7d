//! Connect errors from gRPC statuses: the code names, the HTTP status Connect assigns to each, and
//! the JSON error body (`{"code","message","details"}`) with `grpc-status-details-bin`'s details.

use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};
use http::StatusCode;
use prost::Message;
use serde_json::{json, Value};
use tonic::{Code, Status};

/// `google.rpc.Status`, as `grpc-status-details-bin` carries it.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// Connect's name of a gRPC code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a unary Connect error with `code` (Connect protocol's table).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The Connect error object of `status`: code, message (omitted when empty) and details.
pub fn error_json(status: &Status) -> Value {
    let mut error = json!({ "code": code_name(status.code()) });
    if !status.message().is_empty() {
        error["message"] = Value::from(status.message());
    }
    let details = RpcStatus::decode(status.details())
        .map(|s| s.details)
        .unwrap_or_default();
    if !details.is_empty() {
        let details: Vec<Value> = details
            .iter()
            .map(|any| {
                let kind = any.type_url.rsplit('/').next().unwrap_or_default();
                json!({ "type": kind, "value": STANDARD_NO_PAD.encode(&any.value) })
            })
            .collect();
        error["details"] = Value::from(details);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_code_message_and_details() {
        let details = RpcStatus {
            code: Code::Unavailable as i32,
            message: "draining".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                value: vec![1, 2, 3],
            }],
        };
        let status = Status::with_details(
            Code::Unavailable,
            "draining",
            details.encode_to_vec().into(),
        );
        let json = error_json(&status);
        assert_eq!(json["code"], "unavailable");
        assert_eq!(json["message"], "draining");
        assert_eq!(json["details"][0]["type"], "google.rpc.RetryInfo");
        assert_eq!(json["details"][0]["value"], "AQID");
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert!(error_json(&Status::not_found("")).get("message").is_none());
    }
}
