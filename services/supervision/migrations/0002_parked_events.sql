-- Deadline events whose clock owner could not be asked (it was down). They
-- are taken off RabbitMQ once parked here, so that one owner's outage does
-- not hold up the events of the others, and retried until the owner
-- answers. The event id stays the deduplication key.

CREATE TABLE parked_events (
    event_id   TEXT PRIMARY KEY,
    -- hotline.common.v1.DeadlineEvent
    event      BYTEA NOT NULL,
    owner      TEXT NOT NULL,
    parked_at  TIMESTAMPTZ NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    last_error TEXT NOT NULL
);

CREATE INDEX parked_events_by_age ON parked_events (parked_at);
