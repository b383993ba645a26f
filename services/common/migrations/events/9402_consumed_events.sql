-- Lifecycle events a consumer of this schema has acted on: the row is
-- inserted in the transaction of the action, so an event redelivered (or
-- published twice) is acted on once.

CREATE TABLE consumed_events (
    consumer    TEXT NOT NULL,
    event_id    UUID NOT NULL,
    consumed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX consumed_events_by_age ON consumed_events (consumed_at);
