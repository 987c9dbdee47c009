//! Demo data for local runs (`kisum-api seed-demo`, run by `deploy/dev.sh
//! run`) and the data generator of the benchmarks ([`generate_artists`]).
//!
//! The demo is built through the same domain functions the API handlers
//! call, in one transaction, so every record, claim, activity row and job is
//! what production would have made. It tells one story:
//!
//! - [`DEMO_ORG`] owns the agency "Northern Lights Agency" (through an
//!   approved creation request), four artists on its roster with profiles
//!   and published availability windows;
//! - [`DEMO_PROMOTER_ORG`] owns a promoter company and a venue;
//! - an open inquiry from the promoter; an offer the agency quoted and the
//!   promoter countered; two holds (priorities 1 and 2) on one date; and a
//!   booking confirmed from request, offer, acceptance and hold, with its
//!   performance agreement (from the agency's copy of the starter
//!   template) signed by the promoter and awaiting the agency's
//!   countersignature;
//! - that artist's tour around the booking: a rehearsal at home, the show
//!   (with its day's itinerary) and a day off; and the promoter's hotel
//!   proposal for the show, awaiting the agency;
//! - a queue canary that fails every attempt, so a running worker turns it
//!   into a dead job on `/ops` within seconds.
//!
//! Around it, a network to search: more agencies (some claimed, some
//! sleeping), promoters in real cities, a few hundred artists, shortlists.
//! Dates are relative to today. Domain functions make their own ids, so a
//! second run finds what the first made by natural key (an org's agency,
//! a company's name within its org, an artist's name on its agency's roster,
//! a scene's artist having its request, offer, hold or booking already, the
//! canary's requester, an import's provider reference) and changes nothing.

use chrono::{Duration, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::access::Party;
use crate::domain::booking::availability::{self, AvailabilityIn, AvailabilityStatus};
use crate::domain::booking::bookings::BookingIn;
use crate::domain::booking::deal::{Deal, DealType, PercentageBasis};
use crate::domain::booking::holds::{self, HoldIn};
use crate::domain::booking::offers::{self, CounterIn, OfferEvent, OfferIn, Venue};
use crate::domain::booking::requests::{self, BookingRequestIn};
use crate::domain::claims::provisioning::{self, AgencySpec, AgencyState, CreationIn};
use crate::domain::claims::representation::{self, RepresentationRole, RosterLinkIn};
use crate::domain::claims::territory::TerritoryIn;
use crate::domain::contracts::contracts::{self, CONSENT_STATEMENT, ContractIn, SignerIn};
use crate::domain::contracts::library::{self, ContractTemplateIn};
use crate::domain::contracts::seal::SealKey;
use crate::domain::contracts::signing::{self, SignContext, SignIn};
use crate::domain::directory::artists::{self, ArtistIn, Link, ProfileIn};
use crate::domain::directory::companies::{self, CompanyImport, CompanyIn, CompanyKind};
use crate::domain::directory::provider_refs::ProviderRefIn;
use crate::domain::logistics::proposals::{self, LogisticsProposalIn, LogisticsSection};
use crate::domain::shortlists::{self, ShortlistIn};
use crate::domain::touring::itinerary::{self, ItemVisibility, ItineraryItemIn, ItineraryKind};
use crate::domain::touring::stops::{self, StopKind, TourStopIn};
use crate::domain::touring::tours::{self, TourIn, TravelMode};
use crate::jobs::{Job, QueueCanary};
use crate::ops::canary::{self, CanaryIn};
use crate::pagination::PageRequest;

/// The demo agency's org: `deploy/dev.sh run` mints a token for it. It owns
/// "Northern Lights Agency".
pub const DEMO_ORG: Uuid = Uuid::from_u128(0x0193_8000_0000_7000_8000_0000_0000_0001);

/// The demo promoter's org, the agency's counterpart in every deal of the
/// story; `deploy/dev.sh run` mints a token for it too.
pub const DEMO_PROMOTER_ORG: Uuid = Uuid::from_u128(0x0193_8000_0000_7000_8000_0000_0000_0002);

/// The demo agency's name.
pub const DEMO_AGENCY: &str = "Northern Lights Agency";

/// Who acts in the demo's records (activity, claims, audit).
const AGENT: &str = "demo-agent";
const PROMOTER: &str = "demo-promoter";
const OPERATOR: &str = "demo-operator";

/// Orgs of the network around the story have fixed ids: a prefix, a
/// group, an index.
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

/// The story's records, for the guide `deploy/dev.sh run` prints.
#[derive(Clone, Debug)]
pub struct Story {
    pub agency_company_id: Uuid,
    pub promoter_company_id: Uuid,
    /// The open inquiry.
    pub inquiry_id: Uuid,
    /// The offer the agency quoted and the promoter countered.
    pub countered_offer_id: Uuid,
    /// The artist and date with holds 1 and 2.
    pub held_artist_id: Uuid,
    pub hold_date: NaiveDate,
    /// The confirmed booking.
    pub booking_id: Uuid,
    /// Its contract, signed by the promoter, awaiting the agency.
    pub contract_id: Uuid,
    /// The booked artist's tour around the booking.
    pub tour_id: Uuid,
    /// The canary whose job ends dead.
    pub canary_id: Uuid,
}

impl Story {
    /// `NAME=value` lines, for a shell to pick up.
    pub fn env_lines(&self) -> String {
        format!(
            "DEMO_ORG={DEMO_ORG}\nDEMO_PROMOTER_ORG={DEMO_PROMOTER_ORG}\nDEMO_AGENCY_COMPANY={}\n\
             DEMO_PROMOTER_COMPANY={}\nDEMO_INQUIRY={}\nDEMO_OFFER={}\nDEMO_HOLD_ARTIST={}\n\
             DEMO_HOLD_DATE={}\nDEMO_BOOKING={}\nDEMO_CONTRACT={}\nDEMO_TOUR={}\nDEMO_CANARY={}\n",
            self.agency_company_id,
            self.promoter_company_id,
            self.inquiry_id,
            self.countered_offer_id,
            self.held_artist_id,
            self.hold_date,
            self.booking_id,
            self.contract_id,
            self.tour_id,
            self.canary_id,
        )
    }
}

/// An artist of the demo agency's roster.
struct RosterArtist {
    name: &'static str,
    country: &'static str,
    genres: &'static [&'static str],
    bio: &'static str,
    /// Fee range in euro cents.
    fees: (i64, i64),
}

