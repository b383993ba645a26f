-- Photos of the site taken with an on-site division (现场核分), by the
-- SHA-256 of the media intake holds (attached to the ticket there).
ALTER TABLE onsite_divisions ADD COLUMN media TEXT[] NOT NULL DEFAULT '{}';
