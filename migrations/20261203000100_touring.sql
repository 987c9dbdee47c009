-- Touring (SPEC 5.6): tours of one artist, their stops, the itinerary of
-- each day and calendar subscriptions.

-- A tour belongs to one artist and is kept by one artist-side company (the
-- agency or management that plans it); the org owning that company edits it.
CREATE TABLE tours (
    id          uuid        PRIMARY KEY,
    artist_id   uuid        NOT NULL REFERENCES artists (id),
    company_id  uuid        NOT NULL REFERENCES companies (id),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- How the party travels between stops; sets the average speed of legs.
    travel_mode text        NOT NULL DEFAULT 'bus' CHECK (travel_mode IN ('bus', 'van', 'car')),
    notes       text        CHECK (length(notes) <= 10000),
    version     integer     NOT NULL DEFAULT 1,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tours_company_idx ON tours (company_id, id);
CREATE INDEX tours_artist_idx ON tours (artist_id);

-- A stop: a confirmed booking of the tour's artist (kind `show`), or a
-- free-standing day (travel, day off, promo, rehearsal). `position` is the
-- routing order; it is unique per tour, checked at commit so a reorder can
-- swap positions in one statement.
CREATE TABLE tour_stops (
    id          uuid        PRIMARY KEY,
    tour_id     uuid        NOT NULL REFERENCES tours (id) ON DELETE CASCADE,
    position    integer     NOT NULL CHECK (position >= 1),
    kind        text        NOT NULL CHECK (kind IN ('show', 'travel', 'day_off', 'promo', 'rehearsal')),
    stop_date   date        NOT NULL,
    city_id     bigint      NOT NULL REFERENCES cities (id),
    booking_id  uuid        REFERENCES bookings (id),
    title       text        CHECK (length(title) <= 200),
    notes       text        CHECK (length(notes) <= 10000),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'show') = (booking_id IS NOT NULL)),
    CONSTRAINT tour_stops_position_uniq UNIQUE (tour_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE UNIQUE INDEX tour_stops_booking_uniq ON tour_stops (tour_id, booking_id) WHERE booking_id IS NOT NULL;
CREATE INDEX tour_stops_booking_idx ON tour_stops (booking_id) WHERE booking_id IS NOT NULL;
CREATE INDEX tour_stops_date_idx ON tour_stops (tour_id, stop_date);

-- An itinerary item: local start and end in an IANA zone (travel items may
-- end in another zone), a time precision, and who may see it. `day` is the
-- show day it belongs to: an item starting before 06:00 local belongs to the
-- previous day. `sequence` is the RFC 5545 SEQUENCE of its calendar event.
CREATE TABLE itinerary_items (
    id           uuid        PRIMARY KEY,
    tour_id      uuid        NOT NULL REFERENCES tours (id) ON DELETE CASCADE,
    day          date        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('travel', 'load_in', 'soundcheck', 'doors', 'set', 'curfew', 'hotel', 'press', 'other')),
    title        text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    starts_local timestamp,
    ends_local   timestamp,
    timezone     text        NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    end_timezone text        CHECK (length(end_timezone) BETWEEN 1 AND 64),
    -- The same instants in UTC, kept beside the local times for ordering
    -- and the calendar feed.
    starts_at    timestamptz,
    ends_at      timestamptz,
    precision    text        NOT NULL CHECK (precision IN ('exact', 'approx', 'tbd')),
    location     text        CHECK (length(location) <= 500),
    notes        text        CHECK (length(notes) <= 10000),
    visibility   text        NOT NULL DEFAULT 'artist_side' CHECK (visibility IN ('artist_side', 'shared')),
    sequence     integer     NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    version      integer     NOT NULL DEFAULT 1,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((starts_local IS NULL) = (starts_at IS NULL)),
    CHECK ((ends_local IS NULL) = (ends_at IS NULL)),
    CHECK (ends_local IS NULL OR starts_local IS NOT NULL),
    CHECK (ends_at IS NULL OR ends_at >= starts_at),
    CHECK (precision = 'tbd' OR starts_local IS NOT NULL)
);
CREATE INDEX itinerary_items_tour_day_idx ON itinerary_items (tour_id, day, starts_at, id);

-- A calendar subscription: an unguessable token (only its SHA-256 is kept)
-- opening one tour's feed as one org sees it. At most one live token per
-- tour and org; revoking keeps the row so a revoked token stays refused.
CREATE TABLE tour_calendar_subscriptions (
    id           uuid        PRIMARY KEY,
    tour_id      uuid        NOT NULL REFERENCES tours (id) ON DELETE CASCADE,
    org_id       uuid        NOT NULL,
    token_sha256 text        NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX tour_calendar_subscriptions_live_uniq
    ON tour_calendar_subscriptions (tour_id, org_id) WHERE revoked_at IS NULL;
