-- On-site divisions (现场核分): the units summoned by a time (the shape of
-- hotline_common::summons, with an arrival clock each, stage
-- on_site_arrival), and the division recorded on site. The SQL is in
-- src/onsite/store.rs.

CREATE TABLE onsite_divisions (
    division_id  UUID PRIMARY KEY,
    ticket_no    TEXT NOT NULL,
    state        TEXT NOT NULL CONSTRAINT onsite_divisions_state_check
                 CHECK (state IN ('summoned', 'divided')),
    place        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    called_by    TEXT NOT NULL,
    called_at    TIMESTAMPTZ NOT NULL,
    lead_unit_id TEXT NOT NULL DEFAULT '',
    co_unit_ids  TEXT[] NOT NULL DEFAULT '{}',
    result       TEXT NOT NULL DEFAULT '',
    hop          INT NOT NULL DEFAULT 0,
    -- The hop in force when recording began: the one dispatch is asked to
    -- move on from, kept so that a retried recording asks the same.
    planned_hop  INT,
    divided_by   TEXT NOT NULL DEFAULT '',
    divided_at   TIMESTAMPTZ
);

CREATE INDEX onsite_divisions_page ON onsite_divisions (called_at DESC, division_id DESC);
CREATE INDEX onsite_divisions_by_ticket ON onsite_divisions (ticket_no, called_at DESC, division_id DESC);
CREATE INDEX onsite_divisions_by_state ON onsite_divisions (state, called_at DESC, division_id DESC);

CREATE TABLE onsite_units (
    division_id     UUID NOT NULL REFERENCES onsite_divisions (division_id),
    unit_id         TEXT NOT NULL,
    arrive_by       TIMESTAMPTZ NOT NULL,
    arrived_at      TIMESTAMPTZ,
    -- '' until the division is recorded; then 'none', 'did_not_arrive' or
    -- 'refused_division'.
    non_cooperation TEXT NOT NULL DEFAULT ''
        CONSTRAINT onsite_units_non_cooperation_check
        CHECK (non_cooperation IN ('', 'none', 'did_not_arrive', 'refused_division')),
    -- The division's, copied so that a unit's list pages on this table.
    called_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (division_id, unit_id)
);

CREATE INDEX onsite_units_by_unit ON onsite_units (unit_id, called_at DESC, division_id DESC);
