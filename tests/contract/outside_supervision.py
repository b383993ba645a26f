"""An outside client drives supervision's workflows on a running system.

Generated Python stubs from proto/ on PYTHONPATH; the four services at their
default addresses (deploy/local/up.sh, Beijing's policy). A heating request
is signed and answered by its units, then: a special report (专报) drafted,
sent back, revised, approved, answered in writing by each unit and
accepted; a shirking case (推诿扯皮) opened and closed; an on-site division
(现场核分) where one unit never arrives, recorded with a photo of the site
the new lead downloads, re-dispatching the ticket; an
emergency request convened to a consultation meeting (会议协商) from the
candidates, with a resolution that sets an action; a public notice (通报)
for the minutes of the run, compared with the cases and divisions listed;
an inspection (专项督查) refused for a unit that is not a candidate. Wrong
roles are tried on every step, and each step that reaches units shows on
the tickets' timelines. Exits non-zero on any surprise.
"""

import datetime
import hashlib
import os
import uuid

import grpc
from google.protobuf import timestamp_pb2

from hotline.common.v1 import common_pb2 as c
from hotline.intake.v1 import intake_pb2 as i, intake_pb2_grpc as ig
from hotline.intake.v1 import media_pb2 as mpb, media_pb2_grpc as mg
from hotline.supervision.v1 import supervision_pb2 as sv, supervision_pb2_grpc as svg
from hotline.undertaking.v1 import undertaking_pb2 as u, undertaking_pb2_grpc as ug
from hotline_client import bearer, error_info, refused, stub, wait_for

centre = bearer("sup-operator", "operator,dispatcher")
sup = bearer("sup-supervisor", "supervisor")
leader = bearer("sup-leader", "leader")
intake = stub(ig.IntakeServiceStub, "intake")
media = stub(mg.MediaServiceStub, "intake")
units = stub(ug.UndertakingServiceStub, "undertaking")
supervision = stub(svg.SupervisionServiceStub, "supervision")
started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)


def ts(t):
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(t)
    return out


def soon(**kw):
    return ts(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**kw))


def key():
    return f"sup-{uuid.uuid4()}"


def staff(unit):
    return bearer("sup-desk", "unit_staff", unit)


def reason(e):
    info = error_info(e)
    return info.reason if info else None


def submit(tier):
    return intake.Submit(i.SubmitRequest(
        idempotency_key=key(), channel=c.CHANNEL_PHONE,
        requester=c.Requester(name="李先生", phone="13922223333", return_visit_consent=False),
        content="小区暖气不热，多次反映无人处理。",
        location=c.Location(district_code="110102", street_code="110102003", address="某小区5号楼"),
        category_code="heating", tier=tier,
    ), metadata=centre).ticket_no


def assignments_of(no):
    return units.ListTicketAssignments(u.ListTicketAssignmentsRequest(ticket_no=no), metadata=centre).assignments


def sign_all(no):
    got = wait_for(f"{no} routed", lambda: assignments_of(no) or None)
    for a in got:
        units.SignAssignment(u.SignAssignmentRequest(assignment_id=a.assignment_id, unit_id=a.unit_id),
                             metadata=staff(a.unit_id))
    return got


def known(call):
    """Retries `call` while supervision has not heard of the ticket yet."""
    def attempt():
        try:
            return call()
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND or "unknown to the evaluation" in (e.details() or ""):
                return None
            raise
    return wait_for("supervision to know the ticket", attempt)


def steps(no, n):
    def probe():
        tl = intake.GetTimeline(i.GetTimelineRequest(ticket_no=no), metadata=sup)
        got = [e.detail for e in tl.entries if e.kind == i.TIMELINE_EVENT_KIND_SUPERVISION]
        return got if len(got) >= n else None
    return wait_for(f"{n} supervision steps on {no}'s timeline", probe)


ticket = submit(c.URGENCY_TIER_GENERAL)
assigned = sign_all(ticket)
lead = [a for a in assigned if a.role == c.ASSIGNMENT_ROLE_LEAD][0].unit_id
others = [a.unit_id for a in assigned if a.unit_id != lead]
assert others, "the heating request has co-units"
other = others[0]
print("ticket", ticket, "lead", lead, "co-unit", other)

