//! The hot lists read what they return, however large the history.
//!
//! A database of its own, migrated as the services migrate their schemas,
//! is loaded straight by SQL with a large history (200,000 closed
//! assignments of the unit that polls its pending work, 100,000 of others,
//! and 40,000 to 200,000 urges, cases, returns, extensions, records and
//! routings), then `VACUUM ANALYZE`d. For each
//! list, the exact SQL its store runs (the `pub const` or builder next to
//! the store function) is prepared and run under `EXPLAIN (ANALYZE,
//! BUFFERS, FORMAT JSON)`, both with the plan made for the values (custom)
//! and with the one made for any value (generic, which a prepared statement
//! switches to after five runs). No plan may hold a Seq Scan, and the rows
//! read (Actual Rows + Rows Removed by Filter or by Index Recheck, times
//! loops, over every scan) must stay within the page size plus a small
//! constant; lists of one ticket, which are not cut into pages in SQL, read
//! that ticket's rows and no others.

use std::fmt::Write as _;
use std::str::FromStr;

use hotline_common::clock;
use hotline_dispatch::queue::store as queue;
use hotline_supervision::deadlines::store as supervision;
use hotline_supervision::inspections::rules::InspectionState;
use hotline_supervision::inspections::store as inspections;
use hotline_supervision::meetings::rules::MeetingState;
use hotline_supervision::meetings::store as meetings;
use hotline_supervision::notices::rules::NoticeState;
use hotline_supervision::notices::store as notices;
use hotline_supervision::onsite::rules::DivisionState;
use hotline_supervision::onsite::store as onsite;
use hotline_supervision::reports::rules::ReportState;
use hotline_supervision::reports::store::{self as reports, Filters};
use hotline_undertaking::{assignments, extensions, records, returns, whistles};
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// What a list may read beyond the rows it returns.
const SLACK: i64 = 5;
/// The page size asked (a store fetches one more, to know if more follow).
const PAGE: i64 = 51;

struct Db {
    name: String,
    pool: PgPool,
}

async fn fresh_db() -> Db {
    let name = format!(
        "hotline_plans_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let admin = PgConnectOptions::from_str(&hotline_tests::postgres_admin_url()).expect("url");
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .expect("PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("database");
    conn.close().await.ok();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.database(&name))
        .await
        .expect("pool");
    Db { name, pool }
}

/// Creates `schema` and applies the migrations its service applies.
async fn migrate(pool: &PgPool, schema: &str, migrators: &[&Migrator]) {
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}"
    )))
    .execute(&mut *conn)
    .await
    .expect("schema");
    let mut all: Vec<_> = migrators.iter().flat_map(|m| m.iter().cloned()).collect();
    all.sort_by_key(|m| m.version);
    Migrator::with_migrations(all)
        .run(&mut *conn)
        .await
        .expect("migrations");
    sqlx::raw_sql("SET search_path TO public")
        .execute(&mut *conn)
        .await
        .expect("reset");
}

/// The history, loaded by SQL. 'u-hot' is the unit that polls its work;
/// 'T-hot' the ticket whose timeline is read.
const LOAD: &str = r#"
SET search_path TO undertaking;
-- 200,000 closed assignments of the polled unit over two years, 100,000
-- of 50 other units, and the polled unit's open work (some of it old).
INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, dispatched_at,
                         sign_deadline, feedback_deadline, hop, round)
SELECT gen_random_uuid(), 'H' || i, 'u-hot', 'lead',
       CASE WHEN i % 10 = 0 THEN 'withdrawn' ELSE 'fed_back' END, '\x',
       now() - (i * interval '5 minutes'), now(), now(), 1, 1
FROM generate_series(1, 200000) i;
INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, dispatched_at,
                         sign_deadline, feedback_deadline, hop, round)
SELECT gen_random_uuid(), 'O' || i, 'u-' || (i % 50), 'lead',
       CASE WHEN i % 7 = 0 THEN 'pending_sign' ELSE 'fed_back' END, '\x',
       now() - (i * interval '7 minutes'), now(), now(), 1, 1
FROM generate_series(1, 100000) i;
INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, dispatched_at,
                         sign_deadline, feedback_deadline, hop, round)
SELECT gen_random_uuid(), 'P' || i, 'u-hot', 'lead',
       (ARRAY['pending_sign', 'signed', 'return_requested'])[1 + i % 3], '\x',
       now() - (i * interval '3 hours'), now(), now(), 1, 1
FROM generate_series(1, 150) i;
-- T-hot: four hops of three units.
INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, dispatched_at,
                         sign_deadline, feedback_deadline, hop, round)
