"""An outside client drives intake's request types and knowledge base on a
running system.

Generated Python stubs from proto/ on PYTHONPATH; the four services at their
default addresses (deploy/local/up.sh, Beijing's policy). A complaint
forwarded by another government system is found again by its reference
and read by its requester with the number and phone (not with another); an
e-mail about a matter before a court is refused and its requester told; a
request the operator cannot classify waits in the manual queue; a matter
across two districts has the other district's government as co-unit; a
fire is referred to 119 and closed at once; a phone the centre marked as a
malicious caller is shown on the next call; a broken street light reported
three times is offered, linked as repeats, reaches supervision and is closed
with its repeats by one answer; five neighbours reporting a flooded crossing
form a cluster that four did not, offered to supervision; a voice message
and photos are uploaded (one resumed), attached, and fetched by the holding
unit only.
Then 40 articles of tests/data/knowledge.toml are proposed by their units
and approved by the centre, searched with callers' questions, and a
consultation is answered from one and closed without dispatch; a withdrawn
article is no longer offered. Wrong roles and bad input are tried on the
way. Exits non-zero on any surprise.
"""

import datetime
import hashlib
import itertools
import math
import os
import pathlib
import tomllib
import uuid

import grpc
from google.protobuf import timestamp_pb2

from hotline.common.v1 import common_pb2 as c
from hotline.dispatch.v1 import dispatch_pb2 as d, dispatch_pb2_grpc as dg
from hotline.intake.v1 import intake_pb2 as i, intake_pb2_grpc as ig
from hotline.intake.v1 import knowledge_pb2 as k, knowledge_pb2_grpc as kg
from hotline.intake.v1 import media_pb2 as mpb, media_pb2_grpc as mg
from hotline.supervision.v1 import supervision_pb2 as sv, supervision_pb2_grpc as svg
from hotline.undertaking.v1 import undertaking_pb2 as u, undertaking_pb2_grpc as ug
from hotline_client import bearer, error_info, refused, stub, wait_for

desk = bearer("in-operator", "operator")
gov = bearer("in-forwarder", "service")
sup = bearer("in-supervisor", "supervisor")
dispatcher = bearer("in-dispatcher", "dispatcher")
intake = stub(ig.IntakeServiceStub, "intake")
kb = stub(kg.KnowledgeServiceStub, "intake")
media = stub(mg.MediaServiceStub, "intake")
dispatch = stub(dg.DispatchServiceStub, "dispatch")
units = stub(ug.UndertakingServiceStub, "undertaking")
supervision = stub(svg.SupervisionServiceStub, "supervision")
started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)


def key():
    return f"in-{uuid.uuid4()}"


def ts(t):
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(t)
    return out


def request(**kw):
    base = dict(
        idempotency_key=key(), channel=c.CHANNEL_PHONE,
        requester=c.Requester(name="赵女士", phone="13811112222", return_visit_consent=False),
        content="小区门口路灯坏了一周了。",
        location=c.Location(district_code="110105", address="某小区"),
        category_code="street-lighting", tier=c.URGENCY_TIER_GENERAL,
        request_type=c.REQUEST_TYPE_HELP,
    )
    base.update(kw)
    return i.SubmitRequest(**base)


def routing_of(no):
    def probe():
        try:
            return dispatch.GetRouting(d.GetRoutingRequest(ticket_no=no), metadata=dispatcher).routing
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
    return wait_for(f"{no} routed", probe)


def reason(e):
    info = error_info(e)
    return info.reason if info else None


def accepted(no):
    """A request from another channel, accepted by the operator desk (受理)."""
    intake.AcceptRequest(i.AcceptRequestRequest(ticket_no=no, idempotency_key=key()), metadata=desk)
    return no


# A complaint forwarded by another system, found by its reference.
ref = f"GOV-{uuid.uuid4().hex[:10]}"
fwd = intake.Submit(request(channel=c.CHANNEL_GOVERNMENT_SYSTEM, request_type=c.REQUEST_TYPE_COMPLAINT,
                            external_ref=ref, content="投诉某单位路灯报修一个月未处理。"),
                    metadata=gov).ticket_no
