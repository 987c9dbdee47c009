-- Avails search by place without a per-row scan: a read model with one row
-- per (searchable window, place key), kept by statement-level triggers in
-- the transaction that writes the window, and a GiST index on
-- (place, days) that answers "windows in DE overlapping this month" from
-- the index alone.
--
-- A window's place keys are its area codes, "CC/*" for each country it
-- covers only in part (through one of its ISO 3166-2 regions), and "*"
-- when it is worldwide. kisum_area_query turns the places searched for
-- into the keys that find overlapping windows: a country finds itself, its
-- regions ("CC/*") and worldwide windows; a region finds itself, its
-- country and worldwide windows, but not the country's other regions.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE FUNCTION kisum_area_keys(worldwide boolean, areas text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN worldwide THEN ARRAY['*']
                      ELSE ARRAY(SELECT DISTINCT k
                                   FROM unnest(areas) a,
                                        LATERAL (VALUES (a), (CASE WHEN a LIKE '%-%' THEN split_part(a, '-', 1) || '/*' END)) v (k)
                                  WHERE k IS NOT NULL ORDER BY k)
                 END $$;

CREATE FUNCTION kisum_area_query(places text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY(SELECT DISTINCT k
                         FROM (SELECT '*' UNION ALL SELECT unnest(places)
                               UNION ALL SELECT CASE WHEN p LIKE '%-%' THEN split_part(p, '-', 1) ELSE p || '/*' END
                                           FROM unnest(places) p) v (k)
                        ORDER BY k) $$;

CREATE TABLE availability_places (
    availability_id uuid      NOT NULL REFERENCES availabilities (id) ON DELETE CASCADE,
    place           text      NOT NULL,
    days            daterange NOT NULL,
    artist_id       uuid      NOT NULL,
    min_fee         bigint,
    currency        char(3),
    PRIMARY KEY (availability_id, place)
);
CREATE INDEX availability_places_idx ON availability_places
    USING gist (place, days) INCLUDE (availability_id, artist_id, min_fee, currency);

-- Only published, not blocked windows are searchable.
CREATE FUNCTION kisum_availability_places_sync() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM availability_places p USING old_rows o WHERE p.availability_id = o.id;
    END IF;
    INSERT INTO availability_places (availability_id, place, days, artist_id, min_fee, currency)
    SELECT n.id, k, daterange(n.starts_on, n.ends_on, '[]'), n.artist_id, n.min_fee, n.currency
      FROM new_rows n, unnest(kisum_area_keys(n.worldwide, n.areas)) k
     WHERE n.published AND n.status <> 'blocked';
    RETURN NULL;
END $$;

CREATE TRIGGER availabilities_places_insert AFTER INSERT ON availabilities
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kisum_availability_places_sync();
CREATE TRIGGER availabilities_places_update AFTER UPDATE ON availabilities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kisum_availability_places_sync();

INSERT INTO availability_places (availability_id, place, days, artist_id, min_fee, currency)
SELECT a.id, k, daterange(a.starts_on, a.ends_on, '[]'), a.artist_id, a.min_fee, a.currency
  FROM availabilities a, unnest(kisum_area_keys(a.worldwide, a.areas)) k
 WHERE a.published AND a.status <> 'blocked';

DROP FUNCTION kisum_areas_overlap(text[], text[]);
