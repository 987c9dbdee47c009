//! Generated worlds for the benchmarks: many artists with genres and home
//! cities, one agency representing all of them, a promoter, availability
//! windows, holds and confirmed bookings.

use sqlx::PgPool;
use uuid::Uuid;

pub const AGENCY: Uuid = Uuid::from_u128(0x0bec_0000_0000_7000_8000_0000_0000_0a01);
pub const PROMOTER: Uuid = Uuid::from_u128(0x0bec_0000_0000_7000_8000_0000_0000_0b01);
/// The org owning the agency.
pub const AGENCY_ORG: Uuid = Uuid::from_u128(0x0bec_0000_0000_7000_8000_0000_0000_0c02);
pub const PROMOTER_ORG: Uuid = Uuid::from_u128(0x0bec_0000_0000_7000_8000_0000_0000_0c01);
pub const ARTIST_BASE: u128 = 0x0bec_0000_0000_7000_8000_0000_0000_0000;

pub async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

/// The world: artists with genres, one agency representing all of them, a
/// promoter, availability windows, holds and bookings.
pub async fn booking_world(pool: &PgPool, artists: i64, windows: i64, holds: i64, bookings: i64) {
    shared::demo::generate_artists(pool, ARTIST_BASE, 0, artists, None)
        .await
        .unwrap();
    exec(pool, &format!(
        "INSERT INTO companies (id, kind, name, claimed) VALUES ('{AGENCY}', 'agency', 'Bench Agency', true), ('{PROMOTER}', 'promoter', 'Bench Promoter', true);
         INSERT INTO artists_company_claims (id, company_id, org_id, status, requested_by)
              VALUES (gen_random_uuid(), '{AGENCY}', '{AGENCY_ORG}', 'approved', 'bench'),
                     (gen_random_uuid(), '{PROMOTER}', '{PROMOTER_ORG}', 'approved', 'bench');
         INSERT INTO roster_links (id, company_id, artist_id, role, worldwide, created_by)
              SELECT gen_random_uuid(), '{AGENCY}', id, 'booking', true, 'bench' FROM artists;"
    )).await;
    // Windows of 3-14 days over the next year, in one of eight countries, 80% published.
    exec(pool, &format!(
        "INSERT INTO availabilities (id, artist_id, company_id, starts_on, ends_on, status, areas, min_fee, currency, published, created_by)
         SELECT gen_random_uuid(), a.id, '{AGENCY}', d, d + (3 + (n * 7 + k) % 12)::int,
                CASE WHEN k % 10 = 9 THEN 'tentative' ELSE 'available' END,
                ARRAY[(ARRAY['NL','DE','GB','FR','ES','US','BE','SE'])[1 + (n + k) % 8]],
                100000 * (1 + (n + k) % 50), 'EUR', (n + k) % 5 <> 0, 'bench'
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM artists) a,
                generate_series(0, {windows} - 1) AS k,
                LATERAL (SELECT current_date + ((a.n * 37 + k * 41) % 350)::int AS d) day"
    )).await;
    // First holds on distinct (artist, date) pairs.
    exec(pool, &format!(
        "INSERT INTO holds (id, artist_id, hold_date, agency_company_id, promoter_company_id, priority, status, expires_at, created_by)
         SELECT gen_random_uuid(), a.id, current_date + (1 + i % 300)::int, '{AGENCY}', '{PROMOTER}', 1, 'active',
                now() + interval '30 days', 'bench'
           FROM generate_series(0, {holds} - 1) AS i
           JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM artists) a ON a.n = (i / 300) % {artists}"
    )).await;
    // Confirmed bookings (with their accepted offers) on other dates.
    exec(pool, &format!(
        "WITH o AS (
           INSERT INTO offers (id, artist_id, promoter_company_id, agency_company_id, event_date, status, written_by_side, expires_at, created_by)
           SELECT gen_random_uuid(), a.id, '{PROMOTER}', '{AGENCY}', current_date + (310 + i % 50)::int, 'accepted', 'promoter',
                  now() + interval '30 days', 'bench'
             FROM generate_series(0, {bookings} - 1) AS i
             JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM artists) a ON a.n = (i / 50) % {artists}
           RETURNING id, artist_id, event_date),
         v AS (INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
               SELECT id, 1, '{{\"type\":\"flat\",\"currency\":\"EUR\",\"guarantee_amount\":100000}}', 'promoter', 'bench' FROM o)
         INSERT INTO bookings (id, offer_id, artist_id, agency_company_id, promoter_company_id, event_date, deal, status, created_by)
         SELECT gen_random_uuid(), id, artist_id, '{AGENCY}', '{PROMOTER}', event_date,
                '{{\"type\":\"flat\",\"currency\":\"EUR\",\"guarantee_amount\":100000}}', 'confirmed', 'bench' FROM o"
    )).await;
    exec(pool, "ANALYZE").await;
}

/// Rebuilds one read model the way the nightly job does: 1,000 keys per
/// transaction until none is left.
pub async fn rebuild_read_model(pool: &PgPool, model: shared::domain::read_models::Model) {
    let mut after = None;
    loop {
        let mut tx = pool.begin().await.unwrap();
        let last = shared::domain::read_models::rebuild_batch(&mut tx, model, after, 1000)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        match last {
            Some(k) => after = Some(k),
            None => break,
        }
    }
}