# --- special report -------------------------------------------------------
draft = sv.DraftSpecialReportRequest(
    ticket_nos=[ticket], title="供热职能交叉", facts="多次协调未果",
    asks=[sv.ReportAsk(unit_id=lead, asked="牵头处置"), sv.ReportAsk(unit_id=other, asked="配合核查")],
    feedback_due=soon(days=5), idempotency_key=key())
refused(lambda: supervision.DraftSpecialReport(draft, metadata=leader), grpc.StatusCode.PERMISSION_DENIED,
        "a leader drafts")
refused(lambda: supervision.DraftSpecialReport(draft, metadata=staff(lead)), grpc.StatusCode.PERMISSION_DENIED,
        "a unit drafts")
bad = sv.DraftSpecialReportRequest(ticket_nos=[ticket, ticket], title="\x00", asks=[],
                                   feedback_due=timestamp_pb2.Timestamp(seconds=8_000_000_000_000))
e = refused(lambda: supervision.DraftSpecialReport(bad, metadata=sup), grpc.StatusCode.INVALID_ARGUMENT, "a bad draft")
for field in ("ticket_nos[1]", "title", "asks", "feedback_due"):
    assert field in e.details(), (field, e.details())
report = known(lambda: supervision.DraftSpecialReport(draft, metadata=sup)).report
rid = report.report_id
refused(lambda: supervision.GetSpecialReport(sv.GetSpecialReportRequest(report_id=rid), metadata=staff(lead)),
        grpc.StatusCode.NOT_FOUND, "a unit reads a draft")
supervision.SubmitSpecialReport(sv.SubmitSpecialReportRequest(report_id=rid, idempotency_key=key()), metadata=sup)
refused(lambda: supervision.DecideSpecialReport(sv.DecideSpecialReportRequest(report_id=rid, approve=True),
                                                metadata=sup), grpc.StatusCode.PERMISSION_DENIED,
        "a supervisor approves")
supervision.DecideSpecialReport(sv.DecideSpecialReportRequest(report_id=rid, approve=False, note="补充事实",
                                                              idempotency_key=key()), metadata=leader)
revised = sv.DraftSpecialReportRequest()
revised.CopyFrom(draft)
revised.report_id, revised.idempotency_key = rid, key()
supervision.DraftSpecialReport(revised, metadata=sup)
supervision.SubmitSpecialReport(sv.SubmitSpecialReportRequest(report_id=rid, idempotency_key=key()), metadata=sup)
issued = supervision.DecideSpecialReport(sv.DecideSpecialReportRequest(report_id=rid, approve=True,
                                                                       idempotency_key=key()), metadata=leader).report
assert issued.state == sv.REPORT_STATE_ISSUED, issued
for unit in (lead, other):
    written = sv.SubmitReportFeedbackRequest(report_id=rid, measures="召开协调会", result="已明确责任",
                                             responsible="张科长", idempotency_key=key())
    supervision.SubmitReportFeedback(written, metadata=staff(unit))
    e = refused(lambda: supervision.SubmitReportFeedback(
        sv.SubmitReportFeedbackRequest(report_id=rid, measures="x", result="y", responsible="z"),
        metadata=staff(unit)), grpc.StatusCode.FAILED_PRECONDITION, "feedback twice")
    assert reason(e) == "REPORT_FEEDBACK_NOT_AWAITED", reason(e)
    r = supervision.DecideReportFeedback(sv.DecideReportFeedbackRequest(report_id=rid, unit_id=unit, accept=True,
                                                                        idempotency_key=key()), metadata=sup)
closed = r.report
assert closed.state == sv.REPORT_STATE_CLOSED, closed
print("special report", rid, sv.ReportState.Name(closed.state))

# --- shirking case --------------------------------------------------------
shirk = sv.OpenShirkingCaseRequest(ticket_no=ticket, unit_id=other, idempotency_key=key(), evidence=[
    sv.Evidence(kind=sv.EVIDENCE_KIND_RETURNS_REJECTED, detail="退单两次均被驳回")])
refused(lambda: supervision.OpenShirkingCase(shirk, metadata=staff(other)), grpc.StatusCode.PERMISSION_DENIED,
        "a unit opens a shirking case")
