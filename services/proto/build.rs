//! Generates the gRPC code from `proto/` with the pure-Rust `protox`
//! compiler, so that no system `protoc` is needed.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "hotline/common/v1/common.proto",
    "hotline/common/v1/clock.proto",
    "hotline/common/v1/audit.proto",
    "hotline/intake/v1/intake.proto",
    "hotline/intake/v1/knowledge.proto",
    "hotline/intake/v1/media.proto",
    "hotline/dispatch/v1/dispatch.proto",
    "hotline/undertaking/v1/undertaking.proto",
    "hotline/supervision/v1/supervision.proto",
    "hotline/events/v1/events.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let fds = protox::compile(FILES, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("hotline_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::codec::HotlineCodec")
        .compile_fds(fds)?;
    Ok(())
}
