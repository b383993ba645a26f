-- Media held by the hotline, content-addressed by SHA-256; uploads in
-- progress (their parts live in the object store until they complete);
-- the media attached to each ticket.

CREATE TABLE media (
    sha256       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CONSTRAINT media_kind CHECK (kind IN ('voice', 'text', 'image', 'video')),
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    stored_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE uploads (
    upload_id      UUID PRIMARY KEY,
    sha256         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    file_name      TEXT NOT NULL,
    received_bytes BIGINT NOT NULL DEFAULT 0,
    parts          INTEGER NOT NULL DEFAULT 0,
    complete       BOOLEAN NOT NULL DEFAULT false,
    started_by     TEXT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT uploads_within_size CHECK (received_bytes <= size_bytes)
);

CREATE TABLE ticket_media (
    ticket_no TEXT NOT NULL REFERENCES tickets (ticket_no),
    sha256    TEXT NOT NULL REFERENCES media (sha256),
    PRIMARY KEY (ticket_no, sha256)
);
