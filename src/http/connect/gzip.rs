//! Gzip-compressed Connect requests: a unary body sent with `Content-Encoding: gzip`, or a
//! streaming request's message envelope flagged compressed under `Connect-Content-Encoding: gzip`.
//!
//! The bytes are the caller's, so decompression stops one byte past the limit the uncompressed body
//! would have had: a small body that inflates to gigabytes (a gzip bomb) costs that limit, no more.

use std::io::Read;

use bytes::Bytes;
use flate2::read::GzDecoder;
use tonic::Status;

/// The one compression dbosd reads besides identity, as Connect names it.
pub const GZIP: &str = "gzip";

/// `data` decompressed, if it is gzip and inflates to at most `limit` bytes.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Bytes, Status> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    let read = GzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out);
    match read {
        Err(e) => Err(Status::invalid_argument(format!(
            "the request is not valid gzip: {e}"
        ))),
        Ok(n) if n > limit => Err(Status::resource_exhausted(format!(
            "the request decompresses to more than the {limit} bytes allowed (--max-message-bytes)"
        ))),
        Ok(_) => Ok(Bytes::from(out)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{write::GzEncoder, Compression};
    use proptest::prelude::*;
    use tonic::Code;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn what_was_compressed_comes_back() {
        let body = br#"{"workflowName":"echo"}"#;
        assert_eq!(&gunzip(&gzip(body), 1024).unwrap()[..], body);
        assert_eq!(&gunzip(&gzip(b""), 0).unwrap()[..], b"");
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compress to about 64 KiB.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        let err = gunzip(&bomb, 4 << 20).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        // Exactly at the limit is fine.
        assert_eq!(gunzip(&gzip(&[7u8; 1000]), 1000).unwrap().len(), 1000);
        assert_eq!(
            gunzip(&gzip(&[7u8; 1001]), 1000).unwrap_err().code(),
            Code::ResourceExhausted
        );
    }

    #[test]
    fn bytes_that_are_not_gzip_are_invalid() {
        let err = gunzip(b"{\"plain\":true}", 1024).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    }

    proptest! {
        // Hostile bytes: never a panic, never more than the limit, always a caller's error.
        #[test]
        fn hostile_bytes_end_in_a_bounded_answer(data in proptest::collection::vec(any::<u8>(), 0..4096),
                                                 limit in 0usize..65536) {
            match gunzip(&data, limit) {
                Ok(out) => prop_assert!(out.len() <= limit),
                Err(status) => prop_assert!(matches!(
                    status.code(),
                    Code::InvalidArgument | Code::ResourceExhausted
                )),
            }
        }

        // Real gzip with one byte changed: a damaged stream or a checksum mismatch, never a panic.
        #[test]
        fn damaged_gzip_ends_in_a_bounded_answer(data in proptest::collection::vec(any::<u8>(), 0..2048),
                                                 at in any::<prop::sample::Index>(), flip in 1u8..) {
            let mut bytes = gzip(&data);
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            match gunzip(&bytes, data.len()) {
                Ok(out) => prop_assert!(out.len() <= data.len()),
                Err(status) => prop_assert!(matches!(
                    status.code(),
                    Code::InvalidArgument | Code::ResourceExhausted
                )),
            }
        }

        // Real gzip of anything inside the limit round-trips.
        #[test]
        fn gzip_round_trips(data in proptest::collection::vec(any::<u8>(), 0..8192)) {
            prop_assert_eq!(&gunzip(&gzip(&data), data.len()).unwrap()[..], &data[..]);
        }
    }
}
