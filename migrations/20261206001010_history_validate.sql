-- Checks the existing rows against the bounds added by the previous
-- migration. VALIDATE takes SHARE UPDATE EXCLUSIVE: reads and writes go on
-- during the scan. Once validated, attaching the table as the partition
-- of that range needs no scan of its own.
ALTER TABLE booking_activity VALIDATE CONSTRAINT booking_activity_legacy_range;
ALTER TABLE contract_audit VALIDATE CONSTRAINT contract_audit_legacy_range;
