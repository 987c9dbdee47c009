-- Availability (SPEC 5.3): windows an agency publishes for its artists.

CREATE TABLE availabilities (
    id          uuid        PRIMARY KEY,
    artist_id   uuid        NOT NULL REFERENCES artists (id),
    company_id  uuid        NOT NULL REFERENCES companies (id),
    starts_on   date        NOT NULL,
    ends_on     date        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('available', 'tentative', 'blocked')),
    worldwide   boolean     NOT NULL DEFAULT false,
    areas       text[]      NOT NULL DEFAULT '{}',
    market_ids  uuid[]      NOT NULL DEFAULT '{}',
    min_fee     bigint      CHECK (min_fee >= 0),
    currency    char(3)     REFERENCES currencies (code),
    published   boolean     NOT NULL DEFAULT false,
    notes       text        CHECK (length(notes) <= 2000),
    version     integer     NOT NULL DEFAULT 1,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on >= starts_on AND ends_on - starts_on <= 366),
    CHECK (worldwide OR cardinality(areas) > 0),
    CHECK (min_fee IS NULL OR currency IS NOT NULL)
);
CREATE INDEX availabilities_window_idx ON availabilities USING gist (daterange(starts_on, ends_on, '[]'))
    WHERE published AND status <> 'blocked';
CREATE INDEX availabilities_artist_idx ON availabilities (artist_id, starts_on);

-- Whether two area lists share a place: equal codes, or a country and one of
-- its ISO 3166-2 regions.
CREATE FUNCTION kisum_areas_overlap(a text[], b text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT EXISTS (SELECT 1 FROM unnest(a) x, unnest(b) y
                          WHERE x = y OR x LIKE y || '-%' OR y LIKE x || '-%') $$;
