-- Repeated raising (多次反映): how many times a ticket was raised (itself
-- and its repeats), from intake's `raised_again` facts; a ticket raised
-- `repeats.raised_again` times is a meeting candidate.
ALTER TABLE meeting_tickets_seen ADD COLUMN times_raised INT NOT NULL DEFAULT 1;
