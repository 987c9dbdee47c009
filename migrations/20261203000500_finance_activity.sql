-- What Finance reports on a booking joins its activity trail: subject
-- 'finance', keyed by the booking, one row per applied event.
ALTER TABLE booking_activity
    DROP CONSTRAINT booking_activity_subject_type_check,
    ADD CONSTRAINT booking_activity_subject_type_check
        CHECK (subject_type IN ('request', 'offer', 'hold', 'booking', 'contract', 'proposal', 'finance'));
