-- Directory and identity (SPEC 5.1): reference data, companies, artists,
-- people, platform accounts, provider references.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Case- and accent-insensitive form of a name, for search indexes.
CREATE FUNCTION kisum_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

-- Reference data, loaded by `kisum-api migrate` from reference/*.tsv.
CREATE TABLE reference_data_loads (
    dataset    text        PRIMARY KEY,
    checksum   text        NOT NULL,
    rows       integer     NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE countries (
    code          char(2) PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
    alpha3        char(3) NOT NULL UNIQUE,
    numeric_code  char(3) NOT NULL,
    name          text    NOT NULL,
    official_name text    NOT NULL
);

CREATE TABLE currencies (
    code         char(3)  PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    numeric_code char(3)  NOT NULL,
    name         text     NOT NULL,
    minor_units  smallint NOT NULL CHECK (minor_units BETWEEN 0 AND 4)
);

CREATE TABLE regions (
    code         text    PRIMARY KEY,
    country_code char(2) NOT NULL REFERENCES countries (code),
    name         text    NOT NULL,
    kind         text    NOT NULL
);
CREATE INDEX regions_country_idx ON regions (country_code);

CREATE TABLE cities (
    id           bigint           PRIMARY KEY, -- GeoNames id
    name         text             NOT NULL,
    country_code char(2)          NOT NULL REFERENCES countries (code),
    region_code  text             REFERENCES regions (code),
    latitude     double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude    double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    population   integer          NOT NULL CHECK (population >= 0),
    timezone     text             NOT NULL
);
CREATE INDEX cities_country_population_idx ON cities (country_code, population DESC, id);
CREATE INDEX cities_population_idx ON cities (population DESC, id);
CREATE INDEX cities_name_trgm_idx ON cities USING gin (kisum_fold(name) gin_trgm_ops);

CREATE TABLE markets (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name        text NOT NULL
);
CREATE TABLE market_countries (
    market_id    uuid    NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
    country_code char(2) NOT NULL REFERENCES countries (code),
    PRIMARY KEY (market_id, country_code)
);
CREATE INDEX market_countries_country_idx ON market_countries (country_code);
CREATE TABLE market_regions (
    market_id   uuid NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
    region_code text NOT NULL REFERENCES regions (code),
    PRIMARY KEY (market_id, region_code)
);
CREATE INDEX market_regions_region_idx ON market_regions (region_code);

CREATE TABLE genres (
    id        uuid    PRIMARY KEY,
    slug      text    NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name      text    NOT NULL,
    parent_id uuid    REFERENCES genres (id),
    position  integer NOT NULL
);
CREATE INDEX genres_parent_idx ON genres (parent_id);

-- Market companies: agencies, promoters, venues, management, labels.
CREATE TABLE companies (
    id           uuid        PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('agency', 'promoter', 'venue', 'management', 'label', 'other')),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    country_code char(2)     REFERENCES countries (code),
    city_id      bigint      REFERENCES cities (id),
    website      text        CHECK (length(website) <= 500),
    email        text        CHECK (length(email) <= 254),
    phone        text        CHECK (length(phone) <= 50),
    description  text        CHECK (length(description) <= 5000),
    claimed      boolean     NOT NULL DEFAULT false,
    search_name  text        GENERATED ALWAYS AS (kisum_fold(name)) STORED,
    version      integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX companies_kind_name_idx ON companies (kind, search_name, id);
CREATE INDEX companies_name_idx ON companies (search_name, id);
CREATE INDEX companies_name_trgm_idx ON companies USING gin (search_name gin_trgm_ops);

-- Which org owns which company: one approved claim per company, enforced here.
CREATE TABLE artists_company_claims (
    id           uuid        PRIMARY KEY,
    company_id   uuid        NOT NULL REFERENCES companies (id),
    org_id       uuid        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn', 'revoked')),
    requested_by text        NOT NULL,
    message      text        CHECK (length(message) <= 2000),
    decided_at   timestamptz,
    decided_by   text,
    reason       text        CHECK (length(reason) <= 2000),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX artists_company_claims_approved_uniq
    ON artists_company_claims (company_id) WHERE status = 'approved';
CREATE INDEX artists_company_claims_org_idx ON artists_company_claims (org_id, status);

CREATE TABLE artists (
    id                    uuid        PRIMARY KEY,
    name                  text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    country_code          char(2)     REFERENCES countries (code),
    city_id               bigint      REFERENCES cities (id),
    created_by_company_id uuid        REFERENCES companies (id),
    -- Folded name for search: computed once per write, not per query.
    search_name           text        GENERATED ALWAYS AS (kisum_fold(name)) STORED,
    version               integer     NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    archived_at           timestamptz
);
CREATE INDEX artists_name_trgm_idx ON artists USING gin (search_name gin_trgm_ops) WHERE archived_at IS NULL;
CREATE INDEX artists_sort_idx ON artists (search_name, id) WHERE archived_at IS NULL;
CREATE INDEX artists_country_idx ON artists (country_code) WHERE archived_at IS NULL;
CREATE INDEX artists_city_idx ON artists (city_id) WHERE archived_at IS NULL;
CREATE INDEX artists_created_by_company_idx ON artists (created_by_company_id);

CREATE TABLE artist_genres (
    artist_id uuid NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
    genre_id  uuid NOT NULL REFERENCES genres (id),
    PRIMARY KEY (artist_id, genre_id)
);
CREATE INDEX artist_genres_genre_idx ON artist_genres (genre_id, artist_id);

CREATE TABLE artist_profiles (
    artist_id      uuid        PRIMARY KEY REFERENCES artists (id) ON DELETE CASCADE,
    bio            text        CHECK (length(bio) <= 20000),
    links          jsonb       NOT NULL DEFAULT '[]',
    photos         jsonb       NOT NULL DEFAULT '[]',
    fee_min        bigint      CHECK (fee_min >= 0),
    fee_max        bigint      CHECK (fee_max >= 0),
    fee_currency   char(3)     REFERENCES currencies (code),
    territories    char(2)[]   NOT NULL DEFAULT '{}',
    draw_by_market jsonb       NOT NULL DEFAULT '[]',
    version        integer     NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (fee_min IS NULL OR fee_max IS NULL OR fee_min <= fee_max),
    CHECK ((fee_min IS NULL AND fee_max IS NULL) OR fee_currency IS NOT NULL)
);

CREATE TABLE people (
    id          uuid        PRIMARY KEY,
    company_id  uuid        NOT NULL REFERENCES companies (id),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    title       text        CHECK (length(title) <= 200),
    email       text        CHECK (length(email) <= 254),
    phone       text        CHECK (length(phone) <= 50),
    notes       text        CHECK (length(notes) <= 5000),
    visibility  text        NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'network')),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX people_company_idx ON people (company_id, id);
CREATE INDEX people_network_idx ON people (id) WHERE visibility = 'network';

CREATE TABLE platform_accounts (
    id          uuid        PRIMARY KEY,
    artist_id   uuid        REFERENCES artists (id) ON DELETE CASCADE,
    company_id  uuid        REFERENCES companies (id) ON DELETE CASCADE,
    platform    text        NOT NULL CHECK (platform IN ('spotify', 'instagram', 'youtube', 'tiktok', 'soundcloud', 'bandcamp', 'apple_music', 'deezer', 'beatport', 'resident_advisor', 'facebook', 'x', 'threads', 'twitch', 'mixcloud', 'website')),
    handle      text        NOT NULL CHECK (length(handle) BETWEEN 1 AND 200),
    url         text        CHECK (length(url) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((artist_id IS NULL) <> (company_id IS NULL))
);
CREATE UNIQUE INDEX platform_accounts_artist_handle_uniq
    ON platform_accounts (platform, lower(handle)) WHERE artist_id IS NOT NULL;
CREATE UNIQUE INDEX platform_accounts_company_handle_uniq
    ON platform_accounts (platform, lower(handle)) WHERE company_id IS NOT NULL;
CREATE INDEX platform_accounts_artist_idx ON platform_accounts (artist_id);
CREATE INDEX platform_accounts_company_idx ON platform_accounts (company_id);

CREATE TABLE provider_references (
    id          uuid        PRIMARY KEY,
    provider    text        NOT NULL CHECK (provider ~ '^[a-z0-9_]{2,40}$'),
    external_id text        NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
    entity_type text        NOT NULL CHECK (entity_type IN ('artist', 'company', 'person')),
    entity_id   uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX provider_references_uniq ON provider_references (provider, external_id, entity_type);
CREATE INDEX provider_references_entity_idx ON provider_references (entity_type, entity_id);
