//! The Connect protocol (https://connectrpc.com/docs/protocol) on the gRPC port: a Connect request
//! is checked, its message turned into protobuf (proto3 JSON via [`schema`], or `application/proto`
//! as is), and sent as a gRPC request into the call stack; the gRPC response, status and trailers
//! are turned back into a Connect response. `Connect-Timeout-Ms` becomes the call's deadline
//! (forwarded as `grpc-timeout` and enforced here, as tonic enforces `grpc-timeout` for gRPC).

mod error;
mod frames;
mod gzip;
mod schema;
mod stream;
mod unary;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{
    header, request::Parts, HeaderMap, HeaderValue, Method as HttpMethod, Request, Response,
    StatusCode,
};
use http_body_util::{BodyExt, Full, Limited};
use tokio::time::Instant;
use tonic::{body::Body, Status};

use self::schema::Method;
pub use self::schema::Schema;
use super::CallStack;

/// The message of a call that outlived its deadline: tonic's, so gRPC and Connect callers read the same.
const DEADLINE_MESSAGE: &str = "Timeout expired";

/// Request headers that describe the Connect encoding, not the call: not forwarded to gRPC.
const CONNECT_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "accept-encoding",
    "transfer-encoding",
    "connection",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
];

/// Serves Connect calls through the call stack.
#[derive(Clone)]
pub struct Connect {
    stack: CallStack,
    schema: Arc<Schema>,
    max_message_bytes: usize,
}

/// How messages travel: proto3 JSON or binary protobuf.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Codec {
    Json,
    Proto,
}

/// What the request headers say about a call.
struct Call {
    method: Method,
    codec: Codec,
    streaming: bool,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    /// The request (a unary body, or a streaming request's envelope) may be gzip-compressed.
    gzip: bool,
}

impl Connect {
    pub fn new(stack: CallStack, schema: Arc<Schema>, max_message_bytes: usize) -> Self {
        Connect {
            stack,
            schema,
            max_message_bytes,
        }
    }

    /// Whether `path` belongs to a Connect-served service (the front routes it here).
    pub fn serves(&self, path: &str) -> bool {
        self.schema.serves(path)
    }

    /// Answers one Connect request (errors included: this never fails).
    pub async fn call(self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let call = match self.read_headers(&parts) {
            Ok(call) => call,
            Err(response) => return *response,
        };
        // JSON is larger than the protobuf the stack limits (base64 bytes, names): allow twice.
        let limit = match call.codec {
            Codec::Json => self.max_message_bytes.saturating_mul(2),
            Codec::Proto => self.max_message_bytes,
        } + 5;
        let body = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return call.fail(Status::resource_exhausted(format!(
                    "the request body is larger than the {limit} bytes allowed (--max-message-bytes)"
                )))
            }
            Err(e) => return call.fail(Status::invalid_argument(format!("cannot read the request body: {e}"))),
        };
        let message = match call.message(body, limit - 5) {
            Ok(message) => message,
            Err(status) => return call.fail(status),
        };
        let request = grpc_request(parts, message, call.timeout);
        let response = self.stack.clone();
        let response = tower::ServiceExt::oneshot(response, request);
        if call.streaming {
            stream::respond(response, call.deadline, call.codec, call.method.output).await
        } else {
            unary::respond(response, call.deadline, call.codec, call.method.output).await
        }
    }

    /// The call the headers describe, or the protocol error to answer.
    fn read_headers(&self, parts: &Parts) -> Result<Call, Box<Response<Body>>> {
        let path = parts.uri.path();
        let Some(method) = self.schema.method(path) else {
            let status = Status::unimplemented(format!("unknown method {path}"));
            return Err(Box::new(unary::error_response(&status, HeaderMap::new())));
        };
        if parts.method != HttpMethod::POST {
            return Err(Box::new(plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "Connect calls are POST requests",
                (header::ALLOW, "POST"),
            )));
        }
        let content_type =
            header_str(&parts.headers, header::CONTENT_TYPE.as_str()).unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let (codec, streaming) = match essence.as_str() {
            "application/json" => (Codec::Json, false),
            "application/proto" => (Codec::Proto, false),
            "application/connect+json" => (Codec::Json, true),
            "application/connect+proto" => (Codec::Proto, true),
            _ => return Err(Box::new(unsupported_media(&method))),
        };
        if method.client_streaming || streaming != method.server_streaming {
            return Err(Box::new(unsupported_media(&method)));
        }
        let fail = |status: Status| {
            let call = Call {
                method: method.clone(),
                codec,
                streaming,
                deadline: None,
                timeout: None,
                gzip: false,
            };
            Box::new(call.fail(status))
        };
        let encoding = if streaming {
            "connect-content-encoding"
        } else {
            "content-encoding"
        };
        let gzip = match header_str(&parts.headers, encoding) {
            None | Some("identity") => false,
            Some(gzip::GZIP) => true,
            // Connect's answer to a compression the server lacks.
            Some(other) => {
                return Err(fail(Status::unimplemented(format!(
                "compression {other:?} is not supported; send the request as gzip or uncompressed"
            ))))
            }
        };
        let timeout = match header_str(&parts.headers, "connect-timeout-ms") {
            None => None,
            Some(ms) => match ms.parse::<u64>() {
                Ok(ms) if ms.to_string().len() <= 10 => Some(Duration::from_millis(ms)),
                _ => {
                    return Err(fail(Status::invalid_argument(format!(
                    "Connect-Timeout-Ms {ms:?} is not a number of milliseconds (at most 10 digits)"
                ))))
                }
            },
        };
        Ok(Call {
            method,
            codec,
            streaming,
            deadline: timeout.map(|t| Instant::now() + t),
            timeout,
            gzip,
        })
    }
}

