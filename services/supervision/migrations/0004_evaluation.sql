-- The three-rate evaluation (三率考评): a read model built only from the
-- ticket lifecycle events (consumer hotline.supervision.evaluation).
--
-- eval_events: the evaluation's own copy of each event it consumed, for
-- refolding a ticket and for the recount.
CREATE TABLE eval_events (
    event_id    UUID PRIMARY KEY,
    ticket_no   TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    body        BYTEA NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX eval_events_by_ticket ON eval_events (ticket_no, occurred_at);

-- The class of each unit, as the latest routing event named it.
CREATE TABLE eval_units (
    unit_id TEXT PRIMARY KEY,
    kind    TEXT NOT NULL
);

-- What counts where: one row per (ticket, unit, metric, item), the day it
-- counts on in the city's time zone; excluded and set-aside rows stay.
CREATE TABLE eval_facts (
    ticket_no    TEXT NOT NULL,
    unit_id      TEXT NOT NULL,
    metric       TEXT NOT NULL
        CHECK (metric IN ('response', 'resolution', 'satisfaction', 'rating', 'reopened')),
    item_id      TEXT NOT NULL,
    day          DATE NOT NULL,
    listed_den   BOOLEAN NOT NULL,
    listed_num   BOOLEAN NOT NULL,
    level        SMALLINT NOT NULL,
    at           TIMESTAMPTZ,
    deadline     TIMESTAMPTZ,
    exclusion_id UUID,
    set_aside    BOOLEAN NOT NULL,
    why          TEXT NOT NULL,
    PRIMARY KEY (ticket_no, unit_id, metric, item_id)
);
-- Explain pages: one unit's metric by day, then ticket.
CREATE INDEX eval_facts_explain ON eval_facts (unit_id, metric, day, ticket_no, item_id);

-- Per (unit, day) counters, changed in the transaction of each event by
-- the difference its ticket's facts made; a period sums its days.
CREATE TABLE eval_counters (
    unit_id            TEXT NOT NULL,
    day                DATE NOT NULL,
    response_due       BIGINT NOT NULL DEFAULT 0,
    response_signed    BIGINT NOT NULL DEFAULT 0,
    resolution_yes     BIGINT NOT NULL DEFAULT 0,
    resolution_partly  BIGINT NOT NULL DEFAULT 0,
    resolution_no      BIGINT NOT NULL DEFAULT 0,
    satisfaction_1     BIGINT NOT NULL DEFAULT 0,
    satisfaction_2     BIGINT NOT NULL DEFAULT 0,
    satisfaction_3     BIGINT NOT NULL DEFAULT 0,
    satisfaction_4     BIGINT NOT NULL DEFAULT 0,
    satisfaction_5     BIGINT NOT NULL DEFAULT 0,
    rating_1           BIGINT NOT NULL DEFAULT 0,
    rating_2           BIGINT NOT NULL DEFAULT 0,
    rating_3           BIGINT NOT NULL DEFAULT 0,
    rating_4           BIGINT NOT NULL DEFAULT 0,
    rating_5           BIGINT NOT NULL DEFAULT 0,
    reopened           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (unit_id, day)
);
CREATE INDEX eval_counters_by_day ON eval_counters (day);

-- Exclusions (不合理诉求, 无效诉求, …): proposed by a supervisor, decided by
-- a leader, reversible; never deleted. One proposed or approved per ticket
-- and unit.
CREATE TABLE eval_exclusions (
    exclusion_id  UUID PRIMARY KEY,
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    reason_code   TEXT NOT NULL,
    note          TEXT NOT NULL,
    state         TEXT NOT NULL
        CHECK (state IN ('proposed', 'approved', 'rejected', 'reversed')),
    proposed_by   TEXT NOT NULL,
    proposed_at   TIMESTAMPTZ NOT NULL,
    decided_by    TEXT,
    decided_at    TIMESTAMPTZ,
    decision_note TEXT NOT NULL DEFAULT '',
    reversed_by   TEXT,
    reversed_at   TIMESTAMPTZ,
    reverse_note  TEXT NOT NULL DEFAULT '',
    appeal_id     UUID
);
CREATE UNIQUE INDEX eval_exclusions_one_live ON eval_exclusions (ticket_no, unit_id)
    WHERE state IN ('proposed', 'approved');
CREATE INDEX eval_exclusions_newest ON eval_exclusions (proposed_at DESC, exclusion_id DESC);

-- Units' appeals (申诉) against tickets counted in their evaluation.
CREATE TABLE eval_appeals (
    appeal_id     UUID PRIMARY KEY,
    unit_id       TEXT NOT NULL,
    ticket_no     TEXT NOT NULL,
    period        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'upheld', 'rejected')),
    appealed_by   TEXT NOT NULL,
    appealed_at   TIMESTAMPTZ NOT NULL,
    decided_by    TEXT,
    decided_at    TIMESTAMPTZ,
    decision_note TEXT NOT NULL DEFAULT '',
    exclusion_id  UUID
);
CREATE UNIQUE INDEX eval_appeals_one_pending ON eval_appeals (unit_id, ticket_no)
    WHERE state = 'pending';
CREATE INDEX eval_appeals_newest ON eval_appeals (appealed_at DESC, appeal_id DESC);
