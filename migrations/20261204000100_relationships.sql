-- Relationship memory, notes, flags, ratings and trust (SPEC 5.7).

-- Who ended a booking, and when: cancellations count against the side
-- that cancelled. Bookings ended before this column existed keep an
-- unknown side.
ALTER TABLE bookings
    ADD COLUMN ended_at     timestamptz,
    ADD COLUMN cancelled_by text CHECK (cancelled_by IN ('agency', 'promoter'));
UPDATE bookings SET ended_at = updated_at WHERE status IN ('cancelled', 'completed');
ALTER TABLE bookings
    ADD CONSTRAINT bookings_ended_when_ended CHECK ((status = 'confirmed') = (ended_at IS NULL)),
    ADD CONSTRAINT bookings_cancelled_by_cancelled CHECK (cancelled_by IS NULL OR status = 'cancelled');

-- Each party rates the other once per completed booking.
CREATE TABLE booking_ratings (
    id               uuid        PRIMARY KEY,
    booking_id       uuid        NOT NULL REFERENCES bookings (id),
    rater_side       text        NOT NULL CHECK (rater_side IN ('agency', 'promoter')),
    rater_company_id uuid        NOT NULL REFERENCES companies (id),
    ratee_company_id uuid        NOT NULL REFERENCES companies (id),
    overall          smallint    NOT NULL CHECK (overall BETWEEN 1 AND 5),
    communication    smallint    CHECK (communication BETWEEN 1 AND 5),
    hospitality      smallint    CHECK (hospitality BETWEEN 1 AND 5),
    payment          smallint    CHECK (payment BETWEEN 1 AND 5),
    professionalism  smallint    CHECK (professionalism BETWEEN 1 AND 5),
    comment          text        CHECK (length(comment) <= 2000),
    org_id           uuid        NOT NULL,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT booking_ratings_once UNIQUE (booking_id, rater_side)
);
CREATE INDEX booking_ratings_ratee_idx ON booking_ratings (ratee_company_id, created_at);
CREATE INDEX booking_ratings_rater_idx ON booking_ratings (rater_company_id, created_at);

-- Notes and flags: private to the org that wrote them.
CREATE TABLE relationship_notes (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL,
    counterparty_id uuid        NOT NULL REFERENCES companies (id),
    body            text        NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX relationship_notes_org_idx ON relationship_notes (org_id, counterparty_id, id);

CREATE TABLE relationship_flags (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL,
    counterparty_id uuid        NOT NULL REFERENCES companies (id),
    kind            text        NOT NULL CHECK (kind IN ('late_payment', 'no_show', 'great_partner', 'difficult_advance',
                                                         'great_hospitality', 'slow_to_sign', 'poor_communication', 'other')),
    booking_id      uuid        REFERENCES bookings (id),
    note            text        CHECK (length(note) <= 2000),
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- One flag of a kind per counterparty (and booking, when it names one).
CREATE UNIQUE INDEX relationship_flags_once
    ON relationship_flags (org_id, counterparty_id, kind, booking_id) NULLS NOT DISTINCT;

-- How a booking's deposit went, from what Finance reported: late when
-- Finance ever said overdue, when it was paid after its due date, or when
-- it is still unpaid past that date.
CREATE VIEW deposit_outcomes AS
SELECT f.booking_id,
       CASE WHEN f.deposit_status = 'overdue'
              OR EXISTS (SELECT 1 FROM finance_events e
                          WHERE e.booking_id = f.booking_id AND e.type = 'deposit.overdue' AND e.applied)
              OR (f.deposit_due_date IS NOT NULL AND f.deposit_status = 'paid'
                  AND (f.deposit_changed_at AT TIME ZONE 'UTC')::date > f.deposit_due_date)
              OR (f.deposit_due_date IS NOT NULL AND f.deposit_status = 'invoiced'
                  AND f.deposit_due_date < (now() AT TIME ZONE 'UTC')::date)
            THEN 'late' ELSE 'on_time' END AS outcome,
       f.deposit_changed_at AS at
  FROM booking_finance f
 WHERE f.deposit_status IN ('paid', 'overdue')
    OR (f.deposit_status = 'invoiced' AND f.deposit_due_date < (now() AT TIME ZONE 'UTC')::date);

-- Companies whose trust and relationships need recomputing: a write marks
-- them in its transaction, the trust_score job drains them. A burst of
-- writes to one company leaves one row, so it is recomputed once.
CREATE TABLE trust_dirty (
    company_id uuid        PRIMARY KEY REFERENCES companies (id),
    marked_at  timestamptz NOT NULL DEFAULT now()
);

-- The stored trust of a company, as the worker last computed it.
CREATE TABLE trust_scores (
    company_id      uuid        PRIMARY KEY REFERENCES companies (id),
    score           smallint    CHECK (score BETWEEN 0 AND 100),
    band            text        NOT NULL CHECK (band IN ('excellent', 'good', 'fair', 'poor', 'insufficient_history')),
    sample_size     integer     NOT NULL CHECK (sample_size >= 0),
    window_from     date        NOT NULL,
    window_to       date        NOT NULL,
    factors         jsonb       NOT NULL,
    reasons         jsonb       NOT NULL,
    formula_version smallint    NOT NULL,
    computations    bigint      NOT NULL DEFAULT 1,
    computed_at     timestamptz NOT NULL,
    CHECK ((score IS NULL) = (band = 'insufficient_history'))
);

-- A company's memory of each counterparty, kept by the same job.
CREATE TABLE relationships (
    company_id             uuid        NOT NULL REFERENCES companies (id),
    counterparty_id        uuid        NOT NULL REFERENCES companies (id),
    first_interaction_at   timestamptz NOT NULL,
    last_interaction_at    timestamptz NOT NULL,
    offers                 integer     NOT NULL,
    bookings_confirmed     integer     NOT NULL,
    bookings_completed     integer     NOT NULL,
    bookings_cancelled     integer     NOT NULL,
    cancelled_by_us        integer     NOT NULL,
    cancelled_by_them      integer     NOT NULL,
    contracts_signed       integer     NOT NULL,
    avg_days_to_sign       numeric(7, 1),
    their_deposits_on_time integer     NOT NULL,
    their_deposits_late    integer     NOT NULL,
    ratings_given          integer     NOT NULL,
    ratings_given_avg      numeric(3, 2),
    ratings_received       integer     NOT NULL,
    ratings_received_avg   numeric(3, 2),
    refreshed_at           timestamptz NOT NULL,
    PRIMARY KEY (company_id, counterparty_id)
);
CREATE INDEX relationships_last_idx ON relationships (company_id, last_interaction_at DESC, counterparty_id);
CREATE INDEX relationships_counterparty_idx ON relationships (counterparty_id);

