-- Concentrated requests (集中反映): the cluster a ticket is part of, from
-- intake's `clustered` facts; such a ticket is a meeting candidate.
ALTER TABLE meeting_tickets_seen ADD COLUMN cluster_id TEXT NOT NULL DEFAULT '';
