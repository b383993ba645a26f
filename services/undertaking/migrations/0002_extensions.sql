-- Extensions (延期): a unit asks for more time for a stage before its limit
-- runs out; the hotline centre approves or rejects. One request per
-- assignment and stage may wait at a time.

CREATE TABLE extensions (
    extension_id       UUID PRIMARY KEY,
    assignment_id      UUID NOT NULL REFERENCES assignments (assignment_id),
    ticket_no          TEXT NOT NULL,
    unit_id            TEXT NOT NULL,
    stage              TEXT NOT NULL CONSTRAINT extensions_stage_check CHECK (stage IN ('sign_off', 'feedback')),
    reason             TEXT NOT NULL,
    previous_deadline  TIMESTAMPTZ NOT NULL,
    requested_deadline TIMESTAMPTZ NOT NULL,
    state              TEXT NOT NULL CONSTRAINT extensions_state_check
                           CHECK (state IN ('pending', 'approved', 'rejected')),
    requested_at       TIMESTAMPTZ NOT NULL,
    decided_at         TIMESTAMPTZ,
    decision_note      TEXT NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX extensions_one_pending ON extensions (assignment_id, stage) WHERE state = 'pending';
CREATE INDEX extensions_by_ticket ON extensions (ticket_no, requested_at DESC);
