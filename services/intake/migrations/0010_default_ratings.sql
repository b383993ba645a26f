-- Default ratings (默认满意): a policy may record a level for a contact the
-- requester leaves unrated past its `[ratings] default_after`. Kept apart
-- from `ratings` (the requester's own answers), at most one per contact,
-- never deleted; the requester may still rate the contact afterwards.

CREATE TABLE default_ratings (
    contact_id   UUID PRIMARY KEY REFERENCES contacts (contact_id),
    ticket_no    TEXT NOT NULL REFERENCES tickets (ticket_no),
    contact_kind TEXT NOT NULL,
    level        TEXT NOT NULL CONSTRAINT default_ratings_level CHECK (level IN
        ('very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied')),
    policy       TEXT NOT NULL,
    defaulted_at TIMESTAMPTZ NOT NULL
);

-- Whether the contact still waits for a rating or a default: set false by
-- the first of the two. The default sweep reads only the waiting ones, in
-- the order they were made (`contacts_awaiting_rating`).
ALTER TABLE contacts ADD COLUMN awaiting_rating BOOLEAN NOT NULL DEFAULT true;
UPDATE contacts c SET awaiting_rating = false
    WHERE EXISTS (SELECT 1 FROM ratings r WHERE r.contact_id = c.contact_id);
CREATE INDEX contacts_awaiting_rating ON contacts (at, contact_id) WHERE awaiting_rating;
