-- Supervision's records: urges (催办) and supervision cases (督办). The
-- deadline event that caused each is unique, so a redelivered or duplicated
-- event never acts twice.

CREATE TABLE urges (
    urge_id       UUID PRIMARY KEY,
    event_id      TEXT NOT NULL,
    clock_id      TEXT NOT NULL,
    clock_version BIGINT NOT NULL,
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    stage         TEXT NOT NULL,
    deadline      TIMESTAMPTZ NOT NULL,
    -- When the event was due, and when the urge was issued: the difference
    -- is the lateness of the action.
    fire_at       TIMESTAMPTZ NOT NULL,
    issued_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT urges_event_unique UNIQUE (event_id)
);

CREATE INDEX urges_by_unit ON urges (unit_id, issued_at DESC, urge_id DESC);
CREATE INDEX urges_by_ticket ON urges (ticket_no, issued_at DESC);

CREATE TABLE cases (
    case_id       UUID PRIMARY KEY,
    event_id      TEXT NOT NULL,
    clock_id      TEXT NOT NULL,
    clock_version BIGINT NOT NULL,
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    stage         TEXT NOT NULL,
    deadline      TIMESTAMPTZ NOT NULL,
    fire_at       TIMESTAMPTZ NOT NULL,
    opened_at     TIMESTAMPTZ NOT NULL,
    state         TEXT NOT NULL CONSTRAINT cases_state_check CHECK (state IN ('open', 'closed')),
    closed_at     TIMESTAMPTZ,
    CONSTRAINT cases_event_unique UNIQUE (event_id)
);

CREATE INDEX cases_by_unit ON cases (unit_id, opened_at DESC, case_id DESC);
CREATE INDEX cases_by_ticket ON cases (ticket_no, opened_at DESC);
CREATE INDEX cases_open_by_clock ON cases (clock_id) WHERE state = 'open';
