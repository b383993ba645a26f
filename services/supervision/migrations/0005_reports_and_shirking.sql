-- Special reports (专报) and their units' written feedback (书面反馈);
-- shirking cases (推诿扯皮、敷衍塞责) kept with the other cases. The SQL is
-- in src/reports/store.rs and src/shirking/store.rs.

CREATE TABLE special_reports (
    report_id     UUID PRIMARY KEY,
    state         TEXT NOT NULL CONSTRAINT special_reports_state_check
                  CHECK (state IN ('draft', 'submitted', 'sent_back', 'issued', 'closed')),
    -- The first ticket is the one the report's clocks and cases are filed
    -- under.
    ticket_nos    TEXT[] NOT NULL CONSTRAINT special_reports_tickets_check
                  CHECK (cardinality(ticket_nos) BETWEEN 1 AND 50),
    title         TEXT NOT NULL,
    facts         TEXT NOT NULL,
    feedback_due  TIMESTAMPTZ NOT NULL,
    drafted_by    TEXT NOT NULL,
    drafted_at    TIMESTAMPTZ NOT NULL,
    submitted_at  TIMESTAMPTZ,
    decided_by    TEXT NOT NULL DEFAULT '',
    decision_note TEXT NOT NULL DEFAULT '',
    decided_at    TIMESTAMPTZ,
    issued_at     TIMESTAMPTZ,
    closed_at     TIMESTAMPTZ,
    sent_back     INT NOT NULL DEFAULT 0
);

-- The lists' indexes (the SQL is `list_sql` in src/reports/store.rs;
-- tests/e2e/plans.rs checks the plans): every report, by state; a unit's
-- through its recipient rows, a ticket's through report_tickets.
CREATE INDEX special_reports_page ON special_reports (drafted_at DESC, report_id DESC);
CREATE INDEX special_reports_by_state ON special_reports (state, drafted_at DESC, report_id DESC);

-- The report's tickets, one row each, for a ticket's list.
CREATE TABLE report_tickets (
    ticket_no  TEXT NOT NULL,
    report_id  UUID NOT NULL REFERENCES special_reports (report_id),
    drafted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ticket_no, report_id)
);
CREATE INDEX report_tickets_page ON report_tickets (ticket_no, drafted_at DESC, report_id DESC);

CREATE TABLE report_recipients (
    report_id     UUID NOT NULL REFERENCES special_reports (report_id),
    unit_id       TEXT NOT NULL,
    -- The order the supervisor listed the units in.
    position      INT NOT NULL,
    asked         TEXT NOT NULL,
    state         TEXT NOT NULL CONSTRAINT report_recipients_state_check
                  CHECK (state IN ('not_issued', 'awaited', 'submitted', 'accepted', 'sent_back')),
    feedback_due  TIMESTAMPTZ NOT NULL,
    -- The clock instance: one more each time the feedback is sent back.
    round         INT NOT NULL DEFAULT 1,
    measures      TEXT NOT NULL DEFAULT '',
    result        TEXT NOT NULL DEFAULT '',
    responsible   TEXT NOT NULL DEFAULT '',
    submitted_at  TIMESTAMPTZ,
    late          BOOLEAN NOT NULL DEFAULT false,
    decided_at    TIMESTAMPTZ,
    decision_note TEXT NOT NULL DEFAULT '',
    sent_back     INT NOT NULL DEFAULT 0,
    -- The report's, copied so that a unit's list pages on this table.
    drafted_at    TIMESTAMPTZ NOT NULL,
    report_state  TEXT NOT NULL CONSTRAINT report_recipients_report_state_check
                  CHECK (report_state IN ('draft', 'submitted', 'sent_back', 'issued', 'closed')),
    PRIMARY KEY (report_id, unit_id)
);

CREATE INDEX report_recipients_by_unit ON report_recipients (unit_id, drafted_at DESC, report_id DESC);
CREATE INDEX report_recipients_by_unit_state
    ON report_recipients (unit_id, report_state, drafted_at DESC, report_id DESC);
-- What a unit's staff list: the reports issued to it.
CREATE INDEX report_recipients_issued_by_unit ON report_recipients (unit_id, drafted_at DESC, report_id DESC)
    WHERE report_state IN ('issued', 'closed');

-- A shirking case has no clock, stage or deadline: it is opened by a
-- supervisor with its evidence and closed by one with its result, kept in
-- shirking_cases beside it (long texts stay out of the list indexes).
ALTER TABLE cases
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'deadline'
        CONSTRAINT cases_kind_check CHECK (kind IN ('deadline', 'shirking')),
    ALTER COLUMN event_id DROP NOT NULL,
    ALTER COLUMN clock_id DROP NOT NULL,
    ALTER COLUMN clock_version DROP NOT NULL,
    ALTER COLUMN stage DROP NOT NULL,
    ALTER COLUMN deadline DROP NOT NULL,
    ALTER COLUMN fire_at DROP NOT NULL,
    ADD CONSTRAINT cases_kind_columns CHECK (
        (kind = 'deadline') = (event_id IS NOT NULL AND clock_id IS NOT NULL
            AND clock_version IS NOT NULL AND stage IS NOT NULL
            AND deadline IS NOT NULL AND fire_at IS NOT NULL));

CREATE UNIQUE INDEX cases_one_open_shirking ON cases (ticket_no, unit_id)
    WHERE kind = 'shirking' AND state = 'open';

CREATE TABLE shirking_cases (
    case_id          UUID PRIMARY KEY REFERENCES cases (case_id),
    opened_by        TEXT NOT NULL,
    evidence_kinds   TEXT[] NOT NULL,
    evidence_details TEXT[] NOT NULL,
    closed_by        TEXT NOT NULL DEFAULT '',
    result           TEXT NOT NULL DEFAULT ''
);

-- A unit's page of cases stays read from its index alone (see 0003), now
-- with the kind.
DROP INDEX cases_page_by_unit;
DROP INDEX cases_by_unit_state;
CREATE INDEX cases_page_by_unit ON cases (unit_id, opened_at DESC, case_id DESC)
    INCLUDE (ticket_no, stage, deadline, state, closed_at, kind);
CREATE INDEX cases_by_unit_state ON cases (unit_id, state, opened_at DESC, case_id DESC)
    INCLUDE (ticket_no, stage, deadline, closed_at, kind);
