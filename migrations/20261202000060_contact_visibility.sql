-- Access (shared::access): who may see a contact. A person is visible to
-- the org that owns its company, and to every org when its visibility is
-- `network`. Every query that lists or reads people (directly, through a
-- provider reference or an artist's team) asks this one function; it is a
-- plain SQL expression, so the planner inlines it.
CREATE FUNCTION kisum_person_visible(visibility text, company_id uuid, org_id uuid) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT visibility = 'network'
              OR EXISTS (SELECT 1 FROM org_companies oc WHERE oc.company_id = $2 AND oc.org_id = $3) $$;
