//! The hotline's public gRPC contract, generated from `proto/` at build time.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

pub mod codec;

pub mod common {
    pub mod v1 {
        tonic::include_proto!("hotline.common.v1");
    }
}
pub mod intake {
    pub mod v1 {
        tonic::include_proto!("hotline.intake.v1");
    }
}
pub mod dispatch {
    pub mod v1 {
        tonic::include_proto!("hotline.dispatch.v1");
    }
}
pub mod undertaking {
    pub mod v1 {
        tonic::include_proto!("hotline.undertaking.v1");
    }
}
pub mod supervision {
    pub mod v1 {
        tonic::include_proto!("hotline.supervision.v1");
    }
}
pub mod events {
    pub mod v1 {
        tonic::include_proto!("hotline.events.v1");
    }
}

/// Encoded `FileDescriptorSet` of every hotline proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hotline_descriptor.bin"));

pub use prost_types::Timestamp;
