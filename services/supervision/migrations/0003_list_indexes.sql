-- Each list reads what it returns: an index per shape of ListUrges and
-- ListCases (the SQL is `urges_sql` / `cases_sql` in
-- src/deadlines/store.rs; tests/e2e/plans.rs checks the plans on a large
-- history): by unit, by unit and state (a unit's open cases), by ticket,
-- by state, and all of them.
--
-- The by-unit indexes carry every column the lists return, so that a
-- unit's page is read from the index alone: otherwise the planner may
-- prefer walking the all-units time index (whose order is the table's)
-- and filtering out the other units' rows.

CREATE INDEX urges_page_by_unit ON urges (unit_id, issued_at DESC, urge_id DESC)
    INCLUDE (ticket_no, stage, deadline);
CREATE INDEX urges_page_by_ticket ON urges (ticket_no, issued_at DESC, urge_id DESC);
CREATE INDEX urges_page ON urges (issued_at DESC, urge_id DESC);
DROP INDEX urges_by_unit;
DROP INDEX urges_by_ticket;

CREATE INDEX cases_page_by_unit ON cases (unit_id, opened_at DESC, case_id DESC)
    INCLUDE (ticket_no, stage, deadline, state, closed_at);
CREATE INDEX cases_by_unit_state ON cases (unit_id, state, opened_at DESC, case_id DESC)
    INCLUDE (ticket_no, stage, deadline, closed_at);
CREATE INDEX cases_page_by_ticket ON cases (ticket_no, opened_at DESC, case_id DESC);
CREATE INDEX cases_by_state ON cases (state, opened_at DESC, case_id DESC);
CREATE INDEX cases_page ON cases (opened_at DESC, case_id DESC);
DROP INDEX cases_by_unit;
DROP INDEX cases_by_ticket;

-- A unit's share of open cases is not its share of all cases: statistics
-- of the pair let the planner see it.
CREATE STATISTICS cases_unit_state (mcv) ON unit_id, state FROM cases;
