-- The outbox relay leases the rows it claims instead of holding a
-- transaction open while it calls the peer (see hotline_common::outbox):
-- `leased_until` keeps other relays away while a call is in flight, and
-- `pushes` counts the pushes of a row, so that a row pushed again during a
-- call is not deleted by the claim of its earlier push.
--
-- `leased_until` is in no index: claiming a row is a HOT update, which
-- leaves no index entry behind; `fillfactor = 50` keeps room on each page
-- for it. The autovacuum settings are those of a queue table (rows are
-- inserted and deleted all day long).

ALTER TABLE undertaking_outbox ADD COLUMN pushes BIGINT NOT NULL DEFAULT 1;
ALTER TABLE undertaking_outbox ADD COLUMN leased_until TIMESTAMPTZ;
ALTER TABLE undertaking_outbox SET (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02
);
