-- Intake owns the tickets as accepted, and the outbox of tickets still to be
-- handed to dispatch (written in the same transaction as the ticket).

CREATE SEQUENCE ticket_seq;

CREATE TABLE tickets (
    ticket_no            TEXT PRIMARY KEY,
    idempotency_key      TEXT,
    request_hash         BYTEA NOT NULL,
    channel              INTEGER NOT NULL,
    tier                 TEXT NOT NULL,
    complex              BOOLEAN NOT NULL,
    category_code        TEXT NOT NULL,
    content              TEXT NOT NULL,
    district_code        TEXT NOT NULL,
    street_code          TEXT,
    address              TEXT NOT NULL,
    requester_anonymous  BOOLEAN NOT NULL,
    requester_name       TEXT,
    requester_phone      TEXT,
    return_visit_consent BOOLEAN NOT NULL,
    attachments          BYTEA NOT NULL,
    accepted_at          TIMESTAMPTZ NOT NULL,
    dispatch_deadline    TIMESTAMPTZ NOT NULL,
    surge                BOOLEAN NOT NULL,
    CONSTRAINT tickets_idempotency_key_unique UNIQUE (idempotency_key)
);

CREATE TABLE dispatch_outbox (
    ticket_no       TEXT PRIMARY KEY REFERENCES tickets (ticket_no),
    enqueued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT
);

CREATE INDEX dispatch_outbox_due ON dispatch_outbox (next_attempt_at);
