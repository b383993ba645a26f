-- A co-unit's part of a multi-unit ticket, submitted to the lead unit.
ALTER TABLE assignments ADD COLUMN part TEXT;
