//! Cross-tenant guard (SPEC 3: "a record the caller may not see answers
//! 404"), driven by the served OpenAPI document so a new route cannot slip
//! by unnoticed.
//!
//! Two parties (an agency org representing an artist, a promoter org) build
//! records in every area through the API. Then every operation of
//! `GET /api/v1/openapi.json` is looked up in [`routes`], keyed by
//! (method, path template), never by operationId:
//! - a route taking an id is called by an outsider org (role owner, owning
//!   companies of its own) on the parties' records, with a valid body for
//!   writes: a private record answers 404, a network-wide one the answer
//!   listed for it; records private to one party are also called by the
//!   other party;
//! - a list (no id) is read by the outsider and by each party, and must
//!   not contain a record the reader may not see;
//! - a create (no id) naming another tenant's record must be refused;
//! - `/internal/*` and `/metrics` answer 401 to a user token;
//! - a route that cannot be arranged is in [`LISTED`] with the reason.
//!
//! Every call must leave the domain tables as they were, every answer must
//! leave out the ids of records the caller may not see, and a hidden record
//! must answer exactly like an id that names nothing. An operation
//! of the document that is neither arranged nor listed fails the test, and
//! so does a table row for an operation the document no longer has.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, Utc};
use kisum_tests::{BookingParties, Org, TestApp, internal_call};
use reqwest::Method;
use serde_json::{Value, json};

use Who::{Agency, Outsider, Promoter};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Agency,
    Promoter,
    Outsider,
}

const ALL: &[Who] = &[Agency, Promoter, Outsider];
const PARTIES: &[Who] = &[Agency, Promoter];

/// What a call must answer. Whatever it is, nothing changes.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// 404 `not_found`: the record is not there for this caller.
    Hidden,
    /// 200, and the body leaves out what the caller may not see.
    Reads,
    /// One of these refusals (a network-wide record the caller may see but
    /// not change, or a create naming another tenant's record).
    Refused(&'static [u16]),
    /// 401: a user token never opens machine routes.
    Unauthorized,
    /// A calendar read by a non-party (SPEC 5.3): 200, the parties' holds
    /// and bookings only as `busy` days without id, status or priority,
    /// and at least one of them.
    BusyOnly,
}

const FORBIDDEN: Want = Want::Refused(&[403]);
/// A create naming another tenant's record: not allowed (403), or the
/// record is unknown to the caller (404, or 422 on the field naming it).
const FOREIGN: Want = Want::Refused(&[403, 404, 422]);

struct Call {
    who: Who,
    path: String,
    body: Option<Value>,
    want: Want,
}

fn call(who: Who, path: String, body: Option<Value>, want: Want) -> Call {
    Call {
        who,
        path,
        body,
        want,
    }
}

/// Operations deliberately not called: (method, path template, why).
const LISTED: &[(&str, &str, &str)] = &[
    ("GET", "/healthz", "liveness probe: no auth, no tenant data"),
    ("GET", "/readyz", "readiness probe: no auth, no tenant data"),
    (
        "POST",
        "/api/v1/artists-companies",
        "creates a company of the caller's own; names no other tenant's record",
    ),
    (
        "POST",
        "/api/v1/artists-companies/creation-requests",
        "asks for an agency of the caller's own; names no other tenant's record",
    ),
    (
        "POST",
        "/api/v1/shortlists",
        "creates a shortlist of the caller's own; names no other tenant's record",
    ),
    (
        "POST",
        "/api/v1/relationships/{company_id}/notes",
        "writes a note of the caller's own on a network-wide company; names no other \
         tenant's record (the relationship tests show notes stay private to their org)",
    ),
    (
        "GET",
        "/api/v1/contract-signing-keys",
        "the platform's public verification key: no auth, no tenant data",
    ),
    (
        "GET",
        "/api/v1/tour-feeds/{token}/itinerary.ics",
        "public by design: the secret token is the credential (only its SHA-256 is stored); \
         the itinerary tests show a token opens only its tour, as its org sees it",
    ),
    (
        "GET",
        "/api/v1/contract-verifications/{sha256}",
        "public by design: answers the holder of a document's SHA-256 with no more than the \
         document shows (its contract id is printed on every page)",
    ),
];

/// Records by name, the two parties and the outsider.
struct World {
    p: BookingParties,
    outsider: Org,
    ids: HashMap<&'static str, String>,
    /// The private records, by name, with the callers allowed to see them;
    /// no answer to anyone else may contain their ids.
    hidden: HashMap<&'static str, Vec<Who>>,
}

impl World {
    fn id(&self, name: &str) -> &str {
        self.ids
            .get(name)
            .unwrap_or_else(|| panic!("no record named {name}"))
    }

    fn org(&self, who: Who) -> &Org {
        match who {
            Agency => &self.p.agency,
            Promoter => &self.p.promoter,
            Outsider => &self.outsider,
        }
    }

    /// The ids `who` may not see, with their names.
    fn hidden_from(&self, who: Who) -> Vec<(&'static str, &str)> {
        self.hidden
            .iter()
            .filter(|(_, seen_by)| !seen_by.contains(&who))
            .map(|(name, _)| (*name, self.id(name)))
            .collect()
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn day(offset: i64) -> NaiveDate {
    today() + Duration::days(offset)
}

fn deal() -> Value {
    json!({
        "type": "versus", "currency": "EUR", "guarantee_amount": 1_000_000,
        "percentage": 80.0, "percentage_basis": "net", "ticket_price": 3500, "capacity": 1500
    })
}

fn offer_body(p: &BookingParties, date: NaiveDate, send: bool) -> Value {
    json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": date,
        "venue": {"name": "Paradiso", "capacity": 1500}, "deal": deal(),
        "expires_at": Utc::now() + Duration::days(7), "send": send,
    })
}

fn request_body(p: &BookingParties) -> Value {
    json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": day(60),
        "venue": {"name": "Melkweg", "capacity": 700}, "message": "Saturday?"
    })
}

fn hold_body(p: &BookingParties, date: NaiveDate) -> Value {
    json!({
        "artist_id": p.artist, "date": date, "promoter_company_id": p.promoter_company,
        "expires_at": Utc::now() + Duration::days(3)
    })
}

fn window_body(published: bool) -> Value {
    json!({
        "starts_on": day(20), "ends_on": day(29), "status": "available",
        "territory": {"countries": ["NL"]}, "min_fee": 500_000, "currency": "EUR",
        "published": published
    })
}

/// A setup call that must succeed; its answer.
async fn must(app: &TestApp, org: &Org, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = org.send(app, method, path, Some(body)).await;
    assert!(
        (200..300).contains(&status),
        "setup {path}: {status} {answer}"
    );
    answer
}

async fn post(app: &TestApp, org: &Org, path: &str, body: Value) -> String {
    let answer = must(app, org, Method::POST, path, body).await;
    answer["id"]
        .as_str()
        .unwrap_or_else(|| panic!("setup {path}: an id in {answer}"))
        .to_owned()
}

async fn post_empty(app: &TestApp, org: &Org, path: &str) {
    let (status, answer) = org.send(app, Method::POST, path, None).await;
    assert!(
        (200..300).contains(&status),
        "setup {path}: {status} {answer}"
    );
}

async fn internal(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, answer) = internal_call(app, Method::POST, path, Some(&body)).await;
    assert!(
        (200..300).contains(&status),
        "setup {path}: {status} {answer}"
    );
    answer
}

