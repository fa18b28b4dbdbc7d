//! Generated protobuf and tonic code for `dbosd.v1`, and the descriptor set served by reflection.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("dbosd.v1");

/// Encoded `FileDescriptorSet` of proto/ (with imports), for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("dbosd_descriptor");