SELECT gen_random_uuid(), 'T-hot', 'u-' || u, CASE WHEN u = 1 THEN 'lead' ELSE 'co' END,
       CASE WHEN h < 4 THEN 'withdrawn' ELSE 'signed' END, '\x',
       now() - ((5 - h) * interval '1 day'), now(), now(), h, 1
FROM generate_series(1, 4) h, generate_series(1, 3) u;

-- Records: 100,000 over the polled unit's tickets, 300 on T-hot.
INSERT INTO handling_records (record_id, assignment_id, ticket_no, unit_id, kind, occurred_at,
                              way, result, note, recorded_at)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, 'progress', a.dispatched_at,
       '', '', '', a.dispatched_at
FROM assignments a WHERE a.unit_id = 'u-hot' AND a.ticket_no ~ '^H[0-9]*[02468]$';
INSERT INTO handling_records (record_id, assignment_id, ticket_no, unit_id, kind, occurred_at,
                              way, result, note, recorded_at)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, 'contact',
       now() - (i * interval '1 minute'), '', '', '', now()
FROM assignments a, generate_series(1, 25) i WHERE a.ticket_no = 'T-hot';

-- Extensions: 40,000 decided, 120 on T-hot.
INSERT INTO extensions (extension_id, assignment_id, ticket_no, unit_id, stage, reason,
                        previous_deadline, requested_deadline, state, requested_at)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, 'feedback', '', now(), now(),
       'approved', a.dispatched_at
FROM assignments a WHERE a.unit_id = 'u-hot' AND a.ticket_no ~ '^H[0-9]*[05]$';
INSERT INTO extensions (extension_id, assignment_id, ticket_no, unit_id, stage, reason,
                        previous_deadline, requested_deadline, state, requested_at)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, 'sign_off', '', now(), now(),
       'rejected', now() - (i * interval '1 minute')
FROM assignments a, generate_series(1, 10) i WHERE a.ticket_no = 'T-hot';

