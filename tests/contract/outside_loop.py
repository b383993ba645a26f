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
check-back. Then the lead unit's evaluation (三率) for the days of the run is
read from supervision and recomputed here, independently, from the raw
records the public contract shows (assignments, visits, ratings) and the
policy file; the explain lists name exactly the tickets behind each number,
and the recount from the events equals the numbers served. Exits non-zero
on any surprise.
"""

import datetime
import pathlib
import tomllib
import uuid

import grpc

from hotline.common.v1 import common_pb2 as c
from hotline.dispatch.v1 import dispatch_pb2 as d
from hotline.intake.v1 import intake_pb2 as i, intake_pb2_grpc as ig
from hotline.supervision.v1 import supervision_pb2 as sv, supervision_pb2_grpc as svg
from hotline.undertaking.v1 import undertaking_pb2 as u, undertaking_pb2_grpc as ug
from hotline_client import bearer, refused, stub, wait_for

LEAD = "bj-heating-group"
centre = bearer("loop-centre", "operator,dispatcher,supervisor")
visitor = bearer("loop-visitor", "return_visit")
intake = stub(ig.IntakeServiceStub, "intake")
units = stub(ug.UndertakingServiceStub, "undertaking")
supervision = stub(svg.SupervisionServiceStub, "supervision")


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

# Closed (办结) once the last round's visit is settled: the refusing
# requester's with its answer, the others with their visits, the reopened
# one only with round 2's; each says so last on its timeline.
def closed(no):
    return intake.GetTicket(i.GetTicketRequest(ticket_no=no), metadata=centre).ticket.status == c.TICKET_STATUS_CLOSED


for no, cause in [(refusing, "not_visited: hop 1 round 1"), (agreed, "visited: hop 1 round 1"),
                  (partly, "visited: hop 1 round 1"), (redo, "visited: hop 1 round 2")]:
    wait_for(f"{no} closed", lambda: closed(no) or None)
    last = intake.GetTimeline(i.GetTimelineRequest(ticket_no=no), metadata=centre).entries[-1]
    assert last.kind == i.TIMELINE_EVENT_KIND_CLOSED and last.detail == cause, (no, last)
    print("closed", no, last.detail)

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

# ---------------------------------------------------------------- 三率
# Every lead assignment and visit of this run falls on these days (Beijing
# time; sign-off deadlines are at most a day ahead).
today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()
period = f"{today}..{today + datetime.timedelta(days=2)}"
policy = tomllib.loads(pathlib.Path("services/sla/policy/beijing.toml").read_text())
version = [v for v in policy["evaluation"]["versions"] if v["from"] <= today.isoformat()[:7]][-1]
LEVEL_KEYS = ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"]
SAT = {getattr(i, "SATISFACTION_LEVEL_" + k.upper()): version["levels"][k] for k in LEVEL_KEYS}
RESOLVED = {i.RESOLUTION_RESOLVED: 1.0, i.RESOLUTION_PARTLY: version["partly_resolved"], i.RESOLUTION_UNRESOLVED: 0.0}

# The raw records, read back through the contract.
all_visits = [v for vs in visits_by_ticket().values() for v in vs]
tickets = sorted({v.ticket_no for v in all_visits})
leads = [a for no in tickets for a in assignments_of(no) if a.role == c.ASSIGNMENT_ROLE_LEAD and a.unit_id == LEAD]
reached = [v for v in all_visits if v.unit_id == LEAD and v.outcome == i.VISIT_OUTCOME_REACHED]
visit_contacts = {v.contact_id for v in reached}
ratings = [r for no in tickets for r in intake.ListRatings(i.ListRatingsRequest(ticket_no=no, page_size=100),
                                                             metadata=centre).ratings
           if r.contact_id in visit_contacts and r.counts]
signed_in_time = [a for a in leads if a.HasField("signed_at") and a.signed_at.ToDatetime() <= a.sign_deadline.ToDatetime()]
want = {
    "response": (len(signed_in_time), len(leads)),
    "resolution": (sum(RESOLVED[v.resolution] for v in reached), len(reached)),
    "satisfaction": (sum(SAT[v.satisfaction] for v in reached), len(reached)),
    "rating": (sum(SAT[r.level] for r in ratings), len(ratings)),
}


def served():
    got = supervision.GetEvaluation(sv.GetEvaluationRequest(period=period, unit_id=LEAD, page_size=10),
                                    metadata=centre)
    line = [x for x in got.lines if x.unit_id == LEAD]
    if not line:
        return None
    line = line[0]
    have = {k: (getattr(line, k).numerator, getattr(line, k).denominator) for k in want}
    return (got, line) if have == {k: (float(n), d) for k, (n, d) in want.items()} else None


got, line = wait_for("the evaluation to count every fact", served, seconds=60)
print("evaluation of", LEAD, period, "policy", got.policy_version, "(file:", version["name"] + ")")
assert got.policy_version == version["name"], got.policy_version
unit_class = d.UnitKind.Name(line.unit_kind).removeprefix("UNIT_KIND_").lower()
assert unit_class == "utility", unit_class  # the heating group, in the catalogue
weights = version["weights"][unit_class]
parts = [(k, n / d, weights[k]) for k, (n, d) in want.items() if d > 0 and weights[k] > 0]
composite = round(100 * sum(r * w for _, r, w in parts) / sum(w for _, _, w in parts), 2)
for k, (n, d) in want.items():
    rate = getattr(line, k)
    assert abs(rate.rate - round(n / d, 4)) < 1e-9, (k, rate, n, d)
    print(f"  {k}: {n:g}/{d} = {rate.rate:.4f} (recomputed {n / d:.4f})")
assert abs(line.composite - composite) < 0.011, (line.composite, composite)
assert line.reopened == 1, line.reopened
print(f"  composite {line.composite} (recomputed {composite}), reopened {line.reopened}, rank {line.rank} of {line.ranked_in_class}")

# Explain: exactly the tickets behind each denominator.
for metric, expected in [
    (sv.EVALUATION_METRIC_RESPONSE, sorted(a.ticket_no for a in leads)),
    (sv.EVALUATION_METRIC_RESOLUTION, sorted(v.ticket_no for v in reached)),
    (sv.EVALUATION_METRIC_RATING, sorted(r.ticket_no for r in ratings)),
]:
    items = supervision.ExplainEvaluation(sv.ExplainEvaluationRequest(
        unit_id=LEAD, period=period, metric=metric, side=sv.EVALUATION_SIDE_DENOMINATOR, page_size=100),
        metadata=centre).items
    listed = sorted(x.ticket_no for x in items if x.counted)
    assert listed == expected, (sv.EvaluationMetric.Name(metric), listed, expected)
    print("  explain", sv.EvaluationMetric.Name(metric), "denominator:", len(listed), "items, the expected tickets")

recount = supervision.RecountEvaluation(sv.RecountEvaluationRequest(period=period), metadata=centre)
assert recount.equal, list(recount.differences)
print("recount from", recount.events_read, "events of", recount.tickets, "tickets: equal to the numbers served")
print("ok")
