-- The requester's own view (ViewOwnTicket): wrong tries of a ticket number
-- and phone, counted per number and per phone within a window; rows older
-- than the window are swept as new ones come.

CREATE TABLE own_view_failures (
    id           BIGSERIAL PRIMARY KEY,
    ticket_no    TEXT NOT NULL,
    phone_digits TEXT NOT NULL,
    failed_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX own_view_failures_by_ticket ON own_view_failures (ticket_no, failed_at);
CREATE INDEX own_view_failures_by_phone ON own_view_failures (phone_digits, failed_at);
CREATE INDEX own_view_failures_by_time ON own_view_failures (failed_at);