-- Returns: 185,000 decided (100,000 of the polled unit), some 500 pending (a third of them the polled
-- unit's), 60 on T-hot.
INSERT INTO returns (return_id, assignment_id, ticket_no, unit_id, hop, reason, duty_rule, note,
                     state, requested_at)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, 1, 'not_our_duty', '', '',
       CASE WHEN a.state = 'withdrawn' THEN 'accepted' ELSE 'rejected' END, a.dispatched_at
FROM assignments a WHERE (a.unit_id = 'u-hot' AND a.ticket_no ~ '^H[0-9]*[13579]$')
                      OR (a.ticket_no LIKE 'O%' AND a.state = 'fed_back');
INSERT INTO returns (return_id, assignment_id, ticket_no, unit_id, hop, reason, duty_rule, note,
                     state, requested_at)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, 1, 'not_our_area', '', '',
       'pending', a.dispatched_at
FROM assignments a WHERE (a.ticket_no LIKE 'O%' AND a.state = 'pending_sign'
                          AND a.ticket_no ~ '0$' AND a.ticket_no::text < 'O4')
                      OR (a.unit_id = 'u-hot' AND a.state = 'return_requested' AND a.ticket_no < 'P4');
INSERT INTO returns (return_id, assignment_id, ticket_no, unit_id, hop, reason, duty_rule, note,
                     state, requested_at)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, a.hop, 'wrong_category', '', '',
       'rejected', now() - (i * interval '1 minute')
FROM assignments a, generate_series(1, 5) i WHERE a.ticket_no = 'T-hot';

-- Whistles: one per closed assignment of every tenth ticket, 20 on T-hot.
INSERT INTO whistles (whistle_id, assignment_id, ticket_no, unit_id, matter, place, blown_at, arrive_by)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, '', '', a.dispatched_at, now()
FROM assignments a WHERE a.unit_id = 'u-hot' AND a.state = 'withdrawn';
INSERT INTO whistles (whistle_id, assignment_id, ticket_no, unit_id, matter, place, blown_at, arrive_by)
SELECT gen_random_uuid(), a.assignment_id, a.ticket_no, a.unit_id, '', '',
       now() - (i * interval '1 hour'), now()
FROM (SELECT * FROM assignments WHERE ticket_no = 'T-hot' LIMIT 1) a, generate_series(1, 20) i;

SET search_path TO supervision;
-- Urges and cases: 200,000 each, a tenth of them the polled unit's (a
-- busy unit among a city's hundreds), the rest of 50 others; 2,000 open
-- cases, 30 urges and cases on T-hot.
INSERT INTO urges (urge_id, event_id, clock_id, clock_version, ticket_no, unit_id, stage,
                   deadline, fire_at, issued_at)
SELECT gen_random_uuid(), 'e' || i, 'c' || i, 1,
       CASE WHEN i <= 30 THEN 'T-hot' ELSE 'H' || i END,
       CASE WHEN i % 10 = 0 THEN 'u-hot' ELSE 'u-' || (i % 50) END, 'sign_off', now(), now(),
       now() - (i * interval '3 minutes')
FROM generate_series(1, 200000) i;
INSERT INTO cases (case_id, event_id, clock_id, clock_version, ticket_no, unit_id, stage,
                   deadline, fire_at, opened_at, state, closed_at)
SELECT gen_random_uuid(), 'e' || i, 'c' || i, 1,
       CASE WHEN i <= 30 THEN 'T-hot' ELSE 'H' || i END,
       CASE WHEN i % 10 = 0 THEN 'u-hot' ELSE 'u-' || (i % 50) END, 'feedback', now(), now(),
       now() - (i * interval '3 minutes'),
       CASE WHEN i % 100 IN (1, 10) THEN 'open' ELSE 'closed' END,
       CASE WHEN i % 100 IN (1, 10) THEN NULL ELSE now() END
FROM generate_series(1, 200000) i;

-- Special reports: 40,000, each issued to two units (the polled unit on
-- every tenth), a twentieth of them still drafts or submitted; 30 about
-- T-hot.
INSERT INTO special_reports (report_id, state, ticket_nos, title, facts, feedback_due,
                             drafted_by, drafted_at)
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
       CASE WHEN i % 20 = 1 THEN 'submitted' WHEN i % 20 = 2 THEN 'draft'
            WHEN i % 3 = 0 THEN 'closed' ELSE 'issued' END,
       ARRAY[CASE WHEN i <= 30 THEN 'T-hot' ELSE 'S' || i END, 'S' || (i + 1000000)],
       '', '', now(), 'sup', now() - (i * interval '10 minutes')
FROM generate_series(1, 40000) i;
INSERT INTO report_tickets (ticket_no, report_id, drafted_at)
SELECT t, s.report_id, s.drafted_at FROM special_reports s, UNNEST(s.ticket_nos) AS t;
INSERT INTO report_recipients (report_id, unit_id, position, asked, state, feedback_due, drafted_at,
                               report_state)
SELECT s.report_id, u.unit_id, u.position, '', 'awaited', now(), s.drafted_at, s.state
FROM special_reports s,
     LATERAL (VALUES
        (CASE WHEN right(s.report_id::text, 12)::int % 10 = 0 THEN 'u-hot'
              ELSE 'u-' || (right(s.report_id::text, 12)::int % 50) END, 1),
        ('u-x' || (right(s.report_id::text, 12)::int % 7), 2)) AS u(unit_id, position);

-- On-site divisions: 40,000, two units each (the polled unit on every
-- tenth), a tenth still summoned; 30 on T-hot.
INSERT INTO onsite_divisions (division_id, ticket_no, state, place, reason, called_by, called_at)
SELECT ('00000000-0000-4000-9000-' || lpad(i::text, 12, '0'))::uuid,
       CASE WHEN i <= 30 THEN 'T-hot' ELSE 'D' || i END,
       CASE WHEN i % 10 = 3 THEN 'summoned' ELSE 'divided' END, '', '', 'sup',
       now() - (i * interval '10 minutes')
FROM generate_series(1, 40000) i;
INSERT INTO onsite_units (division_id, unit_id, arrive_by, called_at)
SELECT d.division_id, u.unit_id, now(), d.called_at
FROM onsite_divisions d,
     LATERAL (VALUES
        (CASE WHEN right(d.division_id::text, 12)::int % 10 = 0 THEN 'u-hot'
              ELSE 'u-' || (right(d.division_id::text, 12)::int % 50) END),
        ('u-x' || (right(d.division_id::text, 12)::int % 7))) AS u(unit_id);

-- Meetings: 40,000 on one ticket each, two units invited (the polled
-- unit to every tenth), a tenth still convened; 30 on T-hot.
INSERT INTO meetings (meeting_id, state, ticket_nos, place, agenda, starts_at, convened_by, convened_at)
SELECT ('00000000-0000-4000-a000-' || lpad(i::text, 12, '0'))::uuid,
       CASE WHEN i % 10 = 4 THEN 'convened' ELSE 'recorded' END,
       ARRAY[CASE WHEN i <= 30 THEN 'T-hot' ELSE 'M' || i END], '', '', now(), 'sup',
       now() - (i * interval '10 minutes')
FROM generate_series(1, 40000) i;
INSERT INTO meeting_tickets (ticket_no, meeting_id, convened_at)
SELECT m.ticket_nos[1], m.meeting_id, m.convened_at FROM meetings m;
INSERT INTO meeting_units (meeting_id, unit_id, arrive_by, convened_at)
SELECT m.meeting_id, u.unit_id, now(), m.convened_at
FROM meetings m,
     LATERAL (VALUES
        (CASE WHEN right(m.meeting_id::text, 12)::int % 10 = 0 THEN 'u-hot'
              ELSE 'u-' || (right(m.meeting_id::text, 12)::int % 50) END),
        ('u-x' || (right(m.meeting_id::text, 12)::int % 7))) AS u(unit_id);
-- Tickets seen: 200,000, 2,000 of them open candidates.
INSERT INTO meeting_tickets_seen (ticket_no, tier, transfers, accepted_at, closed_at, candidate)
SELECT 'S' || i, CASE WHEN i % 100 = 0 THEN 'emergency' ELSE 'general' END, 0,
       now() - (i * interval '1 minute'),
       CASE WHEN i % 2 = 0 AND i % 100 <> 0 THEN now() END, i % 100 = 0
FROM generate_series(1, 200000) i;
-- Inspections: 40,000, the polled unit's every tenth, a tenth open (half
-- of them the polled unit's).
INSERT INTO inspections (inspection_id, inspection_no, unit_id, period, basis, state, findings,
                         rectification, rectify_by, opened_by, opened_at)
SELECT ('00000000-0000-4000-b000-' || lpad(i::text, 12, '0'))::uuid, 'DC' || lpad(i::text, 12, '0'),
       CASE WHEN i % 10 = 0 THEN 'u-hot' ELSE 'u-' || (i % 50) END, '2026-11', 'cases_concentrated',
       CASE WHEN i % 20 IN (5, 10) THEN 'open' ELSE 'closed' END, '', '', now(), 'sup',
       now() - (i * interval '10 minutes')
FROM generate_series(1, 40000) i;
-- Notices: 10,000, a tenth published.
INSERT INTO notices (notice_id, state, title, period_from, period_to, drafted_by, drafted_at, generated_at)
SELECT ('00000000-0000-4000-c000-' || lpad(i::text, 12, '0'))::uuid,
       CASE WHEN i % 10 = 6 THEN 'published' ELSE 'draft' END, '', now(), now(), 'sup',
       now() - (i * interval '1 hour'), now()
FROM generate_series(1, 10000) i;

SET search_path TO dispatch;
-- Routings: 200,000 sent on, 60 waiting in the manual queue, 3,000
-- transferred (1 to 6 times).
INSERT INTO routings (ticket_no, ticket, routing, dispatched_at, catalogue_version, hop, queued,
                      transfers, dispatch_deadline)
SELECT 'R' || lpad(i::text, 7, '0'), '\x', '\x', now() - (i * interval '1 minute'), 'v1',
       1 + (CASE WHEN i % 67 = 0 THEN 1 + i % 6 ELSE 0 END), i % 3333 = 0,
       CASE WHEN i % 67 = 0 THEN 1 + i % 6 ELSE 0 END,
       now() + (i * interval '1 minute')
FROM generate_series(1, 200000) i;

SET search_path TO intake;
-- 200,000 tickets over 139 days, one a minute; one in twenty still open;
-- 50,000 phones, four tickets each; four categories in four districts; a
-- forwarding system's reference on one in three; 99 of the open ones of
-- the last day and a half still wait for acceptance.
INSERT INTO tickets (ticket_no, request_hash, channel, tier, complex, category_code, content,
                     district_code, street_code, address, requester_anonymous, requester_phone,
                     phone_digits, return_visit_consent, attachments, accepted_at,
                     dispatch_deadline, surge, external_ref, closed_at, closure_cause,
                     closed_hop, closed_round, received_at, awaiting_acceptance)
SELECT 'BJ' || lpad(i::text, 12, '0'), '\x', 1, 'general', false,
       (ARRAY['heating', 'noise', 'water', 'street-lighting'])[1 + i % 4], '暖气不热，室温低',
       (ARRAY['110101', '110102', '110105', '110108'])[1 + (i / 4) % 4],
       (ARRAY['110101', '110102', '110105', '110108'])[1 + (i / 4) % 4]
           || lpad(((i / 16) % 20)::text, 3, '0'), '',
       false, '139' || lpad((i % 50000)::text, 8, '0'), '139' || lpad((i % 50000)::text, 8, '0'),
       false, '\x', now() - i * interval '1 minute', now(), false,
       CASE WHEN i % 3 = 0 THEN 'GOV-' || (i % 100000) END,
       CASE WHEN i % 20 <> 0 THEN now() END, CASE WHEN i % 20 <> 0 THEN 'visited' END,
       CASE WHEN i % 20 <> 0 THEN 1 END, CASE WHEN i % 20 <> 0 THEN 1 END,
       now() - i * interval '1 minute', i % 20 = 0 AND i < 2000
FROM generate_series(1, 200000) i;
-- 5,000 clusters over 139 days, one formed every 40 minutes, each active
-- for a day after its last request.
INSERT INTO clusters (cluster_id, basis, category_code, district_code, street_code, requesters,
                      tickets, formed_at, last_at)
SELECT gen_random_uuid(), 'street', 'heating', '110105', '110105' || lpad((i % 20)::text, 3, '0'),
       5, 5, now() - i * interval '40 minutes', now() - i * interval '40 minutes' + interval '2 hours'
FROM generate_series(1, 5000) i;
SET search_path TO public;
"#;

const VACUUM: [&str; 23] = [
    "intake.tickets",
    "intake.clusters",
    "undertaking.assignments",
    "undertaking.handling_records",
    "undertaking.extensions",
    "undertaking.returns",
    "undertaking.whistles",
    "supervision.urges",
    "supervision.cases",
    "supervision.special_reports",
    "supervision.report_recipients",
    "supervision.report_tickets",
    "supervision.onsite_divisions",
    "supervision.onsite_units",
    "supervision.meetings",
    "supervision.meeting_tickets",
    "supervision.meeting_units",
    "supervision.meeting_tickets_seen",
    "supervision.inspections",
    "supervision.notices",
    "dispatch.routings",
    "dispatch.routing_hops",
    "undertaking.ticket_hops",
];

/// One list to check: the store's SQL, the values of one call (SQL
/// literals), and how many rows it may read.
struct Case {
    name: String,
    schema: &'static str,
    sql: String,
    args: String,
    max_rows_read: i64,
}

fn case(name: &'static str, schema: &'static str, sql: &str, args: &str, max: i64) -> Case {
    Case {
        name: name.to_string(),
        schema,
        sql: sql.to_string(),
        args: args.to_string(),
        max_rows_read: max,
    }
}

/// The key figures of one plan.
#[derive(Debug, Default)]
struct Figures {
    nodes: Vec<String>,
    seq_scan: bool,
    rows_read: i64,
    returned: i64,
    buffers: i64,
    ms: f64,
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn walk(node: &Value, f: &mut Figures) {
    let kind = node["Node Type"].as_str().unwrap_or("?").to_string();
    let loops = num(node, "Actual Loops").max(1.0);
    let label = match node.get("Index Name").and_then(Value::as_str) {
        Some(ix) => format!("{kind} on {ix}"),
        None => kind.clone(),
    };
    if kind == "Seq Scan" {
        f.seq_scan = true;
    }
    // A bitmap index scan's rows are read by the heap scan above it.
    if kind.contains("Scan") && kind != "Bitmap Index Scan" {
        let read = num(node, "Actual Rows")
            + num(node, "Rows Removed by Filter")
            + num(node, "Rows Removed by Index Recheck");
        f.rows_read += (read * loops).round() as i64;
    }
    f.nodes.push(label);
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for c in children {
            walk(c, f);
        }
    }
}

async fn explain(conn: &mut PgConnection, c: &Case, mode: &str, n: usize) -> Figures {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET search_path TO {}; SET plan_cache_mode = {mode}",
        c.schema
    )))
    .execute(&mut *conn)
    .await
    .expect("settings");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE list{n} AS {}", c.sql)))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{}: prepare: {e}", c.name));
    let (plan,): (Value,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE list{n}({})",
        c.args
    )))
    .fetch_one(&mut *conn)
    .await
    .unwrap_or_else(|e| panic!("{}: explain: {e}", c.name));
    let top = &plan[0];
    let mut f = Figures {
        ms: num(top, "Execution Time"),
        ..Figures::default()
    };
    let root = &top["Plan"];
    f.returned = num(root, "Actual Rows") as i64;
    f.buffers = (num(root, "Shared Hit Blocks") + num(root, "Shared Read Blocks")) as i64;
    walk(root, &mut f);
    f
}

