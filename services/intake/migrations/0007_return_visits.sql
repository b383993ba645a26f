-- Return visits (回访): one row per answered handling round of a ticket,
-- whether it entered the queue or not (consent refused, not sampled), with
-- the sampling seed and rate it was decided with; the attempts of each.
--
-- A visit is in the queue ('queued', due at `due_at`), held by a visitor
-- ('taken', until `due_at`), 'closed' (reached, unreachable, refused), or
-- 'not_queued'. Visits are taken oldest due first with FOR UPDATE SKIP
-- LOCKED on `return_visits_due`.

CREATE TABLE return_visits (
    visit_id          UUID PRIMARY KEY,
    ticket_no         TEXT NOT NULL REFERENCES tickets (ticket_no),
    unit_id           TEXT NOT NULL,
    assignment_id     TEXT NOT NULL,
    hop               INTEGER NOT NULL,
    round             INTEGER NOT NULL,
    answered_at       TIMESTAMPTZ NOT NULL,
    entered_at        TIMESTAMPTZ NOT NULL,
    state             TEXT NOT NULL CONSTRAINT return_visits_state
        CHECK (state IN ('queued', 'taken', 'closed', 'not_queued')),
    not_queued_reason TEXT CONSTRAINT return_visits_not_queued_reason
        CHECK (not_queued_reason IN ('consent_refused', 'not_sampled')),
    sampled           BOOLEAN NOT NULL,
    sample_seed       TEXT,
    sample_rate       DOUBLE PRECISION,
    deadline          TIMESTAMPTZ,
    due_at            TIMESTAMPTZ,
    taken_by          TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    outcome           TEXT CONSTRAINT return_visits_outcome
        CHECK (outcome IN ('reached', 'unreachable', 'refused')),
    unit_contacted    BOOLEAN,
    resolution        TEXT CONSTRAINT return_visits_resolution
        CHECK (resolution IN ('resolved', 'partly', 'unresolved')),
    satisfaction      TEXT CONSTRAINT return_visits_satisfaction CHECK (satisfaction IN
        ('very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied')),
    unit_at_fault     BOOLEAN,
    comment           TEXT,
    contact_id        UUID REFERENCES contacts (contact_id),
    closed_at         TIMESTAMPTZ,
    closed_by         TEXT,
    CONSTRAINT return_visits_one_per_round UNIQUE (ticket_no, hop, round),
    CONSTRAINT return_visits_not_queued CHECK ((state = 'not_queued') = (not_queued_reason IS NOT NULL)),
    CONSTRAINT return_visits_closed CHECK ((state = 'closed') = (outcome IS NOT NULL AND closed_at IS NOT NULL)),
    CONSTRAINT return_visits_sample CHECK (sampled = (sample_seed IS NOT NULL AND sample_rate IS NOT NULL)),
    CONSTRAINT return_visits_due CHECK ((state IN ('queued', 'taken')) = (due_at IS NOT NULL))
);

-- TakeReturnVisit: the oldest due of the visits open.
CREATE INDEX return_visits_due ON return_visits (due_at, visit_id) WHERE state IN ('queued', 'taken');
-- ListReturnVisits in one state, and all.
CREATE INDEX return_visits_by_state ON return_visits (state, entered_at, visit_id);
CREATE INDEX return_visits_page ON return_visits (entered_at, visit_id);

CREATE TABLE visit_attempts (
    visit_id UUID NOT NULL REFERENCES return_visits (visit_id),
    n        INTEGER NOT NULL,
    result   TEXT NOT NULL CONSTRAINT visit_attempts_result
        CHECK (result IN ('reached', 'unreachable', 'refused')),
    at       TIMESTAMPTZ NOT NULL,
    by       TEXT NOT NULL,
    PRIMARY KEY (visit_id, n)
);
