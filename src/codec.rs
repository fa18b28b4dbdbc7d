//! The protobuf codec of the generated services: prost's, with a small initial encode buffer.
//!
//! tonic allocates each response stream's encode buffer when the stream starts (8 KiB by default),
//! so 10,000 idle waiting streams would hold 80 MiB of empty buffers; messages here are small and
//! the buffer grows when one is not.
//!
//! Decoding is prost's too, but a message that does not decode (truncated bytes, nesting past
//! prost's recursion limit of 100, invalid UTF-8 in a string) is INVALID_ARGUMENT, not tonic's
//! INTERNAL: the request is malformed, dbosd is not broken. (The generated client shares the codec,
//! so an undecodable response also reads as INVALID_ARGUMENT there.)

use std::marker::PhantomData;

use prost::Message;
use tonic::{
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
    Code, Status,
};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Initial encode buffer per stream.
const ENCODE_BUFFER: usize = 512;
/// Flush to the transport once this much is buffered (tonic's default).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// `ProstCodec` with a small encode buffer; used by the generated code (see build.rs).
#[derive(Debug, Clone, Copy)]
pub struct CompactCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for CompactCodec<T, U> {
    fn default() -> Self {
        CompactCodec(PhantomData)
    }
}

impl<T, U> Codec for CompactCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(ENCODE_BUFFER, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(ProstCodec::<T, U>::default().decoder())
    }
}

/// prost's decoder with decode failures reported as INVALID_ARGUMENT.
#[derive(Debug)]
pub struct StrictDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|status| match status.code() {
            Code::Internal => Status::invalid_argument(status.message()),
            _ => status,
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