const ROSTER: [RosterArtist; 4] = [
    RosterArtist {
        name: "Marit Holm",
        country: "NO",
        genres: &["singer-songwriter", "nordic-folk"],
        bio: "Songs from a fishing village north of Bodø, played with a string trio.",
        fees: (400_000, 900_000),
    },
    RosterArtist {
        name: "The Neon Choir",
        country: "GB",
        genres: &["indie-rock", "indie-pop"],
        bio: "Seven-piece indie band from Leeds with a brass section and a choir of friends.",
        fees: (1_200_000, 2_500_000),
    },
    RosterArtist {
        name: "Oslo Drift",
        country: "NO",
        genres: &["melodic-techno"],
        bio: "Live techno duo: modular synths, a drummer, four-hour sets.",
        fees: (800_000, 1_600_000),
    },
    RosterArtist {
        name: "Kaia and the Tides",
        country: "NL",
        genres: &["indie-folk"],
        bio: "Rotterdam folk band; harmonies, banjo and a sold-out club tour behind them.",
        fees: (600_000, 1_200_000),
    },
];

/// Countries the demo roster tours.
const TERRITORY: [&str; 7] = ["NL", "BE", "DE", "GB", "NO", "SE", "DK"];

/// Seeds the demo: the network to search, then the story (see the module
/// documentation), in one transaction.
pub async fn seed(pool: &PgPool) -> anyhow::Result<Story> {
    let mut tx = pool.begin().await?;
    // Seeders queue: a second one then finds everything the first made.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('kisum-demo-seed', 0))")
        .execute(&mut *tx)
        .await?;
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
    let genres: Vec<String> = sqlx::query_scalar(
        "SELECT slug FROM genres WHERE parent_id IS NOT NULL ORDER BY position, id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let promoters = network(&mut tx, &cities, &genres).await?;
    let rival = promoters
        .get(1)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("the network has too few promoters"))?;
    let story = story(&mut tx, &cities, rival).await?;
    tx.commit().await?;
    Ok(story)
}

