-- Rate limit buckets keyed by text instead of an org id, so one mechanism
-- (shared/src/rate_limit.rs) serves both the per-org limit of the tenant
-- routes (`org:<uuid>`) and the per-client-address limit of the
-- unauthenticated routes (`client:<address or IPv6 /64>`).
--
-- `rate_limits` and its functions stay for replicas of the previous
-- release during a rolling update (an org's count starts afresh in the
-- new table, so for that while it may be allowed up to twice its quota);
-- a later release drops them.
CREATE UNLOGGED TABLE rate_limit_buckets (
    bucket text PRIMARY KEY,
    -- The theoretical arrival time: when the bucket is full again.
    tat timestamptz NOT NULL
);

-- As `rate_limit_lease`: takes up to `p_want` requests from `p_bucket`,
-- which refills one request per `p_interval` and holds
-- `p_burst / p_interval` requests; returns how many it took and, when it
-- took none, how long until one is free. The row lock serialises replicas
-- leasing from the same bucket.
CREATE FUNCTION rate_limit_lease_bucket(p_bucket text, p_interval interval, p_burst interval,
                                        p_want integer, OUT granted integer, OUT wait interval)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_tat timestamptz;
    v_room bigint;
BEGIN
    INSERT INTO rate_limit_buckets AS r (bucket, tat) VALUES (p_bucket, v_now)
    ON CONFLICT (bucket) DO UPDATE SET tat = r.tat
    RETURNING r.tat INTO v_tat;
    v_tat := greatest(v_tat, v_now);
    v_room := floor(extract(epoch FROM p_burst - (v_tat - v_now)) / extract(epoch FROM p_interval));
    granted := least(greatest(v_room, 0), greatest(p_want, 1))::integer;
    IF granted = 0 THEN
        wait := v_tat + p_interval - v_now - p_burst;
        RETURN;
    END IF;
    wait := interval '0';
    UPDATE rate_limit_buckets SET tat = v_tat + granted * p_interval WHERE bucket = p_bucket;
END
$$;
