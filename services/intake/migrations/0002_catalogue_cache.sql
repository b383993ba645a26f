-- The last dispatch catalogue read from dispatch (categories and areas that
-- requests are checked against), so that intake restarted while dispatch is
-- down still accepts requests.

CREATE TABLE catalogue_cache (
    only_row   BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT catalogue_cache_one_row CHECK (only_row),
    version    TEXT NOT NULL,
    -- hotline.dispatch.v1.Catalogue
    catalogue  BYTEA NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);