/// Agencies (two in three claimed through provisioning, each with twelve
/// artists on its roster; the rest sleeping imports), promoters in real
/// cities and the demo promoter's shortlists. Returns the promoter
/// companies.
async fn network(
    conn: &mut PgConnection,
    cities: &[(i64, String, String)],
    genres: &[String],
) -> anyhow::Result<Vec<Uuid>> {
    for (i, words) in AGENCY_WORDS.iter().enumerate().skip(1) {
        let (city_id, _, country) = &cities[(i * 7) % cities.len()];
        let name = format!("{words} {}", AGENCY_SUFFIXES[i % AGENCY_SUFFIXES.len()]);
        if i % 3 == 2 {
            companies::import(
                conn,
                CompanyImport {
                    company: company_in(CompanyKind::Agency, &name, country, *city_id),
                    provider_reference: Some(ProviderRefIn {
                        provider: "kisum_demo".into(),
                        external_id: format!("agency-{i}"),
                    }),
                },
            )
            .await?;
            continue;
        }
        let org = demo_id(2, i);
        let agency = agency_of(conn, org, agency_spec(&name, country, *city_id, None)).await?;
        let existing = roster_names(conn, agency).await?;
        for k in i * 12..(i + 1) * 12 {
            let name = artist_name(k);
            if existing.contains(&name) {
                continue;
            }
            let (city_id, _, country) = &cities[(k * 7919) % cities.len()];
            let mut slugs = vec![genres[(k * 31) % genres.len()].clone()];
            if k % 3 == 0 {
                slugs.push(genres[(k * 31 + 17) % genres.len()].clone());
            }
            let artist = artists::create(
                conn,
                org,
                ArtistIn {
                    name,
                    country: Some(country.clone()),
                    city_id: Some(*city_id),
                    genres: slugs,
                    company_id: Some(agency),
                },
            )
            .await?;
            book_worldwide(conn, org, agency, artist.id).await?;
        }
    }
    let mut promoters = Vec::new();
    for (i, (city_id, city, country)) in cities.iter().take(40).enumerate() {
        let name = format!("{city} {}", PROMOTER_SUFFIXES[i % PROMOTER_SUFFIXES.len()]);
        let input = company_in(CompanyKind::Promoter, &name, country, *city_id);
        promoters.push(owned_company(conn, demo_id(4, i), input).await?);
    }
    let page = PageRequest {
        limit: 200,
        after: None,
    };
    let existing = shortlists::list(conn, DEMO_PROMOTER_ORG, &page)
        .await?
        .items;
    for (name, description) in [
        ("Summer festival headliners", "Main stage, July and August"),
        ("Club tour openers", "Support acts for the autumn club run"),
        ("New Year's Eve", "Late slot, fee ceiling 20k EUR"),
    ] {
        if existing.iter().any(|s| s.name == name) {
            continue;
        }
        let input = ShortlistIn {
            name: name.into(),
            description: Some(description.into()),
        };
        shortlists::create(conn, DEMO_PROMOTER_ORG, PROMOTER, input).await?;
    }
    Ok(promoters)
}

