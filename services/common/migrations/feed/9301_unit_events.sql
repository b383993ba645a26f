-- A service's event feed: one row per change a unit is told about, written
-- in the same transaction as the change. Rows are read in (xid, id) order,
-- and only once every transaction with an older xid has finished (xid below
-- the snapshot's xmin), so a row committed late is never passed over: ids
-- alone commit out of order.

CREATE TABLE unit_events (
    id          BIGSERIAL PRIMARY KEY,
    xid         XID8 NOT NULL DEFAULT pg_current_xact_id(),
    unit_id     TEXT NOT NULL,
    ticket_no   TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The encoded event, a message of the owning service's contract.
    event       BYTEA NOT NULL,
    -- For a row copied from another service's feed: where it came from
    -- (unique, so that it is copied once).
    source      TEXT,
    CONSTRAINT unit_events_source_unique UNIQUE (source)
);

CREATE INDEX unit_events_by_unit ON unit_events (unit_id, xid, id);
CREATE INDEX unit_events_by_position ON unit_events (xid, id);
CREATE INDEX unit_events_by_age ON unit_events (recorded_at);

-- Per unit (and '*' for the whole feed): the newest position retention
-- deleted. A cursor before it may have missed events.
CREATE TABLE unit_event_floors (
    unit_id TEXT PRIMARY KEY,
    xid     XID8 NOT NULL,
    id      BIGINT NOT NULL
);

-- Where this service is in the feeds it copies from (source -> cursor).
CREATE TABLE feed_follows (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
