-- Read models (SPEC 5.8): tables the worker keeps, which reads never
-- recompute: the marketplace's artist search table and each company's
-- dashboard. A write marks the keys it changes in `read_model_dirty`, in
-- its transaction; the read_model_refresh job drains them.

CREATE TABLE read_model_dirty (
    model     text        NOT NULL CHECK (model IN ('artist_search', 'company_dashboard')),
    key       uuid        NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, key)
);
CREATE INDEX read_model_dirty_marked_idx ON read_model_dirty (marked_at);

-- One row per live artist: what the marketplace searches, filters, ranks
-- and shows.
CREATE TABLE artist_search (
    artist_id         uuid        PRIMARY KEY REFERENCES artists (id) ON DELETE CASCADE,
    name              text        NOT NULL,
    -- Folded name and aliases (platform handles), for typo-tolerant match.
    search_text       text        NOT NULL,
    aliases           text[]      NOT NULL,
    document          tsvector    NOT NULL,
    -- The artist's genres with their parents.
    genre_ids         uuid[]      NOT NULL,
    genre_slugs       text[]      NOT NULL,
    country_code      char(2),
    city_id           bigint,
    city_name         text,
    market_ids        uuid[]      NOT NULL,
    -- The equality filters in one GIN-indexed array, so one index scan
    -- intersects them: 'c:<country>', 'g:<genre id>' (parents included),
    -- 'm:<market id>'.
    filter_keys       text[]      NOT NULL,
    fee_min           bigint,
    fee_max           bigint,
    fee_currency      char(3),
    agency_company_id uuid,
    trust_score       smallint,
    trust_band        text,
    -- Published, not blocked, not booked and not under a first hold, from
    -- the refresh day for a year.
    open_days         datemultirange NOT NULL,
    next_open_date    date,
    refreshed_at      timestamptz NOT NULL
);
CREATE INDEX artist_search_text_trgm_idx ON artist_search USING gin (search_text gin_trgm_ops);
CREATE INDEX artist_search_document_idx ON artist_search USING gin (document);
CREATE INDEX artist_search_keys_idx ON artist_search USING gin (filter_keys);
CREATE INDEX artist_search_open_idx ON artist_search USING gist (open_days);
CREATE INDEX artist_search_trust_idx ON artist_search (trust_score DESC NULLS LAST, artist_id);

-- Each company's dashboard sections, as the worker last computed them.
CREATE TABLE company_dashboards (
    company_id   uuid        PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    agency       jsonb       NOT NULL,
    promoter     jsonb       NOT NULL,
    refreshed_at timestamptz NOT NULL
);

-- Shortlist items: artists on an org's shortlist, with a note and a place.
CREATE TABLE shortlist_items (
    shortlist_id uuid        NOT NULL REFERENCES shortlists (id) ON DELETE CASCADE,
    artist_id    uuid        NOT NULL REFERENCES artists (id),
    note         text        CHECK (length(note) <= 2000),
    position     integer     NOT NULL CHECK (position >= 1),
    added_by     text        NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shortlist_items_pkey PRIMARY KEY (shortlist_id, artist_id)
);
CREATE INDEX shortlist_items_order_idx ON shortlist_items (shortlist_id, position, artist_id);

-- A deposit left unpaid on a booking that was then cancelled is no late
-- payment: only Finance's word (overdue) or a late payment counts there.
CREATE OR REPLACE VIEW deposit_outcomes AS
SELECT f.booking_id,
       CASE WHEN f.deposit_status = 'overdue'
              OR EXISTS (SELECT 1 FROM finance_events e
                          WHERE e.booking_id = f.booking_id AND e.type = 'deposit.overdue' AND e.applied)
              OR (f.deposit_due_date IS NOT NULL AND f.deposit_status = 'paid'
                  AND (f.deposit_changed_at AT TIME ZONE 'UTC')::date > f.deposit_due_date)
              OR (f.deposit_due_date IS NOT NULL AND f.deposit_status = 'invoiced'
                  AND f.deposit_due_date < (now() AT TIME ZONE 'UTC')::date AND b.status <> 'cancelled')
            THEN 'late' ELSE 'on_time' END AS outcome,
       f.deposit_changed_at AS at
  FROM booking_finance f
  JOIN bookings b ON b.id = f.booking_id
 WHERE f.deposit_status IN ('paid', 'overdue')
    OR (f.deposit_status = 'invoiced' AND f.deposit_due_date < (now() AT TIME ZONE 'UTC')::date
        AND b.status <> 'cancelled');