accepted(fwd)
found = intake.FindTickets(i.FindTicketsRequest(external_ref=ref), metadata=desk).tickets
assert [f.ticket_no for f in found] == [fwd], found
assert found[0].request_type == c.REQUEST_TYPE_COMPLAINT
got = intake.GetTicket(i.GetTicketRequest(ticket_no=fwd), metadata=desk).ticket
assert got.external_ref == ref and got.request_type == c.REQUEST_TYPE_COMPLAINT, got
routing = routing_of(fwd)
assert [x.unit_id for x in routing.units][:1] == ["bj-lighting"], routing
e = refused(lambda: intake.Submit(request(request_type=99, external_ref="X-1"), metadata=desk),
            grpc.StatusCode.INVALID_ARGUMENT, "request type 99 and a reference on a phone call")
assert "request_type" in e.details() and "external_ref" in e.details(), e.details()
refused(lambda: intake.FindTickets(i.FindTicketsRequest(external_ref=ref),
                                   metadata=bearer("in-unit", "unit_staff", "bj-lighting")),
        grpc.StatusCode.PERMISSION_DENIED, "unit staff searching references")

# The requester reads it through a channel system, with the number and
# phone; a wrong phone is NOT_FOUND, as a ticket that does not exist.
own = intake.ViewOwnTicket(i.ViewOwnTicketRequest(ticket_no=fwd, phone="+86 138-1111-2222"), metadata=gov)
assert own.ticket_no == fwd and [s.stage for s in own.stages][:1] == [c.STAGE_DISPATCH], own
assert own.stages[0].HasField("expected_by"), own
refused(lambda: intake.ViewOwnTicket(i.ViewOwnTicketRequest(ticket_no=fwd, phone="13900000000"), metadata=gov),
        grpc.StatusCode.NOT_FOUND, "another phone")

# An e-mail about a matter already before a court is refused (不予受理):
# closed, never dispatched, the requester told why; decided only once.
mail = intake.Submit(request(channel=c.CHANNEL_EMAIL, request_type=c.REQUEST_TYPE_COMPLAINT,
                             content="我与邻居的房屋买卖纠纷法院已经立案，请热线督促法院尽快判决。"),
                     metadata=gov)
assert mail.status == c.TICKET_STATUS_AWAITING_ACCEPTANCE, mail
told = "该纠纷已由人民法院立案审理，请通过诉讼程序依法主张权利。"
r = intake.RefuseRequest(i.RefuseRequestRequest(ticket_no=mail.ticket_no, ground=i.REFUSAL_GROUND_LAWFUL_CHANNEL,
                                                explanation=told, idempotency_key=key()), metadata=desk)
assert r.ticket.status == c.TICKET_STATUS_REFUSED and r.refusal.explanation == told, r
e = refused(lambda: intake.AcceptRequest(i.AcceptRequestRequest(ticket_no=mail.ticket_no, idempotency_key=key()),
                                         metadata=desk),
            grpc.StatusCode.FAILED_PRECONDITION, "accepting a refused request")
assert reason(e) == "NOT_AWAITING_ACCEPTANCE" and "refused" in e.details(), e.details()
e = refused(lambda: intake.RefuseRequest(i.RefuseRequestRequest(ticket_no=mail.ticket_no, ground=99,
                                                                explanation="", idempotency_key=key()), metadata=desk),
            grpc.StatusCode.INVALID_ARGUMENT, "ground 99, no explanation")
assert "ground" in e.details() and "explanation" in e.details(), e.details()
own = intake.ViewOwnTicket(i.ViewOwnTicketRequest(ticket_no=mail.ticket_no, phone="13811112222"), metadata=gov)
assert own.status == c.TICKET_STATUS_REFUSED and own.answer == told, own
assert own.refusal_ground == i.REFUSAL_GROUND_LAWFUL_CHANNEL, own
got = intake.GetTicket(i.GetTicketRequest(ticket_no=mail.ticket_no), metadata=desk)
assert got.ticket.status == c.TICKET_STATUS_REFUSED and got.refusal.ground == i.REFUSAL_GROUND_LAWFUL_CHANNEL, got

