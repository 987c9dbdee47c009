-- Operators may purge a failed, dead or killed job from the dashboard
-- (done jobs go by retention); the purge is audited like a retry.
ALTER TABLE ops_audit DROP CONSTRAINT ops_audit_action_check;
ALTER TABLE ops_audit ADD CONSTRAINT ops_audit_action_check CHECK (action IN ('retry', 'cancel', 'purge'));
