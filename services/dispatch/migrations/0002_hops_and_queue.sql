-- Re-dispatch: a ticket's routing may change (a dispatcher dispatching from
-- the manual queue or overriding, the centre accepting a return). Each
-- routing is a hop; `routings` holds the one in force, `routing_hops`
-- every one.

ALTER TABLE routings ADD COLUMN hop INTEGER NOT NULL DEFAULT 1;
-- Waiting for a dispatcher (人工派单): no unit holds the ticket.
ALTER TABLE routings ADD COLUMN queued BOOLEAN NOT NULL DEFAULT false;
-- Times the ticket was taken from the units it had been sent to.
ALTER TABLE routings ADD COLUMN transfers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE routings ADD COLUMN dispatch_deadline TIMESTAMPTZ;

CREATE INDEX routings_queued ON routings (dispatch_deadline, ticket_no) WHERE queued;
CREATE INDEX routings_by_transfers ON routings (transfers DESC, ticket_no) WHERE transfers > 0;

CREATE TABLE routing_hops (
    ticket_no  TEXT NOT NULL REFERENCES routings (ticket_no),
    hop        INTEGER NOT NULL,
    -- hotline.dispatch.v1.Routing
    routing    BYTEA NOT NULL,
    -- The return (退单) this hop accepted; a return is accepted once.
    return_id  TEXT,
    decided_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ticket_no, hop)
);

CREATE UNIQUE INDEX routing_hops_return_once ON routing_hops (return_id) WHERE return_id IS NOT NULL;

INSERT INTO routing_hops (ticket_no, hop, routing, decided_at)
    SELECT ticket_no, 1, routing, dispatched_at FROM routings;
