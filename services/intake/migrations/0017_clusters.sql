-- Concentrated requests (集中反映). A request's coordinates, when the
-- channel gave them, and its cell on a 0.01° grid (clusters::rules::cell_of)
-- to find the requests near it; the clusters and their tickets.

ALTER TABLE tickets
    ADD COLUMN latitude  DOUBLE PRECISION,
    ADD COLUMN longitude DOUBLE PRECISION,
    ADD COLUMN geo_cell  BIGINT;

-- The requests of a category at a street, or in a cell, newest first, with
-- every column the gathering reads.
CREATE INDEX tickets_by_street ON tickets (category_code, street_code, accepted_at DESC)
    INCLUDE (ticket_no, phone_digits, latitude, longitude, closure_cause)
    WHERE street_code IS NOT NULL;
CREATE INDEX tickets_by_cell ON tickets (category_code, geo_cell, accepted_at DESC)
    INCLUDE (ticket_no, phone_digits, latitude, longitude, closure_cause)
    WHERE geo_cell IS NOT NULL;

CREATE TABLE clusters (
    cluster_id       UUID PRIMARY KEY,
    basis            TEXT NOT NULL CONSTRAINT clusters_basis CHECK (basis IN ('street', 'distance')),
    category_code    TEXT NOT NULL,
    district_code    TEXT NOT NULL,
    street_code      TEXT,
    centre_latitude  DOUBLE PRECISION,
    centre_longitude DOUBLE PRECISION,
    centre_cell      BIGINT,
    radius_m         INTEGER,
    requesters       INTEGER NOT NULL,
    tickets          INTEGER NOT NULL,
    formed_at        TIMESTAMPTZ NOT NULL,
    last_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT clusters_shape CHECK (
        (basis = 'street' AND street_code IS NOT NULL AND centre_cell IS NULL)
        OR (basis = 'distance' AND centre_cell IS NOT NULL AND radius_m IS NOT NULL))
);
CREATE INDEX clusters_at_street ON clusters (category_code, street_code, last_at DESC)
    WHERE basis = 'street';
CREATE INDEX clusters_near ON clusters (category_code, centre_cell, last_at DESC)
    WHERE basis = 'distance';
CREATE INDEX clusters_page ON clusters (formed_at DESC, cluster_id DESC);
CREATE INDEX clusters_active ON clusters (last_at DESC);

CREATE TABLE cluster_tickets (
    cluster_id    UUID NOT NULL REFERENCES clusters (cluster_id),
    ticket_no     TEXT NOT NULL REFERENCES tickets (ticket_no),
    requester_key TEXT NOT NULL,
    joined_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cluster_id, ticket_no)
);
CREATE INDEX cluster_tickets_requesters ON cluster_tickets (cluster_id, requester_key);
