//! The codec of every hotline RPC: prost's, except that a message that does
//! not decode (not protobuf, a string that is not UTF-8, a truncated field)
//! is the caller's mistake, so it answers `INVALID_ARGUMENT` naming the
//! field where prost knows it, instead of prost's `INTERNAL`.

use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

const DECODE_PREFIX: &str = "failed to decode Protobuf message: ";

/// [`ProstCodec`] with decode errors mapped to `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub struct HotlineCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Default for HotlineCodec<T, U> {
    fn default() -> Self {
        HotlineCodec(ProstCodec::default())
    }
}

impl<T, U> Codec for HotlineCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(self.0.decoder())
    }
}

/// Decodes with prost; a failure becomes [`invalid_message`].
#[derive(Debug)]
pub struct CheckedDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(invalid_message)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// Turns prost's decode status into `INVALID_ARGUMENT`. Prost's message is
/// `failed to decode Protobuf message: Inner.field: Outer.field: what`, the
/// innermost message first; the field path is rebuilt outermost first
/// (`requester.name`).
pub fn invalid_message(s: Status) -> Status {
    if s.code() != Code::Internal {
        return s;
    }
    let Some(rest) = s.message().strip_prefix(DECODE_PREFIX) else {
        return s;
    };
    let mut parts: Vec<&str> = rest.split(": ").collect();
    let what = parts.pop().unwrap_or_default().to_string();
    let path: Vec<&str> = parts
        .iter()
        .rev()
        .filter_map(|p| p.rsplit_once('.').map(|(_, field)| field))
        .collect();
    let field = if path.is_empty() {
        "request".to_string()
    } else {
        path.join(".")
    };
    let message = format!("{field}: not a valid protobuf message ({what})");
    Status::with_error_details(
        Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request(vec![FieldViolation::new(field, what)]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field_outermost_first() {
        let s = invalid_message(Status::internal(
            "failed to decode Protobuf message: Requester.name: SubmitRequest.requester: invalid string value: data is not UTF-8 encoded",
        ));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(
            s.message().starts_with("requester.name: "),
            "{}",
            s.message()
        );
    }

    #[test]
    fn garbage_names_the_request_and_other_errors_pass() {
        let s = invalid_message(Status::internal(
            "failed to decode Protobuf message: invalid wire type value: 7",
        ));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().starts_with("request: "));
        assert_eq!(
            invalid_message(Status::internal("boom")).code(),
            Code::Internal
        );
    }
}
