-- Return visits of rounds not answered in time: when supervision opens a
-- case because a lead unit's feedback limit passed, the round enters the
-- return-visit queue like an answered one (cause 'overdue', no answer yet;
-- a late answer is then noted on the visit). Intake learns each round's
-- lead unit from undertaking's `assigned` events.

CREATE TABLE round_leads (
    ticket_no     TEXT NOT NULL,
    hop           INTEGER NOT NULL,
    round         INTEGER NOT NULL,
    unit_id       TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    assigned_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ticket_no, hop, round)
);
CREATE INDEX round_leads_by_unit ON round_leads (ticket_no, unit_id, hop DESC, round DESC);

ALTER TABLE return_visits ALTER COLUMN answered_at DROP NOT NULL;
ALTER TABLE return_visits ADD COLUMN cause TEXT NOT NULL DEFAULT 'answered'
    CONSTRAINT return_visits_cause CHECK (cause IN ('answered', 'overdue'));
ALTER TABLE return_visits ADD CONSTRAINT return_visits_answer_of_answered
    CHECK (cause = 'overdue' OR answered_at IS NOT NULL);
