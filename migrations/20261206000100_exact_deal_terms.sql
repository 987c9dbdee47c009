-- Exact deal terms, and one rule for a late deposit.
--
-- 1. A stored deal (`offer_versions.deal`, `bookings.deal`, the only JSON
--    holding a deal: contract versions keep their rendered text and Finance
--    handoffs their sent bytes, neither changes) keeps its percentages as
--    integer basis points: `percentage` becomes `percentage_bp` and
--    `deposit_percent` becomes `deposit_bp` (12.35 -> 1235). The API still
--    takes and shows the decimal (shared/src/domain/booking/deal.rs).
--
--    A value is converted when it is a number from 0 to 100 with at most two
--    decimals. Any other (more decimals, out of range, not a number) is left
--    exactly as it was and recorded in `deal_percentages_unconverted`, and
--    the migration raises a WARNING with the count and a sample. We report
--    rather than round or fail: rounding would silently rewrite agreed
--    terms (an offer version is history), and a failed migration would keep
--    every replica from starting. The application still reads such a row
--    exactly; an operator decides each one (the table says which row, which
--    field, the value and why) and deletes its line when done. The table is
--    kept, not a one-off NOTICE, so the list survives the deploy log.
--
-- 2. "When is a deposit late" is `kisum_deposit_overdue` below, the one
--    definition: the view `deposit_outcomes` (trust and relationship
--    figures), the booking's finance read and the promoter dashboard all
--    call it.

CREATE TABLE deal_percentages_unconverted (
    table_name text        NOT NULL,
    row_id     text        NOT NULL,
    field      text        NOT NULL,
    value      jsonb       NOT NULL,
    reason     text        NOT NULL,
    found_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, row_id, field)
);

-- Why a stored percentage cannot become basis points; NULL when it can
-- (or is absent or JSON null).
CREATE FUNCTION pg_temp.percent_problem(value jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE
                 WHEN value IS NULL OR jsonb_typeof(value) = 'null' THEN NULL
                 WHEN jsonb_typeof(value) <> 'number' THEN 'not a number'
                 WHEN value::text::numeric NOT BETWEEN 0 AND 100 THEN 'out of range 0-100'
                 WHEN value::text::numeric * 100 <> trunc(value::text::numeric * 100)
                     THEN 'more than two decimals'
             END $$;

-- The deal with each convertible percentage moved to its basis-point key
-- and each JSON null percentage dropped; anything else untouched.
CREATE FUNCTION pg_temp.deal_in_bp(deal jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    AS $$
DECLARE
    pair text[];
    value jsonb;
BEGIN
    FOREACH pair SLICE 1 IN ARRAY ARRAY[['percentage', 'percentage_bp'], ['deposit_percent', 'deposit_bp']] LOOP
        value := deal -> pair[1];
        IF value IS NULL OR pg_temp.percent_problem(value) IS NOT NULL THEN
            CONTINUE;
        END IF;
        deal := deal - pair[1];
        IF jsonb_typeof(value) = 'number' THEN
            deal := deal || jsonb_build_object(pair[2], (value::text::numeric * 100)::bigint);
        END IF;
    END LOOP;
    RETURN deal;
END $$;

INSERT INTO deal_percentages_unconverted (table_name, row_id, field, value, reason)
SELECT 'offer_versions', v.offer_id::text || '/' || v.number, 'deal.' || f.key, f.value,
       pg_temp.percent_problem(f.value)
  FROM offer_versions v, jsonb_each(v.deal) f
 WHERE f.key IN ('percentage', 'deposit_percent') AND pg_temp.percent_problem(f.value) IS NOT NULL
UNION ALL
SELECT 'bookings', b.id::text, 'deal.' || f.key, f.value, pg_temp.percent_problem(f.value)
  FROM bookings b, jsonb_each(b.deal) f
 WHERE f.key IN ('percentage', 'deposit_percent') AND pg_temp.percent_problem(f.value) IS NOT NULL;

UPDATE offer_versions SET deal = pg_temp.deal_in_bp(deal)
 WHERE deal ?| ARRAY['percentage', 'deposit_percent'];
UPDATE bookings SET deal = pg_temp.deal_in_bp(deal)
 WHERE deal ?| ARRAY['percentage', 'deposit_percent'];

DO $$
DECLARE
    total bigint;
    sample text;
BEGIN
    SELECT count(*) INTO total FROM deal_percentages_unconverted;
    IF total > 0 THEN
        SELECT string_agg(format('%s %s %s=%s (%s)', table_name, row_id, field, value, reason), '; ')
          INTO sample
          FROM (SELECT * FROM deal_percentages_unconverted ORDER BY table_name, row_id, field LIMIT 20) s;
        RAISE WARNING '% stored deal percentage(s) are not whole basis points from 0 to 100 and were left as they were: %',
            total, sample
            USING HINT = 'SELECT * FROM deal_percentages_unconverted lists them; correct each deal '
                         'with its parties, then delete its line.';
    END IF;
END $$;

DROP FUNCTION pg_temp.deal_in_bp(jsonb);
DROP FUNCTION pg_temp.percent_problem(jsonb);

-- Whether a deposit is late on `on_day`: Finance said it is overdue, or its
-- due date has passed while Finance has reported it neither paid nor
-- refunded, on a booking that was not cancelled (a deposit left unpaid on a
-- cancelled booking is no late payment).
CREATE FUNCTION kisum_deposit_overdue(deposit_status text, due_date date, booking_cancelled boolean,
                                      on_day date) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT COALESCE(deposit_status = 'overdue', false)
              OR (COALESCE(deposit_status, 'not_reported') IN ('not_reported', 'invoiced')
                  AND due_date IS NOT NULL AND due_date < on_day
                  AND booking_cancelled IS NOT TRUE) $$;

-- As before (20261204000200), with its "still unpaid past the due date"
-- test now the shared rule.
CREATE OR REPLACE VIEW deposit_outcomes AS
SELECT f.booking_id,
       CASE WHEN kisum_deposit_overdue(f.deposit_status, f.deposit_due_date, b.status = 'cancelled',
                                       (now() AT TIME ZONE 'UTC')::date)
              OR EXISTS (SELECT 1 FROM finance_events e
                          WHERE e.booking_id = f.booking_id AND e.type = 'deposit.overdue' AND e.applied)
              OR (f.deposit_due_date IS NOT NULL AND f.deposit_status = 'paid'
                  AND (f.deposit_changed_at AT TIME ZONE 'UTC')::date > f.deposit_due_date)
            THEN 'late' ELSE 'on_time' END AS outcome,
       f.deposit_changed_at AS at
  FROM booking_finance f
  JOIN bookings b ON b.id = f.booking_id
 WHERE f.deposit_status IN ('paid', 'overdue')
    OR kisum_deposit_overdue(f.deposit_status, f.deposit_due_date, b.status = 'cancelled',
                             (now() AT TIME ZONE 'UTC')::date);
