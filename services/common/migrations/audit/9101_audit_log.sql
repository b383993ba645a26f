-- The audit trail: every state change and every read of personal data, in
-- the schema of the service that made it. Append-only (the triggers refuse
-- UPDATE, DELETE and TRUNCATE) and hash-chained: each row's hash covers
-- its content and the previous row's hash, and `seq` has no gaps, so an
-- edit or deletion made around the triggers breaks the chain where it was
-- made (`<service> --verify-audit`).

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    actor_unit TEXT NOT NULL,
    action     TEXT NOT NULL,
    ticket_no  TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);

CREATE INDEX audit_log_by_ticket ON audit_log (ticket_no, seq);

CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