impl Call {
    /// The protobuf request message in `body`, whose message may inflate to `limit` bytes.
    fn message(&self, body: Bytes, limit: usize) -> Result<Bytes, Status> {
        let message = match (self.streaming, self.gzip) {
            (true, _) => match frames::single_request(body)? {
                (true, _) if !self.gzip => {
                    return Err(Status::invalid_argument(
                        "a message flagged compressed needs Connect-Content-Encoding: gzip",
                    ))
                }
                (true, message) => gzip::gunzip(&message, limit)?,
                (false, message) => message,
            },
            (false, true) => gzip::gunzip(&body, limit)?,
            (false, false) => body,
        };
        match self.codec {
            Codec::Proto => Ok(message),
            Codec::Json => {
                // An empty unary body is the empty message, as Connect clients may send it.
                let json: &[u8] = if message.is_empty() { b"{}" } else { &message };
                schema::json_to_proto(&self.method.input, json).map(Bytes::from)
            }
        }
    }

    /// The Connect error response for `status`, before any call was made.
    fn fail(&self, status: Status) -> Response<Body> {
        if self.streaming {
            stream::error_response(&status, self.codec)
        } else {
            unary::error_response(&status, HeaderMap::new())
        }
    }
}

/// The gRPC request carrying `message` with the caller's headers (token, request id, metadata) and
/// connection extensions (the peer address audit records name).
fn grpc_request(mut parts: Parts, message: Bytes, timeout: Option<Duration>) -> Request<Body> {
    for name in CONNECT_HEADERS {
        parts.headers.remove(*name);
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    parts
        .headers
        .insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(timeout) = timeout {
        let value = format!("{}m", timeout.as_millis().min(99_999_999));
        parts.headers.insert(
            "grpc-timeout",
            HeaderValue::from_str(&value).expect("digits"),
        );
    }
    parts.version = http::Version::HTTP_2;
    parts.method = HttpMethod::POST;
    Request::from_parts(parts, Body::new(Full::new(frames::frame(0, &message))))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// HTTP 415 naming the content types the method accepts.
fn unsupported_media(method: &Method) -> Response<Body> {
    let accepted = if method.client_streaming {
        "none: client and bidirectional streaming are served over gRPC only"
    } else if method.server_streaming {
        "application/connect+json, application/connect+proto"
    } else {
        "application/json, application/proto"
    };
    plain(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &format!("this method accepts {accepted}"),
        (header::ACCEPT, "application/json, application/proto, application/connect+json, application/connect+proto"),
    )
}

fn plain(
    status: StatusCode,
    text: &str,
    extra: (header::HeaderName, &'static str),
) -> Response<Body> {
    let mut response = Response::new(Body::new(Full::new(Bytes::from(format!("{text}\n")))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(extra.0, HeaderValue::from_static(extra.1));
    response
}

/// Response headers from the gRPC response that are the call's metadata (request id and the like),
/// not gRPC's framing.
fn metadata_headers(grpc: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in grpc {
        let n = name.as_str();
        if n.starts_with("grpc-") || n == "content-type" || n == "content-length" || n == "te" {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// The call's status: in the headers of a trailers-only response, else in the trailers.
fn final_status(headers: &HeaderMap, trailers: Option<&HeaderMap>) -> Status {
    Status::from_header_map(headers)
        .or_else(|| trailers.and_then(Status::from_header_map))
        .unwrap_or_else(|| Status::internal("the call ended without a gRPC status"))
}
