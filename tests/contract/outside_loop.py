"""An outside client closes the loop on a running hotline system.

Generated Python stubs from proto/ on PYTHONPATH; the four services at their
default addresses (deploy/local/up.sh, Beijing's policy: every answered ticket
is visited back). Three requests to the heating group: two whose requesters
agreed to return visits, one who refused. Each is signed and answered by the
units; the visits of the two are taken and answered (resolved and very
satisfied; partly resolved and basically satisfied), the third never reaches a
visitor; a fourth is found unresolved through the unit's fault, handled again
by its lead in a second round (重办) and then visited satisfied; the requester
rates a visit once, a second rating is ALREADY_EXISTS, a bad rating opens a
check-back. Exits non-zero on any surprise.
"""

import uuid

import grpc

from hotline.common.v1 import common_pb2 as c
from hotline.intake.v1 import intake_pb2 as i, intake_pb2_grpc as ig
from hotline.undertaking.v1 import undertaking_pb2 as u, undertaking_pb2_grpc as ug
from hotline_client import bearer, refused, stub, wait_for

LEAD = "bj-heating-group"
centre = bearer("loop-centre", "operator,dispatcher,supervisor")
visitor = bearer("loop-visitor", "return_visit")
intake = stub(ig.IntakeServiceStub, "intake")
units = stub(ug.UndertakingServiceStub, "undertaking")


def submit(name, consent):
    r = intake.Submit(i.SubmitRequest(
        idempotency_key=f"loop-{uuid.uuid4()}",
        channel=c.CHANNEL_PHONE,
        requester=c.Requester(name=name, phone="1391111" + str(uuid.uuid4().int % 10000).zfill(4),
                              return_visit_consent=consent),
        content="小区暖气不热，家里只有十五度。",
        location=c.Location(district_code="110102", street_code="110102003", address="某小区3号楼"),
        category_code="heating",
        tier=c.URGENCY_TIER_GENERAL,
    ), metadata=centre)
    return r.ticket_no


def assignments_of(ticket_no):
    return units.ListTicketAssignments(u.ListTicketAssignmentsRequest(ticket_no=ticket_no), metadata=centre).assignments


def answer(lead, summary):
    units.SubmitFeedback(u.SubmitFeedbackRequest(
        assignment_id=lead.assignment_id, unit_id=lead.unit_id,
        feedback=c.Feedback(outcome=c.FEEDBACK_OUTCOME_RESOLVED, summary=summary),
    ), metadata=bearer("loop-desk", "unit_staff", LEAD))


def handle(ticket_no):
    """Every unit signs; co-units give their parts; the lead answers."""
    assignments = wait_for(f"{ticket_no} routed", lambda: assignments_of(ticket_no) or None)
    lead = [a for a in assignments if a.role == c.ASSIGNMENT_ROLE_LEAD][0]
    assert lead.unit_id == LEAD, lead.unit_id
    for a in assignments:
        md = bearer("loop-desk", "unit_staff", a.unit_id)
        units.SignAssignment(u.SignAssignmentRequest(assignment_id=a.assignment_id, unit_id=a.unit_id), metadata=md)
        if a.role != c.ASSIGNMENT_ROLE_LEAD:
            units.SubmitPart(u.SubmitPartRequest(assignment_id=a.assignment_id, unit_id=a.unit_id,
                                                 part="已配合核查"), metadata=md)
    answer(lead, "已协调供热站调整。")
    return lead


def visits_by_ticket():
    out, token = {}, ""
    while True:
        page = intake.ListReturnVisits(i.ListReturnVisitsRequest(page_size=200, page_token=token), metadata=centre)
        for v in page.visits:
            out.setdefault(v.ticket_no, []).append(v)
        token = page.next_page_token
        if not token:
            return out


agreed, partly, refusing = submit("王女士", True), submit("赵先生", True), submit("孙女士", False)
redo = submit("周先生", True)
mine = {agreed, partly, refusing, redo}
leads = {no: handle(no) for no in (agreed, partly, refusing, redo)}
print("answered", sorted(mine))

# Each answered round has a visit decision: queued, or not (with why).
visits = wait_for("the visit decisions", lambda: (lambda v: v if mine <= v.keys() else None)(visits_by_ticket()))
assert visits[refusing][0].state == i.RETURN_VISIT_STATE_NOT_QUEUED, visits[refusing][0]
assert visits[refusing][0].not_queued_reason == i.NOT_QUEUED_REASON_CONSENT_REFUSED, visits[refusing][0]
print("consent refused:", refusing, i.NotQueuedReason.Name(visits[refusing][0].not_queued_reason))
for no in (agreed, partly, redo):
    assert visits[no][0].state == i.RETURN_VISIT_STATE_QUEUED, visits[no][0]