/// The story: the demo agency and its roster, the demo promoter and its
/// venue, then one scene per roster artist and the dead canary.
async fn story(
    conn: &mut PgConnection,
    cities: &[(i64, String, String)],
    rival: Uuid,
) -> anyhow::Result<Story> {
    let today = Utc::now().date_naive();
    let (home_city, _, home_country) = city_in(cities, "NL");
    let agency = agency_of(
        conn,
        DEMO_ORG,
        agency_spec(
            DEMO_AGENCY,
            home_country,
            *home_city,
            Some(
                "Books Nordic and Dutch songwriters, bands and live electronic acts across Europe.",
            ),
        ),
    )
    .await?;
    let (city_id, city, country) = city_in(cities, "GB");
    let promoter = owned_company(
        conn,
        DEMO_PROMOTER_ORG,
        company_in(
            CompanyKind::Promoter,
            &format!("Riverside Presents {city}"),
            country,
            *city_id,
        ),
    )
    .await?;
    owned_company(
        conn,
        DEMO_PROMOTER_ORG,
        company_in(CompanyKind::Venue, "Riverside Hall", country, *city_id),
    )
    .await?;
    let venue = Venue {
        name: Some("Riverside Hall".into()),
        city_id: Some(*city_id),
        capacity: Some(1800),
    };
    let mut roster = Vec::new();
    let existing = representation::links(conn, Some(agency), None).await?;
    for artist in &ROSTER {
        let id = match existing.iter().find(|l| l.artist_name == artist.name) {
            Some(link) => link.artist_id,
            None => {
                let created = artists::create(
                    conn,
                    DEMO_ORG,
                    ArtistIn {
                        name: artist.name.into(),
                        country: Some(artist.country.into()),
                        city_id: None,
                        genres: artist.genres.iter().map(|g| (*g).to_owned()).collect(),
                        company_id: Some(agency),
                    },
                )
                .await?;
                book_worldwide(conn, DEMO_ORG, agency, created.id).await?;
                created.id
            }
        };
        profile_and_windows(conn, id, artist, today).await?;
        roster.push(id);
    }
    let scene = Scene {
        promoter,
        venue,
        today,
    };
    let booking_id = scene.booking(conn, roster[3]).await?;
    Ok(Story {
        agency_company_id: agency,
        promoter_company_id: promoter,
        inquiry_id: scene.inquiry(conn, roster[0]).await?,
        countered_offer_id: scene.countered_offer(conn, roster[1]).await?,
        held_artist_id: roster[2],
        hold_date: scene.two_holds(conn, roster[2], rival).await?,
        booking_id,
        contract_id: contract(conn, agency, booking_id).await?,
        tour_id: tour(conn, agency, roster[3], booking_id, cities).await?,
        canary_id: dead_canary(conn).await?,
    })
}

/// A profile (once) and a published availability window (when the artist
/// has none ahead), covering every date of the story.
async fn profile_and_windows(
    conn: &mut PgConnection,
    artist_id: Uuid,
    artist: &RosterArtist,
    today: NaiveDate,
) -> anyhow::Result<()> {
    if artists::profile(conn, artist_id).await?.version == 0 {
        let slug = crate::text::slugify(artist.name);
        let profile = ProfileIn {
            bio: Some(artist.bio.into()),
            links: vec![Link {
                label: "Website".into(),
                url: format!("https://{slug}.example"),
            }],
            photos: Vec::new(),
            fee_min: Some(artist.fees.0),
            fee_max: Some(artist.fees.1),
            fee_currency: Some("EUR".into()),
            territories: TERRITORY.iter().map(|c| (*c).to_owned()).collect(),
            draw_by_market: Vec::new(),
        };
        artists::put_profile(conn, DEMO_ORG, artist_id, profile, None).await?;
    }
    let ahead = availability::of_artist(
        conn,
        DEMO_ORG,
        artist_id,
        today,
        today + Duration::days(365),
    )
    .await?;
    if ahead.is_empty() {
        let window = AvailabilityIn {
            starts_on: today + Duration::days(7),
            ends_on: today + Duration::days(120),
            status: AvailabilityStatus::Available,
            territory: TerritoryIn {
                countries: TERRITORY.iter().map(|c| (*c).to_owned()).collect(),
                ..TerritoryIn::default()
            },
            min_fee: Some(artist.fees.0),
            currency: Some("EUR".into()),
            published: true,
            notes: Some("Club and festival season".into()),
        };
        availability::create(conn, DEMO_ORG, AGENT, artist_id, window).await?;
    }
    Ok(())
}

/// The deals of the story, between the demo agency and the demo promoter.
/// Each scene has its own artist; an artist that already has the scene's
/// record has had the scene.
struct Scene {
    promoter: Uuid,
    venue: Venue,
    today: NaiveDate,
}

impl Scene {
    fn request(
        &self,
        artist_id: Uuid,
        days: i64,
        message: &str,
        wants_hold: bool,
    ) -> BookingRequestIn {
        BookingRequestIn {
            artist_id,
            promoter_company_id: self.promoter,
            event_date: self.today + Duration::days(days),
            venue: self.venue.clone(),
            message: Some(message.into()),
            wants_hold,
            expires_at: None,
        }
    }

    fn offer(
        &self,
        request: &requests::BookingRequest,
        deal: Deal,
        expires_in_days: i64,
    ) -> OfferIn {
        OfferIn {
            artist_id: request.artist_id,
            promoter_company_id: self.promoter,
            booking_request_id: Some(request.id),
            event_date: request.event_date,
            venue: self.venue.clone(),
            deal,
            expires_at: Utc::now() + Duration::days(expires_in_days),
            allow_same_day: false,
            send: true,
        }
    }

