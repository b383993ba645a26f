-- The requester's account with the channel system that submitted the
-- request (its own login's user id), and who submitted it: with both, that
-- channel system reads the ticket for its user (ViewOwnTicket).

ALTER TABLE tickets
    ADD COLUMN requester_account TEXT,
    ADD COLUMN submitted_by TEXT;
