-- Repeats (重复件) and repeated raising (多次反映). A repeat is accepted,
-- sent to no unit and closed with the ticket it repeats (`repeat_of`, always
-- a ticket that is not itself a repeat); `times_raised` counts a ticket and
-- its repeats. `phone_digits` is the requester's phone as digits ("+86",
-- spaces and dashes dropped), to offer a requester's own open tickets.

ALTER TABLE tickets
    ADD COLUMN repeat_of    TEXT REFERENCES tickets (ticket_no),
    ADD COLUMN times_raised INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN phone_digits TEXT;

UPDATE tickets SET phone_digits = CASE
        WHEN d LIKE '86%' AND (requester_phone ~ '^\s*\+' OR length(d) = 13) THEN substr(d, 3)
        ELSE d END
    FROM (SELECT ticket_no AS no, regexp_replace(requester_phone, '[^0-9]', '', 'g') AS d
          FROM tickets WHERE requester_phone IS NOT NULL AND NOT requester_anonymous) AS p
    WHERE ticket_no = p.no;

ALTER TABLE tickets DROP CONSTRAINT tickets_closure_cause;
ALTER TABLE tickets ADD CONSTRAINT tickets_closure_cause
    CHECK (closure_cause IN ('not_visited', 'visited', 'not_reopened', 'direct_answer', 'referred',
                             'with_parent'));

-- FindRepeats: a requester's open tickets (not repeats), newest first.
CREATE INDEX tickets_open_by_phone ON tickets (phone_digits, accepted_at DESC)
    WHERE closed_at IS NULL AND repeat_of IS NULL AND phone_digits IS NOT NULL;
-- FindRepeats: the open tickets (not repeats) of a category at a place,
-- newest first.
CREATE INDEX tickets_open_by_place ON tickets (category_code, district_code, accepted_at DESC)
    WHERE closed_at IS NULL AND repeat_of IS NULL;
-- Closing a ticket closes its open repeats.
CREATE INDEX tickets_repeats ON tickets (repeat_of) WHERE repeat_of IS NOT NULL AND closed_at IS NULL;
