-- Booking requests, offers with versioned deals, and bookings (SPEC 5.4).

CREATE TABLE booking_requests (
    id                  uuid        PRIMARY KEY,
    artist_id           uuid        NOT NULL REFERENCES artists (id),
    promoter_company_id uuid        NOT NULL REFERENCES companies (id),
    agency_company_id   uuid        NOT NULL REFERENCES companies (id),
    event_date          date        NOT NULL,
    venue               jsonb       NOT NULL DEFAULT '{}',
    message             text        CHECK (length(message) <= 5000),
    wants_hold          boolean     NOT NULL DEFAULT false,
    status              text        NOT NULL CHECK (status IN ('open', 'converted', 'declined', 'withdrawn', 'expired')),
    version             integer     NOT NULL DEFAULT 1,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_requests_agency_idx ON booking_requests (agency_company_id, id);
CREATE INDEX booking_requests_promoter_idx ON booking_requests (promoter_company_id, id);

CREATE TABLE offers (
    id                  uuid        PRIMARY KEY,
    artist_id           uuid        NOT NULL REFERENCES artists (id),
    promoter_company_id uuid        NOT NULL REFERENCES companies (id),
    agency_company_id   uuid        NOT NULL REFERENCES companies (id),
    booking_request_id  uuid        REFERENCES booking_requests (id),
    event_date          date        NOT NULL,
    venue               jsonb       NOT NULL DEFAULT '{}',
    allow_same_day      boolean     NOT NULL DEFAULT false,
    status              text        NOT NULL CHECK (status IN ('draft', 'sent', 'countered', 'accepted', 'declined', 'withdrawn', 'expired')),
    current_version     integer     NOT NULL DEFAULT 1,
    -- Which party wrote the current version: the other one answers it.
    written_by_side     text        NOT NULL CHECK (written_by_side IN ('agency', 'promoter')),
    expires_at          timestamptz NOT NULL,
    version             integer     NOT NULL DEFAULT 1,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offers_agency_idx ON offers (agency_company_id, id);
CREATE INDEX offers_promoter_idx ON offers (promoter_company_id, id);
CREATE INDEX offers_due_idx ON offers (expires_at) WHERE status IN ('sent', 'countered');

-- Every version of the deal, kept.
CREATE TABLE offer_versions (
    offer_id        uuid        NOT NULL REFERENCES offers (id),
    number          integer     NOT NULL CHECK (number >= 1),
    deal            jsonb       NOT NULL,
    written_by_side text        NOT NULL CHECK (written_by_side IN ('agency', 'promoter')),
    written_by      text        NOT NULL,
    note            text        CHECK (length(note) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (offer_id, number)
);

CREATE TABLE bookings (
    id                  uuid        PRIMARY KEY,
    offer_id            uuid        NOT NULL UNIQUE REFERENCES offers (id),
    artist_id           uuid        NOT NULL REFERENCES artists (id),
    agency_company_id   uuid        NOT NULL REFERENCES companies (id),
    promoter_company_id uuid        NOT NULL REFERENCES companies (id),
    event_date          date        NOT NULL,
    hold_id             uuid        REFERENCES holds (id),
    allow_same_day      boolean     NOT NULL DEFAULT false,
    deal                jsonb       NOT NULL,
    status              text        NOT NULL CHECK (status IN ('confirmed', 'cancelled', 'completed')),
    cancel_reason       text        CHECK (length(cancel_reason) <= 2000),
    version             integer     NOT NULL DEFAULT 1,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- No two confirmed bookings of one artist on one date, unless allowed.
CREATE UNIQUE INDEX bookings_one_per_artist_day
    ON bookings (artist_id, event_date) WHERE status = 'confirmed' AND NOT allow_same_day;
CREATE INDEX bookings_artist_date_idx ON bookings (artist_id, event_date);
CREATE INDEX bookings_agency_idx ON bookings (agency_company_id, id);
CREATE INDEX bookings_promoter_idx ON bookings (promoter_company_id, id);

ALTER TABLE holds ADD CONSTRAINT holds_offer_fkey FOREIGN KEY (offer_id) REFERENCES offers (id);
