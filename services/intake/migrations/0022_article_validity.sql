-- The newest version's valid_until, kept with its number and state, so
-- ListArticles lists an approved version past its validity as EXPIRED (as
-- it reads) and not as APPROVED.
ALTER TABLE articles ADD COLUMN latest_valid_until TIMESTAMPTZ;
UPDATE articles a SET latest_valid_until = v.valid_until
    FROM article_versions v
    WHERE v.article_id = a.article_id AND v.version = a.latest_version;
