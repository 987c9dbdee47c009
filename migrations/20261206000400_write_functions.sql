-- Functions that let a booking write run as few statements: each does one
-- thing the Rust code used to do in a statement of its own, so that a write
-- can do it inside the statement that makes its change.

-- The advisory-lock key of one artist's date: every change that decides who
-- has the date locks it (`domain::booking::lock_artist_date`). The text is
-- the one the key was always made of, so old and new code lock the same key.
CREATE FUNCTION kisum_artist_date_key(artist uuid, day date) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT hashtextextended('hold:' || artist::text || ':' || to_char(day, 'YYYY-MM-DD'), 7205) $$;

-- The priority a new hold on (artist, day) takes: the next after the live
-- holds', read once the date's lock is held. VOLATILE, so the read takes a
-- snapshot after the wait and sees the hold of the transaction that held
-- the lock before (the statement calling it took its snapshot before).
CREATE FUNCTION kisum_next_hold_priority(artist uuid, day date) RETURNS integer
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(kisum_artist_date_key(artist, day));
    RETURN (SELECT COALESCE(max(h.priority), 0) + 1 FROM holds h
             WHERE h.artist_id = artist AND h.hold_date = day AND h.status IN ('active', 'challenged'));
END $$;

-- Marks read-model keys for refresh (`domain::changes`): the pairs
-- (models[i], keys[i]), taken in one order (company dashboards before artist
-- search rows, then by key), so two writes cannot deadlock on them. An
-- existing mark is locked (`DO UPDATE`) until the transaction ends, so a
-- drain, which skips locked rows, cannot refresh before the write is
-- visible. Returns the models of the keys that were not already waiting:
-- each needs a refresh job.
CREATE FUNCTION kisum_mark_read_models(models text[], keys uuid[]) RETURNS text[]
    LANGUAGE sql VOLATILE AS $$
    WITH marked AS (
        INSERT INTO read_model_dirty AS d (model, key)
        SELECT u.m, u.k FROM unnest(models, keys) AS u (m, k)
         WHERE u.k IS NOT NULL
         GROUP BY u.m, u.k
         ORDER BY array_position(ARRAY['company_dashboard', 'artist_search'], u.m), u.k
        ON CONFLICT (model, key) DO UPDATE SET marked_at = d.marked_at
        RETURNING d.model, (xmax = 0) AS inserted
    )
    SELECT COALESCE(array_agg(DISTINCT model ORDER BY model) FILTER (WHERE inserted), '{}') FROM marked
$$;

-- Marks companies whose trust needs recomputing (`domain::changes`), in id
-- order, an existing mark locked as above. Returns the first company not
-- already waiting (its job wakes the drain), or NULL.
CREATE FUNCTION kisum_mark_trust(company_ids uuid[]) RETURNS uuid
    LANGUAGE sql VOLATILE AS $$
    WITH marked AS (
        INSERT INTO trust_dirty AS d (company_id)
        SELECT u.id FROM unnest(company_ids) AS u (id) GROUP BY u.id ORDER BY u.id
        ON CONFLICT (company_id) DO UPDATE SET marked_at = d.marked_at
        RETURNING d.company_id, (xmax = 0) AS inserted
    )
    SELECT company_id FROM marked WHERE inserted ORDER BY company_id LIMIT 1
$$;

-- Of the reference values a request names (`reference::Refs`: kinds[i] is
-- currency, country, city or market), the 1-based positions of those that
-- do not exist, in order.
CREATE FUNCTION kisum_unknown_references(kinds text[], vals text[]) RETURNS bigint[]
    LANGUAGE sql STABLE AS $$
    SELECT COALESCE(array_agg(r.i ORDER BY r.i), '{}')
      FROM unnest(kinds, vals) WITH ORDINALITY AS r (kind, value, i)
     WHERE NOT CASE r.kind
         WHEN 'currency' THEN EXISTS (SELECT 1 FROM currencies WHERE code = r.value::bpchar AND length(r.value) = 3)
         WHEN 'country' THEN EXISTS (SELECT 1 FROM countries WHERE code = r.value::bpchar AND length(r.value) = 2)
         WHEN 'city' THEN EXISTS (SELECT 1 FROM cities WHERE id = r.value::bigint)
         ELSE EXISTS (SELECT 1 FROM markets WHERE id = r.value::uuid)
     END
$$;
