-- What units record while handling an assignment: contacts with the
-- requester, progress notes, site visits.

CREATE TABLE handling_records (
    record_id     UUID PRIMARY KEY,
    assignment_id UUID NOT NULL REFERENCES assignments (assignment_id),
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CONSTRAINT handling_records_kind_check
                      CHECK (kind IN ('contact', 'progress', 'site_visit')),
    occurred_at   TIMESTAMPTZ NOT NULL,
    way           TEXT NOT NULL,
    result        TEXT NOT NULL,
    note          TEXT NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX handling_records_by_ticket ON handling_records (ticket_no, occurred_at);
