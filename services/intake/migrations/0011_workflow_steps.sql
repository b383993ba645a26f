-- The steps of supervision's workflows that concern a ticket (special
-- reports, shirking cases), from supervision's `workflow_step` facts
-- (consumer intake-timeline, each event once), for the ticket's timeline.
CREATE TABLE workflow_steps (
    -- The order they arrived in: steps of one transaction share their time.
    seq       BIGSERIAL PRIMARY KEY,
    ticket_no TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    workflow  TEXT NOT NULL,
    ref_id    TEXT NOT NULL,
    step      TEXT NOT NULL,
    unit_id   TEXT NOT NULL,
    detail    TEXT NOT NULL
);

CREATE INDEX workflow_steps_by_ticket ON workflow_steps (ticket_no, at, seq);
