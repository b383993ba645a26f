-- Undertaking owns the assignments: one per ticket and unit, with the
-- unit's sign-off and feedback deadlines and what it did.

CREATE TABLE assignments (
    assignment_id     UUID PRIMARY KEY,
    ticket_no         TEXT NOT NULL,
    unit_id           TEXT NOT NULL,
    role              TEXT NOT NULL CONSTRAINT assignments_role_check CHECK (role IN ('lead', 'co')),
    state             TEXT NOT NULL CONSTRAINT assignments_state_check
                          CHECK (state IN ('pending_sign', 'signed', 'fed_back')),
    -- The ticket as dispatch sent it (hotline.common.v1.TicketSummary).
    ticket            BYTEA NOT NULL,
    dispatched_at     TIMESTAMPTZ NOT NULL,
    sign_deadline     TIMESTAMPTZ NOT NULL,
    feedback_deadline TIMESTAMPTZ NOT NULL,
    signed_at         TIMESTAMPTZ,
    fed_back_at       TIMESTAMPTZ,
    -- hotline.common.v1.Feedback, once given.
    feedback          BYTEA,
    CONSTRAINT assignments_ticket_unit_unique UNIQUE (ticket_no, unit_id)
);

CREATE INDEX assignments_by_unit ON assignments (unit_id, dispatched_at DESC, assignment_id DESC);