# A fire reported to 12345: referred to 119, closed at once, never routed.
sent = intake.Submit(request(category_code="", content="楼道里有烟，好像着火了。",
                             referral=i.Referral(line=i.EMERGENCY_LINE_FIRE_119, note="三方通话转接119")),
                     metadata=desk)
got = intake.GetTicket(i.GetTicketRequest(ticket_no=sent.ticket_no), metadata=desk)
assert got.ticket.status == c.TICKET_STATUS_CLOSED and got.referral.line == i.EMERGENCY_LINE_FIRE_119, got
refused(lambda: dispatch.GetRouting(d.GetRoutingRequest(ticket_no=sent.ticket_no), metadata=dispatcher),
        grpc.StatusCode.NOT_FOUND, "a routing of a referred request")
e = refused(lambda: intake.Submit(request(referral=i.Referral(line=99)), metadata=desk),
            grpc.StatusCode.INVALID_ARGUMENT, "emergency line 99")
assert "referral.line" in e.details(), e.details()

# A phone the centre marked as a malicious caller: shown on the next call.
caller = f"139{uuid.uuid4().int % 10**8:08d}"
intake.MarkCaller(i.MarkCallerRequest(phone=caller, malicious=True, reason="多次辱骂话务员",
                                      idempotency_key=key()), metadata=sup)
marked = intake.Submit(request(requester=c.Requester(name="某先生", phone=caller)), metadata=desk)
assert marked.caller_marked_malicious, marked
assert intake.GetCaller(i.GetCallerRequest(phone=caller), metadata=desk).mark.malicious
refused(lambda: intake.MarkCaller(i.MarkCallerRequest(phone=caller, malicious=False, reason="x",
                                                      idempotency_key=key()), metadata=desk),
        grpc.StatusCode.PERMISSION_DENIED, "an operator marking a caller")

# Repeats: a broken street light reported, then a neighbour says the same
# and the first caller calls back; both linked, the light raised three
# times is a meeting candidate, and the unit's answer closes all three.
light_phone = f"136{uuid.uuid4().int % 10**8:08d}"
street = c.Location(district_code="110105", street_code="110105001", address="光华路南侧")
light = intake.Submit(request(requester=c.Requester(name="孙先生", phone=light_phone, return_visit_consent=False),
                              content="建外街道光华路南侧人行道的路灯连续一周不亮，晚上走路很不安全。",
                              location=street), metadata=desk).ticket_no
neighbour_words = "光华路南边人行道的路灯一直不亮，已经一个星期了，晚上很黑。"
offered = intake.FindRepeats(i.FindRepeatsRequest(phone="13500000000", location=street, category_code="street-lighting",
                                                  content=neighbour_words), metadata=desk).candidates
assert light in [o.ticket_no for o in offered], offered
assert i.REPEAT_BASIS_SAME_PLACE in next(o for o in offered if o.ticket_no == light).bases, offered
again = intake.FindRepeats(i.FindRepeatsRequest(phone=light_phone, content="我上周反映的事情怎么样了？"),
                           metadata=desk).candidates
assert [o.ticket_no for o in again] == [light] and list(again[0].bases) == [i.REPEAT_BASIS_SAME_REQUESTER], again
e = refused(lambda: intake.FindRepeats(i.FindRepeatsRequest(phone="abc", content=""), metadata=desk),
            grpc.StatusCode.INVALID_ARGUMENT, "a probe with a bad phone and no text")
assert "phone" in e.details() and "content" in e.details(), e.details()
repeats = [
    intake.Submit(request(requester=c.Requester(name="周女士", phone="13500000000", return_visit_consent=False),
                          content=neighbour_words, location=street, repeat_of=light), metadata=desk).ticket_no,
    intake.Submit(request(requester=c.Requester(name="孙先生", phone=light_phone, return_visit_consent=False),
                          content="光华路的路灯还是不亮，第二次打电话了。", location=street, repeat_of=light),
                  metadata=desk).ticket_no,
]
assert intake.GetTicket(i.GetTicketRequest(ticket_no=light), metadata=desk).times_raised == 3


