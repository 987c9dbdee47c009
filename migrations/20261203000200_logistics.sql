-- Booking logistics (SPEC 5.6): the advance sheet of a booking and the
-- promoter's proposals for its hotel, hospitality, technical and transport
-- sections.

-- The advance sheet: one typed JSON document per booking (its shape is
-- `shared::domain::logistics::sheet::LogisticsSheet`), versioned for
-- If-Match. A booking without a row has an empty sheet at version 0.
CREATE TABLE booking_logistics (
    booking_id uuid        PRIMARY KEY REFERENCES bookings (id),
    sheet      jsonb       NOT NULL CHECK (jsonb_typeof(sheet) = 'object'),
    version    integer     NOT NULL CHECK (version >= 1),
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A promoter's proposal for one section of the sheet; an approval writes
-- its content into the sheet. A revision supersedes the proposal it
-- revises and points back at it.
CREATE TABLE logistics_proposals (
    id            uuid        PRIMARY KEY,
    booking_id    uuid        NOT NULL REFERENCES bookings (id),
    section       text        NOT NULL CHECK (section IN ('hotel', 'hospitality', 'technical', 'transport')),
    content       jsonb       NOT NULL,
    note          text        CHECK (length(note) BETWEEN 1 AND 2000),
    status        text        NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected', 'changes_requested', 'superseded')),
    supersedes_id uuid        REFERENCES logistics_proposals (id),
    -- The artist side's reason, on a rejection or a request for changes.
    comment       text        CHECK (length(comment) BETWEEN 1 AND 2000),
    decided_by    text,
    decided_at    timestamptz,
    version       integer     NOT NULL DEFAULT 1,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (status NOT IN ('rejected', 'changes_requested') OR comment IS NOT NULL)
);
-- At most one open proposal per booking and section.
CREATE UNIQUE INDEX logistics_proposals_one_open
    ON logistics_proposals (booking_id, section) WHERE status IN ('submitted', 'changes_requested');
CREATE INDEX logistics_proposals_booking_idx ON logistics_proposals (booking_id, id);
CREATE UNIQUE INDEX logistics_proposals_supersedes_uniq
    ON logistics_proposals (supersedes_id) WHERE supersedes_id IS NOT NULL;
