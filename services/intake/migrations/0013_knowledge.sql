-- The knowledge base (知识库): articles with versions that units propose
-- and the centre approves, and the direct answers (直接答复) given from
-- them. Search runs on words cut by the segmenter when a version is
-- stored (`question_words`, `answer_words`: distinct words, space-separated),
-- indexed as PostgreSQL text vectors (GIN).

CREATE SEQUENCE article_seq;

CREATE TABLE articles (
    article_id     TEXT PRIMARY KEY,
    owning_unit_id TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    -- The newest version's number and state, kept with each change, for
    -- ListArticles.
    latest_version INT NOT NULL,
    latest_state   TEXT NOT NULL
);

-- ListArticles, oldest first: all, by state, and a unit's own by state.
CREATE INDEX articles_by_time ON articles (created_at, article_id);
CREATE INDEX articles_by_state ON articles (latest_state, created_at, article_id);
CREATE INDEX articles_by_unit ON articles (owning_unit_id, latest_state, created_at, article_id);

CREATE TABLE article_versions (
    article_id     TEXT NOT NULL REFERENCES articles (article_id),
    version        INT NOT NULL,
    state          TEXT NOT NULL CONSTRAINT article_versions_state
        CHECK (state IN ('draft', 'approved', 'superseded', 'expired')),
    question       TEXT NOT NULL,
    answer         TEXT NOT NULL,
    category_code  TEXT NOT NULL,
    valid_from     TIMESTAMPTZ,
    valid_until    TIMESTAMPTZ,
    proposed_by    TEXT NOT NULL,
    proposed_at    TIMESTAMPTZ NOT NULL,
    approved_by    TEXT,
    approved_at    TIMESTAMPTZ,
    expired_reason TEXT,
    question_words TEXT NOT NULL,
    answer_words   TEXT NOT NULL,
    -- The words as lexemes, taken verbatim (array_to_tsvector runs no
    -- parser, so the database's locale does not matter): the question's
    -- weighted A, the answer's B.
    words          TSVECTOR GENERATED ALWAYS AS (
        setweight(array_to_tsvector(string_to_array(question_words, ' ')), 'A')
        || setweight(array_to_tsvector(string_to_array(answer_words, ' ')), 'B')) STORED,
    -- Its length for ranking (BM25 damps long versions).
    word_count     INT GENERATED ALWAYS AS (
        cardinality(string_to_array(question_words, ' '))
        + cardinality(string_to_array(answer_words, ' '))) STORED,
    PRIMARY KEY (article_id, version)
);

-- At most one approved and one draft version per article.
CREATE UNIQUE INDEX article_versions_one_approved ON article_versions (article_id)
    WHERE state = 'approved';
CREATE UNIQUE INDEX article_versions_one_draft ON article_versions (article_id)
    WHERE state = 'draft';
-- The offered versions' words: search reads only approved versions.
CREATE INDEX article_versions_offered ON article_versions USING GIN (words)
    WHERE state = 'approved';
-- How many versions are offered and how long they are on average, read
-- from the index alone.
CREATE INDEX article_versions_offered_lengths ON article_versions (word_count)
    WHERE state = 'approved';

CREATE TABLE direct_answers (
    ticket_no       TEXT PRIMARY KEY REFERENCES tickets (ticket_no),
    article_id      TEXT NOT NULL,
    article_version INT NOT NULL,
    note            TEXT NOT NULL,
    answered_by     TEXT NOT NULL,
    answered_at     TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (article_id, article_version) REFERENCES article_versions (article_id, version)
);

ALTER TABLE tickets DROP CONSTRAINT tickets_closure_cause;
ALTER TABLE tickets ADD CONSTRAINT tickets_closure_cause
    CHECK (closure_cause IN ('not_visited', 'visited', 'not_reopened', 'direct_answer'));

-- GetDirectAnswerShare: the tickets accepted in a period.
CREATE INDEX tickets_accepted_at ON tickets (accepted_at) INCLUDE (request_type, closure_cause);
