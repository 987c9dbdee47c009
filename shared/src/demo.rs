//! Demo data for local runs (`kisum-api seed-demo`) and the data generator
//! of the benchmarks. Idempotent: records have fixed ids, so seeding twice
//! changes nothing. Each capability adds its part here.

use sqlx::PgPool;
use uuid::Uuid;

/// The demo org that `deploy/dev.sh run` mints a token for; it owns the
/// demo agency "Northern Lights Agency" and a promoter.
pub const DEMO_ORG: Uuid = Uuid::from_u128(0x0193_8000_0000_7000_8000_0000_0000_0001);

/// Demo records have fixed ids: a prefix, a group, an index.
const DEMO_BASE: u128 = 0x0193_8000_0000_7000_8000_0000_0000_0000;

fn demo_id(group: u128, index: usize) -> Uuid {
    Uuid::from_u128(DEMO_BASE + (group << 32) + index as u128)
}

const AGENCY_WORDS: &[&str] = &[
    "Northern Lights",
    "Blue Note",
    "Paper Moon",
    "Red Brick",
    "Silver Line",
    "Harbour",
    "Wildfire",
    "Lighthouse",
    "Night Shift",
    "Golden Hour",
    "Open Sky",
    "Black Cat",
    "Iron Bridge",
    "Velvet",
    "Aurora",
    "Highline",
    "Sunday Best",
    "Eastside",
    "Parallel",
    "Low Tide",
    "Signal",
    "Orbit",
    "Cold Spring",
    "Long Road",
    "Moonrise",
    "Westwind",
    "Cobalt",
    "First Light",
    "Crossroads",
    "Echo",
];
const AGENCY_SUFFIXES: &[&str] = &["Agency", "Artists", "Booking", "Talent", "Touring", "Live"];
const PROMOTER_SUFFIXES: &[&str] = &[
    "Presents",
    "Live",
    "Concerts",
    "Promotions",
    "Events",
    "Nights",
];
const ARTIST_FIRST: &[&str] = &[
    "Amber", "Velvet", "Midnight", "Crystal", "Neon", "Hollow", "Golden", "Electric", "Silent",
    "Wild", "Paper", "Static", "Lunar", "Cosmic", "Rusty", "Scarlet", "Frozen", "Distant",
    "Broken", "Gentle", "Savage", "Bright", "Ivory", "Copper", "Shadow", "Solar", "Crimson",
    "Atlantic", "Nordic", "Tropical",
];
const ARTIST_SECOND: &[&str] = &[
    "Wolves",
    "Harbour",
    "Echoes",
    "Tides",
    "Machines",
    "Gardens",
    "Rivers",
    "Satellites",
    "Orchestra",
    "Collective",
    "Sisters",
    "Brothers",
    "Parade",
    "Ghosts",
    "Lanterns",
    "Horizon",
    "Signals",
    "Mirrors",
    "Foxes",
    "Pilots",
    "Dreamers",
    "Kids",
    "Society",
    "Quartet",
    "Trio",
    "Club",
    "Sound System",
    "Ensemble",
    "Riot",
    "Avenue",
];
const ARTIST_SOLO: &[&str] = &[
    "Lena Varga",
    "Tomas Lindqvist",
    "Amara Okafor",
    "Kenji Sato",
    "Sofia Marquez",
    "Ines Duarte",
    "Marek Nowak",
    "Zara Haddad",
    "Leon Fischer",
    "Nadia Rossi",
    "Oskar Berg",
    "Yara Costa",
    "Femi Adeyemi",
    "Hana Kim",
    "Mateo Ruiz",
    "Elif Demir",
    "Jonas Weber",
    "Priya Nair",
    "Lucas Moreau",
    "Ana Silva",
];

