-- Request types (诉求类型), the forwarding system's reference number, and
-- the other districts a matter spans (跨区). A category left open by the
-- operator is stored empty, as a district the requester cannot name is.

ALTER TABLE tickets
    ADD COLUMN request_type         INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN external_ref         TEXT,
    ADD COLUMN other_district_codes TEXT[] NOT NULL DEFAULT '{}';

-- FindTickets: the tickets filed under a reference, newest first.
CREATE INDEX tickets_external_ref ON tickets (external_ref, accepted_at DESC)
    WHERE external_ref IS NOT NULL;
