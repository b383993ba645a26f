-- Re-dispatch and returns (退单). A ticket may be routed more than once
-- (each routing is a hop); a unit may hold assignments of several hops of
-- one ticket. A unit returns an assignment sent to it wrongly; the centre
-- rejects the return or accepts it by re-dispatching, which withdraws the
-- earlier hops' open assignments.

ALTER TABLE assignments ADD COLUMN hop INTEGER NOT NULL DEFAULT 1;
ALTER TABLE assignments ADD COLUMN withdrawn_at TIMESTAMPTZ;
ALTER TABLE assignments DROP CONSTRAINT assignments_ticket_unit_unique;
ALTER TABLE assignments ADD CONSTRAINT assignments_ticket_hop_unit_unique UNIQUE (ticket_no, hop, unit_id);
ALTER TABLE assignments DROP CONSTRAINT assignments_state_check;
ALTER TABLE assignments ADD CONSTRAINT assignments_state_check
    CHECK (state IN ('pending_sign', 'signed', 'fed_back', 'return_requested', 'withdrawn'));

CREATE TABLE returns (
    return_id     UUID PRIMARY KEY,
    assignment_id UUID NOT NULL REFERENCES assignments (assignment_id),
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    hop           INTEGER NOT NULL,
    reason        TEXT NOT NULL CONSTRAINT returns_reason_check
                      CHECK (reason IN ('not_our_duty', 'not_our_area', 'wrong_category', 'insufficient_information')),
    duty_rule     TEXT NOT NULL,
    note          TEXT NOT NULL,
    state         TEXT NOT NULL CONSTRAINT returns_state_check
                      CHECK (state IN ('pending', 'accepted', 'rejected')),
    requested_at  TIMESTAMPTZ NOT NULL,
    decided_at    TIMESTAMPTZ,
    decision_note TEXT NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX returns_one_pending ON returns (assignment_id) WHERE state = 'pending';
CREATE INDEX returns_by_ticket ON returns (ticket_no, requested_at);
CREATE INDEX returns_pending ON returns (requested_at) WHERE state = 'pending';

-- Whistles (街乡吹哨): a street or township unit summons departments to
-- the site by a set time; each reports in (部门报到) or is late.
CREATE TABLE whistles (
    whistle_id    UUID PRIMARY KEY,
    assignment_id UUID NOT NULL REFERENCES assignments (assignment_id),
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    matter        TEXT NOT NULL,
    place         TEXT NOT NULL,
    blown_at      TIMESTAMPTZ NOT NULL,
    arrive_by     TIMESTAMPTZ NOT NULL
);

CREATE INDEX whistles_by_ticket ON whistles (ticket_no, blown_at);

CREATE TABLE summonses (
    whistle_id UUID NOT NULL REFERENCES whistles (whistle_id),
    unit_id    TEXT NOT NULL,
    arrived_at TIMESTAMPTZ,
    PRIMARY KEY (whistle_id, unit_id)
);
