-- Hold challenges (SPEC 5.4): a lower hold backed by an accepted offer gives
-- the first hold a response window to confirm or lose its place.
ALTER TABLE holds ADD COLUMN challenge_deadline timestamptz;
ALTER TABLE holds ADD COLUMN challenged_by uuid REFERENCES holds (id);
ALTER TABLE holds ADD CONSTRAINT holds_challenge_consistent
    CHECK ((status = 'challenged') = (challenge_deadline IS NOT NULL) OR status NOT IN ('active', 'challenged'));
CREATE INDEX holds_challenge_due_idx ON holds (challenge_deadline) WHERE status = 'challenged';