def raised_candidate():
    found = [x for x in supervision.ListMeetingCandidates(sv.ListMeetingCandidatesRequest(page_size=500),
                                                          metadata=sup).candidates if x.ticket_no == light]
    return found[0] if found else None


cand = wait_for("the light a meeting candidate", raised_candidate)
assert sv.MEETING_CANDIDATE_BASIS_RAISED_AGAIN in cand.bases and cand.times_raised == 3, cand
routing_of(light)


def light_assignments():
    got = units.ListTicketAssignments(u.ListTicketAssignmentsRequest(ticket_no=light), metadata=dispatcher).assignments
    return got or None


held = wait_for("the light's assignments", light_assignments)
# Co-units sign and give their parts first; then the lead signs and answers.
for a in sorted(held, key=lambda a: a.role != c.ASSIGNMENT_ROLE_CO):
    md = bearer(f"in-{a.unit_id}", "unit_staff", a.unit_id)
    units.SignAssignment(u.SignAssignmentRequest(assignment_id=a.assignment_id, unit_id=a.unit_id), metadata=md)
    if a.role == c.ASSIGNMENT_ROLE_CO:
        units.SubmitPart(u.SubmitPartRequest(assignment_id=a.assignment_id, unit_id=a.unit_id, part="已配合核查"),
                         metadata=md)
units.SubmitFeedback(u.SubmitFeedbackRequest(assignment_id=a.assignment_id, unit_id=a.unit_id,
                                             feedback=c.Feedback(outcome=c.FEEDBACK_OUTCOME_RESOLVED,
                                                                 summary="已更换光华路南侧路灯灯泡，恢复照明。")),
                     metadata=md)
for no in [light] + repeats:
    wait_for(f"{no} closed", lambda no=no: intake.GetTicket(i.GetTicketRequest(ticket_no=no), metadata=desk)
             .ticket.status == c.TICKET_STATUS_CLOSED or None)
own = intake.ViewOwnTicket(i.ViewOwnTicketRequest(ticket_no=repeats[0], phone="13500000000"), metadata=gov)
assert own.repeat_of == light and own.answer == "已更换光华路南侧路灯灯泡，恢复照明。", own
e = refused(lambda: intake.Submit(request(repeat_of=light), metadata=desk),
            grpc.StatusCode.FAILED_PRECONDITION, "a repeat of a closed ticket")
assert reason(e) == "TICKET_CLOSED", reason(e)

# A flooded crossing: five neighbours call within minutes (one of them
# twice); four form no cluster, the fifth forms it, and its tickets are
# offered to supervision for a consultation meeting. The app's points are
# within 300 m of each other.
centre = (39.9087 + (uuid.uuid4().int % 1000) / 10**5, 116.4605)


def near(metres):
    return c.Coordinates(latitude=centre[0],
                         longitude=centre[1] + metres / (111_320 * math.cos(math.radians(centre[0]))))


def flood(phone, metres, words):
    return intake.Submit(request(requester=c.Requester(name="居民", phone=phone, return_visit_consent=False),
                                 channel=c.CHANNEL_APP, category_code="drainage", content=words,
                                 location=c.Location(district_code="110105", address="光华路与东三环交叉口",
                                                     coordinates=near(metres))),
                         metadata=gov).ticket_no


phones = [f"135{uuid.uuid4().int % 10**8:08d}" for _ in range(5)]
words = ["路口积水已经没过脚踝，车都开不过去。", "东三环辅路积水严重，下水道好像堵了。", "小区门口的路口全是水，老人没法出门。",
         "积水太深了，公交车都绕行了。", "路口积水好几个小时了还没退。"]
flooded = [flood(phones[n], m, words[n]) for n, m in enumerate([0, 60, 140, 210])]
flooded.append(flood(phones[1], 70, "我再反映一下，积水还没退。"))


