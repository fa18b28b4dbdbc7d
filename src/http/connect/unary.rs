//! Unary Connect responses: the gRPC response collected, its one message re-encoded (JSON or
//! protobuf), trailers sent as `trailer-` headers; an error becomes the Connect error body with the
//! HTTP status Connect assigns to its code.

use std::{convert::Infallible, future::Future};

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Response};
use http_body_util::{BodyExt, Full};
use prost_reflect::MessageDescriptor;
use tokio::time::Instant;
use tonic::{body::Body, Status};

use super::{error, final_status, frames, metadata_headers, schema, Codec, DEADLINE_MESSAGE};

/// The Connect response to a unary call whose gRPC response `future` yields.
pub async fn respond(
    future: impl Future<Output = Result<Response<Body>, Infallible>>,
    deadline: Option<Instant>,
    codec: Codec,
    output: MessageDescriptor,
) -> Response<Body> {
    let call = async {
        let Ok(response) = future.await;
        let (parts, body) = response.into_parts();
        let collected = body.collect().await;
        (parts, collected)
    };
    let (parts, collected) = match deadline {
        None => call.await,
        Some(deadline) => match tokio::time::timeout_at(deadline, call).await {
            Ok(done) => done,
            Err(_) => {
                return error_response(
                    &Status::deadline_exceeded(DEADLINE_MESSAGE),
                    HeaderMap::new(),
                )
            }
        },
    };
    let mut headers = metadata_headers(&parts.headers);
    let collected = match collected {
        Ok(collected) => collected,
        Err(status) => return error_response(&status, headers),
    };
    let trailers = collected.trailers().cloned();
    let status = final_status(&parts.headers, trailers.as_ref());
    if let Some(trailers) = &trailers {
        add_trailer_headers(&mut headers, trailers);
    }
    if status.code() != tonic::Code::Ok {
        return error_response(&status, headers);
    }
    let mut data = BytesMut::from(&collected.to_bytes()[..]);
    let Some((_, message)) = frames::next_frame(&mut data) else {
        return error_response(
            &Status::internal("the call returned no response message"),
            headers,
        );
    };
    let (body, content_type) = match codec {
        Codec::Proto => (message, "application/proto"),
        Codec::Json => match schema::proto_to_json(&output, &message) {
            Ok(json) => (Bytes::from(json), "application/json"),
            Err(status) => return error_response(&status, headers),
        },
    };
    let mut response = Response::new(Body::new(Full::new(body)));
    *response.headers_mut() = headers;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A unary Connect error: the JSON error body, with the HTTP status of its code and `headers`.
pub fn error_response(status: &Status, headers: HeaderMap) -> Response<Body> {
    let body = error::error_json(status).to_string();
    let mut response = Response::new(Body::new(Full::new(Bytes::from(body))));
    *response.status_mut() = error::http_status(status.code());
    *response.headers_mut() = headers;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// gRPC trailers (besides the status, which the body carries) as Connect's `trailer-` headers.
fn add_trailer_headers(headers: &mut HeaderMap, trailers: &HeaderMap) {
    for (name, value) in trailers {
        if name.as_str().starts_with("grpc-status") || name.as_str() == "grpc-message" {
            continue;
        }
        if let Ok(prefixed) =
            HeaderName::from_bytes(format!("trailer-{}", name.as_str()).as_bytes())
        {
            headers.append(prefixed, value.clone());
        }
    }
}