case = supervision.OpenShirkingCase(shirk, metadata=sup).case
assert case.kind == sv.CASE_KIND_SHIRKING and case.evidence[0].detail == "退单两次均被驳回", case
again = sv.OpenShirkingCaseRequest()
again.CopyFrom(shirk)
again.idempotency_key = key()
e = refused(lambda: supervision.OpenShirkingCase(again, metadata=sup), grpc.StatusCode.ALREADY_EXISTS,
            "a second open shirking case")
assert reason(e) == "SHIRKING_CASE_OPEN", reason(e)
supervision.CloseCase(sv.CloseCaseRequest(case_id=case.case_id, result="约谈", idempotency_key=key()), metadata=sup)
print("shirking case", case.case_id, "opened and closed")

# --- on-site division -----------------------------------------------------
division = supervision.StartOnSiteDivision(sv.StartOnSiteDivisionRequest(
    ticket_no=ticket, unit_ids=[lead, other], place="小区门口", reason="权属不清",
    arrive_by=soon(hours=2), idempotency_key=key()), metadata=sup).division
supervision.ArriveOnSite(sv.ArriveOnSiteRequest(division_id=division.division_id, idempotency_key=key()),
                         metadata=staff(other))
# The supervisor photographs the site and records the division with it.
site = os.urandom(80_000)
site_sha = hashlib.sha256(site).hexdigest()


def site_upload():
    yield mpb.UploadRequest(start=mpb.UploadStart(kind=c.MEDIA_KIND_IMAGE, content_type="image/jpeg",
                                                  size_bytes=len(site), sha256=site_sha, file_name="现场.jpg"))
    for at in range(0, len(site), 32 * 1024):
        yield mpb.UploadRequest(chunk=site[at:at + 32 * 1024])


assert media.Upload(site_upload(), metadata=sup).progress.complete
e = refused(lambda: supervision.RecordDivision(sv.RecordDivisionRequest(
    division_id=division.division_id, lead_unit_id=other, result="由配合单位牵头", media_sha256=["e" * 64],
    idempotency_key=key()), metadata=sup), grpc.StatusCode.FAILED_PRECONDITION, "a photo never uploaded")
assert reason(e) == "MEDIA_NOT_HELD", reason(e)
divided = supervision.RecordDivision(sv.RecordDivisionRequest(
    division_id=division.division_id, lead_unit_id=other, result="由配合单位牵头", media_sha256=[site_sha],
    idempotency_key=key()), metadata=sup).division
assert divided.state == sv.DIVISION_STATE_DIVIDED and divided.hop == 2, divided
assert list(divided.media_sha256) == [site_sha], divided
absent = {x.unit_id: x.non_cooperation for x in divided.units}
assert absent == {lead: sv.NON_COOPERATION_DID_NOT_ARRIVE, other: sv.NON_COOPERATION_NONE}, absent
hop2 = wait_for("hop 2", lambda: [a for a in assignments_of(ticket) if a.hop == 2] or None)
assert [a.unit_id for a in hop2] == [other], hop2
got = b"".join(x.chunk for x in media.Download(mpb.DownloadRequest(ticket_no=ticket, sha256=site_sha),
                                               metadata=staff(other)) if x.WhichOneof("part") == "chunk")
assert got == site, "the division's lead downloads the site photo"
print("on-site division", division.division_id, "hop", divided.hop, "lead", other)

# --- consultation meeting -------------------------------------------------
emergency = submit(c.URGENCY_TIER_EMERGENCY)
em_units = [a.unit_id for a in wait_for("emergency routed", lambda: assignments_of(emergency) or None)]


def candidate():
    page = supervision.ListMeetingCandidates(sv.ListMeetingCandidatesRequest(page_size=500), metadata=sup)
    return [x for x in page.candidates if x.ticket_no == emergency] or None


picked = wait_for("the emergency among the meeting candidates", candidate)[0]
assert sv.MEETING_CANDIDATE_BASIS_EMERGENCY in picked.bases, picked
meeting = known(lambda: supervision.ConveneMeeting(sv.ConveneMeetingRequest(
    ticket_nos=[emergency], unit_ids=em_units, place="会议室", agenda="责任认定",
    starts_at=soon(hours=1), idempotency_key=key()), metadata=sup)).meeting
