//! Compiles proto/ into OUT_DIR with a pure-Rust protobuf compiler (protox), so a fresh machine needs no
//! protoc, writes the descriptor set that server reflection serves, and generates the OpenAPI
//! document of the Connect endpoints (`build/openapi.rs`).

#[path = "build/openapi.rs"]
mod openapi;

use std::{env, fs, path::PathBuf};

const PROTO_FILES: &[&str] = &[
    "dbosd/v1/workflow.proto",
    "dbosd/v1/workflow_filter.proto",
    "dbosd/v1/waits.proto",
    "dbosd/v1/workflow_requests.proto",
    "dbosd/v1/queues.proto",
    "dbosd/v1/batch.proto",
    "dbosd/v1/inbox.proto",
    "dbosd/v1/export.proto",
    "dbosd/v1/aggregates.proto",
    "dbosd/v1/databases.proto",
    "dbosd/v1/schedules.proto",
    "dbosd/v1/workflow_service.proto",
    "dbosd/v1/management.proto",
    "dbosd/v1/jobs.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // tonic-prost-build emits no rerun-if-changed of its own (see qdrant's lib/api/build.rs).
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build");

    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTO_FILES)?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // prost-build's compile_fds ignores file_descriptor_set_path, so write the set for reflection here.
    fs::write(
        out_dir.join("dbosd_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    let openapi = openapi::document(&compiler.descriptor_pool(), &env::var("CARGO_PKG_VERSION")?)?;
    fs::write(out_dir.join("openapi.json"), openapi)?;

    tonic_prost_build::configure()
        .codec_path("crate::codec::CompactCodec")
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
