-- Re-handling (重办): a return visit that finds a ticket unresolved or its
-- requester unsatisfied, through the unit's fault, sends it back to the
-- lead unit in a new handling round of the same hop. The lead then holds
-- two assignments of that hop, one per round: a hop's assignments are
-- unique per round. (CreateAssignments still records a hop's units once:
-- its insert skips a unit the hop already has in any round.)
ALTER TABLE assignments DROP CONSTRAINT assignments_ticket_hop_unit_unique;
ALTER TABLE assignments ADD CONSTRAINT assignments_ticket_hop_round_unit_unique
    UNIQUE (ticket_no, hop, round, unit_id);

-- What was decided on each return visit that called for handling again:
-- reopened (a new round, its lead assignment), or not (the policy's
-- rounds used up; the visited round no longer in force). One decision per
-- visit; at most one reopening per handling round.
CREATE TABLE rehandlings (
    visit_id      UUID PRIMARY KEY,
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    hop           INTEGER NOT NULL,
    visited_round INTEGER NOT NULL,
    decision      TEXT NOT NULL CONSTRAINT rehandlings_decision_check
                      CHECK (decision IN ('reopened', 'limit_reached', 'superseded')),
    new_round     INTEGER,
    assignment_id UUID REFERENCES assignments (assignment_id),
    max_rounds    INTEGER NOT NULL,
    decided_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT rehandlings_reopened_has_round CHECK (
        (decision = 'reopened') = (new_round IS NOT NULL AND assignment_id IS NOT NULL)
    )
);

-- A ticket's decisions in the order listed (ListRehandlings).
CREATE INDEX rehandlings_page ON rehandlings (ticket_no, decided_at, visit_id);
CREATE UNIQUE INDEX rehandlings_one_per_round ON rehandlings (ticket_no, visited_round)
    WHERE decision = 'reopened';