# Visitors take every visit due; the refusing requester is never offered.
# (resolution, satisfaction, the visitor attributes it to the unit)
ANSWERS = {
    agreed: (i.RESOLUTION_RESOLVED, i.SATISFACTION_LEVEL_VERY_SATISFIED, False),
    partly: (i.RESOLUTION_PARTLY, i.SATISFACTION_LEVEL_BASICALLY_SATISFIED, False),
    redo: (i.RESOLUTION_UNRESOLVED, i.SATISFACTION_LEVEL_DISSATISFIED, True),
}
contacts = {}


def visit_all_due():
    while True:
        taken = intake.TakeReturnVisit(i.TakeReturnVisitRequest(idempotency_key=f"take-{uuid.uuid4()}"),
                                       metadata=visitor)
        if not taken.HasField("visit"):
            return
        v = taken.visit
        assert v.ticket_no != refusing, "a requester who refused return visits was offered to a visitor"
        assert taken.questions and taken.requester_phone, taken
        resolution, level, fault = ANSWERS.get(v.ticket_no, (i.RESOLUTION_RESOLVED, i.SATISFACTION_LEVEL_SATISFIED,
                                                             False))
        done = intake.RecordVisitAttempt(i.RecordVisitAttemptRequest(
            visit_id=v.visit_id, result=i.VISIT_ATTEMPT_RESULT_REACHED, unit_contacted=True,
            resolution=resolution, satisfaction=level, unit_at_fault=fault, comment="",
            idempotency_key=f"visit-{uuid.uuid4()}",
        ), metadata=visitor)
        assert done.visit.state == i.RETURN_VISIT_STATE_CLOSED and done.contact.contact_id, done
        contacts[(v.ticket_no, v.round)] = done.contact.contact_id
        print("visited", v.ticket_no, "round", v.round, i.Resolution.Name(resolution),
              i.SatisfactionLevel.Name(level), "unit at fault" if fault else "")


visit_all_due()
assert {(agreed, 1), (partly, 1), (redo, 1)} <= contacts.keys(), contacts

# Unresolved through the unit's fault: the lead handles it again in round 2,
# with fresh clocks; its answer is visited back in turn.
second = wait_for(f"{redo} reopened", lambda: [a for a in assignments_of(redo) if a.round == 2] or None)[0]
assert second.unit_id == LEAD and second.role == c.ASSIGNMENT_ROLE_LEAD, second
status = intake.GetTicket(i.GetTicketRequest(ticket_no=redo), metadata=centre).ticket.status
assert status == c.TICKET_STATUS_REOPENED, c.TicketStatus.Name(status)
print("reopened", redo, "round 2 for", second.unit_id, "sign by", second.sign_deadline.ToJsonString())
desk = bearer("loop-desk", "unit_staff", LEAD)
units.SignAssignment(u.SignAssignmentRequest(assignment_id=second.assignment_id, unit_id=LEAD), metadata=desk)
answer(second, "已更换循环泵，室温恢复到二十度。")
ANSWERS[redo] = (i.RESOLUTION_RESOLVED, i.SATISFACTION_LEVEL_SATISFIED, False)
wait_for(f"{redo} round 2 queued for a visit", lambda: any(
    v.round == 2 and v.state == i.RETURN_VISIT_STATE_QUEUED for v in visits_by_ticket().get(redo, [])))
visit_all_due()
assert (redo, 2) in contacts, contacts

# One rating per contact (the requester's keypad at the end of the visit
# call, recorded by the visitors' system): the second is ALREADY_EXISTS.
rate = i.RateContactRequest(ticket_no=agreed, contact_id=contacts[(agreed, 1)],
                            level=i.SATISFACTION_LEVEL_SATISFIED, idempotency_key=f"rate-{uuid.uuid4()}")
first = intake.RateContact(rate, metadata=visitor)
assert first.rating.counts and first.rating.level == i.SATISFACTION_LEVEL_SATISFIED, first
again = intake.RateContact(rate, metadata=visitor)
assert again.rating.rating_id == first.rating.rating_id, "a retry with the same key gave another rating"
rate.idempotency_key = f"rate-{uuid.uuid4()}"
rate.level = i.SATISFACTION_LEVEL_VERY_DISSATISFIED
refused(lambda: intake.RateContact(rate, metadata=visitor), grpc.StatusCode.ALREADY_EXISTS, "a second rating")

# A bad rating opens a check-back.
bad = intake.RateContact(i.RateContactRequest(
    ticket_no=partly, contact_id=contacts[(partly, 1)], level=i.SATISFACTION_LEVEL_DISSATISFIED,
    comment="温度还是不够", idempotency_key=f"rate-{uuid.uuid4()}"), metadata=visitor).rating
open_backs = intake.ListCheckBacks(i.ListCheckBacksRequest(state=i.CHECK_BACK_STATE_OPEN, page_size=100),
                                   metadata=centre).check_backs
assert any(b.rating_id == bad.rating_id for b in open_backs), "no check-back for a bad rating"
print("bad rating", bad.rating_id, "has a check-back")
print("ok")
