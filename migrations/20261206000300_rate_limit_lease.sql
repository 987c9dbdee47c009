-- Each API replica leases a small batch of requests from an org's shared
-- bucket per round trip instead of taking one per request (see
-- shared/src/rate_limit.rs): a read is then one statement, and the org's
-- row is written once per batch, not once per request.
--
-- Takes up to `p_want` requests from `p_org`'s bucket, which refills one
-- request per `p_interval` and holds `p_burst / p_interval` requests.
-- Returns how many it took and, when it took none, how long until one is
-- free. The row lock serialises replicas leasing from the same bucket.
-- `rate_limit_take` stays for replicas of the previous release during a
-- rolling update.
CREATE FUNCTION rate_limit_lease(p_org uuid, p_interval interval, p_burst interval, p_want integer,
                                 OUT granted integer, OUT wait interval)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_tat timestamptz;
    v_room bigint;
BEGIN
    INSERT INTO rate_limits AS r (org_id, tat) VALUES (p_org, v_now)
    ON CONFLICT (org_id) DO UPDATE SET tat = r.tat
    RETURNING r.tat INTO v_tat;
    v_tat := greatest(v_tat, v_now);
    -- Whole requests that fit before the bucket overflows (exact: epoch
    -- of an interval is numeric).
    v_room := floor(extract(epoch FROM p_burst - (v_tat - v_now)) / extract(epoch FROM p_interval));
    granted := least(greatest(v_room, 0), greatest(p_want, 1))::integer;
    IF granted = 0 THEN
        wait := v_tat + p_interval - v_now - p_burst;
        RETURN;
    END IF;
    wait := interval '0';
    UPDATE rate_limits SET tat = v_tat + granted * p_interval WHERE org_id = p_org;
END
$$;