for unit in em_units:
    supervision.AttendMeeting(sv.AttendMeetingRequest(meeting_id=meeting.meeting_id, idempotency_key=key()),
                              metadata=staff(unit))
recorded = supervision.RecordMeetingMinutes(sv.RecordMeetingMinutesRequest(
    meeting_id=meeting.meeting_id, minutes="议定由牵头单位三日内完成", idempotency_key=key(),
    resolutions=[sv.MeetingResolution(action=sv.MeetingAction(unit_id=em_units[0], action="完成维修",
                                                              due=soon(days=3)))]), metadata=sup).meeting
assert recorded.state == sv.MEETING_STATE_RECORDED, recorded
supervision.CompleteMeetingAction(sv.CompleteMeetingActionRequest(
    meeting_id=meeting.meeting_id, action_no=1, result="已完成", idempotency_key=key()), metadata=staff(em_units[0]))
print("meeting", meeting.meeting_id, "on", emergency)

# --- notice ---------------------------------------------------------------
until = datetime.datetime.now(datetime.timezone.utc)
notice = supervision.DraftNotice(sv.DraftNoticeRequest(
    title="本期通报", period_from=ts(started), period_to=ts(until), idempotency_key=key()), metadata=sup).notice
expected = {(other, sv.NOTICE_CAUSE_REFUSING): [ticket], (lead, sv.NOTICE_CAUSE_NOT_ARRIVING): [ticket]}
for cs in supervision.ListCases(sv.ListCasesRequest(page_size=500), metadata=sup).cases:
    opened = cs.opened_at.ToDatetime(tzinfo=datetime.timezone.utc)
    if cs.kind == sv.CASE_KIND_DEADLINE and started <= opened < until:
        raise SystemExit(f"no deadline can have passed on Beijing's limits: {cs}")
got = {(ln.unit_id, ln.cause): list(ln.ticket_nos) for ln in notice.lines}
assert got == expected, (got, expected)
supervision.SubmitNotice(sv.SubmitNoticeRequest(notice_id=notice.notice_id, idempotency_key=key()), metadata=sup)
supervision.DecideNotice(sv.DecideNoticeRequest(notice_id=notice.notice_id, approve=True, idempotency_key=key()),
                         metadata=leader)
mine = supervision.GetNotice(sv.GetNoticeRequest(notice_id=notice.notice_id), metadata=staff(lead)).notice
assert [(ln.unit_id, ln.cause) for ln in mine.lines] == [(lead, sv.NOTICE_CAUSE_NOT_ARRIVING)], mine.lines
print("notice", notice.notice_id, "lines", sorted((k[0], sv.NoticeCause.Name(k[1])) for k in got))

# --- inspection -----------------------------------------------------------
today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date().isoformat()
offered = supervision.ListInspectionCandidates(sv.ListInspectionCandidatesRequest(period=f"{today}..{today}"),
                                               metadata=sup)
not_offered = next((x for x in (lead, other) if not any(
    cand.unit_id == x and cand.basis == sv.INSPECTION_BASIS_CASES_CONCENTRATED for cand in offered.candidates)), None)
if not_offered:
    e = refused(lambda: supervision.OpenInspection(sv.OpenInspectionRequest(
        unit_id=not_offered, period=f"{today}..{today}", basis=sv.INSPECTION_BASIS_CASES_CONCENTRATED,
        findings="x", rectification="y", rectify_by=soon(days=7)), metadata=sup),
        grpc.StatusCode.FAILED_PRECONDITION, "an inspection of a unit not offered")
    assert reason(e) == "NOT_AN_INSPECTION_CANDIDATE", reason(e)
print("inspection candidates", [(x.unit_id, sv.InspectionBasis.Name(x.basis)) for x in offered.candidates])

# --- the timelines --------------------------------------------------------
shown = steps(ticket, 12)
for word in ("special_report", "shirking_case", "on_site_division", "notice"):
    assert any(s.startswith(word) for s in shown), (word, shown)
assert any(s.startswith("meeting") for s in steps(emergency, 4))
print("supervision steps on the timeline:", len(shown))
print("outside supervision: ok")
