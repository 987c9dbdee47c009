-- Every code or id taken from the shipped reference data (currencies,
-- countries, regions, cities, markets) is a key into it, so Touring never
-- routes to a city that does not exist and Finance never invoices in a
-- currency that does not exist.
--
-- - Values inside JSON get a stored generated column with a foreign key:
--   an offer version's and a booking's `deal.currency`, a request's and an
--   offer's `venue.city_id`. (Adding them rewrites those four tables once.)
-- - Arrays (territory areas and market ids, profile territories and draw
--   markets) cannot carry a foreign key: a statement-level trigger checks
--   the distinct values a statement wrote, in one query (a 500,000-row
--   insert of windows pays about 1.5 s), and raises a
--   foreign_key_violation named `<table>_areas_fkey`,
--   `<table>_market_ids_fkey`, `artist_profiles_territories_fkey` or
--   `artist_profiles_draw_by_market_fkey`.
-- - Columns (companies, artists, profile fee currency, availability
--   currency) already had foreign keys.
-- The API checks the same first, naming the field; shared/src/error.rs maps
-- each constraint name to a 422 on its field for concurrent or missed cases.
--
-- Existing rows that break a rule: the new foreign keys are added NOT VALID
-- (new and changed keys are checked at once, old rows are not), the view
-- `reference_violations` lists every offending row, and this migration
-- raises a WARNING with their count and a sample. Each foreign key with no
-- offending row is validated here, so a clean database ends fully
-- constrained. We report rather than fail because the rows at stake are
-- mostly history (offer versions, confirmed bookings) that no one should
-- rewrite to get a deploy through, and a failed migration would keep every
-- replica from starting; an operator fixes or annuls the rows named by the
-- view, then runs `ALTER TABLE ... VALIDATE CONSTRAINT ...`.

-- A JSON number that fits a bigint, else NULL (the view reports the rest).
CREATE FUNCTION kisum_json_bigint(value jsonb) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT CASE WHEN jsonb_typeof(value) = 'number' AND value::text ~ '^-?[0-9]{1,18}$'
                      THEN value::text::bigint END $$;

ALTER TABLE offer_versions
    ADD COLUMN deal_currency text GENERATED ALWAYS AS (deal ->> 'currency') STORED;
ALTER TABLE bookings
    ADD COLUMN deal_currency text GENERATED ALWAYS AS (deal ->> 'currency') STORED;
ALTER TABLE booking_requests
    ADD COLUMN venue_city_id bigint GENERATED ALWAYS AS (kisum_json_bigint(venue -> 'city_id')) STORED;
ALTER TABLE offers
    ADD COLUMN venue_city_id bigint GENERATED ALWAYS AS (kisum_json_bigint(venue -> 'city_id')) STORED;

ALTER TABLE offer_versions ADD CONSTRAINT offer_versions_deal_currency_fkey
    FOREIGN KEY (deal_currency) REFERENCES currencies (code) NOT VALID;
ALTER TABLE bookings ADD CONSTRAINT bookings_deal_currency_fkey
    FOREIGN KEY (deal_currency) REFERENCES currencies (code) NOT VALID;
ALTER TABLE booking_requests ADD CONSTRAINT booking_requests_venue_city_fkey
    FOREIGN KEY (venue_city_id) REFERENCES cities (id) NOT VALID;
ALTER TABLE offers ADD CONSTRAINT offers_venue_city_fkey
    FOREIGN KEY (venue_city_id) REFERENCES cities (id) NOT VALID;

-- Territories: areas are ISO 3166-1 countries or ISO 3166-2 regions.
CREATE FUNCTION kisum_check_territory_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    SELECT a INTO bad
      FROM (SELECT DISTINCT a FROM new_rows n, unnest(n.areas) a) d
     WHERE NOT EXISTS (SELECT 1 FROM countries c WHERE c.code::text = a)
       AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = a)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'area % of % is not a known country or region', bad, TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_TABLE_NAME || '_areas_fkey';
    END IF;
    SELECT m::text INTO bad
      FROM (SELECT DISTINCT m FROM new_rows n, unnest(n.market_ids) m) d
     WHERE NOT EXISTS (SELECT 1 FROM markets k WHERE k.id = m)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'market % of % does not exist', bad, TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_TABLE_NAME || '_market_ids_fkey';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER availabilities_refs_insert AFTER INSERT ON availabilities
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_territory_refs();
CREATE TRIGGER availabilities_refs_update AFTER UPDATE ON availabilities
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_territory_refs();
CREATE TRIGGER roster_links_refs_insert AFTER INSERT ON roster_links
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_territory_refs();
CREATE TRIGGER roster_links_refs_update AFTER UPDATE ON roster_links
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_territory_refs();
CREATE TRIGGER representation_claims_refs_insert AFTER INSERT ON representation_claims
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_territory_refs();
CREATE TRIGGER representation_claims_refs_update AFTER UPDATE ON representation_claims
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_territory_refs();

-- Profiles: territories are countries; draw is by existing market.
CREATE FUNCTION kisum_check_profile_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    SELECT t INTO bad
      FROM (SELECT DISTINCT t FROM new_rows n, unnest(n.territories) t) d
     WHERE NOT EXISTS (SELECT 1 FROM countries c WHERE c.code = t)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'territory % is not a known country', bad
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'artist_profiles_territories_fkey';
    END IF;
    SELECT m INTO bad
      FROM (SELECT DISTINCT e ->> 'market_id' AS m FROM new_rows n, jsonb_array_elements(n.draw_by_market) e) d
     WHERE NOT EXISTS (SELECT 1 FROM markets k WHERE k.id::text = m)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'draw market % does not exist', bad
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'artist_profiles_draw_by_market_fkey';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER artist_profiles_refs_insert AFTER INSERT ON artist_profiles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_profile_refs();
CREATE TRIGGER artist_profiles_refs_update AFTER UPDATE ON artist_profiles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kisum_check_profile_refs();