impl World {
    async fn build(app: &TestApp) -> Self {
        let p = kisum_tests::booking_parties(app, "Tenant Agency", "Tenant Artist", &[]).await;
        let outsider = Org::new();
        let mut ids: HashMap<&'static str, String> = HashMap::new();
        let mut hidden: HashMap<&'static str, Vec<Who>> = HashMap::new();
        let (agency, promoter) = (&p.agency, &p.promoter);
        let artist = p.artist.clone();
        let agency_company = p.agency_company.clone();

        // The outsider owns companies of its own and a contact of its own.
        let companies = "/api/v1/artists-companies";
        let own = json!({"kind": "promoter", "name": "Outsider Promotions"});
        ids.insert(
            "outsider_company",
            post(app, &outsider, companies, own).await,
        );
        let own = json!({"kind": "management", "name": "Outsider Management"});
        ids.insert("outsider_mgmt", post(app, &outsider, companies, own).await);
        let own = json!({"company_id": ids["outsider_mgmt"], "name": "Oscar Outsider"});
        ids.insert(
            "outsider_person",
            post(app, &outsider, "/api/v1/people", own).await,
        );

        // Directory records of the agency.
        let body = json!({"name": "Second Act", "company_id": agency_company});
        ids.insert("artist2", post(app, agency, "/api/v1/artists", body).await);
        let accounts = format!("/api/v1/artists/{artist}/platform-accounts");
        let body = json!({"platform": "instagram", "handle": "tenantartist"});
        ids.insert("artist_account", post(app, agency, &accounts, body).await);
        let accounts = format!("/api/v1/artists-companies/{agency_company}/platform-accounts");
        let body = json!({"platform": "instagram", "handle": "tenantagency"});
        ids.insert("company_account", post(app, agency, &accounts, body).await);
        let body = json!({"provider": "musicbrainz", "external_id": "mbid-tenant",
                          "entity_type": "artist", "entity_id": artist});
        ids.insert(
            "reference",
            post(app, agency, "/api/v1/provider-references", body).await,
        );
        let profile = format!("/api/v1/artists/{artist}/profile");
        must(
            app,
            agency,
            Method::PUT,
            &profile,
            json!({"bio": "On tour."}),
        )
        .await;
        let body = json!({"company_id": agency_company, "name": "Ana Private"});
        ids.insert(
            "agency_person",
            post(app, agency, "/api/v1/people", body).await,
        );
        hidden.insert("agency_person", vec![Agency]);
        let body =
            json!({"company_id": agency_company, "name": "Net Worker", "visibility": "network"});
        ids.insert(
            "network_person",
            post(app, agency, "/api/v1/people", body).await,
        );
        let team = format!("/api/v1/artists/{artist}/team");
        let body = json!({"person_id": ids["agency_person"], "role": "responsible_agent"});
        ids.insert("assignment", post(app, agency, &team, body).await);
        let windows = format!("/api/v1/artists/{artist}/availabilities");
        ids.insert(
            "window_published",
            post(app, agency, &windows, window_body(true)).await,
        );
        ids.insert(
            "window_hidden",
            post(app, agency, &windows, window_body(false)).await,
        );
        hidden.insert("window_hidden", vec![Agency]);
        let body = json!({"name": "Agency picks"});
        ids.insert(
            "agency_shortlist",
            post(app, agency, "/api/v1/shortlists", body).await,
        );
        hidden.insert("agency_shortlist", vec![Agency]);
        let items = format!("/api/v1/shortlists/{}/items", ids["agency_shortlist"]);
        must(
            app,
            agency,
            Method::POST,
            &items,
            json!({"artist_id": artist}),
        )
        .await;

        // Records of the promoter org: a contact, a shortlist, a company
        // claim, an agency creation request, representation claims.
        let body = json!({"company_id": p.promoter_company, "name": "Piet Private"});
        ids.insert(
            "promoter_person",
            post(app, promoter, "/api/v1/people", body).await,
        );
        hidden.insert("promoter_person", vec![Promoter]);
        let body = json!({"name": "Promoter picks"});
        ids.insert(
            "promoter_shortlist",
            post(app, promoter, "/api/v1/shortlists", body).await,
        );
        hidden.insert("promoter_shortlist", vec![Promoter]);
        let venue = internal(
            app,
            "/internal/artists-companies",
            json!({"kind": "venue", "name": "Unclaimed Hall"}),
        )
        .await;
        ids.insert("venue", venue["id"].as_str().unwrap().to_owned());
        let body = json!({"company_id": ids["venue"], "message": "We run it"});
        ids.insert(
            "company_claim",
            post(app, promoter, "/api/v1/company-claims", body).await,
        );
        hidden.insert("company_claim", vec![Promoter]);
        let body = json!({"spec": {"name": "Promoter Booking Arm"}});
        ids.insert(
            "provisioning_request",
            post(
                app,
                promoter,
                "/api/v1/artists-companies/creation-requests",
                body,
            )
            .await,
        );
        hidden.insert("provisioning_request", vec![Promoter]);
        let body = json!({"kind": "management", "name": "Promoter Management"});
        ids.insert("promoter_mgmt", post(app, promoter, companies, body).await);
        let claims = "/api/v1/representation-claims";
        let body = json!({"artist_id": artist, "company_id": ids["promoter_mgmt"],
                          "role": "booking", "territory": {"countries": ["FR"]}});
        let disputed = must(app, promoter, Method::POST, claims, body).await;
        assert_eq!(disputed["status"], "disputed", "{disputed}");
        ids.insert(
            "claim_disputed",
            disputed["id"].as_str().unwrap().to_owned(),
        );
        hidden.insert("claim_disputed", vec![Agency, Promoter]);
        let body = json!({"artist_id": artist, "company_id": ids["promoter_mgmt"],
                          "role": "management", "territory": {"worldwide": true}});
        ids.insert("claim_pending", post(app, promoter, claims, body).await);
        hidden.insert("claim_pending", vec![Agency, Promoter]);
        let (_, disputes) = agency.get(app, "/api/v1/representation-disputes").await;
        let dispute = disputes["items"][0]["id"].as_str().unwrap().to_owned();
        ids.insert("dispute", dispute);
        hidden.insert("dispute", vec![Agency, Promoter]);

        // The deal between them: a request, offers, holds, a booking.
        let both = || vec![Agency, Promoter];
        ids.insert(
            "request",
            post(app, promoter, "/api/v1/booking-requests", request_body(&p)).await,
        );
        let offers = "/api/v1/offers";
        ids.insert(
            "offer_draft",
            post(app, promoter, offers, offer_body(&p, day(60), false)).await,
        );
        ids.insert(
            "offer_sent",
            post(app, promoter, offers, offer_body(&p, day(61), true)).await,
        );
        let id = post(app, promoter, offers, offer_body(&p, day(65), true)).await;
        let counter = json!({"deal": deal(), "note": "our terms"});
        let path = format!("/api/v1/offers/{id}/counter");
        must(app, agency, Method::POST, &path, counter).await;
        ids.insert("offer_countered", id);
        for name in ["offer_ready", "offer_booked"] {
            let date = if name == "offer_ready" {
                day(62)
            } else {
                day(63)
            };
            let id = post(app, promoter, offers, offer_body(&p, date, true)).await;
            post_empty(app, agency, &format!("/api/v1/offers/{id}/accept")).await;
            ids.insert(name, id);
        }
        ids.insert(
            "hold",
            post(app, agency, "/api/v1/holds", hold_body(&p, day(30))).await,
        );
        let body = json!({"offer_id": ids["offer_ready"], "artist_id": artist, "date": day(62),
                          "promoter_company_id": p.promoter_company,
                          "expires_at": Utc::now() + Duration::days(3)});
        ids.insert(
            "hold_backed",
            post(app, agency, "/api/v1/holds", body).await,
        );
        let body = json!({"offer_id": ids["offer_booked"]});
        ids.insert(
            "booking",
            post(app, promoter, "/api/v1/bookings", body).await,
        );
        for name in [
            "request",
            "offer_draft",
            "offer_sent",
            "offer_countered",
            "offer_ready",
            "offer_booked",
            "hold",
            "hold_backed",
            "booking",
        ] {
            hidden.insert(name, both());
        }

        // The contract of the booking, from the agency's template.
        let templates = format!("/api/v1/artists-companies/{agency_company}/contract-templates");
        let body = json!({"name": "Agreement", "body": "Show on {{ booking.event_date }}."});
        ids.insert("template", post(app, agency, &templates, body).await);
        hidden.insert("template", vec![Agency]);
        let body = json!({"template_id": ids["template"], "signers": [
            {"name": "Pia Promoter", "email": "pia@promoter.test", "party": "promoter"},
            {"name": "Aga Agent", "email": "aga@agency.test", "party": "agency"}]});
        let contracts = format!("/api/v1/bookings/{}/contracts", ids["booking"]);
        let contract = must(app, agency, Method::POST, &contracts, body).await;
        ids.insert("contract", contract["id"].as_str().unwrap().to_owned());
        ids.insert(
            "signer",
            contract["signers"][0]["id"].as_str().unwrap().to_owned(),
        );
        post_empty(
            app,
            agency,
            &format!("/api/v1/contracts/{}/send", ids["contract"]),
        )
        .await;
        hidden.insert("contract", both());
        hidden.insert("signer", both());

        // A tour of the artist kept by the agency, with the booking as a
        // show: the promoter of that show sees the tour, not its stops.
        let body = json!({"artist_id": artist, "company_id": agency_company, "name": "Guard tour"});
        ids.insert("tour", post(app, agency, "/api/v1/tours", body).await);
        let body = json!({"kind": "show", "booking_id": ids["booking"], "city_id": 2759794});
        let stops = format!("/api/v1/tours/{}/stops", ids["tour"]);
        ids.insert("tour_stop", post(app, agency, &stops, body).await);
        hidden.insert("tour", both());
        // The promoter sees its show's stop on its day sheet, no other.
        hidden.insert("tour_stop", both());
        // The tour's itinerary and the agency's calendar subscription.
        let show_day = day(63);
        let tour = ids["tour"].clone();
        let items = format!("/api/v1/tours/{tour}/itinerary");
        let at = format!("{show_day}T20:00");
        let body =
            json!({"kind": "set", "title": "Set", "starts_at_local": at, "visibility": "shared"});
        ids.insert("itinerary_shared", post(app, agency, &items, body).await);
        let body = json!({"kind": "hotel", "title": "Hotel", "starts_at_local": at});
        ids.insert("itinerary_private", post(app, agency, &items, body).await);
        let subscription = format!("/api/v1/tours/{tour}/calendar-subscription");
        ids.insert(
            "tour_subscription",
            post(app, agency, &subscription, json!({})).await,
        );
        hidden.insert("itinerary_shared", both());
        hidden.insert("itinerary_private", vec![Agency]);
        hidden.insert("tour_subscription", vec![Agency]);
        // The booking's advance sheet and a promoter's proposal for it.
        let logistics = format!("/api/v1/bookings/{}/logistics", ids["booking"]);
        let sheet =
            json!({"hotel": {"name": "Hotel V", "rooms": [{"room_type": "double", "count": 2}]}});
        must(app, agency, Method::PUT, &logistics, sheet).await;
        let proposals = format!("/api/v1/bookings/{}/logistics-proposals", ids["booking"]);
        let body = json!({"section": "technical", "content": {"stage_width_cm": 1000}});
        ids.insert("proposal", post(app, promoter, &proposals, body).await);
        hidden.insert("proposal", both());

        // The agency's private memory of the promoter: a note and a flag.
        let notes = format!("/api/v1/relationships/{}/notes", p.promoter_company);
        let body = json!({"body": "Pays on the day."});
        ids.insert("agency_note", post(app, agency, &notes, body).await);
        hidden.insert("agency_note", vec![Agency]);
        let flags = format!("/api/v1/relationships/{}/flags", p.promoter_company);
        let body = json!({"kind": "great_partner", "booking_id": ids["booking"]});
        ids.insert("agency_flag", post(app, agency, &flags, body).await);
        hidden.insert("agency_flag", vec![Agency]);

        // Machine records for the internal routes.
        let canary = internal(app, "/internal/ops/canaries", json!({})).await;
        ids.insert("canary", canary["id"].as_str().unwrap().to_owned());
        let job = kisum_tests::queue::some_job_id(&app.pool).await;
        ids.insert("job", job);

        Self {
            p,
            outsider,
            ids,
            hidden,
        }
    }
}

