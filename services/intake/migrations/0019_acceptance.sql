-- Requests from channels the policy reviews (`[acceptance]`) wait for an
-- operator to accept them (受理): `awaiting_acceptance` until then, with
-- the acceptance clock running from `received_at`; `accepted_at` is the
-- acceptance itself (the arrival until then). Requests accepted as they
-- are submitted were received then.

ALTER TABLE tickets
    ADD COLUMN awaiting_acceptance BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN received_at TIMESTAMPTZ;

UPDATE tickets SET received_at = accepted_at;
ALTER TABLE tickets ALTER COLUMN received_at SET NOT NULL;

-- ListAwaitingAcceptance: oldest first.
CREATE INDEX tickets_awaiting_acceptance ON tickets (received_at, ticket_no)
    WHERE awaiting_acceptance;