fn cases() -> Vec<Case> {
    let p = PAGE;
    // A cursor deep in the polled unit's history (a year back).
    let deep = "now() - interval '365 days', 'ffffffff-ffff-ffff-ffff-ffffffffffff'";
    let mut v = vec![
        case(
            "intake FindRepeats: a requester's open tickets",
            "intake",
            hotline_intake::repeats::store::BY_PHONE_SQL,
            "'13900000020', 20",
            20 + SLACK,
        ),
        case(
            "intake FindRepeats: the open tickets of a category at a place",
            "intake",
            hotline_intake::repeats::store::BY_PLACE_SQL,
            &format!(
                "'heating', '110105', {}",
                hotline_intake::repeats::rules::PLACE_SCAN
            ),
            hotline_intake::repeats::rules::PLACE_SCAN + SLACK,
        ),
        case(
            "intake clusters: the requests of a category at a street in the window",
            "intake",
            hotline_intake::clusters::store::GATHER_AT_STREET_SQL,
            &format!(
                "'heating', '110105008', now() - interval '24 hours', {}",
                hotline_intake::clusters::store::GATHER_LIMIT
            ),
            40,
        ),
        case(
            "intake clusters: the active cluster at a street",
            "intake",
            hotline_intake::clusters::store::ACTIVE_AT_STREET_SQL,
            "'heating', '110105001', now() - interval '24 hours'",
            5,
        ),
        case(
            "intake ListClusters",
            "intake",
            hotline_intake::clusters::store::LIST_ALL_SQL,
            &format!("NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "intake ListClusters: active only",
            "intake",
            hotline_intake::clusters::store::LIST_ACTIVE_SQL,
            &format!("NULL, NULL, {p}, now() - interval '24 hours'"),
            // A day's clusters (38 still active), each counted twice: read
            // on the index, then from the materialized CTE to be sorted.
            80,
        ),
        case(
            "intake ListAwaitingAcceptance",
            "intake",
            &hotline_intake::acceptance::store::awaiting_sql(),
            &format!("NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "intake FindTickets: a forwarding system's reference",
            "intake",
            hotline_intake::tickets::store::BY_REF_SQL,
            "'GOV-300', NULL, 50",
            50 + SLACK,
        ),
        case(
            "undertaking ListAssignments: a unit's pending work",
            "undertaking",
            assignments::store::BY_UNIT_IN_STATE,
            &format!("'u-hot', 'pending_sign', NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListAssignments: a unit's pending work, next page",
            "undertaking",
            assignments::store::BY_UNIT_IN_STATE,
            &format!(
                "'u-hot', 'signed', now() - interval '3 days', 'ffffffff-ffff-ffff-ffff-ffffffffffff', {p}"
            ),
            p + SLACK,
        ),
        case(
            "undertaking ListAssignments: a unit's every assignment",
            "undertaking",
            assignments::store::BY_UNIT,
            &format!("'u-hot', NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListAssignments: a unit's every assignment, a year back",
            "undertaking",
            assignments::store::BY_UNIT,
            &format!("'u-hot', {deep}, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListTicketAssignments",
            "undertaking",
            assignments::store::BY_TICKET,
            "'T-hot'",
            12 + SLACK,
        ),
        case(
            "undertaking ListHandlingRecords",
            "undertaking",
            records::store::PAGE,
            &format!("'T-hot', NULL, NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListHandlingRecords, next page",
            "undertaking",
            records::store::PAGE,
            &format!("'T-hot', NULL, now() - interval '10 minutes', NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListHandlingRecords of one unit (a ticket's rows)",
            "undertaking",
            records::store::PAGE,
            &format!("'T-hot', 'u-2', NULL, NULL, {p}"),
            300 + SLACK,
        ),
        case(
            "undertaking ListExtensions",
            "undertaking",
            extensions::store::PAGE,
            &format!("'T-hot', NULL, NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListReturns: every pending one",
            "undertaking",
            returns::store::PENDING,
            &format!("NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListReturns: a unit's pending ones",
            "undertaking",
            returns::store::PENDING_OF_UNIT,
            &format!("'u-hot', NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListReturns: a ticket's",
            "undertaking",
            returns::store::BY_TICKET,
            &format!("'T-hot', NULL, NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "undertaking ListWhistles",
            "undertaking",
            whistles::store::BY_TICKET,
            "'T-hot'",
            20 + SLACK,
        ),
        case(
            "dispatch ListManualQueue",
            "dispatch",
            queue::QUEUE,
            &format!("NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "dispatch ListManualQueue, next page",
            "dispatch",
            queue::QUEUE,
            &format!("now() + interval '50 days', 'R0071000', {p}"),
            p + SLACK,
        ),
        case(
            "dispatch ListTransferredTickets",
            "dispatch",
            queue::TRANSFERRED,
            &format!("1, NULL, NULL, {p}"),
            p + SLACK,
        ),
        case(
            "dispatch ListTransferredTickets, at least 3, next page",
            "dispatch",
            queue::TRANSFERRED,
            &format!("3, 4, 'R0100000', {p}"),
            p + SLACK,
        ),
    ];
    let urges = [
        ((true, false), "'u-hot', NULL, NULL", "a unit's"),
        ((false, true), "'T-hot', NULL, NULL", "a ticket's"),
        ((false, false), "NULL, NULL", "every one"),
        (
            (true, false),
            "'u-hot', now() - interval '200 days', NULL",
            "a unit's, deep",
        ),
    ];
    for ((unit, ticket), args, what) in urges {
        v.push(Case {
            name: format!("supervision ListUrges: {what}"),
            schema: "supervision",
            sql: supervision::urges_sql(unit, ticket),
            args: format!("{args}, {p}"),
            max_rows_read: p + SLACK,
        });
    }
    let cases = [
        (
            (true, false, true),
            "'u-hot', 'open', NULL, NULL",
            "a unit's open ones",
        ),
        ((true, false, false), "'u-hot', NULL, NULL", "a unit's"),
        ((false, true, false), "'T-hot', NULL, NULL", "a ticket's"),
        ((false, false, true), "'open', NULL, NULL", "every open one"),
        ((false, false, false), "NULL, NULL", "every one"),
    ];
    for ((unit, ticket, state), args, what) in cases {
        v.push(Case {
            name: format!("supervision ListCases: {what}"),
            schema: "supervision",
            sql: supervision::cases_sql(unit, ticket, state),
            args: format!("{args}, {p}"),
            max_rows_read: p + SLACK,
        });
    }
    let hot =
        <hotline_common::ids::UnitId as hotline_common::ids::Id>::parse("u-hot").expect("unit");
    let unit = Some(&hot);
    let reports = [
        (
            Filters {
                unit,
                issued_only: true,
                ..Default::default()
            },
            "'u-hot', NULL, NULL",
            "a unit's (its staff)",
        ),
        (
            Filters {
                unit,
                state: Some(ReportState::Issued),
                ..Default::default()
            },
            "'u-hot', NULL, NULL",
            "a unit's issued ones",
        ),
        (
            Filters {
                state: Some(ReportState::Submitted),
                ..Default::default()
            },
            "NULL, NULL",
            "those waiting for a leader",
        ),
        (
            Filters {
                ticket: Some("T-hot"),
                ..Default::default()
            },
            "'T-hot', NULL, NULL",
            "a ticket's",
        ),
        (Filters::default(), "NULL, NULL", "every one"),
    ];
    for (filters, args, what) in reports {
        // A unit's or a ticket's list reads one index row and its report
        // per report returned.
        let per_row = if filters.unit.is_some() || filters.ticket.is_some() {
            2
        } else {
            1
        };
        v.push(Case {
            name: format!("supervision ListSpecialReports: {what}"),
            schema: "supervision",
            sql: reports::list_sql(&filters),
            args: format!("{args}, {p}"),
            max_rows_read: per_row * p + SLACK,
        });
    }
    let ticket = <hotline_common::ids::TicketNo as hotline_common::ids::Id>::parse("T-hot").ok();
    let divisions = [
        (
            onsite::Filters {
                unit,
                ..Default::default()
            },
            "'u-hot', NULL, NULL",
            "a unit's",
        ),
        (
            onsite::Filters {
                state: Some(DivisionState::Summoned),
                ..Default::default()
            },
            "NULL, NULL",
            "those summoned",
        ),
        (
            onsite::Filters {
                ticket: ticket.as_ref(),
                ..Default::default()
            },
            "'T-hot', NULL, NULL",
            "a ticket's",
        ),
        (onsite::Filters::default(), "NULL, NULL", "every one"),
    ];
    let meetings_lists = [
        (
            meetings::Filters {
                unit,
                ..Default::default()
            },
            "'u-hot', NULL, NULL",
            "a unit's",
        ),
        (
            meetings::Filters {
                state: Some(MeetingState::Convened),
                ..Default::default()
            },
            "NULL, NULL",
            "those convened",
        ),
        (
            meetings::Filters {
                ticket: ticket.as_ref(),
                ..Default::default()
            },
            "'T-hot', NULL, NULL",
            "a ticket's",
        ),
        (meetings::Filters::default(), "NULL, NULL", "every one"),
    ];
    for (filters, args, what) in meetings_lists {
        let per_row = if filters.unit.is_some() || filters.ticket.is_some() {
            2
        } else {
            1
        };
        v.push(Case {
            name: format!("supervision ListMeetings: {what}"),
            schema: "supervision",
            sql: meetings::list_sql(&filters),
            args: format!("{args}, {p}"),
            max_rows_read: per_row * p + SLACK,
        });
    }
    v.push(Case {
        name: "supervision ListMeetingCandidates".into(),
        schema: "supervision",
        sql: meetings::CANDIDATES_FIRST.into(),
        args: format!("{p}"),
        max_rows_read: p + SLACK,
    });
    v.push(Case {
        name: "supervision ListMeetingCandidates, next page".into(),
        schema: "supervision",
        sql: meetings::CANDIDATES_AFTER.into(),
        args: format!("{p}, now() - interval '30 days', 'S99999'"),
        max_rows_read: p + SLACK,
    });
    for (unit, state, args, what) in [
        (true, None, "'u-hot', NULL, NULL", "a unit's"),
        (
            true,
            Some(InspectionState::Open),
            "'u-hot', NULL, NULL",
            "a unit's open ones",
        ),
        (
            false,
            Some(InspectionState::Open),
            "NULL, NULL",
            "every open one",
        ),
        (false, None, "NULL, NULL", "every one"),
    ] {
        v.push(Case {
            name: format!("supervision ListInspections: {what}"),
            schema: "supervision",
            sql: inspections::list_sql(unit, state),
            args: format!("{args}, {p}"),
            max_rows_read: p + SLACK,
        });
    }
    for (state, what) in [
        (Some(NoticeState::Published), "published"),
        (None, "every one"),
    ] {
        v.push(Case {
            name: format!("supervision ListNotices: {what}"),
            schema: "supervision",
            sql: notices::list_sql(state),
            args: format!("NULL, NULL, {p}"),
            max_rows_read: p + SLACK,
        });
    }
    for (filters, args, what) in divisions {
        let per_row = if filters.unit.is_some() { 2 } else { 1 };
        v.push(Case {
            name: format!("supervision ListOnSiteDivisions: {what}"),
            schema: "supervision",
            sql: onsite::list_sql(&filters),
            args: format!("{args}, {p}"),
            max_rows_read: per_row * p + SLACK,
        });
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_lists_read_what_they_return() {
    let db = fresh_db().await;
    migrate(
        &db.pool,
        "undertaking",
        &[
            &hotline_undertaking::MIGRATOR,
            &clock::MIGRATOR,
            &hotline_common::audit::MIGRATOR,
        ],
    )
    .await;
    migrate(
        &db.pool,
        "dispatch",
        &[
            &hotline_dispatch::MIGRATOR,
            &clock::MIGRATOR,
            &hotline_common::audit::MIGRATOR,
        ],
    )
    .await;
    migrate(
        &db.pool,
        "intake",
        &[
            &hotline_intake::MIGRATOR,
            &clock::MIGRATOR,
            &hotline_common::audit::MIGRATOR,
            &hotline_common::idempotency::MIGRATOR,
            &hotline_common::events::MIGRATOR,
        ],
    )
    .await;
    migrate(
        &db.pool,
        "supervision",
        &[&supervision::MIGRATOR, &hotline_common::audit::MIGRATOR],
    )
    .await;
    let started = std::time::Instant::now();
    sqlx::raw_sql(LOAD)
        .execute(&db.pool)
        .await
        .expect("history loaded");
    for t in VACUUM {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {t}")))
            .execute(&db.pool)
            .await
            .expect("vacuum");
    }
    println!(
        "history loaded and VACUUM ANALYZEd in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut conn = db.pool.acquire().await.expect("conn");
    let mut failures = String::new();
    for (i, c) in cases().iter().enumerate() {
        for (j, mode) in ["force_custom_plan", "force_generic_plan"]
            .iter()
            .enumerate()
        {
            let f = explain(&mut conn, c, mode, 2 * i + j).await;
            let plan = if *mode == "force_custom_plan" {
                "custom"
            } else {
                "generic"
            };
            println!(
                "{:<72} {plan:<7} returned {:>3} read {:>4} buffers {:>4} {:>7.3} ms  {}",
                c.name,
                f.returned,
                f.rows_read,
                f.buffers,
                f.ms,
                f.nodes.join(" > ")
            );
            if f.seq_scan {
                writeln!(failures, "{} ({plan}): Seq Scan in {:?}", c.name, f.nodes).unwrap();
            }
            if f.rows_read > c.max_rows_read {
                writeln!(
                    failures,
                    "{} ({plan}): read {} rows, at most {} allowed: {:?}",
                    c.name, f.rows_read, c.max_rows_read, f.nodes
                )
                .unwrap();
            }
            if f.returned == 0 {
                writeln!(failures, "{} ({plan}): returned nothing", c.name).unwrap();
            }
        }
    }
    drop(conn);
    db.pool.close().await;
    let mut admin = PgConnection::connect(&hotline_tests::postgres_admin_url())
        .await
        .expect("admin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        db.name
    )))
    .execute(&mut admin)
    .await
    .ok();
    assert!(
        failures.is_empty(),
        "plans that read more than they return:\n{failures}"
    );
}
