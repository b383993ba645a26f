-- Requesters who asked for confidentiality (保密): units see them masked.
ALTER TABLE tickets ADD COLUMN requester_confidential BOOLEAN NOT NULL DEFAULT false;
