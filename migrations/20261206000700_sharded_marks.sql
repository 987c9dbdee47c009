-- Change marks spread over eight shards per key. A mark is locked by the
-- write that leaves it until that write commits (so a drain, which skips
-- locked marks, cannot refresh before the write is visible); with one row
-- per key, every write touching one company's dashboard queued behind the
-- one before it until it committed. A write now takes the shard of its
-- transaction id, so concurrent writes (consecutive ids) mostly take
-- different rows, and a drain takes whichever shards of a key are free.

ALTER TABLE read_model_dirty ADD COLUMN shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 7);
ALTER TABLE read_model_dirty DROP CONSTRAINT read_model_dirty_pkey;
ALTER TABLE read_model_dirty ADD PRIMARY KEY (model, key, shard);

ALTER TABLE trust_dirty ADD COLUMN shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 7);
ALTER TABLE trust_dirty DROP CONSTRAINT trust_dirty_pkey;
ALTER TABLE trust_dirty ADD PRIMARY KEY (company_id, shard);

-- The shard of the calling transaction's marks.
CREATE FUNCTION kisum_mark_shard() RETURNS smallint
    LANGUAGE sql VOLATILE AS $$ SELECT (txid_current() % 8)::smallint $$;

-- As before (migration 20261206000400), on the transaction's shard: the
-- pairs taken in one order, the transaction's mark of each locked until it
-- ends. A key needs a refresh job only when this write inserted its shard's
-- mark and no other shard of the key is waiting: a waiting mark no drain
-- holds is covered by its own job, and is locked here (`FOR KEY SHARE`,
-- which writers share) so that no drain takes it before this write
-- commits (drains skip locked marks, and their job runs again while marks
-- remain). A mark a drain holds is skipped: that drain may end before this
-- write commits, so this write enqueues its own job. A burst of writes to
-- one key still enqueues one job.
CREATE OR REPLACE FUNCTION kisum_mark_read_models(models text[], keys uuid[]) RETURNS text[]
    LANGUAGE sql VOLATILE AS $$
    WITH marked AS (
        INSERT INTO read_model_dirty AS d (model, key, shard)
        SELECT u.m, u.k, kisum_mark_shard() FROM unnest(models, keys) AS u (m, k)
         WHERE u.k IS NOT NULL
         GROUP BY u.m, u.k
         ORDER BY array_position(ARRAY['company_dashboard', 'artist_search'], u.m), u.k
        ON CONFLICT (model, key, shard) DO UPDATE SET marked_at = d.marked_at
        RETURNING d.model, d.key, (xmax = 0) AS inserted
    ),
    waiting AS (
        SELECT o.model, o.key FROM read_model_dirty o
         WHERE (o.model, o.key) IN (SELECT m.model, m.key FROM marked m WHERE m.inserted)
           AND o.shard <> kisum_mark_shard()
         FOR KEY SHARE OF o SKIP LOCKED
    ),
    -- An aggregate reads every waiting mark, so each is locked (a
    -- semi-join could stop at the first).
    covered AS (SELECT COALESCE(array_agg(w.model || '/' || w.key::text), '{}') AS keys FROM waiting w)
    SELECT COALESCE(array_agg(DISTINCT m.model ORDER BY m.model)
                        FILTER (WHERE m.inserted AND NOT (m.model || '/' || m.key::text) = ANY (c.keys)), '{}')
      FROM marked m CROSS JOIN covered c
$$;

-- The same for trust marks: the first company whose mark this write
-- inserted with no other shard waiting (its job wakes the drain), or NULL.
CREATE OR REPLACE FUNCTION kisum_mark_trust(company_ids uuid[]) RETURNS uuid
    LANGUAGE sql VOLATILE AS $$
    WITH marked AS (
        INSERT INTO trust_dirty AS d (company_id, shard)
        SELECT u.id, kisum_mark_shard() FROM unnest(company_ids) AS u (id) GROUP BY u.id ORDER BY u.id
        ON CONFLICT (company_id, shard) DO UPDATE SET marked_at = d.marked_at
        RETURNING d.company_id, (xmax = 0) AS inserted
    ),
    waiting AS (
        SELECT o.company_id FROM trust_dirty o
         WHERE o.company_id IN (SELECT m.company_id FROM marked m WHERE m.inserted)
           AND o.shard <> kisum_mark_shard()
         FOR KEY SHARE OF o SKIP LOCKED
    ),
    covered AS (SELECT COALESCE(array_agg(w.company_id), '{}') AS ids FROM waiting w)
    SELECT m.company_id FROM marked m CROSS JOIN covered c
     WHERE m.inserted AND NOT m.company_id = ANY (c.ids)
     ORDER BY m.company_id LIMIT 1
$$;
