-- A request waiting for acceptance may be refused (不予受理) instead: it is
-- closed ('refused', hop and round 0) with the ground and the explanation
-- the requester is told. All three are set together, or none.

ALTER TABLE tickets
    ADD COLUMN refusal_ground TEXT,
    ADD COLUMN refusal_explanation TEXT,
    ADD COLUMN refused_at TIMESTAMPTZ,
    ADD CONSTRAINT tickets_refusal CHECK (
        (refusal_ground IS NULL AND refusal_explanation IS NULL AND refused_at IS NULL)
        OR (refusal_ground IN ('lawful_channel', 'unlawful', 'no_request', 'out_of_scope')
            AND refusal_explanation IS NOT NULL AND refused_at IS NOT NULL
            AND closure_cause = 'refused' AND NOT awaiting_acceptance));

ALTER TABLE tickets DROP CONSTRAINT tickets_closure_cause;
ALTER TABLE tickets ADD CONSTRAINT tickets_closure_cause
    CHECK (closure_cause IN ('not_visited', 'visited', 'not_reopened', 'direct_answer', 'referred',
                             'with_parent', 'refused'));
