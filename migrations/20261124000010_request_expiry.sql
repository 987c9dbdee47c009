-- Booking requests expire when nobody answers them: at the request's own
-- `expires_at`, by default 14 days after it was made or the end of the event
-- date, whichever comes first.

ALTER TABLE booking_requests ADD COLUMN expires_at timestamptz;
UPDATE booking_requests
   SET expires_at = least(created_at + interval '14 days', (event_date + 1)::timestamp AT TIME ZONE 'UTC');
ALTER TABLE booking_requests ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX booking_requests_due_idx ON booking_requests (expires_at) WHERE status = 'open';
