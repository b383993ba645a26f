-- Closing a ticket (办结): intake closes a ticket once its lead unit's
-- answer of the last handling round stands and that round's return visit
-- is settled (not queued; ended without calling for handling again; or
-- called for it and not reopened by undertaking). `closed_at` is set once
-- and never cleared.

ALTER TABLE tickets ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE tickets ADD COLUMN closure_cause TEXT CONSTRAINT tickets_closure_cause
    CHECK (closure_cause IN ('not_visited', 'visited', 'not_reopened'));
-- The hop and handling round whose answer closed it.
ALTER TABLE tickets ADD COLUMN closed_hop INT;
ALTER TABLE tickets ADD COLUMN closed_round INT;
ALTER TABLE tickets ADD CONSTRAINT tickets_closed CHECK (
    (closed_at IS NULL) = (closure_cause IS NULL)
    AND (closed_at IS NULL) = (closed_hop IS NULL)
    AND (closed_at IS NULL) = (closed_round IS NULL));

-- Undertaking's decision on a visit that called for handling again, when it
-- did not reopen the ticket (its `not_reopened` event).
ALTER TABLE return_visits ADD COLUMN not_reopened TEXT CONSTRAINT return_visits_not_reopened
    CHECK (not_reopened IN ('limit_reached', 'superseded'));
