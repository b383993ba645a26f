-- Surge mode (话务量大量集中): while on, general requests get the policy's
-- surge dispatch limit. One row; absent means off.

CREATE TABLE surge_mode (
    only_row   BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT surge_mode_one_row CHECK (only_row),
    is_on      BOOLEAN NOT NULL,
    reason     TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
