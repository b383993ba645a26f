//! Withdrawing the earlier hops (撤回原承办单位): when a re-dispatch makes
//! hop N+1, the units of hop N must stop being able to act on the ticket.
//!
//! The order, in `routing::redispatch_ticket`: check → plan hop N+1 →
//! **withdraw_earlier_hops(ticket, N+1)** → store hop N+1 → reply. The call
//! comes before anything is stored and no transaction is open across it:
//!
//! - undertaking refuses (the lead answered this round): nothing was
//!   stored, the re-dispatch is refused with undertaking's reason;
//! - undertaking accepts and storing then fails (another dispatcher stored
//!   hop N+1 first, or the database is gone): undertaking has hop N+1 in
//!   force with hop N withdrawn, dispatch still says N. No unit of hop N
//!   can act, and a retry (or the winner's hop N+1) is consistent with
//!   undertaking, which takes the same hop again without change.
//!
//! So it never happens that dispatch says hop N+1 while a unit of hop N
//! may still answer; storing first and compensating would open exactly
//! that window.

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::ids::TicketNo;
use hotline_common::startup::Peer;
use tonic::codegen::http::uri::PathAndQuery;

use crate::ids::Hop;

/// Puts a new hop in force in undertaking, withdrawing the open
/// assignments of the earlier hops; refused (FAILED_PRECONDITION) when the
/// lead unit already answered the hop in force.
#[tonic::async_trait]
pub trait EarlierHops: Send + Sync {
    async fn withdraw_earlier_hops(&self, ticket_no: &TicketNo, hop: Hop) -> Result<(), ApiError>;
}

/// Before undertaking serves `BeginHop`: nothing is asked synchronously;
/// undertaking withdraws the earlier hops when the relay delivers the new
/// hop's `CreateAssignments` (so, for a moment after the reply, a unit of
/// the old hop may still act).
pub struct ByRelay;

#[tonic::async_trait]
impl EarlierHops for ByRelay {
    async fn withdraw_earlier_hops(&self, ticket_no: &TicketNo, hop: Hop) -> Result<(), ApiError> {
        tracing::debug!(ticket_no = %ticket_no, hop = %hop, "earlier hops withdrawn by the relay");
        Ok(())
    }
}

/// `hotline.undertaking.v1.UndertakingService/BeginHop`, as announced:
/// `BeginHopRequest { string ticket_no = 1; uint32 hop = 2; }`. Written out
/// here until the generated message exists; the wire format is the same.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BeginHopRequest {
    #[prost(string, tag = "1")]
    pub ticket_no: String,
    #[prost(uint32, tag = "2")]
    pub hop: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BeginHopResponse {}

pub const BEGIN_HOP_PATH: &str = "/hotline.undertaking.v1.UndertakingService/BeginHop";

/// Asks undertaking synchronously (service identity, as every peer call).
pub struct BeginHop {
    pub channel: Peer,
}

#[tonic::async_trait]
impl EarlierHops for BeginHop {
    async fn withdraw_earlier_hops(&self, ticket_no: &TicketNo, hop: Hop) -> Result<(), ApiError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| ApiError::unavailable(format!("undertaking: {e}")))?;
        let codec = wire::Prost::<BeginHopRequest, BeginHopResponse>::default();
        let request = BeginHopRequest {
            ticket_no: ticket_no.to_string(),
            hop: u32::try_from(hop.get()).unwrap_or_default(),
        };
        grpc.unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(BEGIN_HOP_PATH),
            codec,
        )
        .await
        .map_err(|s| from_peer("undertaking", s))?;
        tracing::info!(ticket_no = %ticket_no, hop = %hop, "earlier hops withdrawn by undertaking");
        Ok(())
    }
}

/// A protobuf codec for the one call written out by hand (the generated
/// clients bring their own).
mod wire {
    use std::marker::PhantomData;

    use prost::Message;
    use tonic::Status;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    pub struct Prost<E, D>(PhantomData<(E, D)>);

    impl<E, D> Default for Prost<E, D> {
        fn default() -> Self {
            Prost(PhantomData)
        }
    }

    pub struct Enc<E>(PhantomData<E>);
    pub struct Dec<D>(PhantomData<D>);

    impl<E, D> Codec for Prost<E, D>
    where
        E: Message + Send + 'static,
        D: Message + Default + Send + 'static,
    {
        type Encode = E;
        type Decode = D;
        type Encoder = Enc<E>;
        type Decoder = Dec<D>;

        fn encoder(&mut self) -> Enc<E> {
            Enc(PhantomData)
        }

        fn decoder(&mut self) -> Dec<D> {
            Dec(PhantomData)
        }
    }

    impl<E: Message> Encoder for Enc<E> {
        type Item = E;
        type Error = Status;

        fn encode(&mut self, item: E, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
            item.encode(buf)
                .map_err(|e| Status::internal(format!("encoding: {e}")))
        }
    }

    impl<D: Message + Default> Decoder for Dec<D> {
        type Item = D;
        type Error = Status;

        fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
            D::decode(buf)
                .map(Some)
                .map_err(|e| Status::internal(format!("decoding: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn the_request_is_the_announced_wire_format() {
        let bytes = BeginHopRequest {
            ticket_no: "BJ000000000001".into(),
            hop: 3,
        }
        .encode_to_vec();
        // Field 1, length-delimited; field 2, varint.
        let mut want = vec![0x0a, 14];
        want.extend_from_slice(b"BJ000000000001");
        want.extend_from_slice(&[0x10, 3]);
        assert_eq!(bytes, want);
    }
}
