-- Running as many API and worker replicas on one database.

-- The per-org request rate, shared by every API replica: one generic cell
-- rate (GCRA) timestamp per org. Losing it in a crash only refills every
-- bucket, so it is not WAL-logged.
CREATE UNLOGGED TABLE rate_limits (
    org_id uuid PRIMARY KEY,
    -- The theoretical arrival time: when the org's bucket is full again.
    tat timestamptz NOT NULL
);

-- Takes one request from `p_org`'s bucket, which refills one request per
-- `p_interval` and holds `p_burst / p_interval` requests. Returns zero when
-- the request may go ahead, else how long until it may. One round trip,
-- and the row lock serialises replicas taking from the same bucket.
CREATE FUNCTION rate_limit_take(p_org uuid, p_interval interval, p_burst interval)
RETURNS interval
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_tat timestamptz;
BEGIN
    INSERT INTO rate_limits AS r (org_id, tat) VALUES (p_org, v_now)
    ON CONFLICT (org_id) DO UPDATE SET tat = r.tat
    RETURNING r.tat INTO v_tat;
    v_tat := greatest(v_tat, v_now) + p_interval;
    IF v_tat - v_now > p_burst THEN
        RETURN v_tat - v_now - p_burst;
    END IF;
    UPDATE rate_limits SET tat = v_tat WHERE org_id = p_org;
    RETURN interval '0';
END
$$;

-- Figures computed by one replica and read by all for a short while (the
-- queue counts behind /metrics), so a scrape of N replicas does not cost N
-- rounds of counting. Recomputable, so not WAL-logged.
CREATE UNLOGGED TABLE ops_snapshots (
    name text PRIMARY KEY,
    taken_at timestamptz NOT NULL,
    body jsonb NOT NULL
);

