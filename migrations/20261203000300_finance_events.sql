-- Finance (an external service) owns deposits, invoices and settlements and
-- reports them by signed webhooks. Every event received is kept once, by its
-- webhook-id; booking_finance is what the booking's parties see, each part
-- set by the newest event Finance reported for it (by occurred_at).

CREATE TABLE finance_events (
    webhook_id  text        PRIMARY KEY CHECK (length(webhook_id) BETWEEN 1 AND 200),
    type        text        NOT NULL,
    booking_id  uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    -- false for an unknown type, an unknown booking, or an event older than
    -- what the booking's finance already shows.
    applied     boolean     NOT NULL DEFAULT false
);

CREATE INDEX finance_events_booking ON finance_events (booking_id, occurred_at);

CREATE TABLE booking_finance (
    booking_id            uuid        PRIMARY KEY REFERENCES bookings (id),
    deposit_status        text        CHECK (deposit_status IN ('invoiced', 'paid', 'overdue', 'refunded')),
    deposit_amount        bigint      CHECK (deposit_amount >= 0),
    deposit_currency      char(3)     REFERENCES currencies (code),
    deposit_due_date      date,
    deposit_changed_at    timestamptz,
    invoice_status        text        CHECK (invoice_status IN ('issued', 'paid', 'void')),
    invoice_amount        bigint      CHECK (invoice_amount >= 0),
    invoice_currency      char(3)     REFERENCES currencies (code),
    invoice_reference     text,
    invoice_due_date      date,
    invoice_changed_at    timestamptz,
    settlement_status     text        CHECK (settlement_status IN ('drafted', 'settled')),
    settlement_amount     bigint,
    settlement_currency   char(3)     REFERENCES currencies (code),
    settlement_changed_at timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (deposit_amount IS NULL OR deposit_currency IS NOT NULL),
    CHECK (invoice_amount IS NULL OR invoice_currency IS NOT NULL),
    CHECK (settlement_amount IS NULL OR settlement_currency IS NOT NULL)
);
