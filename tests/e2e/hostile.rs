//! Hostile input to every RPC of the contract, enumerated from the
//! descriptor set (not a hand list): for every string field NUL, bytes that
//! are not UTF-8, direction controls, 100k characters and emoji; for every
//! timestamp a negative time, the year 9999 and the year 255000; for every
//! enum 99; for every integer -1 and its largest value; and a body that is
//! not protobuf at all. Fields of nested messages are reached too. No call
//! may answer INTERNAL, UNKNOWN or UNIMPLEMENTED, and every service must
//! still be SERVING afterwards.

use std::collections::{BTreeMap, HashMap};

use bytes::{Buf, BufMut, Bytes};
use hotline_common::auth::Role;
use hotline_tests::{Options, SERVICES, System};
use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Sends bytes as they are and ignores what comes back: the test forges
/// message bodies no generated client would send.
#[derive(Default, Clone)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = ();
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(field: i32, wire: u8, out: &mut Vec<u8>) {
    varint(((field as u64) << 3) | wire as u64, out);
}

fn len_field(field: i32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    tag(field, 2, &mut out);
    varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

fn varint_field(field: i32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    tag(field, 0, &mut out);
    varint(v, &mut out);
    out
}

/// The hostile values of a field of type `ty` (message type `type_name`),
/// as encoded fields.
fn values(field: i32, ty: Type, type_name: &str) -> Vec<(&'static str, Vec<u8>)> {
    match ty {
        Type::String => vec![
            ("NUL", len_field(field, b"ab\0cd")),
            ("not UTF-8", len_field(field, b"\xff\xfe\xfd")),
            ("bidi override", len_field(field, "a\u{202E}b".as_bytes())),
            (
                "bidi isolate",
                len_field(field, "\u{2066}x\u{2069}".as_bytes()),
            ),
            (
                "zero width",
                len_field(field, "a\u{200B}\u{FEFF}b".as_bytes()),
            ),
            (
                "100k characters",
                len_field(field, "字".repeat(100_000).as_bytes()),
            ),
            ("emoji", len_field(field, "😀👍🏽🇨🇳".as_bytes())),
        ],
        Type::Bytes => vec![("not UTF-8", len_field(field, b"\xff\0\xfe"))],
        Type::Message if type_name == ".google.protobuf.Timestamp" => {
            let at = |seconds: i64| len_field(field, &varint_field(1, seconds as u64));
            vec![
                ("negative time", at(-1)),
                ("year 9999", at(253_402_300_799)),
                ("year 255000", at(7_984_000_000_000)),
                (
                    "nanos out of range",
                    len_field(
                        field,
                        &[varint_field(1, 1), varint_field(2, 2_000_000_000)].concat(),
                    ),
                ),
            ]
        }
        Type::Enum => vec![("enum 99", varint_field(field, 99))],
        Type::Int32 | Type::Int64 | Type::Sint32 | Type::Sint64 | Type::Uint32 | Type::Uint64 => {
            vec![
                ("-1", varint_field(field, u64::MAX)),
                ("largest", varint_field(field, i64::MAX as u64)),
            ]
        }
        Type::Bool => vec![("bool 7", varint_field(field, 7))],
        _ => Vec::new(),
    }
}

/// Every message of the contract by full name (`.pkg.Msg`, `.pkg.Msg.Inner`).
fn messages(fds: &FileDescriptorSet) -> HashMap<String, DescriptorProto> {
    fn add(prefix: &str, m: &DescriptorProto, out: &mut HashMap<String, DescriptorProto>) {
        let name = format!("{prefix}.{}", m.name());
        for n in &m.nested_type {
            add(&name, n, out);
        }
        out.insert(name, m.clone());
    }
    let mut out = HashMap::new();
    for f in &fds.file {
        for m in &f.message_type {
            add(&format!(".{}", f.package()), m, &mut out);
        }
    }
    out
}

/// Every (field path, case, encoded message) of `msg`, down to `depth`
/// levels of nested messages.
fn cases(
    all: &HashMap<String, DescriptorProto>,
    msg: &str,
    depth: usize,
) -> Vec<(String, &'static str, Vec<u8>)> {
    let Some(m) = all.get(msg) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in &m.field {
        let ty = f.r#type();
        for (case, bytes) in values(f.number(), ty, f.type_name()) {
            out.push((f.name().to_string(), case, bytes));
        }
        if ty == Type::Message && f.type_name() != ".google.protobuf.Timestamp" && depth > 0 {
            for (path, case, inner) in cases(all, f.type_name(), depth - 1) {
                out.push((
                    format!("{}.{path}", f.name()),
                    case,
                    len_field(f.number(), &inner),
                ));
            }
        }
    }
    out
}

/// The port that serves a service of the contract.
fn server_of(service: &str) -> &'static str {
    SERVICES
        .into_iter()
        .find(|s| service.starts_with(&format!("hotline.{s}.")))
        .unwrap_or("intake")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_hostile_input_cleanly() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let fds = FileDescriptorSet::decode(hotline_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let all = messages(&fds);
    // Every role at once, a unit too, and the service role, which no rate
    // limit holds back: the gate lets each call through to its handler.
    let token = sys.token(&Role::ALL, Some("bj-cmc"));
    let mut channels = HashMap::new();
    for s in SERVICES {
        channels.insert(s, sys.channel_with(s, token.clone()).await);
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    let mut calls = 0usize;
    let mut methods = 0usize;
    for file in &fds.file {
        for svc in &file.service {
            let service = format!("{}.{}", file.package(), svc.name());
            for method in &svc.method {
                methods += 1;
                let path = format!("/{service}/{}", method.name());
                let mut bodies = cases(&all, method.input_type(), 2);
                bodies.push((
                    "(whole body)".into(),
                    "not protobuf",
                    vec![0xff, 0xff, 0xff, 0xff, 0x0f],
                ));
                bodies.push(("(whole body)".into(), "truncated", vec![0x0a, 0x40, 0x41]));
                for (field, case, body) in bodies {
                    let mut grpc = tonic::client::Grpc::new(channels[server_of(&service)].clone());
                    grpc.ready().await.expect("ready");
                    let status = match grpc
                        .unary(
                            tonic::Request::new(Bytes::from(body)),
                            path.parse().expect("path"),
                            Raw,
                        )
                        .await
                    {
                        Ok(_) => Code::Ok,
                        Err(s) => {
                            if std::env::var_os("HOSTILE_VERBOSE").is_some() {
                                println!(
                                    "{path} {field} ({case}): {:?} {}",
                                    s.code(),
                                    s.message().chars().take(160).collect::<String>()
                                );
                            }
                            if matches!(
                                s.code(),
                                Code::Internal | Code::Unknown | Code::Unimplemented
                            ) {
                                bad.push(format!(
                                    "{path} {field} ({case}): {:?} {}",
                                    s.code(),
                                    s.message()
                                ));
                            }
                            s.code()
                        }
                    };
                    calls += 1;
                    *seen.entry(format!("{status:?}")).or_default() += 1;
                }
            }
        }
    }
    println!("{methods} methods, {calls} hostile calls: {seen:?}");
    let rules = [
        hotline_intake::rules::RULES,
        hotline_dispatch::rules::RULES,
        hotline_undertaking::rules::RULES,
        hotline_supervision::rules::RULES,
        hotline_common::auth::COMMON_RULES,
    ]
    .concat();
    assert_eq!(
        methods,
        rules.len(),
        "every method of the contract was swept"
    );
    assert!(
        bad.is_empty(),
        "{} calls answered as a server fault:\n{}",
        bad.len(),
        bad.join("\n")
    );
    for s in SERVICES {
        let mut health = tonic_health::pb::health_client::HealthClient::new(sys.channel(s).await);
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("{s} health: {e}"))
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{s} still serving after the sweep"
        );
    }
}
