-- The scheduler leases the timers it claims instead of holding a
-- transaction open while it publishes their events (see
-- hotline_common::clock::fire_due): `leased_until` keeps other schedulers
-- away while a publish is in flight, and a scheduler that died loses its
-- timers when the lease runs out.
--
-- `leased_until` is in no index, so a claim is a HOT update where the page
-- has room: pages written from now on keep a fifth of their space for it.

ALTER TABLE clock_timers ADD COLUMN leased_until TIMESTAMPTZ;
ALTER TABLE clock_timers SET (fillfactor = 80);