type Routes = BTreeMap<(&'static str, &'static str), Vec<Call>>;

/// Every arranged operation, by (method, path template), with its calls.
fn routes(w: &World) -> Routes {
    let artist = w.p.artist.as_str();
    let agency = w.p.agency_company.as_str();
    let id = |name: &str| w.id(name).to_owned();
    let mut t: Routes = BTreeMap::new();
    let mut add = |method: &'static str, template: &'static str, calls: Vec<Call>| {
        assert!(
            t.insert((method, template), calls).is_none(),
            "{method} {template} arranged twice"
        );
    };
    let outsider =
        |path: String, body: Option<Value>, want: Want| vec![call(Outsider, path, body, want)];
    // A read of a network-wide record: by everyone, each seeing only what
    // it may.
    let reads = |path: String| {
        ALL.iter()
            .map(|who| call(*who, path.clone(), None, Want::Reads))
            .collect::<Vec<_>>()
    };
    // A record private to `owner`: hidden from the other party and the
    // outsider.
    let private_to = |owner: Who, path: String, body: Option<Value>| {
        ALL.iter()
            .filter(|who| **who != owner)
            .map(|who| call(*who, path.clone(), body.clone(), Want::Hidden))
            .collect::<Vec<_>>()
    };
    let hidden = |path: String, body: Option<Value>| outsider(path, body, Want::Hidden);
    // A write to records private to their owners (hidden from everyone
    // else) and to a network-wide one (refused to the outsider).
    let writes = |private: &[(Who, String)], public: String, body: Option<Value>| {
        let mut calls: Vec<Call> = private
            .iter()
            .flat_map(|(owner, path)| private_to(*owner, path.clone(), body.clone()))
            .collect();
        calls.extend(outsider(public, body, FORBIDDEN));
        calls
    };
    let machine = |path: String, body: Option<Value>| outsider(path, body, Want::Unauthorized);

    // Directory (SPEC 5.1): network-wide reads, writes only by the owner.
    add(
        "GET",
        "/api/v1/artists/{id}",
        reads(format!("/api/v1/artists/{artist}")),
    );
    add(
        "PATCH",
        "/api/v1/artists/{id}",
        outsider(
            format!("/api/v1/artists/{artist}"),
            Some(json!({"name": "Renamed"})),
            FORBIDDEN,
        ),
    );
    add(
        "DELETE",
        "/api/v1/artists/{id}",
        outsider(
            format!("/api/v1/artists/{}", id("artist2")),
            None,
            FORBIDDEN,
        ),
    );
    add(
        "GET",
        "/api/v1/artists/{id}/profile",
        reads(format!("/api/v1/artists/{artist}/profile")),
    );
    add(
        "PUT",
        "/api/v1/artists/{id}/profile",
        outsider(
            format!("/api/v1/artists/{artist}/profile"),
            Some(json!({"bio": "Mine now"})),
            FORBIDDEN,
        ),
    );
    add(
        "GET",
        "/api/v1/artists/{id}/platform-accounts",
        reads(format!("/api/v1/artists/{artist}/platform-accounts")),
    );
    add(
        "POST",
        "/api/v1/artists/{id}/platform-accounts",
        outsider(
            format!("/api/v1/artists/{artist}/platform-accounts"),
            Some(json!({"platform": "spotify", "handle": "outsider-artist"})),
            FORBIDDEN,
        ),
    );
    add(
        "DELETE",
        "/api/v1/artists/{id}/platform-accounts/{account_id}",
        outsider(
            format!(
                "/api/v1/artists/{artist}/platform-accounts/{}",
                id("artist_account")
            ),
            None,
            FORBIDDEN,
        ),
    );
    add(
        "GET",
        "/api/v1/artists-companies/{id}",
        reads(format!("/api/v1/artists-companies/{agency}")),
    );
    add(
        "PATCH",
        "/api/v1/artists-companies/{id}",
        outsider(
            format!("/api/v1/artists-companies/{agency}"),
            Some(json!({"name": "Taken"})),
            FORBIDDEN,
        ),
    );
    add(
        "GET",
        "/api/v1/artists-companies/{id}/platform-accounts",
        reads(format!(
            "/api/v1/artists-companies/{agency}/platform-accounts"
        )),
    );
    add(
        "POST",
        "/api/v1/artists-companies/{id}/platform-accounts",
        outsider(
            format!("/api/v1/artists-companies/{agency}/platform-accounts"),
            Some(json!({"platform": "spotify", "handle": "outsider-agency"})),
            FORBIDDEN,
        ),
    );
    add(
        "DELETE",
        "/api/v1/artists-companies/{id}/platform-accounts/{account_id}",
        outsider(
            format!(
                "/api/v1/artists-companies/{agency}/platform-accounts/{}",
                id("company_account")
            ),
            None,
            FORBIDDEN,
        ),
    );
    add(
        "GET",
        "/api/v1/geo/markets/{id}",
        reads("/api/v1/geo/markets/benelux".to_owned()),
    );

    // People: a private contact is the owner org's alone; a network one is
    // read by all and changed by its owner only.
    let mut people = private_to(
        Agency,
        format!("/api/v1/people/{}", id("agency_person")),
        None,
    );
    people.extend(private_to(
        Promoter,
        format!("/api/v1/people/{}", id("promoter_person")),
        None,
    ));
    people.extend(reads(format!("/api/v1/people/{}", id("network_person"))));
    add("GET", "/api/v1/people/{id}", people);
    let person = |name: &str| format!("/api/v1/people/{}", id(name));
    let private_people = [
        (Agency, person("agency_person")),
        (Promoter, person("promoter_person")),
    ];
    let patch = Some(json!({"name": "Changed"}));
    add(
        "PATCH",
        "/api/v1/people/{id}",
        writes(&private_people, person("network_person"), patch),
    );
    add(
        "DELETE",
        "/api/v1/people/{id}",
        writes(&private_people, person("network_person"), None),
    );

    // Roster, team and representation (SPEC 5.2): who represents whom is
    // network-wide; claims and disputes belong to those with standing.
    add(
        "GET",
        "/api/v1/artists-companies/{id}/roster",
        reads(format!("/api/v1/artists-companies/{agency}/roster")),
    );
    add(
        "POST",
        "/api/v1/artists-companies/{id}/roster",
        outsider(
            format!("/api/v1/artists-companies/{agency}/roster"),
            Some(json!({"artist_id": id("artist2"), "role": "management",
                        "territory": {"worldwide": true}})),
            FORBIDDEN,
        ),
    );
    add(
        "DELETE",
        "/api/v1/artists-companies/{id}/roster/{artist_id}",
        outsider(
            format!("/api/v1/artists-companies/{agency}/roster/{artist}"),
            None,
            FORBIDDEN,
        ),
    );
    add(
        "GET",
        "/api/v1/artists/{id}/representation",
        reads(format!("/api/v1/artists/{artist}/representation")),
    );
    add(
        "GET",
        "/api/v1/artists/{id}/team",
        reads(format!("/api/v1/artists/{artist}/team")),
    );
    add(
        "POST",
        "/api/v1/artists/{id}/team",
        outsider(
            format!("/api/v1/artists/{artist}/team"),
            Some(json!({"person_id": id("outsider_person"), "role": "assistant"})),
            FORBIDDEN,
        ),
    );
    add(
        "DELETE",
        "/api/v1/artists/{id}/team/{assignment_id}",
        outsider(
            format!("/api/v1/artists/{artist}/team/{}", id("assignment")),
            None,
            FORBIDDEN,
        ),
    );
    let mut claim = hidden(
        format!(
            "/api/v1/representation-claims/{}/withdraw",
            id("claim_pending")
        ),
        None,
    );
    claim.extend(hidden(
        format!(
            "/api/v1/representation-claims/{}/withdraw",
            id("claim_disputed")
        ),
        None,
    ));
    add("POST", "/api/v1/representation-claims/{id}/withdraw", claim);
    let reason = Some(json!({"reason": "we object"}));
    let mut claim = hidden(
        format!(
            "/api/v1/representation-claims/{}/disputes",
            id("claim_pending")
        ),
        reason.clone(),
    );
    claim.extend(hidden(
        format!(
            "/api/v1/representation-claims/{}/disputes",
            id("claim_disputed")
        ),
        reason,
    ));
    add("POST", "/api/v1/representation-claims/{id}/disputes", claim);

    // Availability (SPEC 5.3): published windows and the busy/free calendar
    // are network-wide; unpublished windows are the agency's.
    add(
        "GET",
        "/api/v1/artists/{id}/availabilities",
        reads(format!("/api/v1/artists/{artist}/availabilities")),
    );
    add(
        "POST",
        "/api/v1/artists/{id}/availabilities",
        outsider(
            format!("/api/v1/artists/{artist}/availabilities"),
            Some(window_body(true)),
            FORBIDDEN,
        ),
    );
    let mut calendar = Vec::new();
    for path in [
        format!(
            "/api/v1/artists/{artist}/calendar?from={}&to={}",
            day(0),
            day(90)
        ),
        format!("/api/v1/artists/{artist}/calendar"),
    ] {
        calendar.extend(
            PARTIES
                .iter()
                .map(|who| call(*who, path.clone(), None, Want::Reads)),
        );
        calendar.push(call(Outsider, path, None, Want::BusyOnly));
    }
    add("GET", "/api/v1/artists/{id}/calendar", calendar);
    let window = |name: &str| format!("/api/v1/availabilities/{}", id(name));
    let hidden_window = [(Agency, window("window_hidden"))];
    let patch = Some(json!({"notes": "changed"}));
    add(
        "PATCH",
        "/api/v1/availabilities/{id}",
        writes(&hidden_window, window("window_published"), patch),
    );
    add(
        "DELETE",
        "/api/v1/availabilities/{id}",
        writes(&hidden_window, window("window_published"), None),
    );

    // The deal (SPEC 5.4): the parties' records, 404 to anyone else.
    let request = |tail: &str| format!("/api/v1/booking-requests/{}{tail}", id("request"));
    add(
        "GET",
        "/api/v1/booking-requests/{id}",
        hidden(request(""), None),
    );
    add(
        "GET",
        "/api/v1/booking-requests/{id}/activity",
        hidden(request("/activity"), None),
    );
    add(
        "POST",
        "/api/v1/booking-requests/{id}/decline",
        hidden(request("/decline"), None),
    );
    add(
        "POST",
        "/api/v1/booking-requests/{id}/withdraw",
        hidden(request("/withdraw"), None),
    );
    let offers = |tail: &str, names: &[&str], body: Option<Value>| {
        names
            .iter()
            .map(|name| {
                call(
                    Outsider,
                    format!("/api/v1/offers/{}{tail}", id(name)),
                    body.clone(),
                    Want::Hidden,
                )
            })
            .collect::<Vec<_>>()
    };
    let every = [
        "offer_draft",
        "offer_sent",
        "offer_countered",
        "offer_ready",
        "offer_booked",
    ];
    let answerable = ["offer_sent", "offer_countered"];
    add("GET", "/api/v1/offers/{id}", offers("", &every, None));
    add(
        "GET",
        "/api/v1/offers/{id}/versions",
        offers("/versions", &every, None),
    );
    add(
        "GET",
        "/api/v1/offers/{id}/activity",
        offers("/activity", &every, None),
    );
    add(
        "POST",
        "/api/v1/offers/{id}/send",
        offers("/send", &["offer_draft"], None),
    );
    add(
        "POST",
        "/api/v1/offers/{id}/accept",
        offers("/accept", &answerable, None),
    );
    add(
        "POST",
        "/api/v1/offers/{id}/decline",
        offers("/decline", &answerable, None),
    );
    add(
        "POST",
        "/api/v1/offers/{id}/withdraw",
        offers("/withdraw", &["offer_sent", "offer_draft"], None),
    );
    let counter = json!({"deal": deal(), "note": "our terms"});
    add(
        "POST",
        "/api/v1/offers/{id}/counter",
        offers("/counter", &answerable, Some(counter)),
    );
    let hold = |name: &str, tail: &str| format!("/api/v1/holds/{}{tail}", id(name));
    add(
        "GET",
        "/api/v1/holds/{id}",
        vec![
            call(Outsider, hold("hold", ""), None, Want::Hidden),
            call(Outsider, hold("hold_backed", ""), None, Want::Hidden),
        ],
    );
    add(
        "POST",
        "/api/v1/holds/{id}/release",
        hidden(hold("hold", "/release"), None),
    );
    add(
        "POST",
        "/api/v1/holds/{id}/challenge",
        hidden(hold("hold_backed", "/challenge"), None),
    );
    let booking = |tail: &str| format!("/api/v1/bookings/{}{tail}", id("booking"));
    add("GET", "/api/v1/bookings/{id}", hidden(booking(""), None));
    add(
        "GET",
        "/api/v1/bookings/{id}/finance/handoffs",
        hidden(booking("/finance/handoffs"), None),
    );
    add(
        "GET",
        "/api/v1/bookings/{id}/activity",
        hidden(booking("/activity"), None),
    );
    add(
        "GET",
        "/api/v1/bookings/{id}/finance",
        hidden(booking("/finance"), None),
    );
    add(
        "POST",
        "/api/v1/bookings/{id}/cancel",
        hidden(booking("/cancel"), Some(json!({"reason": "rain"}))),
    );
    add(
        "POST",
        "/api/v1/bookings/{id}/complete",
        hidden(booking("/complete"), None),
    );

    // Contracts (SPEC 5.5): the template library is the agency's own; the
    // contract is the parties'.
    let library = format!("/api/v1/artists-companies/{agency}/contract-templates");
    let new_template = Some(json!({"name": "Planted", "body": "Planted text."}));
    add(
        "GET",
        "/api/v1/artists-companies/{id}/contract-templates",
        private_to(Agency, library.clone(), None),
    );
    add(
        "POST",
        "/api/v1/artists-companies/{id}/contract-templates",
        private_to(Agency, library, new_template),
    );
    let template = |tail: &str| format!("/api/v1/contract-templates/{}{tail}", id("template"));
    add(
        "GET",
        "/api/v1/contract-templates/{id}",
        private_to(Agency, template(""), None),
    );
    add(
        "PATCH",
        "/api/v1/contract-templates/{id}",
        private_to(Agency, template(""), Some(json!({"name": "Taken over"}))),
    );
    add(
        "POST",
        "/api/v1/contract-templates/{id}/archive",
        private_to(Agency, template("/archive"), None),
    );
    add(
        "GET",
        "/api/v1/contract-templates/{id}/versions",
        private_to(Agency, template("/versions"), None),
    );
    add(
        "POST",
        "/api/v1/bookings/{id}/contracts",
        hidden(
            format!("/api/v1/bookings/{}/contracts", id("booking")),
            Some(json!({"template_id": id("template")})),
        ),
    );
    let contract = |tail: &str| format!("/api/v1/contracts/{}{tail}", id("contract"));
    let mut contract_calls: BTreeMap<(&'static str, &'static str), Vec<Call>> = BTreeMap::new();
    for (method, tail, body) in [
        ("GET", "", None),
        ("GET", "/versions", None),
        ("POST", "/versions", Some(json!({"body": "Planted text."}))),
        ("GET", "/signers", None),
        (
            "POST",
            "/signers",
            Some(json!({"name": "Eve", "email": "eve@outsider.test", "party": "agency"})),
        ),
        ("POST", "/send", None),
        ("POST", "/void", Some(json!({"reason": "ours now"}))),
        ("GET", "/audit", None),
        ("GET", "/document", None),
        ("GET", "/document?format=html", None),
        ("GET", "/attachments", None),
        (
            "POST",
            "/attachments",
            Some(
                json!({"name": "Rider", "url": "https://files.test/rider.pdf",
                        "media_type": "application/pdf", "sha256": "ab".repeat(32)}),
            ),
        ),
    ] {
        let template = match (method, tail) {
            (_, "") => "/api/v1/contracts/{id}",
            ("GET", "/versions") | ("POST", "/versions") => "/api/v1/contracts/{id}/versions",
            (_, "/signers") => "/api/v1/contracts/{id}/signers",
            (_, "/send") => "/api/v1/contracts/{id}/send",
            (_, "/void") => "/api/v1/contracts/{id}/void",
            (_, "/audit") => "/api/v1/contracts/{id}/audit",
            (_, "/attachments") => "/api/v1/contracts/{id}/attachments",
            _ => "/api/v1/contracts/{id}/document",
        };
        contract_calls
            .entry((method, template))
            .or_default()
            .extend(hidden(contract(tail), body));
    }
    for ((method, template), calls) in contract_calls {
        add(method, template, calls);
    }
    let signer = |tail: &str| contract(&format!("/signers/{}{tail}", id("signer")));
    let sign = json!({"typed_name": "Eve", "consent_statement": "I agree",
                      "content_sha256": "ab".repeat(32)});
    add(
        "POST",
        "/api/v1/contracts/{id}/signers/{signer_id}/sign",
        hidden(signer("/sign"), Some(sign)),
    );
    add(
        "POST",
        "/api/v1/contracts/{id}/signers/{signer_id}/decline",
        hidden(signer("/decline"), Some(json!({"reason": "no"}))),
    );

    // Tours (SPEC 5.6): kept by the agency; the promoter of a show sees the
    // tour and may change nothing.
    let tour = |tail: &str| format!("/api/v1/tours/{}{tail}", id("tour"));
    let stop = tour(&format!("/stops/{}", id("tour_stop")));
    let promoter_refused = |path: String, body: Option<Value>| {
        let mut calls = hidden(path.clone(), body.clone());
        calls.push(call(Promoter, path, body, FORBIDDEN));
        calls
    };
    add("GET", "/api/v1/tours/{id}", hidden(tour(""), None));
    add(
        "PATCH",
        "/api/v1/tours/{id}",
        promoter_refused(tour(""), Some(json!({"name": "Taken over"}))),
    );
    let mut stops = promoter_refused(tour("/stops"), None);
    stops.push(call(Agency, tour("/stops"), None, Want::Reads));
    add("GET", "/api/v1/tours/{id}/stops", stops);
    add(
        "POST",
        "/api/v1/tours/{id}/stops",
        promoter_refused(
            tour("/stops"),
            Some(json!({"kind": "travel", "date": day(90), "city_id": 2759794})),
        ),
    );
    add(
        "PATCH",
        "/api/v1/tours/{id}/stops/{stop_id}",
        promoter_refused(stop.clone(), Some(json!({"notes": "ours"}))),
    );
    add(
        "DELETE",
        "/api/v1/tours/{id}/stops/{stop_id}",
        promoter_refused(stop, None),
    );
    add(
        "POST",
        "/api/v1/tours/{id}/stops/reorder",
        promoter_refused(
            tour("/stops/reorder"),
            Some(json!({"stop_ids": [id("tour_stop")]})),
        ),
    );
    add(
        "GET",
        "/api/v1/tours/{id}/routing",
        promoter_refused(tour("/routing"), None),
    );

    // Logistics (SPEC 5.6): the booking's parties' alone.
    add(
        "GET",
        "/api/v1/bookings/{id}/logistics",
        hidden(booking("/logistics"), None),
    );
    add(
        "PUT",
        "/api/v1/bookings/{id}/logistics",
        hidden(
            booking("/logistics"),
            Some(json!({"merch": {"seller": "outsider"}})),
        ),
    );
    // Its parties read the proposals; the outsider sees none.
    let mut proposals = hidden(booking("/logistics-proposals"), None);
    proposals.extend(
        PARTIES
            .iter()
            .map(|who| call(*who, booking("/logistics-proposals"), None, Want::Reads)),
    );
    add(
        "GET",
        "/api/v1/bookings/{id}/logistics-proposals",
        proposals,
    );
    add(
        "POST",
        "/api/v1/bookings/{id}/logistics-proposals",
        hidden(
            booking("/logistics-proposals"),
            Some(json!({"section": "hotel", "content": {"name": "Planted"}})),
        ),
    );
    let proposal = |tail: &str| format!("/api/v1/logistics-proposals/{}{tail}", id("proposal"));
    let decision = Some(json!({"comment": "ours now"}));
    add(
        "GET",
        "/api/v1/logistics-proposals/{id}",
        hidden(proposal(""), None),
    );
    add(
        "POST",
        "/api/v1/logistics-proposals/{id}/revise",
        hidden(
            proposal("/revise"),
            Some(json!({"content": {"stage_width_cm": 1}})),
        ),
    );
    add(
        "POST",
        "/api/v1/logistics-proposals/{id}/approve",
        hidden(proposal("/approve"), None),
    );
    add(
        "POST",
        "/api/v1/logistics-proposals/{id}/reject",
        hidden(proposal("/reject"), decision.clone()),
    );
    add(
        "POST",
        "/api/v1/logistics-proposals/{id}/request-changes",
        hidden(proposal("/request-changes"), decision),
    );

    // Shortlists (SPEC 5.8): each org's own.
    let lists = |name: &str| format!("/api/v1/shortlists/{}", id(name));
    let mut shortlist = private_to(Agency, lists("agency_shortlist"), None);
    shortlist.extend(private_to(Promoter, lists("promoter_shortlist"), None));
    add("GET", "/api/v1/shortlists/{id}", shortlist);
    let patch = Some(json!({"name": "Renamed picks"}));
    let mut shortlist = private_to(Agency, lists("agency_shortlist"), patch.clone());
    shortlist.extend(private_to(Promoter, lists("promoter_shortlist"), patch));
    add("PATCH", "/api/v1/shortlists/{id}", shortlist);
    let mut shortlist = private_to(Agency, lists("agency_shortlist"), None);
    shortlist.extend(private_to(Promoter, lists("promoter_shortlist"), None));
    add("DELETE", "/api/v1/shortlists/{id}", shortlist);
    let items = |name: &str| format!("/api/v1/shortlists/{}/items", id(name));
    let item = Some(json!({"artist_id": artist}));
    let mut shortlist = private_to(Agency, items("agency_shortlist"), item.clone());
    shortlist.extend(private_to(Promoter, items("promoter_shortlist"), item));
    add("POST", "/api/v1/shortlists/{id}/items", shortlist);
    let remove = |name: &str| format!("/api/v1/shortlists/{}/items/{artist}", id(name));
    let mut shortlist = private_to(Agency, remove("agency_shortlist"), None);
    shortlist.extend(private_to(Promoter, remove("promoter_shortlist"), None));
    add(
        "DELETE",
        "/api/v1/shortlists/{id}/items/{artist_id}",
        shortlist,
    );

    // Lists: read by everyone; none may show what its reader may not see.
    for path in [
        "/api/v1/artists",
        "/api/v1/artists-companies",
        "/api/v1/artists-companies/requests",
        "/api/v1/artists-companies/sleeping",
        "/api/v1/avails/search",
        "/api/v1/booking-requests",
        "/api/v1/bookings",
        "/api/v1/company-claims",
        "/api/v1/contract-template-catalogue",
        "/api/v1/contracts",
        "/api/v1/dashboards/agency",
        "/api/v1/dashboards/promoter",
        "/api/v1/events",
        "/api/v1/marketplace/artists",
        "/api/v1/genres",
        "/api/v1/geo/cities",
        "/api/v1/geo/countries",
        "/api/v1/geo/currencies",
        "/api/v1/geo/markets",
        "/api/v1/holds",
        "/api/v1/me",
        "/api/v1/me/agency",
        "/api/v1/me/companies",
        "/api/v1/offers",
        "/api/v1/people",
        "/api/v1/representation-claims",
        "/api/v1/representation-disputes",
        "/api/v1/shortlists",
        "/api/v1/tours",
    ] {
        add("GET", path, reads(path.to_owned()));
    }
    // The change feed as a stream, from its start, bounded to a second.
    add(
        "GET",
        "/api/v1/events/stream",
        reads("/api/v1/events/stream?after=0-0&max_wait=1".to_owned()),
    );
    // The same lists with the filters that name the parties' records.
    let filtered = [
        "/api/v1/booking-requests?role=incoming".to_owned(),
        "/api/v1/booking-requests?role=outgoing".to_owned(),
        format!("/api/v1/people?company_id={agency}"),
        format!("/api/v1/people?company_id={}", w.p.promoter_company),
        format!("/api/v1/holds?artist_id={artist}"),
        format!("/api/v1/offers?artist_id={artist}"),
        format!(
            "/api/v1/avails/search?from={}&to={}&country=NL",
            day(0),
            day(90)
        ),
        "/api/v1/artists-companies/sleeping?q=Unclaimed".to_owned(),
        format!("/api/v1/contracts?booking_id={}", w.id("booking")),
    ];
    // Provider references are listed only for one entity or external id.
    add(
        "GET",
        "/api/v1/provider-references",
        reads(format!(
            "/api/v1/provider-references?entity_type=artist&entity_id={artist}"
        )),
    );
    add(
        "GET",
        "/api/v1/provider-references/lookup",
        reads(
            "/api/v1/provider-references/lookup?provider=musicbrainz&external_id=mbid-tenant"
                .to_owned(),
        ),
    );
    for path in filtered {
        let (route, _) = path.split_once('?').unwrap();
        let key = t
            .keys()
            .find(|(m, p)| *m == "GET" && *p == route)
            .copied()
            .unwrap();
        t.get_mut(&key).unwrap().extend(reads(path.clone()));
    }

    // Creates naming another tenant's record.
    let mut add = |method: &'static str, template: &'static str, calls: Vec<Call>| {
        assert!(
            t.insert((method, template), calls).is_none(),
            "{method} {template} arranged twice"
        );
    };
    let foreign = |path: &str, body: Value, want: Want| outsider(path.to_owned(), Some(body), want);
    add(
        "POST",
        "/api/v1/artists",
        foreign(
            "/api/v1/artists",
            json!({"name": "Planted Act", "company_id": agency}),
            FOREIGN,
        ),
    );
    add(
        "POST",
        "/api/v1/artists-companies/takeover-requests",
        foreign(
            "/api/v1/artists-companies/takeover-requests",
            json!({"company_id": agency, "message": "ours now"}),
            Want::Refused(&[404, 409, 422]),
        ),
    );
    add(
        "POST",
        "/api/v1/company-claims",
        foreign(
            "/api/v1/company-claims",
            json!({"company_id": w.p.promoter_company}),
            Want::Refused(&[404, 409, 422]),
        ),
    );
    add(
        "POST",
        "/api/v1/people",
        foreign(
            "/api/v1/people",
            json!({"company_id": w.p.promoter_company, "name": "Planted"}),
            FOREIGN,
        ),
    );
    add(
        "POST",
        "/api/v1/provider-references",
        foreign(
            "/api/v1/provider-references",
            json!({"provider": "spotify", "external_id": "planted", "entity_type": "artist", "entity_id": artist}),
            FOREIGN,
        ),
    );
    add(
        "POST",
        "/api/v1/representation-claims",
        foreign(
            "/api/v1/representation-claims",
            json!({"artist_id": artist, "company_id": id("promoter_mgmt"), "role": "management",
               "territory": {"countries": ["DE"]}}),
            FOREIGN,
        ),
    );
    add(
        "POST",
        "/api/v1/booking-requests",
        foreign("/api/v1/booking-requests", request_body(&w.p), FOREIGN),
    );
    add(
        "POST",
        "/api/v1/offers",
        foreign("/api/v1/offers", offer_body(&w.p, day(64), true), FOREIGN),
    );
    add(
        "POST",
        "/api/v1/holds",
        foreign("/api/v1/holds", hold_body(&w.p, day(31)), FOREIGN),
    );
    add(
        "POST",
        "/api/v1/bookings",
        foreign(
            "/api/v1/bookings",
            json!({"offer_id": id("offer_ready")}),
            Want::Refused(&[404, 422]),
        ),
    );
    add(
        "POST",
        "/api/v1/tours",
        foreign(
            "/api/v1/tours",
            json!({"artist_id": w.p.artist, "company_id": w.p.agency_company, "name": "Hijack"}),
            FOREIGN,
        ),
    );

    // Touring (SPEC 5.6): the artist side sees the whole itinerary, the
    // promoter the shared items of its show day, anyone else nothing; only
    // the artist side writes.
    let tour = id("tour");
    let show_day = day(63);
    let party_reads = |path: String| {
        let mut calls: Vec<Call> = PARTIES
            .iter()
            .map(|who| call(*who, path.clone(), None, Want::Reads))
            .collect();
        calls.extend(hidden(path, None));
        calls
    };
    add(
        "GET",
        "/api/v1/tours/{id}/itinerary",
        party_reads(format!("/api/v1/tours/{tour}/itinerary")),
    );
    let item_body = json!({"kind": "other", "title": "Planted", "starts_at_local": format!("{show_day}T12:00")});
    let mut create = hidden(
        format!("/api/v1/tours/{tour}/itinerary"),
        Some(item_body.clone()),
    );
    create.push(call(
        Promoter,
        format!("/api/v1/tours/{tour}/itinerary"),
        Some(item_body),
        FORBIDDEN,
    ));
    add("POST", "/api/v1/tours/{id}/itinerary", create);
    let item_calls = |body: Option<Value>| {
        let shared = format!("/api/v1/itinerary-items/{}", id("itinerary_shared"));
        let mut calls = private_to(
            Agency,
            format!("/api/v1/itinerary-items/{}", id("itinerary_private")),
            body.clone(),
        );
        calls.extend(hidden(shared.clone(), body.clone()));
        calls.push(call(Promoter, shared, body, FORBIDDEN));
        calls
    };
    add(
        "PATCH",
        "/api/v1/itinerary-items/{id}",
        item_calls(Some(json!({"title": "Changed"}))),
    );
    add("DELETE", "/api/v1/itinerary-items/{id}", item_calls(None));
    let mut sheets = party_reads(format!("/api/v1/tours/{tour}/day-sheets/{show_day}"));
    sheets.push(call(
        Promoter,
        format!("/api/v1/tours/{tour}/day-sheets/{}", day(64)),
        None,
        Want::Hidden,
    ));
    add("GET", "/api/v1/tours/{id}/day-sheets/{date}", sheets);
    add(
        "GET",
        "/api/v1/tours/{id}/itinerary.ics",
        party_reads(format!("/api/v1/tours/{tour}/itinerary.ics")),
    );
    let subscription = format!("/api/v1/tours/{tour}/calendar-subscription");
    let mut get_subscription = vec![call(Agency, subscription.clone(), None, Want::Reads)];
    get_subscription.extend(private_to(Agency, subscription.clone(), None));
    add(
        "GET",
        "/api/v1/tours/{id}/calendar-subscription",
        get_subscription,
    );
    add(
        "POST",
        "/api/v1/tours/{id}/calendar-subscription",
        hidden(subscription.clone(), None),
    );
    add(
        "DELETE",
        "/api/v1/tours/{id}/calendar-subscription",
        private_to(Agency, subscription, None),
    );
    // A member's own tokens: listed to them only, revoked by them only.
    add(
        "GET",
        "/api/v1/calendar-subscriptions",
        reads("/api/v1/calendar-subscriptions".into()),
    );
    add(
        "DELETE",
        "/api/v1/calendar-subscriptions/{id}",
        private_to(
            Agency,
            format!("/api/v1/calendar-subscriptions/{}", id("tour_subscription")),
            None,
        ),
    );

    // Relationship memory: network-wide companies, private notes and
    // flags, ratings of the parties' booking.
    let promoter_company = w.p.promoter_company.as_str();
    let relationship = |tail: &str| format!("/api/v1/relationships/{promoter_company}{tail}");
    add(
        "GET",
        "/api/v1/relationships",
        reads("/api/v1/relationships".into()),
    );
    add(
        "GET",
        "/api/v1/relationships/{company_id}",
        reads(relationship("")),
    );
    add(
        "GET",
        "/api/v1/relationships/{company_id}/notes",
        reads(relationship("/notes")),
    );
    add(
        "GET",
        "/api/v1/relationships/{company_id}/flags",
        reads(relationship("/flags")),
    );
    add(
        "POST",
        "/api/v1/relationships/{company_id}/flags",
        outsider(
            relationship("/flags"),
            Some(json!({"kind": "no_show", "booking_id": id("booking")})),
            FOREIGN,
        ),
    );
    add(
        "DELETE",
        "/api/v1/relationship-notes/{id}",
        private_to(
            Agency,
            format!("/api/v1/relationship-notes/{}", id("agency_note")),
            None,
        ),
    );
    add(
        "DELETE",
        "/api/v1/relationship-flags/{id}",
        private_to(
            Agency,
            format!("/api/v1/relationship-flags/{}", id("agency_flag")),
            None,
        ),
    );
    add(
        "POST",
        "/api/v1/bookings/{id}/ratings",
        hidden(
            format!("/api/v1/bookings/{}/ratings", id("booking")),
            Some(json!({"overall": 1})),
        ),
    );
    add(
        "GET",
        "/api/v1/artists-companies/{id}/trust",
        reads(format!(
            "/api/v1/artists-companies/{promoter_company}/trust"
        )),
    );
    add(
        "GET",
        "/api/v1/artists/{id}/booking-history",
        reads(format!("/api/v1/artists/{artist}/booking-history")),
    );

    // Machine routes: a user token never opens them.
    let decision = Some(json!({"reason": "no"}));
    let request = |tail: &str| {
        format!(
            "/internal/admin/artist-company-requests/{}{tail}",
            id("provisioning_request")
        )
    };
    add(
        "GET",
        "/internal/admin/artist-company-requests",
        machine("/internal/admin/artist-company-requests".into(), None),
    );
    add(
        "GET",
        "/internal/admin/artist-company-requests/{id}",
        machine(request(""), None),
    );
    add(
        "POST",
        "/internal/admin/artist-company-requests/{id}/approve",
        machine(request("/approve"), None),
    );
    add(
        "POST",
        "/internal/admin/artist-company-requests/{id}/reject",
        machine(request("/reject"), decision.clone()),
    );
    add(
        "GET",
        "/internal/ops/finance-endpoint",
        machine("/internal/ops/finance-endpoint".into(), None),
    );
    add(
        "GET",
        "/internal/privacy/subjects",
        machine(
            "/internal/privacy/subjects?email=ana@contact.example".into(),
            None,
        ),
    );
    add(
        "POST",
        "/internal/privacy/erasures",
        machine(
            "/internal/privacy/erasures".into(),
            Some(json!({"email": "ana@contact.example", "reason": "request"})),
        ),
    );
    add(
        "POST",
        "/internal/ops/finance-endpoint/enable",
        machine("/internal/ops/finance-endpoint/enable".into(), None),
    );
    add(
        "POST",
        "/internal/artists",
        machine("/internal/artists".into(), Some(json!({"name": "Planted"}))),
    );
    add(
        "POST",
        "/internal/artists-companies",
        machine(
            "/internal/artists-companies".into(),
            Some(json!({"kind": "venue", "name": "Planted Hall"})),
        ),
    );
    let claim = |tail: &str| format!("/internal/company-claims/{}{tail}", id("company_claim"));
    add(
        "POST",
        "/internal/company-claims/{id}/approve",
        machine(claim("/approve"), None),
    );
    add(
        "POST",
        "/internal/company-claims/{id}/reject",
        machine(claim("/reject"), decision.clone()),
    );
    let claim = |tail: &str| {
        format!(
            "/internal/representation-claims/{}{tail}",
            id("claim_pending")
        )
    };
    add(
        "POST",
        "/internal/representation-claims/{id}/approve",
        machine(claim("/approve"), None),
    );
    add(
        "POST",
        "/internal/representation-claims/{id}/reject",
        machine(claim("/reject"), decision),
    );
    add(
        "POST",
        "/internal/representation-disputes/{id}/resolve",
        machine(
            format!(
                "/internal/representation-disputes/{}/resolve",
                id("dispute")
            ),
            Some(json!({"resolution": "claim_upheld"})),
        ),
    );
    add(
        "POST",
        "/internal/finance/events",
        machine(
            "/internal/finance/events".into(),
            Some(json!({"type": "deposit.paid", "booking_id": id("booking")})),
        ),
    );
    add(
        "POST",
        "/internal/ops/canaries",
        machine("/internal/ops/canaries".into(), Some(json!({}))),
    );
    add(
        "GET",
        "/internal/ops/canaries/{id}",
        machine(format!("/internal/ops/canaries/{}", id("canary")), None),
    );
    add(
        "GET",
        "/internal/ops/jobs",
        machine("/internal/ops/jobs".into(), None),
    );
    add(
        "GET",
        "/internal/ops/jobs/{id}",
        machine(format!("/internal/ops/jobs/{}", id("job")), None),
    );
    add(
        "POST",
        "/internal/ops/jobs/{id}/retry",
        machine(format!("/internal/ops/jobs/{}/retry", id("job")), None),
    );
    add(
        "POST",
        "/internal/ops/jobs/{id}/cancel",
        machine(format!("/internal/ops/jobs/{}/cancel", id("job")), None),
    );
    add(
        "POST",
        "/internal/ops/jobs/{id}/purge",
        machine(format!("/internal/ops/jobs/{}/purge", id("job")), None),
    );
    add(
        "GET",
        "/internal/ops/queues",
        machine("/internal/ops/queues".into(), None),
    );
    add(
        "GET",
        "/internal/ops/schedules",
        machine("/internal/ops/schedules".into(), None),
    );
    add(
        "GET",
        "/internal/ops/workers",
        machine("/internal/ops/workers".into(), None),
    );
    add(
        "GET",
        "/internal/ops/throughput",
        machine("/internal/ops/throughput".into(), None),
    );
    add(
        "POST",
        "/internal/ops/queues/{queue}/retry-dead",
        machine("/internal/ops/queues/noop/retry-dead".into(), None),
    );
    add("GET", "/metrics", machine("/metrics".into(), None));
    t
}

