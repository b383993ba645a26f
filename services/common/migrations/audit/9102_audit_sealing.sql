-- Recording and sealing apart. A change records its entries with a plain
-- INSERT into `audit_pending` in its own transaction: no lock, no read of
-- the chain, so unrelated changes never wait on each other. A sealer (one
-- per schema at a time) moves committed entries, oldest id first, into
-- `audit_log`, giving each its chain position `seq` and hash then, and
-- moves the head `audit_seal` in the same transaction. An entry that
-- commits late (ids are handed out before commit) is simply sealed by a
-- later step: the chain never skips an entry, it orders them by sealing.
--
-- Rows already in `audit_log` stay as they are: they were sealed when
-- written, with the same hash.

CREATE TABLE audit_pending (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    actor_unit TEXT NOT NULL,
    action     TEXT NOT NULL,
    ticket_no  TEXT NOT NULL,
    detail     TEXT NOT NULL
);

-- Entries are never edited; only the sealer takes them out, and it says so
-- for its own transaction (`hotline.audit_sealing`). A guard against
-- mistakes, not against an administrator: see docs/SECURITY.md.
CREATE FUNCTION audit_pending_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('hotline.audit_sealing', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_pending entries are only taken out by the sealer';
END
$$;

CREATE TRIGGER audit_pending_sealer_only BEFORE UPDATE OR DELETE ON audit_pending
    FOR EACH ROW EXECUTE FUNCTION audit_pending_guard();
CREATE TRIGGER audit_pending_no_truncate BEFORE TRUNCATE ON audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();

-- A queue: rows are inserted and deleted all day long. Vacuum it early and
-- without throttling so dead tuples do not slow the sealer's claims.
ALTER TABLE audit_pending SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02
);

-- The head of the chain: one row, moved by the sealer only.
CREATE TABLE audit_seal (
    only_row  BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    -- Sealed entries: `audit_log` holds seq 1 to this.
    entries   BIGINT NOT NULL CHECK (entries >= 0),
    -- The hash of entry `entries` (32 zero bytes for none).
    hash      BYTEA NOT NULL,
    sealed_at TIMESTAMPTZ NOT NULL
);

INSERT INTO audit_seal (entries, hash, sealed_at)
SELECT coalesce(max(seq), 0),
       coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),
                decode(repeat('00', 32), 'hex')),
       now()
FROM audit_log;

CREATE FUNCTION audit_seal_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.entries >= OLD.entries THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_seal only moves forward';
END
$$;

CREATE TRIGGER audit_seal_forward BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION audit_seal_forward_only();
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
