-- Calendar subscription tokens belong to one user: each member keeps at
-- most one live token per tour and org (a new one replaces only their own),
-- every token expires, and the feed stops opening for a member who left
-- the org (checked at read time, see `touring::subscriptions`).
--
-- The tokens live today were made by one member on behalf of the whole org.
-- They keep working: each belongs to the member who made it (`created_by`
-- has always been recorded) and expires 180 days (the default
-- CALENDAR_TOKEN_TTL_DAYS) after it was made, but not before 30 days from
-- now, so no calendar loses its feed the day this lands.
ALTER TABLE tour_calendar_subscriptions ADD COLUMN expires_at timestamptz;
UPDATE tour_calendar_subscriptions
   SET expires_at = greatest(created_at + interval '180 days', now() + interval '30 days');
ALTER TABLE tour_calendar_subscriptions
    ALTER COLUMN expires_at SET NOT NULL,
    ADD CONSTRAINT tour_calendar_subscriptions_expiry_check CHECK (expires_at > created_at);

DROP INDEX tour_calendar_subscriptions_live_uniq;
CREATE UNIQUE INDEX tour_calendar_subscriptions_live_owner_uniq
    ON tour_calendar_subscriptions (tour_id, org_id, created_by) WHERE revoked_at IS NULL;
-- A member's live tokens in one org, by id (their list).
CREATE INDEX tour_calendar_subscriptions_owner_idx
    ON tour_calendar_subscriptions (org_id, created_by, id) WHERE revoked_at IS NULL;