    /// An open inquiry from the promoter.
    async fn inquiry(&self, conn: &mut PgConnection, artist_id: Uuid) -> anyhow::Result<Uuid> {
        if let Some(id) = first(
            conn,
            "SELECT id FROM booking_requests WHERE artist_id = $1 ORDER BY id LIMIT 1",
            artist_id,
        )
        .await?
        {
            return Ok(id);
        }
        let input = self.request(
            artist_id,
            40,
            "Seated show at Riverside Hall, 75 minutes, strings welcome. Could you hold the date?",
            true,
        );
        Ok(requests::create(conn, DEMO_PROMOTER_ORG, PROMOTER, input)
            .await?
            .id)
    }

    /// The promoter asks, the agency quotes (version 1), the promoter
    /// counters (version 2): the offer waits for the agency.
    async fn countered_offer(
        &self,
        conn: &mut PgConnection,
        artist_id: Uuid,
    ) -> anyhow::Result<Uuid> {
        if let Some(id) = first(
            conn,
            "SELECT id FROM offers WHERE artist_id = $1 ORDER BY id LIMIT 1",
            artist_id,
        )
        .await?
        {
            return Ok(id);
        }
        let input = self.request(
            artist_id,
            55,
            "Headline slot for our spring weekender.",
            false,
        );
        let request = requests::create(conn, DEMO_PROMOTER_ORG, PROMOTER, input).await?;
        let quote = flat(1_800_000, request.event_date);
        let offer = offers::create(conn, DEMO_ORG, AGENT, self.offer(&request, quote, 10)).await?;
        let counter = CounterIn {
            deal: Deal {
                kind: DealType::Versus,
                guarantee_amount: Some(1_200_000),
                percentage: Some(crate::money::Percent::from_bp(8000)),
                percentage_basis: Some(PercentageBasis::Net),
                ..flat(1_200_000, request.event_date)
            },
            note: Some("We can do 12k versus 80% of net: the hall holds 1,800.".into()),
            expires_at: None,
        };
        let offer =
            offers::counter(conn, DEMO_PROMOTER_ORG, PROMOTER, offer.id, counter, None).await?;
        Ok(offer.id)
    }

