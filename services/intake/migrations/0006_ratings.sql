-- Service contacts (服务接触) and their ratings (好差评), the check-backs of
-- bad ratings and the units' appeals against ratings.
--
-- A contact is rated at most once (`ratings_one_per_contact`); a bad
-- rating opens one check-back (`check_backs_one_per_rating`); a rating has
-- at most one appeal waiting (`appeals_one_pending`). Ratings are never
-- deleted: an upheld appeal sets `counts` to false and names itself.

CREATE TABLE contacts (
    contact_id UUID PRIMARY KEY,
    ticket_no  TEXT NOT NULL REFERENCES tickets (ticket_no),
    kind       TEXT NOT NULL CONSTRAINT contacts_kind CHECK (kind IN ('intake', 'return_visit')),
    channel    INTEGER NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);

-- A ticket's contacts in order; a ticket has one intake contact.
CREATE INDEX contacts_by_ticket ON contacts (ticket_no, at, contact_id);
CREATE UNIQUE INDEX contacts_one_intake ON contacts (ticket_no) WHERE kind = 'intake';

-- Tickets accepted before contacts were kept get their intake contact.
INSERT INTO contacts (contact_id, ticket_no, kind, channel, at)
SELECT gen_random_uuid(), ticket_no, 'intake', channel, accepted_at FROM tickets;

CREATE TABLE ratings (
    rating_id              UUID PRIMARY KEY,
    contact_id             UUID NOT NULL REFERENCES contacts (contact_id),
    ticket_no              TEXT NOT NULL REFERENCES tickets (ticket_no),
    contact_kind           TEXT NOT NULL,
    level                  TEXT NOT NULL CONSTRAINT ratings_level CHECK (level IN
        ('very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied')),
    comment                TEXT NOT NULL,
    rated_at               TIMESTAMPTZ NOT NULL,
    rated_by               TEXT NOT NULL,
    counts                 BOOLEAN NOT NULL DEFAULT true,
    set_aside_by_appeal_id UUID,
    CONSTRAINT ratings_one_per_contact UNIQUE (contact_id),
    CONSTRAINT ratings_set_aside CHECK (counts = (set_aside_by_appeal_id IS NULL))
);

-- ListRatings by ticket, and by period (the evaluation's read).
CREATE INDEX ratings_by_ticket ON ratings (ticket_no, rated_at, rating_id);
CREATE INDEX ratings_by_time ON ratings (rated_at, rating_id);

CREATE TABLE check_backs (
    check_back_id UUID PRIMARY KEY,
    rating_id     UUID NOT NULL REFERENCES ratings (rating_id),
    ticket_no     TEXT NOT NULL,
    state         TEXT NOT NULL CONSTRAINT check_backs_state CHECK (state IN ('open', 'closed')),
    opened_at     TIMESTAMPTZ NOT NULL,
    outcome       TEXT CONSTRAINT check_backs_outcome CHECK (outcome IN ('fixed', 'dated_plan', 'explained')),
    planned_date  TIMESTAMPTZ,
    note          TEXT,
    closed_at     TIMESTAMPTZ,
    closed_by     TEXT,
    CONSTRAINT check_backs_one_per_rating UNIQUE (rating_id),
    CONSTRAINT check_backs_closed CHECK ((state = 'closed') = (outcome IS NOT NULL AND closed_at IS NOT NULL))
);

-- ListCheckBacks in one state (the open ones: the work left), and all.
CREATE INDEX check_backs_by_state ON check_backs (state, opened_at, check_back_id);
CREATE INDEX check_backs_page ON check_backs (opened_at, check_back_id);

CREATE TABLE appeals (
    appeal_id     UUID PRIMARY KEY,
    rating_id     UUID NOT NULL REFERENCES ratings (rating_id),
    ticket_no     TEXT NOT NULL,
    unit_id       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL CONSTRAINT appeals_state CHECK (state IN ('pending', 'upheld', 'rejected')),
    appealed_at   TIMESTAMPTZ NOT NULL,
    appealed_by   TEXT NOT NULL,
    decided_at    TIMESTAMPTZ,
    decided_by    TEXT,
    decision_note TEXT
);

CREATE UNIQUE INDEX appeals_one_pending ON appeals (rating_id) WHERE state = 'pending';
CREATE INDEX appeals_by_rating ON appeals (rating_id, appealed_at);

ALTER TABLE ratings ADD CONSTRAINT ratings_set_aside_by
    FOREIGN KEY (set_aside_by_appeal_id) REFERENCES appeals (appeal_id);
