-- Time-limit clocks (时限), created in the schema of each service that owns
-- clocks (intake: dispatch; undertaking: sign-off and feedback).
--
-- `clocks` is the state of each clock; `clock_timers` the events still to
-- fire. A timer is deleted in the same transaction that publishes its event
-- with confirms, so an event is never lost, and stopping or moving a clock
-- deletes its timers in the transaction that stops or moves it.

CREATE TABLE clocks (
    clock_id   TEXT PRIMARY KEY,
    ticket_no  TEXT NOT NULL,
    stage      TEXT NOT NULL,
    unit_id    TEXT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    started_at TIMESTAMPTZ NOT NULL,
    deadline   TIMESTAMPTZ NOT NULL,
    stopped_at TIMESTAMPTZ
);

CREATE INDEX clocks_by_ticket ON clocks (ticket_no);

CREATE TABLE clock_timers (
    id            BIGSERIAL PRIMARY KEY,
    fire_at       TIMESTAMPTZ NOT NULL,
    -- hotline.common.v1.DeadlineEventKind
    kind          SMALLINT NOT NULL,
    clock_id      TEXT NOT NULL REFERENCES clocks (clock_id),
    clock_version BIGINT NOT NULL,
    ticket_no     TEXT NOT NULL,
    -- hotline.common.v1.Stage
    stage         SMALLINT NOT NULL,
    unit_id       TEXT NOT NULL,
    deadline      TIMESTAMPTZ NOT NULL
);

CREATE INDEX clock_timers_due ON clock_timers (fire_at);
CREATE INDEX clock_timers_by_clock ON clock_timers (clock_id);

-- A queue-like table: rows are inserted and deleted all day long. Vacuum it
-- early and without throttling so dead tuples do not slow the claims.
ALTER TABLE clock_timers SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02
);