    /// Two holds on one date: the first for another promoter, the second
    /// for the demo promoter, which moves up if the first is released.
    async fn two_holds(
        &self,
        conn: &mut PgConnection,
        artist_id: Uuid,
        rival: Uuid,
    ) -> anyhow::Result<NaiveDate> {
        let held: Option<NaiveDate> = sqlx::query_scalar(
            "SELECT hold_date FROM holds WHERE artist_id = $1 ORDER BY id LIMIT 1",
        )
        .bind(artist_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(date) = held {
            return Ok(date);
        }
        let date = self.today + Duration::days(70);
        let expires_at = Utc::now() + Duration::days(14);
        for (promoter, note) in [
            (
                rival,
                "Festival slot; they confirm once their line-up is set.",
            ),
            (
                self.promoter,
                "Riverside Hall; second in line for the date.",
            ),
        ] {
            let hold = HoldIn {
                artist_id,
                date,
                promoter_company_id: promoter,
                offer_id: None,
                expires_at,
                note: Some(note.into()),
            };
            holds::place(conn, DEMO_ORG, AGENT, hold).await?;
        }
        Ok(date)
    }

    /// Request, offer, acceptance, hold, booking: the whole trail.
    async fn booking(&self, conn: &mut PgConnection, artist_id: Uuid) -> anyhow::Result<Uuid> {
        if let Some(id) = first(
            conn,
            "SELECT id FROM bookings WHERE artist_id = $1 ORDER BY id LIMIT 1",
            artist_id,
        )
        .await?
        {
            return Ok(id);
        }
        let input = self.request(
            artist_id,
            30,
            "Friday night at Riverside Hall, doors at eight.",
            true,
        );
        let request = requests::create(conn, DEMO_PROMOTER_ORG, PROMOTER, input).await?;
        let offer = offers::create(
            conn,
            DEMO_ORG,
            AGENT,
            self.offer(&request, flat(900_000, request.event_date), 7),
        )
        .await?;
        offers::act(
            conn,
            DEMO_PROMOTER_ORG,
            PROMOTER,
            offer.id,
            OfferEvent::Accept,
            None,
        )
        .await?;
        let hold = HoldIn {
            artist_id,
            date: request.event_date,
            promoter_company_id: self.promoter,
            offer_id: Some(offer.id),
            expires_at: Utc::now() + Duration::days(7),
            note: Some("Accepted; contract on its way.".into()),
        };
        holds::place(conn, DEMO_ORG, AGENT, hold).await?;
        let booking = crate::domain::consequences::confirm_booking(
            conn,
            DEMO_ORG,
            AGENT,
            BookingIn { offer_id: offer.id },
        )
        .await?;
        Ok(booking.id)
    }
}

/// The booking's performance agreement: the agency copies the starter
/// template, makes the contract, sends it, and the promoter signs; the
/// agency's countersignature is left to do (which seals it).
async fn contract(conn: &mut PgConnection, agency: Uuid, booking_id: Uuid) -> anyhow::Result<Uuid> {
    if let Some(id) = first(
        conn,
        "SELECT id FROM contracts WHERE booking_id = $1 ORDER BY id LIMIT 1",
        booking_id,
    )
    .await?
    {
        return Ok(id);
    }
    let template = library::create(
        conn,
        DEMO_ORG,
        AGENT,
        agency,
        ContractTemplateIn {
            name: "Performance agreement".into(),
            description: Some("Our standard agreement, from the starter.".into()),
            body: None,
            starter: Some("performance_agreement".into()),
        },
    )
    .await?;
    let signer = |name: &str, email: &str, party: Party| SignerIn {
        name: name.into(),
        email: email.into(),
        party,
        order: None,
    };
    let created = contracts::create(
        conn,
        DEMO_ORG,
        AGENT,
        booking_id,
        ContractIn {
            template_id: template.id,
            title: None,
            expires_at: Some(Utc::now() + Duration::days(21)),
            signers: vec![
                signer("Rosa Riverside", "rosa@riverside.example", Party::Promoter),
                signer(
                    "Nils Northern",
                    "nils@northernlights.example",
                    Party::Agency,
                ),
            ],
        },
    )
    .await?;
    let sent = contracts::send(conn, DEMO_ORG, AGENT, created.id, None).await?;
    crate::jobs::ContractReminder::enqueue_for(conn, sent.id, None).await?;
    if let Some(at) = sent.expires_at {
        crate::jobs::ContractReminder::enqueue_for(conn, sent.id, Some(at)).await?;
    }
    let promoter_signer = sent
        .signers
        .iter()
        .find(|s| s.party == Party::Promoter)
        .map(|s| s.id)
        .ok_or_else(|| anyhow::anyhow!("the contract has a promoter signer"))?;
    // Only the last signature seals, so this key is never used.
    let unused = SealKey::parse(&SealKey::generate()).map_err(anyhow::Error::msg)?;
    signing::sign(
        conn,
        SignContext {
            org_id: DEMO_PROMOTER_ORG,
            user_id: PROMOTER,
            ip: None,
            user_agent: Some("kisum-api seed-demo".into()),
        },
        sent.id,
        promoter_signer,
        SignIn {
            typed_name: "Rosa Riverside".into(),
            consent_statement: CONSENT_STATEMENT.into(),
            content_sha256: sent.content_sha256.clone(),
        },
        None,
        &unused,
    )
    .await?;
    Ok(sent.id)
}

/// The booked artist's tour: a rehearsal at home two days before, the
/// show, and a day off after it.
async fn tour(
    conn: &mut PgConnection,
    agency: Uuid,
    artist_id: Uuid,
    booking_id: Uuid,
    cities: &[(i64, String, String)],
) -> anyhow::Result<Uuid> {
    if let Some(id) = first(
        conn,
        "SELECT tour_id FROM tour_stops WHERE booking_id = $1 ORDER BY tour_id LIMIT 1",
        booking_id,
    )
    .await?
    {
        return Ok(id);
    }
    let created = tours::create(
        conn,
        DEMO_ORG,
        AGENT,
        TourIn {
            artist_id,
            company_id: agency,
            name: "Autumn club run".into(),
            travel_mode: Some(TravelMode::Van),
            notes: Some("Van from Rotterdam; ferry to Harwich the day before.".into()),
        },
    )
    .await?;
    let show = stops::add(
        conn,
        DEMO_ORG,
        AGENT,
        created.id,
        TourStopIn {
            kind: StopKind::Show,
            booking_id: Some(booking_id),
            date: None,
            city_id: None,
            title: None,
            notes: None,
            position: None,
        },
    )
    .await?;
    let (home, _, _) = city_in(cities, "NL");
    for (kind, days, city, title) in [
        (StopKind::Rehearsal, -2, *home, "Full run-through"),
        (StopKind::DayOff, 1, show.city.id, "Day off"),
    ] {
        stops::add(
            conn,
            DEMO_ORG,
            AGENT,
            created.id,
            TourStopIn {
                kind,
                booking_id: None,
                date: Some(show.date + Duration::days(days)),
                city_id: Some(city),
                title: Some(title.into()),
                notes: None,
                position: None,
            },
        )
        .await?;
    }
    // The show day: shared times with the promoter, the hotel the artist
    // side's own; the set ends after midnight and still belongs to the day.
    let day = show.date;
    let next = day + Duration::days(1);
    for (kind, title, starts, ends, shared) in [
        (
            ItineraryKind::LoadIn,
            "Load-in, dock B",
            format!("{day}T15:00"),
            None,
            true,
        ),
        (
            ItineraryKind::Soundcheck,
            "Soundcheck",
            format!("{day}T17:00"),
            Some(format!("{day}T18:00")),
            true,
        ),
        (
            ItineraryKind::Doors,
            "Doors",
            format!("{day}T20:00"),
            None,
            true,
        ),
        (
            ItineraryKind::Set,
            "Kaia and the Tides",
            format!("{day}T22:30"),
            Some(format!("{next}T00:15")),
            true,
        ),
        (
            ItineraryKind::Hotel,
            "Check in, Riverside Inn",
            format!("{day}T13:00"),
            None,
            false,
        ),
    ] {
        itinerary::create(
            conn,
            DEMO_ORG,
            AGENT,
            created.id,
            ItineraryItemIn {
                kind,
                title: title.into(),
                starts_at_local: Some(starts),
                ends_at_local: ends,
                timezone: None,
                end_timezone: None,
                precision: None,
                day: None,
                location: None,
                notes: None,
                visibility: Some(if shared {
                    ItemVisibility::Shared
                } else {
                    ItemVisibility::ArtistSide
                }),
            },
        )
        .await?;
    }
    // The promoter proposes the hotel; the agency has yet to answer.
    proposals::submit(
        conn,
        DEMO_PROMOTER_ORG,
        PROMOTER,
        booking_id,
        LogisticsProposalIn {
            section: LogisticsSection::Hotel,
            content: serde_json::json!({
                "name": "Riverside Inn",
                "check_in": day,
                "check_out": next,
                "rooms": [{"room_type": "double", "count": 3}],
            }),
            note: Some("Five minutes' walk from the hall.".into()),
        },
    )
    .await?;
    Ok(created.id)
}

/// A canary whose job fails every attempt: with the worker running it is a
/// dead job on `/ops` within seconds, ready to be retried from there.
async fn dead_canary(conn: &mut PgConnection) -> anyhow::Result<Uuid> {
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM queue_canaries WHERE requested_by = $1 ORDER BY id LIMIT 1",
    )
    .bind(OPERATOR)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let input = CanaryIn {
        work_ms: 0,
        fail_attempts: i32::try_from(QueueCanary::MAX_ATTEMPTS).unwrap_or(i32::MAX),
    };
    Ok(canary::request(conn, OPERATOR, &input).await?.id)
}

