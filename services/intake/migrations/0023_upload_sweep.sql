-- An upload's last activity (its start, then each chunk counted): one left
-- unfinished and untouched for HOTLINE_UPLOAD_ABANDONED_AFTER_SECONDS is
-- dropped with its parts (media/sweep.rs).
ALTER TABLE uploads ADD COLUMN touched_at TIMESTAMPTZ;
UPDATE uploads SET touched_at = started_at;
ALTER TABLE uploads ALTER COLUMN touched_at SET NOT NULL;
CREATE INDEX uploads_unfinished ON uploads (touched_at) WHERE NOT complete;