/// Reference data (shipped, never changed by a tenant) and migration
/// history are left out of the comparison.
const UNWATCHED: &[&str] = &[
    "_sqlx_migrations",
    "reference_data_loads",
    "countries",
    "currencies",
    "regions",
    "cities",
    "markets",
    "market_countries",
    "market_regions",
    "genres",
];

/// A digest of every domain table (and the job queue): equal before and
/// after means nothing changed.
async fn snapshot(app: &TestApp) -> BTreeMap<String, String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut digests = BTreeMap::new();
    for table in tables
        .into_iter()
        .filter(|t| !UNWATCHED.contains(&t.as_str()))
    {
        let sql = format!(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
        );
        let digest: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.pool)
            .await
            .unwrap();
        digests.insert(table, digest);
    }
    digests.insert(
        "job queue".to_owned(),
        kisum_tests::queue::digest(&app.pool).await,
    );
    digests
}

/// What is wrong with one answer, if anything.
fn verdict(w: &World, c: &Call, status: u16, body: &str) -> Option<String> {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let wrong = |expected: &str| Some(format!("{status}, expected {expected}: {body}"));
    match c.want {
        Want::Hidden if status != 404 || json["code"] != "not_found" => {
            return wrong("404 not_found");
        }
        Want::Reads if status != 200 => return wrong("200"),
        Want::Refused(allowed) if !allowed.contains(&status) => {
            return wrong(&format!("one of {allowed:?}"));
        }
        Want::Unauthorized if status != 401 => return wrong("401"),
        Want::BusyOnly => {
            let entries = json.as_array().cloned().unwrap_or_default();
            let detailed = |e: &Value| {
                !matches!(e["kind"].as_str(), Some("busy" | "availability"))
                    || e["kind"] == "busy"
                        && !(e["id"].is_null() && e["status"].is_null() && e["priority"].is_null())
            };
            if status != 200 || entries.iter().any(detailed) {
                return wrong("200 with busy days only");
            }
            if !entries.iter().any(|e| e["kind"] == "busy") {
                return wrong("the parties' hold and booking as busy days");
            }
        }
        _ => {}
    }
    let seen: Vec<&str> = w
        .hidden_from(c.who)
        .into_iter()
        .filter(|(_, id)| body.contains(id))
        .map(|(name, _)| name)
        .collect();
    (!seen.is_empty()).then(|| format!("{status}, the answer shows {seen:?}: {body}"))
}

