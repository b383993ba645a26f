-- Each list reads what it returns: an index per list matching its WHERE
-- and ORDER BY (the SQL is the `pub const` next to each store function;
-- tests/e2e/plans.rs checks the plans on a large history).

-- A unit's work in one state, newest first (pending work: the unit's
-- closed history is never read).
CREATE INDEX assignments_by_unit_state
    ON assignments (unit_id, state, dispatched_at DESC, assignment_id DESC);

-- Pending returns, oldest first: every one, and one unit's.
CREATE INDEX returns_pending_page ON returns (requested_at, return_id) WHERE state = 'pending';
CREATE INDEX returns_pending_by_unit
    ON returns (unit_id, requested_at, return_id) WHERE state = 'pending';
-- Replaced by returns_pending_page.
DROP INDEX returns_pending;

-- A ticket's whistles in the order listed.
CREATE INDEX whistles_page ON whistles (ticket_no, blown_at, whistle_id);
DROP INDEX whistles_by_ticket;

-- Superseded by handling_records_page and extensions_page (same leading
-- columns, with the id that breaks ties): a plan that picked these sorted
-- the ticket's rows instead of reading one page.
DROP INDEX handling_records_by_ticket;
DROP INDEX extensions_by_ticket;

-- A unit's share of pending rows is not its share of all rows (a unit with
-- a long history has few open): statistics of the pair let the planner
-- see it, and pick the index of the unit's pending rows.
CREATE STATISTICS assignments_unit_state (mcv) ON unit_id, state FROM assignments;
CREATE STATISTICS returns_unit_state (mcv) ON unit_id, state FROM returns;
