-- Diversion: requests referred to an emergency line (110/119/120/122),
-- closed at acceptance; and the centre's marks of malicious callers.

CREATE TABLE referrals (
    ticket_no   TEXT PRIMARY KEY REFERENCES tickets (ticket_no),
    line        TEXT NOT NULL CONSTRAINT referrals_line
        CHECK (line IN ('police_110', 'fire_119', 'ambulance_120', 'traffic_122')),
    note        TEXT NOT NULL,
    referred_by TEXT NOT NULL,
    referred_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE tickets DROP CONSTRAINT tickets_closure_cause;
ALTER TABLE tickets ADD CONSTRAINT tickets_closure_cause
    CHECK (closure_cause IN ('not_visited', 'visited', 'not_reopened', 'direct_answer', 'referred'));

-- One row per phone: its mark as last set or cleared.
CREATE TABLE caller_marks (
    phone_digits TEXT PRIMARY KEY,
    malicious    BOOLEAN NOT NULL,
    reason       TEXT NOT NULL,
    marked_by    TEXT NOT NULL,
    marked_at    TIMESTAMPTZ NOT NULL
);
