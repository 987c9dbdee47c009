-- Access (shared::access): the companies each org owns. An approved company
-- claim is what makes an org the owner; every query that asks whether an org
-- owns a company reads this view, so the rule is written once.
CREATE VIEW org_companies AS
    SELECT org_id, company_id FROM artists_company_claims WHERE status = 'approved';