/// A flat fee in euro cents, half of it as a deposit two weeks before.
fn flat(guarantee: i64, event_date: NaiveDate) -> Deal {
    Deal {
        kind: DealType::Flat,
        currency: "EUR".into(),
        guarantee_amount: Some(guarantee),
        percentage: None,
        percentage_basis: None,
        bonuses: Vec::new(),
        deposit_percent: Some(crate::money::Percent::from_bp(5000)),
        deposit_due_date: Some(event_date - Duration::days(14)),
        ticket_price: Some(3_500),
        capacity: Some(1_800),
        set_length_minutes: Some(75),
        radius: None,
        hospitality: Some("Dinner for the band and crew, rider as attached".into()),
        travel: None,
        accommodation: Some("Two nights, four rooms".into()),
    }
}

/// The id `sql` (one `$1` parameter) finds, if any.
async fn first(
    conn: &mut PgConnection,
    sql: &'static str,
    key: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    Ok(sqlx::query_scalar(sql)
        .bind(key)
        .fetch_optional(conn)
        .await?)
}

/// The first city of `country` in the list, or the largest.
fn city_in<'a>(cities: &'a [(i64, String, String)], country: &str) -> &'a (i64, String, String) {
    cities.iter().find(|c| c.2 == country).unwrap_or(&cities[0])
}