/// A hidden record must answer exactly like an id that names nothing
/// (status, code and detail), so ids of other tenants cannot be probed.
async fn unlike_unknown(
    app: &TestApp,
    w: &World,
    c: &Call,
    method: &str,
    answer: &str,
) -> Option<String> {
    let real = w.ids.values().find(|id| c.path.contains(id.as_str()))?;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut request = w.org(c.who).req(
        app,
        Method::from_bytes(method.as_bytes()).unwrap(),
        &c.path.replace(real.as_str(), &unknown),
    );
    if let Some(body) = &c.body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let probe: Value = response.json().await.unwrap_or(Value::Null);
    let answer: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    let shape = |v: &Value, id: &str| {
        let detail = v["detail"].as_str().unwrap_or_default().replace(id, "{id}");
        (v["status"].clone(), v["code"].clone(), detail)
    };
    let (hidden, missing) = (shape(&answer, real), shape(&probe, &unknown));
    (hidden != missing || status != 404)
        .then(|| format!("answers {hidden:?}, but an unknown id answers {status} {missing:?}"))
}

/// The operations of the served document, as (method, path template),
/// each with whether it requires a request body.
async fn documented(app: &TestApp) -> BTreeMap<(String, String), bool> {
    let doc: Value = app
        .get("/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths in the document") {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if let Some(operation) = item.get(method) {
                let body = operation["requestBody"]["required"] == true;
                operations.insert((method.to_ascii_uppercase(), path.clone()), body);
            }
        }
    }
    operations
}

