-- Consultation meetings (会议协商). The SQL is in src/meetings/store.rs.

-- The tickets that may call for one, kept from the lifecycle events
-- (consumer supervision-tickets): the tier, transfers, whether closed;
-- `candidate` is set by the policy in force when the ticket's last event
-- arrived (emergency tier, or transferred `transfers.many` times).
CREATE TABLE meeting_tickets_seen (
    ticket_no   TEXT PRIMARY KEY,
    tier        TEXT NOT NULL DEFAULT '',
    transfers   INT NOT NULL DEFAULT 0,
    accepted_at TIMESTAMPTZ,
    closed_at   TIMESTAMPTZ,
    candidate   BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX meeting_candidates ON meeting_tickets_seen (accepted_at DESC, ticket_no DESC)
    WHERE candidate AND closed_at IS NULL AND accepted_at IS NOT NULL;

CREATE TABLE meetings (
    meeting_id  UUID PRIMARY KEY,
    state       TEXT NOT NULL CONSTRAINT meetings_state_check CHECK (state IN ('convened', 'recorded')),
    ticket_nos  TEXT[] NOT NULL,
    place       TEXT NOT NULL,
    agenda      TEXT NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    convened_by TEXT NOT NULL,
    convened_at TIMESTAMPTZ NOT NULL,
    minutes     TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL DEFAULT '',
    recorded_at TIMESTAMPTZ
);
CREATE INDEX meetings_page ON meetings (convened_at DESC, meeting_id DESC);
CREATE INDEX meetings_by_state ON meetings (state, convened_at DESC, meeting_id DESC);

-- A meeting's tickets, for a ticket's list, with the hop a re-dispatching
-- resolution moves on from (kept so that a retried recording asks the same).
CREATE TABLE meeting_tickets (
    ticket_no   TEXT NOT NULL,
    meeting_id  UUID NOT NULL REFERENCES meetings (meeting_id),
    convened_at TIMESTAMPTZ NOT NULL,
    planned_hop INT,
    PRIMARY KEY (ticket_no, meeting_id)
);
CREATE INDEX meeting_tickets_page ON meeting_tickets (ticket_no, convened_at DESC, meeting_id DESC);

-- The invited units (the shape of hotline_common::summons).
CREATE TABLE meeting_units (
    meeting_id  UUID NOT NULL REFERENCES meetings (meeting_id),
    unit_id     TEXT NOT NULL,
    arrive_by   TIMESTAMPTZ NOT NULL,
    arrived_at  TIMESTAMPTZ,
    convened_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (meeting_id, unit_id)
);
CREATE INDEX meeting_units_by_unit ON meeting_units (unit_id, convened_at DESC, meeting_id DESC);

CREATE TABLE meeting_resolutions (
    meeting_id   UUID NOT NULL REFERENCES meetings (meeting_id),
    position     INT NOT NULL,
    kind         TEXT NOT NULL CONSTRAINT meeting_resolutions_kind_check CHECK (kind IN ('redispatch', 'action')),
    ticket_no    TEXT NOT NULL DEFAULT '',
    lead_unit_id TEXT NOT NULL DEFAULT '',
    co_unit_ids  TEXT[] NOT NULL DEFAULT '{}',
    hop          INT NOT NULL DEFAULT 0,
    unit_id      TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL DEFAULT '',
    due          TIMESTAMPTZ,
    done_at      TIMESTAMPTZ,
    result       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (meeting_id, position)
);
