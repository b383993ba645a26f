"""An outside client drives one request through a running hotline system.

Generated Python stubs (grpcio-tools) from proto/ on PYTHONPATH; the four
services at their default addresses (deploy/local/up.sh); HOTLINE_KEYS, the
key file up.sh printed, to mint tokens with hotline-token. Watches the lead
unit's stream of events, submits a request, waits for it to be routed (and
the assignment to arrive on the stream), signs it as the lead unit (retrying
the sign with its idempotency key, and decoding the ErrorInfo reason of a
second sign), answers it, and reads the timeline back, printing the ticket's
status at each step. Exits non-zero on any surprise.
"""

import uuid

import grpc

from hotline.common.v1 import common_pb2 as c
from hotline.intake.v1 import intake_pb2 as i, intake_pb2_grpc as ig
from hotline.undertaking.v1 import undertaking_pb2 as u, undertaking_pb2_grpc as ug
from hotline_client import HOST, PORTS, error_info, token, wait_for


def stub(cls, port, bearer):
    return cls(grpc.insecure_channel(f"{HOST}:{port}")), [("authorization", f"Bearer {bearer}")]


centre = token("--subject", "outside-client", "--roles", "operator,dispatcher,supervisor")
intake, md = stub(ig.IntakeServiceStub, 50051, centre)
units, _ = stub(ug.UndertakingServiceStub, 50053, centre)

# The lead unit of heating requests watches its work as a stream, opened
# before the request comes: the first message is a heartbeat with the
# cursor of "now".
LEAD = "bj-heating-group"
lead_md = [("authorization", "Bearer " + token("--subject", "unit-system", "--roles", "unit_staff", "--unit", LEAD))]
watch = units.WatchUnitEvents(u.WatchUnitEventsRequest(unit_id=LEAD), metadata=lead_md, timeout=60)
hello = next(watch)
assert hello.WhichOneof("event") == "heartbeat" and hello.cursor, hello
print("watching", LEAD, "from", hello.cursor)


def next_event(stream):
    for m in stream:
        if m.WhichOneof("event") != "heartbeat":
            return m
    raise SystemExit("the watch ended")


key = f"outside-{uuid.uuid4()}"
req = i.SubmitRequest(
    idempotency_key=key,
    channel=c.CHANNEL_WEB,
    requester=c.Requester(name="李先生", phone="13911112222", return_visit_consent=True),
    content="暖气片不热，室温不到十六度。",
    location=c.Location(district_code="110102", street_code="110102003", address="金融街某号"),
    category_code="heating",
    tier=c.URGENCY_TIER_GENERAL,
)
first = intake.Submit(req, metadata=md)
again = intake.Submit(req, metadata=md)
assert again.ticket_no == first.ticket_no and again.replayed, "retry gave another ticket"
# From the web it waits for an operator to accept it (受理, Beijing: 2 hours).
assert first.status == c.TICKET_STATUS_AWAITING_ACCEPTANCE, c.TicketStatus.Name(first.status)
queue = intake.ListAwaitingAcceptance(i.ListAwaitingAcceptanceRequest(), metadata=md).requests
assert first.ticket_no in [q.ticket.ticket_no for q in queue], queue
took = intake.AcceptRequest(i.AcceptRequestRequest(ticket_no=first.ticket_no, idempotency_key=f"{key}-accept"),
                            metadata=md)
assert took.ticket.status == c.TICKET_STATUS_ACCEPTED, took
print("received and accepted", first.ticket_no, "dispatch by", took.dispatch_deadline.ToJsonString())


def status_now():
    got = intake.GetTicket(i.GetTicketRequest(ticket_no=first.ticket_no), metadata=md)
    return got.ticket.status, got

