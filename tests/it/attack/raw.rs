//! Raw gRPC: any bytes as any RPC's request, so an attack can send what no generated client would
//! (wrong wire types, deep nesting, out-of-range enum values, invalid UTF-8).

use std::{str::FromStr, time::Duration};

use bytes::{Buf, BufMut};
use dbosd::auth::policy::SERVICE;
use tonic::{
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
    Status,
};

/// Passes request bytes through as they are and reads answers as bytes.
#[derive(Default, Clone, Copy)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// Calls `method` with `body` as `token`: unary methods answer once; for streaming ones, the first
/// message (or end) within `within` counts as the answer, and a stream still open then is `Ok`.
pub async fn call(
    channel: &Channel,
    method: &str,
    streaming: bool,
    body: Vec<u8>,
    token: &str,
    within: Duration,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_str(&format!("/{SERVICE}/{method}")).unwrap();
    let mut request = tonic::Request::new(body);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request.set_timeout(within);
    if !streaming {
        return grpc.unary(request, path, RawCodec).await.map(|_| ());
    }
    let mut stream = grpc
        .server_streaming(request, path, RawCodec)
        .await?
        .into_inner();
    match tokio::time::timeout(within, stream.message()).await {
        Ok(next) => next.map(|_| ()),
        Err(_) => Ok(()),
    }
}

/// A protobuf key for field `field` of wire type `wire`.
pub fn key(field: u32, wire: u8, out: &mut Vec<u8>) {
    varint(((field as u64) << 3) | wire as u64, out);
}

pub fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Field `field` holding `bytes` (length-delimited).
pub fn bytes_field(field: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    key(field, 2, &mut out);
    varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// Field `field` holding the varint `v`.
pub fn varint_field(field: u32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    key(field, 0, &mut out);
    varint(v, &mut out);
    out
}

/// `levels` messages nested in each other, each in field `field` of the one around it.
pub fn nested(field: u32, levels: usize) -> Vec<u8> {
    (0..levels).fold(Vec::new(), |inner, _| bytes_field(field, &inner))
}