fn company_in(kind: CompanyKind, name: &str, country: &str, city_id: i64) -> CompanyIn {
    let slug = crate::text::slugify(name);
    CompanyIn {
        kind,
        name: name.into(),
        country: Some(country.into()),
        city_id: Some(city_id),
        website: Some(format!("https://{slug}.example")),
        email: Some(format!("booking@{slug}.example")),
        phone: None,
        description: None,
    }
}

fn agency_spec(name: &str, country: &str, city_id: i64, description: Option<&str>) -> AgencySpec {
    let c = company_in(CompanyKind::Agency, name, country, city_id);
    AgencySpec {
        name: c.name,
        country: c.country,
        city_id: c.city_id,
        website: c.website,
        email: c.email,
        phone: None,
        description: description.map(str::to_owned),
    }
}

/// The org's agency: the one it owns, or one provisioned the way operators
/// do it (a creation request, approved).
async fn agency_of(conn: &mut PgConnection, org: Uuid, spec: AgencySpec) -> anyhow::Result<Uuid> {
    let mine = provisioning::my_agency(conn, org).await?;
    if let (AgencyState::Agency, Some(company)) = (mine.state, &mine.company) {
        return Ok(company.id);
    }
    let request = match mine.request {
        Some(pending) => pending.id,
        None => {
            let input = CreationIn {
                spec,
                message: Some("Demo agency".into()),
            };
            provisioning::request_creation(conn, org, AGENT, input)
                .await?
                .id
        }
    };
    provisioning::approve(conn, request, OPERATOR)
        .await?
        .company_id
        .ok_or_else(|| anyhow::anyhow!("an approved provisioning request names no agency"))
}

/// The org's company of that kind and name, created as the API creates it
/// (owned at once through an approved claim) when missing.
async fn owned_company(
    conn: &mut PgConnection,
    org: Uuid,
    input: CompanyIn,
) -> anyhow::Result<Uuid> {
    let owned = companies::owned_by(conn, org).await?;
    if let Some(company) = owned
        .iter()
        .find(|c| c.kind == input.kind && c.name == input.name)
    {
        return Ok(company.id);
    }
    let actor = if org == DEMO_PROMOTER_ORG {
        PROMOTER
    } else {
        AGENT
    };
    Ok(companies::create(conn, org, actor, input).await?.id)
}

async fn roster_names(conn: &mut PgConnection, agency: Uuid) -> anyhow::Result<Vec<String>> {
    Ok(representation::links(conn, Some(agency), None)
        .await?
        .into_iter()
        .map(|l| l.artist_name)
        .collect())
}

async fn book_worldwide(
    conn: &mut PgConnection,
    org: Uuid,
    agency: Uuid,
    artist_id: Uuid,
) -> anyhow::Result<()> {
    let link = RosterLinkIn {
        artist_id,
        role: RepresentationRole::Booking,
        territory: TerritoryIn {
            worldwide: true,
            ..TerritoryIn::default()
        },
    };
    representation::add_to_roster(conn, org, AGENT, agency, link).await?;
    Ok(())
}

/// The `index`th name of the generator's scheme ("<first> <second>", a solo
/// name, or "DJ <first>"), as [`generate_artists`] makes them.
fn artist_name(index: usize) -> String {
    let (firsts, seconds) = (ARTIST_FIRST.len(), ARTIST_SECOND.len());
    let name = if index % 7 == 3 {
        ARTIST_SOLO[(index / 7) % ARTIST_SOLO.len()].to_owned()
    } else if index % 11 == 5 {
        format!("DJ {}", ARTIST_FIRST[index % firsts])
    } else {
        format!(
            "{} {}",
            ARTIST_FIRST[index % firsts],
            ARTIST_SECOND[(index / firsts) % seconds]
        )
    };
    if index >= firsts * seconds {
        format!("{name} {}", index / (firsts * seconds) + 1)
    } else {
        name
    }
}
