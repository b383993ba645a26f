-- The media of a handling record (a site visit's photos), by SHA-256; the
-- bytes are intake's, attached to the ticket before the record is written.
ALTER TABLE handling_records ADD COLUMN media TEXT[] NOT NULL DEFAULT '{}';
