-- Special inspections (专项督查、实地督查) of units: the findings, the
-- rectification required by a date (a clock in stage rectification, filed
-- under the inspection's number), the unit's report, the result. The SQL
-- is in src/inspections/store.rs.

CREATE SEQUENCE inspection_numbers;

CREATE TABLE inspections (
    inspection_id UUID PRIMARY KEY,
    inspection_no TEXT NOT NULL UNIQUE,
    unit_id       TEXT NOT NULL,
    period        TEXT NOT NULL,
    basis         TEXT NOT NULL CONSTRAINT inspections_basis_check
                  CHECK (basis IN ('bottom_of_evaluation', 'cases_concentrated')),
    state         TEXT NOT NULL CONSTRAINT inspections_state_check
                  CHECK (state IN ('open', 'rectified', 'closed')),
    findings      TEXT NOT NULL,
    rectification TEXT NOT NULL,
    rectify_by    TIMESTAMPTZ NOT NULL,
    opened_by     TEXT NOT NULL,
    opened_at     TIMESTAMPTZ NOT NULL,
    measures      TEXT NOT NULL DEFAULT '',
    rectified_at  TIMESTAMPTZ,
    result        TEXT NOT NULL DEFAULT '',
    closed_by     TEXT NOT NULL DEFAULT '',
    closed_at     TIMESTAMPTZ
);

CREATE INDEX inspections_page ON inspections (opened_at DESC, inspection_id DESC);
CREATE INDEX inspections_by_unit ON inspections (unit_id, opened_at DESC, inspection_id DESC);
CREATE INDEX inspections_by_state ON inspections (state, opened_at DESC, inspection_id DESC);
CREATE INDEX inspections_by_unit_state ON inspections (unit_id, state, opened_at DESC, inspection_id DESC);
