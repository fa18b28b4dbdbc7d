//! Server-streaming Connect responses: each gRPC message re-enveloped (and re-encoded as JSON when
//! asked), then the end-of-stream message carrying the error, if any, and the trailers as metadata.
//! The deadline ends the stream with `deadline_exceeded`, dropping the gRPC call (which cancels it,
//! as a gRPC client's deadline does).

use std::{convert::Infallible, future::Future};

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use prost_reflect::MessageDescriptor;
use serde_json::{json, Map, Value};
use tokio::time::Instant;
use tonic::{body::Body, Status};

use super::{error, final_status, frames, metadata_headers, schema, Codec, DEADLINE_MESSAGE};

/// What the stream still has to read.
struct Relay {
    body: Body,
    buf: BytesMut,
    codec: Codec,
    output: MessageDescriptor,
    deadline: Option<Instant>,
    done: bool,
}

/// The Connect response to a server-streaming call whose gRPC response `future` yields.
pub async fn respond(
    future: impl Future<Output = Result<Response<Body>, Infallible>>,
    deadline: Option<Instant>,
    codec: Codec,
    output: MessageDescriptor,
) -> Response<Body> {
    let response = match deadline {
        None => future.await,
        Some(deadline) => match tokio::time::timeout_at(deadline, future).await {
            Ok(response) => response,
            Err(_) => return error_response(&Status::deadline_exceeded(DEADLINE_MESSAGE), codec),
        },
    };
    let Ok(response) = response;
    let (parts, body) = response.into_parts();
    let mut headers = metadata_headers(&parts.headers);
    headers.insert(header::CONTENT_TYPE, content_type(codec));
    if let Some(status) = Status::from_header_map(&parts.headers) {
        // Trailers-only: the call ended (usually failed) before any message.
        return with_headers(Body::new(Full::new(end_stream(&status, None))), headers);
    }
    let relay = Relay {
        body,
        buf: BytesMut::new(),
        codec,
        output,
        deadline,
        done: false,
    };
    let frames = futures::stream::unfold(relay, |mut relay| async move {
        if relay.done {
            return None;
        }
        let chunk = relay.next().await;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), relay))
    });
    with_headers(Body::new(StreamBody::new(frames)), headers)
}

impl Relay {
    /// The next bytes to send: messages, or the end-of-stream message (then `done`).
    async fn next(&mut self) -> Bytes {
        loop {
            let frame = match self.deadline {
                None => self.body.frame().await,
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, self.body.frame()).await {
                        Ok(frame) => frame,
                        Err(_) => {
                            return self.finish(&Status::deadline_exceeded(DEADLINE_MESSAGE), None)
                        }
                    }
                }
            };
            let frame = match frame {
                None => return self.finish(&final_status(&HeaderMap::new(), None), None),
                Some(Err(e)) => return self.finish(&e, None),
                Some(Ok(frame)) => frame,
            };
            let frame = match frame.into_trailers() {
                Ok(trailers) => {
                    return self.finish(
                        &final_status(&HeaderMap::new(), Some(&trailers)),
                        Some(&trailers),
                    )
                }
                Err(frame) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.buf.extend_from_slice(&data);
            let mut out = BytesMut::new();
            while let Some((_, message)) = frames::next_frame(&mut self.buf) {
                let message = match self.codec {
                    Codec::Proto => message,
                    Codec::Json => match schema::proto_to_json(&self.output, &message) {
                        Ok(json) => Bytes::from(json),
                        Err(status) => return self.finish(&status, None),
                    },
                };
                out.extend_from_slice(&frames::frame(0, &message));
            }
            if !out.is_empty() {
                return out.freeze();
            }
        }
    }

    fn finish(&mut self, status: &Status, trailers: Option<&HeaderMap>) -> Bytes {
        self.done = true;
        end_stream(status, trailers)
    }
}

/// A streaming call that failed before it started: HTTP 200 and only the end-of-stream message.
pub fn error_response(status: &Status, codec: Codec) -> Response<Body> {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, content_type(codec));
    with_headers(Body::new(Full::new(end_stream(status, None))), headers)
}

/// Connect's end-of-stream envelope: `{"error": ..., "metadata": {...}}` (JSON for both codecs).
fn end_stream(status: &Status, trailers: Option<&HeaderMap>) -> Bytes {
    let mut end = Map::new();
    if status.code() != tonic::Code::Ok {
        end.insert("error".into(), error::error_json(status));
    }
    let mut metadata = Map::new();
    for (name, value) in trailers.into_iter().flatten() {
        let n = name.as_str();
        if n.starts_with("grpc-status") || n == "grpc-message" {
            continue;
        }
        let values = metadata.entry(n.to_owned()).or_insert_with(|| json!([]));
        if let (Value::Array(values), Ok(value)) = (values, value.to_str()) {
            values.push(Value::from(value));
        }
    }
    if !metadata.is_empty() {
        end.insert("metadata".into(), Value::Object(metadata));
    }
    frames::frame(
        frames::END_STREAM,
        Value::Object(end).to_string().as_bytes(),
    )
}

fn content_type(codec: Codec) -> HeaderValue {
    HeaderValue::from_static(match codec {
        Codec::Json => "application/connect+json",
        Codec::Proto => "application/connect+proto",
    })
}

fn with_headers(body: Body, headers: HeaderMap) -> Response<Body> {
    let mut response = Response::new(body);
    *response.headers_mut() = headers;
    response
}
