-- Whether the hop in force sends the ticket to dispatch's manual queue
-- (人工派单): no unit holds it then. Dispatch says so when it begins the hop
-- (BeginHop) and when it records it (CreateAssignments with no units). A
-- ticket's status reads it, with the lead unit's assignment of the hop
-- (hotline_common::status).
ALTER TABLE ticket_hops ADD COLUMN manual_queue BOOLEAN NOT NULL DEFAULT false;

-- A hop in force with no assignment was a re-dispatch to the manual queue.
UPDATE ticket_hops h SET manual_queue = true
WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.ticket_no = h.ticket_no AND a.hop = h.hop);