def mine():
    listed = intake.ListClusters(i.ListClustersRequest(active_only=True, page_size=500), metadata=sup).clusters
    return [x for x in listed if x.category_code == "drainage" and x.basis == i.CLUSTER_BASIS_DISTANCE
            and abs(x.centre.latitude - centre[0]) < 1e-9]


assert mine() == [], mine()
flooded.append(flood(phones[4], 120, words[4]))
formed = mine()
assert len(formed) == 1 and formed[0].requesters == 5 and formed[0].tickets == 6, formed
got = intake.GetCluster(i.GetClusterRequest(cluster_id=formed[0].cluster_id), metadata=sup)
assert sorted(got.ticket_nos) == sorted(flooded), (got.ticket_nos, flooded)
# The app's reports are accepted by the desk; then supervision is offered them.
for no in flooded:
    accepted(no)


def offered():
    cands = supervision.ListMeetingCandidates(sv.ListMeetingCandidatesRequest(page_size=500), metadata=sup).candidates
    ours = [x for x in cands if x.cluster_id == formed[0].cluster_id]
    return ours if len(ours) == 6 else None


assert all(sv.MEETING_CANDIDATE_BASIS_CLUSTERED in x.bases for x in wait_for("the flood's meeting candidates", offered))
e = refused(lambda: intake.Submit(request(location=c.Location(district_code="110105",
                                                              coordinates=c.Coordinates(latitude=95, longitude=0))),
                                  metadata=desk),
            grpc.StatusCode.INVALID_ARGUMENT, "a latitude of 95")
assert "location.coordinates.latitude" in e.details(), e.details()

# Media: a voice message and two photos from the app, one photo cut off and
# resumed; the same photo again is held once; attached by SHA-256, fetched
# by the unit the ticket went to and refused to another.
def upload_msgs(start, data, chunk=64 * 1024):
    yield mpb.UploadRequest(start=start)
    for at in range(0, len(data), chunk):
        yield mpb.UploadRequest(chunk=data[at:at + chunk])


def declared(kind, content_type, data):
    return mpb.UploadStart(kind=kind, content_type=content_type, size_bytes=len(data),
                         sha256=hashlib.sha256(data).hexdigest(), file_name="现场")


voice_bytes, photo_bytes, cut_bytes = os.urandom(120_000), os.urandom(250_000), os.urandom(300_000)
up = media.Upload(upload_msgs(declared(c.MEDIA_KIND_VOICE, "audio/amr", voice_bytes), voice_bytes), metadata=gov).progress
assert up.complete, up
assert media.Upload(upload_msgs(declared(c.MEDIA_KIND_IMAGE, "image/jpeg", photo_bytes), photo_bytes),
                    metadata=gov).progress.complete
part = media.Upload(itertools.islice(upload_msgs(declared(c.MEDIA_KIND_IMAGE, "image/png", cut_bytes), cut_bytes), 3),
                    metadata=gov).progress
assert not part.complete and part.received_bytes == 2 * 64 * 1024, part
where = media.GetUpload(mpb.GetUploadRequest(upload_id=part.upload_id), metadata=gov).progress
rest = cut_bytes[where.received_bytes:]
resumed = media.Upload(upload_msgs(mpb.UploadStart(upload_id=part.upload_id, offset=where.received_bytes), rest),
                       metadata=gov).progress
assert resumed.complete and resumed.media.sha256 == hashlib.sha256(cut_bytes).hexdigest(), resumed
again = media.Upload(upload_msgs(declared(c.MEDIA_KIND_IMAGE, "image/jpeg", photo_bytes), photo_bytes), metadata=gov).progress
assert again.complete and again.upload_id == "", again
shots = [c.Attachment(sha256=hashlib.sha256(b).hexdigest()) for b in (voice_bytes, photo_bytes, cut_bytes)]
with_media = accepted(intake.Submit(request(channel=c.CHANNEL_APP, attachments=shots, requester_account="app-user-7",
                                            content="光华路路灯杆被撞歪了，随时可能倒，附照片和语音。"),
                                    metadata=gov).ticket_no)