/// Generates `count` artists with believable names, one or two genres
/// each (subgenres of the taxonomy), spread over the countries of the
/// 300 largest cities of the main music markets, created by `company_id`.
/// Ids are `id_base + index`, so a second run adds nothing; `name_offset`
/// shifts the names so separate calls get different ones. Returns rows
/// inserted.
pub async fn generate_artists(
    pool: &PgPool,
    id_base: u128,
    name_offset: i64,
    count: i64,
    company_id: Option<Uuid>,
) -> anyhow::Result<u64> {
    let first: Vec<String> = ARTIST_FIRST.iter().map(|s| (*s).to_owned()).collect();
    let second: Vec<String> = ARTIST_SECOND.iter().map(|s| (*s).to_owned()).collect();
    let solo: Vec<String> = ARTIST_SOLO.iter().map(|s| (*s).to_owned()).collect();
    let base = Uuid::from_u128(id_base);
    let offset = i64::try_from(id_base & 0xffff_ffff_ffff).unwrap_or(0);
    let mut tx = pool.begin().await?;
    // Names: "<first> <second>", a solo name, or "DJ <first>", with a
    // numeral when the combinations run out, so names stay distinct.
    let inserted = sqlx::query!(
        r#"WITH places AS (
               SELECT row_number() OVER (ORDER BY population DESC, id) AS n, id, country_code
                 FROM cities
                WHERE country_code IN ('NL','BE','DE','GB','IE','FR','ES','PT','IT','SE','NO','DK','FI','PL','AT',
                                       'CH','CZ','US','CA','MX','BR','AR','AU','NZ','JP','KR','ZA','NG')
                ORDER BY population DESC, id LIMIT 300
           ), ids AS (
               SELECT $7::bigint + s AS k, $8::bigint + s AS i FROM generate_series(0, $5::bigint - 1) AS s
           ), gen AS (
               SELECT k,
                      CASE WHEN i % 7 = 3 THEN ($4::text[])[1 + (i / 7) % cardinality($4::text[])]
                           WHEN i % 11 = 5 THEN 'DJ ' || ($2::text[])[1 + i % cardinality($2::text[])]
                           ELSE ($2::text[])[1 + i % cardinality($2::text[])] || ' ' ||
                                ($3::text[])[1 + (i / cardinality($2::text[])) % cardinality($3::text[])]
                      END
                      || CASE WHEN i >= cardinality($2::text[]) * cardinality($3::text[])
                              THEN ' ' || (i / (cardinality($2::text[]) * cardinality($3::text[])) + 1)::text
                              ELSE '' END AS name,
                      1 + (i * 7919) % 300 AS place
                 FROM ids
           )
           INSERT INTO artists (id, name, country_code, city_id, created_by_company_id)
           SELECT (substr($1::uuid::text, 1, 24) || lpad(to_hex(g.k), 12, '0'))::uuid,
                  g.name, p.country_code, p.id, $6
             FROM gen g JOIN places p ON p.n = g.place
           ON CONFLICT (id) DO NOTHING"#,
        base,
        &first,
        &second,
        &solo,
        count,
        company_id,
        offset,
        name_offset,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // One or two subgenres each, spread over the whole taxonomy.
    sqlx::query!(
        r#"WITH subs AS (
               SELECT row_number() OVER (ORDER BY position) AS n, id FROM genres WHERE parent_id IS NOT NULL
           ), total AS (SELECT count(*) AS c FROM subs),
           mine AS (
               SELECT a.id AS artist_id, ('x' || substr(a.id::text, 25, 12))::bit(48)::bigint AS i
                 FROM artists a
                WHERE substr(a.id::text, 1, 24) = substr($1::uuid::text, 1, 24)
           )
           INSERT INTO artist_genres (artist_id, genre_id)
           SELECT m.artist_id, s.id
             FROM mine m CROSS JOIN total t JOIN subs s ON s.n = 1 + (m.i * 31) % t.c
           UNION ALL
           SELECT m.artist_id, s.id
             FROM mine m CROSS JOIN total t JOIN subs s ON s.n = 1 + (m.i * 31 + 17) % t.c
            WHERE m.i % 3 = 0
           ON CONFLICT DO NOTHING"#,
        base,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Seeds the demo network: agencies (some claimed, some sleeping),
/// promoters in real cities, a few hundred artists, shortlists.
pub async fn seed(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let cities: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, name, country_code::text FROM cities
          WHERE country_code IN ('NL','BE','DE','GB','FR','ES','SE','DK','NO','IT','US','CA','AU','PT','AT','CH','IE','PL')
          ORDER BY population DESC, id LIMIT 60",
    )
    .fetch_all(&mut *tx)
    .await?;
    if cities.is_empty() {
        anyhow::bail!("reference data is missing: run `kisum-api migrate` first");
    }
    let mut agencies = Vec::new();
    for (i, words) in AGENCY_WORDS.iter().enumerate() {
        let id = demo_id(1, i);
        let (city_id, _, country) = &cities[(i * 7) % cities.len()];
        let name = format!("{words} {}", AGENCY_SUFFIXES[i % AGENCY_SUFFIXES.len()]);
        let claimed = i % 3 != 2;
        insert_company(&mut tx, id, "agency", &name, country, *city_id, claimed).await?;
        if claimed {
            // The first agency belongs to the demo org; others to demo orgs of their own.
            let org = if i == 0 { DEMO_ORG } else { demo_id(2, i) };
            claim(&mut tx, id, org).await?;
        }
        agencies.push(id);
    }
    for (i, (city_id, city, country)) in cities.iter().take(40).enumerate() {
        let id = demo_id(3, i);
        let name = format!("{city} {}", PROMOTER_SUFFIXES[i % PROMOTER_SUFFIXES.len()]);
        insert_company(&mut tx, id, "promoter", &name, country, *city_id, true).await?;
        let org = if i == 0 { DEMO_ORG } else { demo_id(4, i) };
        claim(&mut tx, id, org).await?;
    }
    let shortlists = [
        (
            0x0193_8000_0000_7000_8000_0000_0000_00a1,
            "Summer festival headliners",
            "Main stage, July and August",
        ),
        (
            0x0193_8000_0000_7000_8000_0000_0000_00a2,
            "Club tour openers",
            "Support acts for the autumn club run",
        ),
        (
            0x0193_8000_0000_7000_8000_0000_0000_00a3,
            "New Year's Eve",
            "Late slot, fee ceiling 20k EUR",
        ),
    ];
    for (id, name, description) in shortlists {
        sqlx::query(
            "INSERT INTO shortlists (id, org_id, name, description, created_by)
             VALUES ($1, $2, $3, $4, 'demo') ON CONFLICT DO NOTHING",
        )
        .bind(Uuid::from_u128(id))
        .bind(DEMO_ORG)
        .bind(name)
        .bind(description)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    // A roster per agency: twelve artists each.
    for (i, agency) in agencies.iter().enumerate() {
        let base = demo_id(8, 0).as_u128() + ((i as u128) << 20);
        generate_artists(pool, base, i as i64 * 12, 12, Some(*agency)).await?;
    }
    Ok(())
}

async fn insert_company(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    kind: &str,
    name: &str,
    country: &str,
    city_id: i64,
    claimed: bool,
) -> anyhow::Result<()> {
    let slug = crate::text::slugify(name);
    sqlx::query(
        "INSERT INTO companies (id, kind, name, country_code, city_id, website, email, claimed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(name)
    .bind(country)
    .bind(city_id)
    .bind(format!("https://{slug}.example"))
    .bind(format!("booking@{slug}.example"))
    .bind(claimed)
    .execute(conn)
    .await?;
    Ok(())
}

async fn claim(
    conn: &mut sqlx::PgConnection,
    company_id: Uuid,
    org_id: Uuid,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO artists_company_claims (id, company_id, org_id, status, requested_by, decided_at, decided_by)
         SELECT $1, $2, $3, 'approved', 'demo', now(), 'demo'
          WHERE NOT EXISTS (SELECT 1 FROM artists_company_claims WHERE company_id = $2 AND status = 'approved')",
    )
    .bind(Uuid::from_u128(company_id.as_u128() + (1 << 40)))
    .bind(company_id)
    .bind(org_id)
    .execute(conn)
    .await?;
    Ok(())
}
