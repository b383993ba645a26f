-- Public notices (通报): a period's lines per unit and cause, generated
-- from supervision's facts when drafted. The SQL is in src/notices/store.rs.

CREATE TABLE notices (
    notice_id     UUID PRIMARY KEY,
    state         TEXT NOT NULL CONSTRAINT notices_state_check
                  CHECK (state IN ('draft', 'submitted', 'sent_back', 'published')),
    title         TEXT NOT NULL,
    period_from   TIMESTAMPTZ NOT NULL,
    period_to     TIMESTAMPTZ NOT NULL,
    drafted_by    TEXT NOT NULL,
    drafted_at    TIMESTAMPTZ NOT NULL,
    generated_at  TIMESTAMPTZ NOT NULL,
    submitted_at  TIMESTAMPTZ,
    decided_by    TEXT NOT NULL DEFAULT '',
    decision_note TEXT NOT NULL DEFAULT '',
    decided_at    TIMESTAMPTZ,
    published_at  TIMESTAMPTZ
);

CREATE INDEX notices_page ON notices (drafted_at DESC, notice_id DESC);
CREATE INDEX notices_by_state ON notices (state, drafted_at DESC, notice_id DESC);

CREATE TABLE notice_lines (
    notice_id  UUID NOT NULL REFERENCES notices (notice_id),
    unit_id    TEXT NOT NULL,
    cause      TEXT NOT NULL CONSTRAINT notice_lines_cause_check
               CHECK (cause IN ('late', 'not_arriving', 'refusing')),
    count      INT NOT NULL,
    ticket_nos TEXT[] NOT NULL,
    PRIMARY KEY (notice_id, unit_id, cause)
);

-- What the lines are generated from, by time: cases opened in the period
-- (cases_page), divisions recorded in it.
CREATE INDEX onsite_divisions_by_divided ON onsite_divisions (divided_at) WHERE state = 'divided';