# The app reads it for its logged-in user by the account it gave; another
# account is NOT_FOUND, as a ticket that does not exist.
mine_seen = intake.ViewOwnTicket(i.ViewOwnTicketRequest(ticket_no=with_media, requester_account="app-user-7"),
                                 metadata=gov)
assert mine_seen.ticket_no == with_media, mine_seen
refused(lambda: intake.ViewOwnTicket(i.ViewOwnTicketRequest(ticket_no=with_media, requester_account="app-user-8"),
                                     metadata=gov),
        grpc.StatusCode.NOT_FOUND, "another account")
routing_of(with_media)


def held_by():
    got = units.ListTicketAssignments(u.ListTicketAssignmentsRequest(ticket_no=with_media),
                                      metadata=dispatcher).assignments
    return got[0].unit_id if got else None


holder = wait_for("the lit ticket's units", held_by)
fetched = media.Download(mpb.DownloadRequest(ticket_no=with_media, sha256=shots[2].sha256),
                         metadata=bearer("in-holder", "unit_staff", holder))
first = next(fetched)
assert first.WhichOneof("part") == "media" and first.media.size_bytes == len(cut_bytes), first
assert b"".join(x.chunk for x in fetched) == cut_bytes
# The unit visits the site and records it with its own photo; the centre
# downloads that photo from intake.
holder_md = bearer("in-holder", "unit_staff", holder)
held_a = next(a for a in units.ListTicketAssignments(u.ListTicketAssignmentsRequest(ticket_no=with_media),
                                                     metadata=dispatcher).assignments if a.unit_id == holder)
units.SignAssignment(u.SignAssignmentRequest(assignment_id=held_a.assignment_id, unit_id=holder), metadata=holder_md)
site_photo = os.urandom(90_000)
assert media.Upload(upload_msgs(declared(c.MEDIA_KIND_IMAGE, "image/jpeg", site_photo), site_photo),
                    metadata=holder_md).progress.complete
site_sha = hashlib.sha256(site_photo).hexdigest()
rec = units.AddHandlingRecord(u.AddHandlingRecordRequest(
    assignment_id=held_a.assignment_id, unit_id=holder, kind=u.HANDLING_RECORD_KIND_SITE_VISIT,
    way="光华路南侧", note="已扶正灯杆并加固。", media_sha256=[site_sha]), metadata=holder_md).record
assert list(rec.media_sha256) == [site_sha], rec
got_back = b"".join(x.chunk for x in media.Download(mpb.DownloadRequest(ticket_no=with_media, sha256=site_sha),
                                                    metadata=sup) if x.WhichOneof("part") == "chunk")
assert got_back == site_photo
refused(lambda: list(media.Download(mpb.DownloadRequest(ticket_no=with_media, sha256=shots[0].sha256),
                                    metadata=bearer("in-other", "unit_staff", "bj-water-group"))),
        grpc.StatusCode.NOT_FOUND, "another unit's download")
e = refused(lambda: intake.Submit(request(attachments=[c.Attachment(sha256="0" * 64)]), metadata=desk),
            grpc.StatusCode.FAILED_PRECONDITION, "media never uploaded")
assert reason(e) == "MEDIA_NOT_HELD", reason(e)

# A request the operator cannot classify: the manual queue.
open_no = intake.Submit(request(category_code="", content="来电人反映的问题不清楚属于哪一类。"), metadata=desk).ticket_no
r = routing_of(open_no)
assert r.basis == d.ROUTING_BASIS_MANUAL_QUEUE and "category open" in r.reason, r

# Across two districts: the other district's government is a co-unit.
across = intake.Submit(request(category_code="noise", content="两区交界处夜间施工噪声扰民。",
                               location=c.Location(district_code="110105", street_code="110105001",
                                                   other_district_codes=["110108"])),
                       metadata=desk).ticket_no
r = routing_of(across)
assert "district-gov-110108" in [x.unit_id for x in r.units], r

