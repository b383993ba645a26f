-- Dispatch owns each ticket's routing (where it went, by which catalogue
-- version, with which deadlines) and the outbox of routings still to be
-- handed to undertaking.

CREATE TABLE routings (
    ticket_no         TEXT PRIMARY KEY,
    -- The ticket as received from intake (hotline.common.v1.TicketSummary).
    ticket            BYTEA NOT NULL,
    -- The routing decided (hotline.dispatch.v1.Routing).
    routing           BYTEA NOT NULL,
    dispatched_at     TIMESTAMPTZ NOT NULL,
    catalogue_version TEXT NOT NULL
);

CREATE TABLE undertaking_outbox (
    ticket_no       TEXT PRIMARY KEY REFERENCES routings (ticket_no),
    enqueued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT
);

CREATE INDEX undertaking_outbox_due ON undertaking_outbox (next_attempt_at);
