-- Idempotency keys of state-changing calls (services/common/src/idempotency.rs).
-- A key belongs to one caller (subject and unit) and one method; the row is
-- written in the transaction of the change it keys, first, so that a
-- concurrent call with the same key waits on the primary key for that
-- transaction to end. `response` is the encoded response message, set
-- before the transaction commits.
CREATE TABLE idempotency_keys (
    subject      TEXT        NOT NULL,
    unit_id      TEXT        NOT NULL,
    method       TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    -- SHA-256 of the request's encoded bytes, without the key.
    fingerprint  BYTEA       NOT NULL,
    response     BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (subject, unit_id, method, key)
);

-- The sweep of expired keys.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