# The knowledge base: 40 articles proposed by their units, approved.
data = tomllib.loads((pathlib.Path(__file__).parents[1] / "data" / "knowledge.toml").read_text())
articles = data["articles"][:40]
keys = {a["key"] for a in articles}
ids = {}
for a in articles:
    staff = bearer("in-kb-desk", "unit_staff", a["owning_unit"])
    art = kb.ProposeArticle(k.ProposeArticleRequest(question=a["question"], answer=a["answer"],
                                                    category_code=a["category_code"],
                                                    idempotency_key=key()), metadata=staff).article
    assert art.versions[0].state == k.ARTICLE_STATE_DRAFT, art
    kb.ApproveArticle(k.ApproveArticleRequest(article_id=art.article_id, version=1), metadata=sup)
    ids[art.article_id] = a["key"]
refused(lambda: kb.ApproveArticle(k.ApproveArticleRequest(article_id=next(iter(ids)), version=1),
                                  metadata=bearer("in-kb-desk", "unit_staff", "bj-heating-group")),
        grpc.StatusCode.PERMISSION_DENIED, "a unit approving")
e = refused(lambda: kb.ApproveArticle(k.ApproveArticleRequest(article_id=next(iter(ids)), version=1),
                                      metadata=sup),
            grpc.StatusCode.FAILED_PRECONDITION, "approving an approved version")
assert reason(e) == "ARTICLE_NOT_DRAFT", reason(e)

questions = [q for q in data["questions"] if q["expects"] in keys]
top3 = 0
for q in questions:
    hits = kb.SearchArticles(k.SearchArticlesRequest(query=q["text"]), metadata=desk).hits
    if q["expects"] in [ids.get(h.article_id) for h in hits[:3]]:
        top3 += 1
share = top3 / len(questions)
print(f"outside search: {top3}/{len(questions)} questions found in the top 3 ({share:.0%})")
assert len(questions) >= 10 and share >= 0.8, share

# A consultation answered from the best hit: closed, never dispatched.
q = questions[0]
best = kb.SearchArticles(k.SearchArticlesRequest(query=q["text"]), metadata=desk).hits[0]
consult = intake.Submit(request(request_type=c.REQUEST_TYPE_CONSULTATION, content=q["text"],
                                category_code=best.category_code,
                                direct_answer=i.DirectAnswer(article_id=best.article_id,
                                                             article_version=best.version)),
                        metadata=desk)
assert consult.status == c.TICKET_STATUS_CLOSED, consult
sentinel = intake.Submit(request(), metadata=desk).ticket_no
routing_of(sentinel)
refused(lambda: dispatch.GetRouting(d.GetRoutingRequest(ticket_no=consult.ticket_no), metadata=dispatcher),
        grpc.StatusCode.NOT_FOUND, "routing of a ticket answered directly")
t = intake.GetTicket(i.GetTicketRequest(ticket_no=consult.ticket_no), metadata=desk)
assert t.direct_answer.article_id == best.article_id and t.ticket.status == c.TICKET_STATUS_CLOSED, t
period = {"from": ts(started), "to": ts(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1))}
s = kb.GetDirectAnswerShare(k.GetDirectAnswerShareRequest(**period), metadata=sup)
assert s.directly_answered >= 1 and s.accepted >= 5 and 0 < s.share < 1, s
assert any(r.request_type == c.REQUEST_TYPE_CONSULTATION and r.directly_answered >= 1
           for r in s.by_request_type), s

# Withdrawn: never offered again, and no longer answers.
kb.ExpireArticle(k.ExpireArticleRequest(article_id=best.article_id, reason="政策调整"), metadata=sup)
hits = kb.SearchArticles(k.SearchArticlesRequest(query=q["text"]), metadata=desk).hits
assert best.article_id not in [h.article_id for h in hits], hits
e = refused(lambda: intake.Submit(request(request_type=c.REQUEST_TYPE_CONSULTATION, content=q["text"],
                                          category_code=best.category_code,
                                          direct_answer=i.DirectAnswer(article_id=best.article_id,
                                                                       article_version=best.version)),
                                  metadata=desk),
            grpc.StatusCode.FAILED_PRECONDITION, "answering from a withdrawn article")
assert reason(e) == "ARTICLE_NOT_OFFERED", reason(e)
print("outside intake: ok")