#[tokio::test]
async fn no_route_shows_or_changes_another_tenants_records() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let table = routes(&w);
    let operations = documented(&app).await;
    assert!(operations.len() > 50, "{operations:?}");

    let mut failures = Vec::new();
    let listed: BTreeSet<(&str, &str)> = LISTED.iter().map(|(m, p, _)| (*m, *p)).collect();
    for ((method, path), takes_body) in &operations {
        let key = (method.as_str(), path.as_str());
        match table.get(&key) {
            None if !listed.contains(&key) => failures.push(format!(
                "{method} {path}: in the document but neither arranged in cross_tenant::routes \
                 nor listed in LISTED"
            )),
            Some(calls) if *takes_body && calls.iter().any(|c| c.body.is_none()) => {
                failures.push(format!(
                    "{method} {path}: requires a body, and a call of its table row sends none"
                ));
            }
            _ => {}
        }
    }
    for (method, path) in table.keys().chain(listed.iter()) {
        if !operations.contains_key(&(method.to_string(), path.to_string())) {
            failures.push(format!(
                "{method} {path}: arranged or listed, but not in the document"
            ));
        }
    }

    // The parties can read their own records, so a 404 below is about who
    // asks, not about a wrong id.
    for (who, path) in [
        (Agency, format!("/api/v1/people/{}", w.id("agency_person"))),
        (
            Promoter,
            format!("/api/v1/people/{}", w.id("promoter_person")),
        ),
        (
            Agency,
            format!("/api/v1/shortlists/{}", w.id("agency_shortlist")),
        ),
        (
            Promoter,
            format!("/api/v1/shortlists/{}", w.id("promoter_shortlist")),
        ),
        (
            Agency,
            format!("/api/v1/booking-requests/{}", w.id("request")),
        ),
        (Promoter, format!("/api/v1/offers/{}", w.id("offer_draft"))),
        (Agency, format!("/api/v1/offers/{}", w.id("offer_sent"))),
        (Promoter, format!("/api/v1/holds/{}", w.id("hold"))),
        (Agency, format!("/api/v1/holds/{}", w.id("hold_backed"))),
        (
            Promoter,
            format!("/api/v1/bookings/{}/activity", w.id("booking")),
        ),
        (
            Agency,
            format!("/api/v1/contract-templates/{}", w.id("template")),
        ),
        (Promoter, format!("/api/v1/contracts/{}", w.id("contract"))),
        (
            Agency,
            format!("/api/v1/logistics-proposals/{}", w.id("proposal")),
        ),
        (
            Promoter,
            format!("/api/v1/bookings/{}/logistics", w.id("booking")),
        ),
    ] {
        let (status, body) = w.org(who).get(&app, &path).await;
        assert_eq!(status, 200, "{who:?} reads its own {path}: {body}");
    }

    let mut total = 0;
    let mut shown = BTreeSet::new();
    for ((method, template), calls) in &table {
        for c in calls {
            total += 1;
            let before = snapshot(&app).await;
            let mut request = w.org(c.who).req(
                &app,
                Method::from_bytes(method.as_bytes()).unwrap(),
                &c.path,
            );
            if let Some(body) = &c.body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let name = format!("{:?} {method} {} ({template})", c.who, c.path);
            if let Some(why) = verdict(&w, c, status, &text) {
                failures.push(format!("{name}: {why}"));
            }
            if matches!(c.want, Want::Hidden)
                && let Some(why) = unlike_unknown(&app, &w, c, method, &text).await
            {
                failures.push(format!("{name}: {why}"));
            }
            if matches!(c.want, Want::Reads) {
                shown.extend(
                    w.hidden
                        .iter()
                        .filter(|(name, seen_by)| {
                            seen_by.contains(&c.who) && text.contains(w.id(name))
                        })
                        .map(|(name, _)| *name),
                );
            }
            let after = snapshot(&app).await;
            let changed: Vec<&String> = after
                .iter()
                .filter(|(table, digest)| before.get(*table) != Some(*digest))
                .map(|(table, _)| table)
                .collect();
            if !changed.is_empty() {
                failures.push(format!("{name}: changed {changed:?} (answered {status})"));
            }
        }
    }
    // Each private record shows up in some read of a caller allowed to see
    // it, so its absence from the others' answers means something.
    for name in w.hidden.keys().filter(|name| !shown.contains(*name)) {
        failures.push(format!(
            "{name}: no read shows it even to those allowed to see it"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failures in {total} calls over {} operations:\n{}",
        failures.len(),
        operations.len(),
        failures.join("\n")
    );
}
