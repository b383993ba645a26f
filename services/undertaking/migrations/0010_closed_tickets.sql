-- When intake closed the ticket (办结), as its `closed` event told it:
-- undertaking's views then show the ticket CLOSED.
ALTER TABLE ticket_hops ADD COLUMN closed_at TIMESTAMPTZ;
