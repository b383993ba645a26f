-- Ticket lifecycle events waiting to be published to RabbitMQ: one row per
-- event, written in the transaction of the change it tells of, deleted once
-- the broker confirmed it. `seq` is the order of recording; a ticket's rows
-- are published in that order (docs/EVENTS.md).
--
-- A claim updates only `leased_until`, which no index holds (a HOT update;
-- `fillfactor = 50` keeps room on the page); the autovacuum settings are
-- those of a queue table, as for the other outboxes.

CREATE TABLE lifecycle_outbox (
    seq             BIGSERIAL PRIMARY KEY,
    event_id        UUID NOT NULL,
    ticket_no       TEXT NOT NULL,
    routing_key     TEXT NOT NULL,
    -- The encoded hotline.events.v1.LifecycleEvent.
    body            BYTEA NOT NULL,
    enqueued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    leased_until    TIMESTAMPTZ,
    CONSTRAINT lifecycle_outbox_event_unique UNIQUE (event_id)
) WITH (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02
);

CREATE INDEX lifecycle_outbox_due ON lifecycle_outbox (next_attempt_at);
-- A row waits while an earlier one of its ticket is backing off or leased.
CREATE INDEX lifecycle_outbox_by_ticket ON lifecycle_outbox (ticket_no, seq);