-- Every stored row naming reference data that does not exist: what the
-- constraints above refuse from now on, found in rows written before them.
-- `constraint_name` is the foreign key to validate once its rows are fixed.
CREATE VIEW reference_violations AS
SELECT 'offer_versions' AS table_name, offer_id::text || '/' || number AS row_id,
       'deal.currency' AS field, deal ->> 'currency' AS value,
       'offer_versions_deal_currency_fkey' AS constraint_name
  FROM offer_versions
 WHERE deal ->> 'currency' IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM currencies c WHERE c.code::text = deal ->> 'currency')
UNION ALL
SELECT 'bookings', id::text, 'deal.currency', deal ->> 'currency', 'bookings_deal_currency_fkey'
  FROM bookings
 WHERE deal ->> 'currency' IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM currencies c WHERE c.code::text = deal ->> 'currency')
UNION ALL
SELECT 'booking_requests', id::text, 'venue.city_id', venue ->> 'city_id', 'booking_requests_venue_city_fkey'
  FROM booking_requests
 WHERE jsonb_typeof(venue -> 'city_id') NOT IN ('null')
   AND NOT EXISTS (SELECT 1 FROM cities c WHERE c.id = kisum_json_bigint(venue -> 'city_id'))
UNION ALL
SELECT 'offers', id::text, 'venue.city_id', venue ->> 'city_id', 'offers_venue_city_fkey'
  FROM offers
 WHERE jsonb_typeof(venue -> 'city_id') NOT IN ('null')
   AND NOT EXISTS (SELECT 1 FROM cities c WHERE c.id = kisum_json_bigint(venue -> 'city_id'))
UNION ALL
SELECT 'artist_profiles', p.artist_id::text, 'territories', t::text, 'artist_profiles_territories_fkey'
  FROM artist_profiles p, unnest(p.territories) t
 WHERE NOT EXISTS (SELECT 1 FROM countries c WHERE c.code = t)
UNION ALL
SELECT 'artist_profiles', p.artist_id::text, 'draw_by_market', d ->> 'market_id', 'artist_profiles_draw_by_market_fkey'
  FROM artist_profiles p, jsonb_array_elements(p.draw_by_market) d
 WHERE NOT EXISTS (SELECT 1 FROM markets k WHERE k.id::text = d ->> 'market_id')
UNION ALL
SELECT v.table_name, v.id::text, 'territory', v.area, v.table_name || '_areas_fkey'
  FROM (SELECT 'availabilities' AS table_name, id, unnest(areas) AS area FROM availabilities
        UNION ALL SELECT 'roster_links', id, unnest(areas) FROM roster_links
        UNION ALL SELECT 'representation_claims', id, unnest(areas) FROM representation_claims) v
 WHERE NOT EXISTS (SELECT 1 FROM countries c WHERE c.code::text = v.area)
   AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = v.area)
UNION ALL
SELECT v.table_name, v.id::text, 'territory.market_ids', v.market_id::text, v.table_name || '_market_ids_fkey'
  FROM (SELECT 'availabilities' AS table_name, id, unnest(market_ids) AS market_id FROM availabilities
        UNION ALL SELECT 'roster_links', id, unnest(market_ids) FROM roster_links
        UNION ALL SELECT 'representation_claims', id, unnest(market_ids) FROM representation_claims) v
 WHERE NOT EXISTS (SELECT 1 FROM markets k WHERE k.id = v.market_id)
UNION ALL
SELECT 'artists_provisioning_requests', id::text, 'spec.country', spec ->> 'country', NULL
  FROM artists_provisioning_requests
 WHERE status = 'pending' AND spec ->> 'country' IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM countries c WHERE c.code::text = upper(trim(spec ->> 'country')))
UNION ALL
SELECT 'artists_provisioning_requests', id::text, 'spec.city_id', spec ->> 'city_id', NULL
  FROM artists_provisioning_requests
 WHERE status = 'pending' AND jsonb_typeof(spec -> 'city_id') NOT IN ('null')
   AND NOT EXISTS (SELECT 1 FROM cities c WHERE c.id = kisum_json_bigint(spec -> 'city_id'));

DO $$
DECLARE
    total bigint;
    sample text;
    clean text[];
    fk text;
BEGIN
    SELECT count(*) INTO total FROM reference_violations;
    IF total > 0 THEN
        SELECT string_agg(format('%s %s %s=%s', table_name, row_id, field, value), '; ')
          INTO sample
          FROM (SELECT * FROM reference_violations ORDER BY table_name, row_id, field LIMIT 20) s;
        RAISE WARNING '% stored value(s) name reference data that does not exist: %', total, sample
            USING HINT = 'SELECT * FROM reference_violations lists them; fix or annul those rows, '
                         'then ALTER TABLE <table_name> VALIDATE CONSTRAINT <constraint_name>. '
                         'New writes are refused already.';
    END IF;
    -- Collected first: a table cannot be altered while a query of this
    -- session still reads it.
    SELECT array_agg(format('ALTER TABLE %s VALIDATE CONSTRAINT %I', conrelid::regclass, conname))
      INTO clean
      FROM pg_constraint
     WHERE conname IN ('offer_versions_deal_currency_fkey', 'bookings_deal_currency_fkey',
                       'booking_requests_venue_city_fkey', 'offers_venue_city_fkey')
       AND NOT EXISTS (SELECT 1 FROM reference_violations v WHERE v.constraint_name = conname);
    FOREACH fk IN ARRAY coalesce(clean, '{}') LOOP
        EXECUTE fk;
    END LOOP;
END $$;
