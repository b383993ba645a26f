-- The hop in force (当前派单轮次): one row per ticket naming the routing
-- hop whose assignments may act, and the handling round it belongs to.
-- Every call that changes a ticket's assignments locks this row (shared
-- for a unit's move, exclusive for a new hop), so that once a new hop is
-- in force no assignment of an earlier one signs, answers or returns, and
-- unrelated tickets never wait for each other.
CREATE TABLE ticket_hops (
    ticket_no TEXT PRIMARY KEY,
    hop       INTEGER NOT NULL CONSTRAINT ticket_hops_hop_check CHECK (hop >= 1),
    -- A ticket has at most one lead answer per handling round; a round
    -- spans the hops of one handling (re-handling, 重办, starts another).
    round     INTEGER NOT NULL DEFAULT 1 CONSTRAINT ticket_hops_round_check CHECK (round >= 1),
    begun_at  TIMESTAMPTZ NOT NULL
);

INSERT INTO ticket_hops (ticket_no, hop, begun_at)
SELECT ticket_no, max(hop), max(dispatched_at) FROM assignments GROUP BY ticket_no;

ALTER TABLE assignments ADD COLUMN round INTEGER NOT NULL DEFAULT 1;

-- Tickets already answered by two lead units (the hops raced) must be
-- resolved by hand before one answer per round can be enforced.
DO $$
DECLARE
    twice TEXT;
BEGIN
    SELECT string_agg(ticket_no, ', ') INTO twice FROM (
        SELECT ticket_no FROM assignments
        WHERE role = 'lead' AND state = 'fed_back'
        GROUP BY ticket_no, round HAVING count(*) > 1
    ) d;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION 'tickets answered by more than one lead unit in one round: %', twice;
    END IF;
END
$$;

CREATE UNIQUE INDEX assignments_one_lead_answer ON assignments (ticket_no, round)
    WHERE role = 'lead' AND state = 'fed_back';

-- A summons carries its own arrival time (hotline_common::summons), so
-- that summonses of other owners (on-site division, meetings) share it.
ALTER TABLE summonses ADD COLUMN arrive_by TIMESTAMPTZ;
UPDATE summonses s SET arrive_by = w.arrive_by FROM whistles w WHERE w.whistle_id = s.whistle_id;
ALTER TABLE summonses ALTER COLUMN arrive_by SET NOT NULL;

-- Lists page by (time, id).
CREATE INDEX handling_records_page ON handling_records (ticket_no, occurred_at, record_id);
CREATE INDEX extensions_page ON extensions (ticket_no, requested_at DESC, extension_id DESC);
CREATE INDEX returns_page ON returns (ticket_no, requested_at, return_id);