try:
    intake.Submit(i.SubmitRequest(idempotency_key="x", content=""), metadata=md)
    raise SystemExit("an empty request was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    print("bad input:", e.code().name, e.details())



def routed():
    r = units.ListTicketAssignments(u.ListTicketAssignmentsRequest(ticket_no=first.ticket_no), metadata=md)
    return r if r.assignments else None


got = wait_for("the routing", routed)
lead = got.assignments[0]
assert lead.unit_id == LEAD, lead.unit_id
ev = next_event(watch)
assert ev.WhichOneof("event") == "assignment_created", ev
assert ev.assignment_created.assignment_id == lead.assignment_id and ev.ticket_no == first.ticket_no, ev
print("watch:", ev.WhichOneof("event"), ev.ticket_no, "cursor", ev.cursor)
unit_md = [("authorization", "Bearer " + token("--subject", "unit-desk", "--roles", "unit_staff", "--unit", lead.unit_id))]
print("routed to", [(a.unit_id, c.AssignmentRole.Name(a.role)) for a in got.assignments])
status, ticket = status_now()
assert status == c.TICKET_STATUS_ROUTED, c.TicketStatus.Name(status)
assert ticket.routing.lead_unit_id == lead.unit_id, ticket.routing
print("status", c.TicketStatus.Name(status), "lead", ticket.routing.lead_unit_id,
      "co", list(ticket.routing.co_unit_ids), "hop", ticket.routing.hop)

# Sign with an idempotency key; the retry gets the same response bytes.
raw_sign = grpc.insecure_channel(f"{HOST}:50053").unary_unary(
    "/hotline.undertaking.v1.UndertakingService/SignAssignment",
    request_serializer=lambda m: m.SerializeToString(),
    response_deserializer=lambda b: b,
)
sign = u.SignAssignmentRequest(assignment_id=lead.assignment_id, unit_id=lead.unit_id,
                               idempotency_key=f"sign-{uuid.uuid4()}")
signed = raw_sign(sign, metadata=unit_md)
assert raw_sign(sign, metadata=unit_md) == signed, "the retried sign answered other bytes"
assert u.SignAssignmentResponse.FromString(signed).assignment.state == u.ASSIGNMENT_STATE_SIGNED
print("sign retried with its key: the same", len(signed), "bytes")
signed_msg = u.SignAssignmentResponse.FromString(signed)
assert signed_msg.assignment.ticket.status == c.TICKET_STATUS_SIGNED, signed_msg.assignment.ticket.status
print("status", c.TicketStatus.Name(status_now()[0]))
try:
    units.SignAssignment(u.SignAssignmentRequest(assignment_id=lead.assignment_id, unit_id=lead.unit_id), metadata=unit_md)
    raise SystemExit("signed twice")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e
    info = error_info(e)
    assert info is not None, "no ErrorInfo"
    assert info.reason == "ASSIGNMENT_ALREADY_SIGNED" and info.domain == "hotline.gov.cn", info
    assert info.metadata["state"] == "signed", info
    print("sign twice:", e.code().name, info.reason, dict(info.metadata))

# Co-units sign and submit their parts to the lead; the lead answers once.
for co in got.assignments[1:]:
    co_md = [("authorization", "Bearer " + token("--subject", "co-desk", "--roles", "unit_staff", "--unit", co.unit_id))]
    units.SignAssignment(u.SignAssignmentRequest(assignment_id=co.assignment_id, unit_id=co.unit_id), metadata=co_md)
    units.SubmitPart(u.SubmitPartRequest(assignment_id=co.assignment_id, unit_id=co.unit_id, part="已配合核查"), metadata=co_md)

if len(got.assignments) > 1:
    ev = next_event(watch)
    assert ev.WhichOneof("event") == "part_submitted", ev
    print("watch:", ev.WhichOneof("event"), "from", ev.part_submitted.part.unit_id)
watch.cancel()
try:
    units.WatchUnitEvents(u.WatchUnitEventsRequest(unit_id=LEAD, after_cursor="garbled"), metadata=lead_md).next()
    raise SystemExit("a garbled cursor was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "after_cursor" in e.details(), e
    print("garbled cursor:", e.code().name, e.details())

units.SubmitFeedback(u.SubmitFeedbackRequest(
    assignment_id=lead.assignment_id,
    unit_id=lead.unit_id,
    feedback=c.Feedback(outcome=c.FEEDBACK_OUTCOME_RESOLVED, summary="已现场核查并处理。"),
), metadata=unit_md)
status = status_now()[0]
assert status == c.TICKET_STATUS_ANSWERED, c.TicketStatus.Name(status)
print("status", c.TicketStatus.Name(status))
try:
    intake.GetTimeline(i.GetTimelineRequest(ticket_no=first.ticket_no))
    raise SystemExit("read without identity")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
    print("no identity:", e.code().name, e.details())
tl = intake.GetTimeline(i.GetTimelineRequest(ticket_no=first.ticket_no), metadata=md)
for e in tl.entries:
    print(" ", i.TimelineEventKind.Name(e.kind), e.unit_id or "-",
          e.occurred_at.ToJsonString() if e.HasField("occurred_at") else "pending",
          "deadline", e.deadline.ToJsonString() if e.HasField("deadline") else "-")
assert tl.feedback.summary == "已现场核查并处理。"

# ---------------------------------------------------------------- edges
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from grpc_reflection.v1alpha import reflection_pb2 as rpb, reflection_pb2_grpc as rgrpc  # noqa: E402
for name, port in PORTS.items():
    refl = rgrpc.ServerReflectionStub(grpc.insecure_channel(f"{HOST}:{port}"))
    replies = refl.ServerReflectionInfo(iter([rpb.ServerReflectionRequest(list_services="")]))
    listed = sorted(s.name for s in next(replies).list_services_response.service)
    hotline = [n for n in listed if n.startswith("hotline.") and not n.startswith("hotline.common.")]
    own = [f"hotline.{name}.v1.{name.capitalize()}Service"]
    if name == "intake":
        own.append("hotline.intake.v1.KnowledgeService")
        own.append("hotline.intake.v1.MediaService")
    assert hotline == own, (name, listed)
    print("reflection v1alpha", name, listed)

raw = grpc.insecure_channel(f"{HOST}:50051").unary_unary(
    "/hotline.intake.v1.IntakeService/GetTicket",
    request_serializer=lambda b: b,
    response_deserializer=lambda b: b,
)
for label, body in [("not protobuf", b"\xff\xff\xff\xff\x0f"), ("not UTF-8", b"\x0a\x03\xff\xfe\xfd")]:
    try:
        raw(body, metadata=md)
        raise SystemExit(f"{label} accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (label, e.code(), e.details())
        print(label + ":", e.code().name, e.details())

lower = [("authorization", "bearer " + centre)]
intake.GetSurgeMode(i.GetSurgeModeRequest(), metadata=lower)
print("lower-case bearer: accepted")

try:
    intake.GetTicket(i.GetTicketRequest(ticket_no="BJ\u0000"), metadata=md)
    raise SystemExit("a NUL ticket number was looked up")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    details = dict(e.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert details, "no status details"
    st = status_pb2.Status.FromString(details)
    zh = [d for d in st.details if d.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR)]
    assert zh, "no LocalizedMessage"
    msg = error_details_pb2.LocalizedMessage()
    zh[0].Unpack(msg)
    assert msg.locale == "zh-CN" and "ticket_no" in msg.message, msg
    print("NUL ticket number:", e.code().name, "/", msg.message)
print("ok")
