-- Catalogue versions (派单目录): every version published, from the file read
-- at start-up or through PublishCatalogue, and which one is in force. Every
-- replica routes by the version in force here.

CREATE TABLE catalogues (
    version      TEXT PRIMARY KEY,
    -- hotline.dispatch.v1.Catalogue
    catalogue    BYTEA NOT NULL,
    rules        INTEGER NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    published_by TEXT NOT NULL,
    in_force     BOOLEAN NOT NULL DEFAULT false
);

CREATE UNIQUE INDEX catalogues_one_in_force ON catalogues (in_force) WHERE in_force;
