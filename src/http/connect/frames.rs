//! Length-prefixed messages: gRPC's frames and Connect's streaming envelopes share the layout (one
//! flags byte, a 4-byte big-endian length, the message). Connect flags: 0x01 compressed, 0x02 the
//! end-of-stream message.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tonic::Status;

/// Connect's end-of-stream flag.
pub const END_STREAM: u8 = 0x02;
const COMPRESSED: u8 = 0x01;

/// `message` behind a prefix with `flags`.
pub fn frame(flags: u8, message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(flags);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

/// Takes the next whole message off `buf`, if it holds one: its flags and bytes.
pub fn next_frame(buf: &mut BytesMut) -> Option<(u8, Bytes)> {
    if buf.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if buf.len() < 5 + len {
        return None;
    }
    let flags = buf.get_u8();
    buf.advance(4);
    Some((flags, buf.split_to(len).freeze()))
}

/// The one message of a Connect server-streaming request body, and whether it is flagged
/// compressed.
pub fn single_request(body: Bytes) -> Result<(bool, Bytes), Status> {
    let mut buf = BytesMut::from(&body[..]);
    let (flags, message) = next_frame(&mut buf).ok_or_else(|| {
        Status::invalid_argument(
            "the request body must be one Connect envelope (5-byte prefix and message)",
        )
    })?;
    if flags & !COMPRESSED != 0 || !buf.is_empty() {
        return Err(Status::invalid_argument(
            "a server-streaming request body holds exactly one message envelope",
        ));
    }
    Ok((flags & COMPRESSED != 0, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_only_when_whole() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(0, b"hello"));
        buf.extend_from_slice(&frame(END_STREAM, b"{}")[..3]);
        assert_eq!(
            next_frame(&mut buf),
            Some((0, Bytes::from_static(b"hello")))
        );
        assert_eq!(next_frame(&mut buf), None);
        buf.extend_from_slice(&frame(END_STREAM, b"{}")[3..]);
        assert_eq!(
            next_frame(&mut buf),
            Some((END_STREAM, Bytes::from_static(b"{}")))
        );
    }

    #[test]
    fn a_streaming_request_is_one_envelope_plain_or_compressed() {
        assert_eq!(
            single_request(frame(0, b"x")).unwrap(),
            (false, Bytes::from_static(b"x"))
        );
        assert!(single_request(Bytes::from_static(b"{}")).is_err());
        assert_eq!(
            single_request(frame(COMPRESSED, b"x")).unwrap(),
            (true, Bytes::from_static(b"x"))
        );
        assert!(single_request(frame(END_STREAM, b"x")).is_err());
        let two = [frame(0, b"a"), frame(0, b"b")].concat();
        assert!(single_request(Bytes::from(two)).is_err());
    }
}
