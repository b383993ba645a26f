-- ListTransferredTickets orders by transfers (most first) then ticket
-- number: the order of (-transfers, ticket_no), which one row comparison
-- pages (the SQL is `queue::store::TRANSFERRED`; tests/e2e/plans.rs checks
-- the plans on a large history).

CREATE INDEX routings_transferred_page ON routings ((-transfers), ticket_no) WHERE transfers > 0;
DROP INDEX routings_by_transfers;
