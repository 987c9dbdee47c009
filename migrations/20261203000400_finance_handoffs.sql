-- Finance handoff (SPEC 5.9): what was agreed on a booking, told to
-- Finance by signed webhooks, with every attempt kept.

-- One handoff per booking and event: its webhook id and the exact bytes
-- sent are fixed when the booking changes, so every retry and every worker
-- sends the same message.
CREATE TABLE finance_handoffs (
    id           uuid        PRIMARY KEY,
    booking_id   uuid        NOT NULL REFERENCES bookings (id),
    event        text        NOT NULL CHECK (event IN ('booking.confirmed', 'booking.cancelled', 'booking.completed')),
    webhook_id   text        NOT NULL UNIQUE,
    payload      bytea       NOT NULL,
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'delivered', 'dead', 'paused')),
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz,
    delivered_at timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT finance_handoffs_booking_event_uniq UNIQUE (booking_id, event)
);
CREATE INDEX finance_handoffs_status_idx ON finance_handoffs (status) WHERE status <> 'delivered';

-- Every delivery attempt, append-only.
CREATE TABLE finance_handoff_attempts (
    handoff_id   uuid        NOT NULL REFERENCES finance_handoffs (id),
    attempt      integer     NOT NULL CHECK (attempt >= 1),
    at           timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    duration_ms  integer     NOT NULL CHECK (duration_ms >= 0),
    error        text,
    response_excerpt text,
    worker       text        NOT NULL,
    PRIMARY KEY (handoff_id, attempt)
);

-- The Finance endpoint: a 410 answer disables it until an operator
-- enables it again; handoffs meanwhile wait as `paused`.
CREATE TABLE finance_endpoint (
    id             boolean     PRIMARY KEY DEFAULT true CHECK (id),
    disabled_at    timestamptz,
    disabled_reason text
);
INSERT INTO finance_endpoint (id) VALUES (true);
