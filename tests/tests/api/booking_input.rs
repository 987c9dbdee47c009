//! Bad input on every booking route (SPEC 4, 5.3, 5.4): wrong types, unknown
//! fields and states, malformed ids and dates, out-of-range numbers and
//! transitions out of order. Each case must answer problem+json with the
//! expected status and `code` (and the fields, for validation errors), and
//! must change nothing: the booking tables are compared before and after.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, Utc};
use kisum_tests::{BookingParties, Org, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

use Who::{Agency, Promoter};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;
const UNKNOWN: &str = "0190a0a0-0000-7000-8000-000000000000";

/// What a case must answer.
#[derive(Clone, Copy, Debug)]
enum Want {
    Is(u16, &'static str),
    /// 422 `validation_failed` naming exactly these fields, in order.
    Fields(&'static [&'static str]),
    /// A success (2xx) that writes, unless the method is GET.
    Ok(u16),
}

const BODY: Want = Want::Is(422, "invalid_body");
const QUERY: Want = Want::Is(400, "invalid_query");
const FLOW: Want = Want::Is(409, "invalid_transition");
const STALE: Want = Want::Is(412, "stale_version");
const DENIED: Want = Want::Is(403, "forbidden");
const MISSING: Want = Want::Is(404, "not_found");

macro_rules! field {
    ($($f:literal),+) => {
        Want::Fields(&[$($f),+])
    };
}

/// A table: each row `first => rest, ...;` becomes the tuple
/// `(first, rest, ...)`, and stays on one line.
macro_rules! rows {
    ($($first:expr => $($rest:expr),+;)*) => {
        vec![$(($first, $($rest),+)),*]
    };
}

#[derive(Clone, Copy, Debug)]
enum Who {
    Agency,
    Promoter,
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    /// Sent as `application/json` as is.
    Raw(&'static str),
    /// A JSON body without a JSON content type.
    Plain(&'static str),
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    who: Who,
    method: Method,
    path: String,
    body: Body,
    if_match: Option<&'static str>,
    want: Want,
}

fn case(name: impl Into<String>, who: Who, method: Method, path: &str, body: Body) -> Case {
    Case {
        name: name.into(),
        who,
        method,
        path: path.to_owned(),
        body,
        if_match: None,
        want: Want::Ok(200),
    }
}

impl Case {
    fn want(mut self, want: Want) -> Self {
        self.want = want;
        self
    }
}

/// Changes to a valid body: members set or removed at JSON pointers.
#[derive(Clone, Debug)]
struct Edit(Vec<(&'static str, Option<Value>)>);

fn put(pointer: &'static str, value: Value) -> Edit {
    Edit(vec![(pointer, Some(value))])
}

fn remove(pointer: &'static str) -> Edit {
    Edit(vec![(pointer, None)])
}

impl Edit {
    fn put(mut self, pointer: &'static str, value: Value) -> Self {
        self.0.push((pointer, Some(value)));
        self
    }

    fn apply(&self, base: &Value) -> Value {
        let mut value = base.clone();
        for (pointer, member) in &self.0 {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let object = value
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .unwrap();
            match member {
                Some(member) => object.insert(key.to_owned(), member.clone()),
                None => object.remove(key),
            };
        }
        value
    }
}

/// One case per row, each sending `base` with its edit.
fn edits(
    who: Who,
    method: Method,
    path: &str,
    base: &Value,
    rows: Vec<(&str, Edit, Want)>,
) -> Vec<Case> {
    rows.into_iter()
        .map(|(name, edit, want)| {
            let body = Body::Json(edit.apply(base));
            case(
                format!("{method} {path}: {name}"),
                who,
                method.clone(),
                path,
                body,
            )
            .want(want)
        })
        .collect()
}

/// One GET per row, by the promoter.
fn reads(rows: Vec<(String, Want)>) -> Vec<Case> {
    rows.into_iter()
        .map(|(path, want)| {
            case(format!("GET {path}"), Promoter, GET, &path, Body::None).want(want)
        })
        .collect()
}

/// One bodiless POST `/api/v1/{area}/{id}/{action}` per row, `id` named in
/// the world.
fn actions(w: &World, area: &str, rows: Vec<(Who, &str, &str, Want)>) -> Vec<Case> {
    rows.into_iter()
        .map(|(who, record, action, want)| {
            let path = format!("/api/v1/{area}/{}/{action}", w.id(record));
            case(
                format!("{who:?} {action}s {record}"),
                who,
                POST,
                &path,
                Body::None,
            )
            .want(want)
        })
        .collect()
}

/// One request per row: who, method, path, body, `If-Match`, answer.
type Call<'a> = (Who, Method, &'a str, Body, Option<&'static str>, Want);

fn calls(rows: Vec<Call<'_>>) -> Vec<Case> {
    rows.into_iter()
        .map(|(who, method, path, body, if_match, want)| {
            let name = format!("{who:?} {method} {path} (If-Match {if_match:?})");
            let mut call = case(name, who, method, path, body).want(want);
            call.if_match = if_match;
            call
        })
        .collect()
}

/// Bodies no JSON route accepts: broken syntax, no body, the wrong media
/// type, and JSON that is not an object.
fn malformed_bodies(who: Who, method: Method, path: &str) -> Vec<Case> {
    [
        (
            "broken JSON",
            Body::Raw("{\"artist"),
            Want::Is(400, "invalid_json"),
        ),
        ("not JSON", Body::Raw("nope"), Want::Is(400, "invalid_json")),
        ("empty body", Body::Raw(""), Want::Is(400, "invalid_json")),
        (
            "text/plain",
            Body::Plain("{}"),
            Want::Is(415, "unsupported_media_type"),
        ),
        ("array", Body::Json(json!([])), BODY),
        ("null", Body::Json(Value::Null), BODY),
        ("string", Body::Json(json!("x")), BODY),
    ]
    .into_iter()
    .map(|(name, body, want)| {
        case(
            format!("{method} {path}: {name}"),
            who,
            method.clone(),
            path,
            body,
        )
        .want(want)
    })
    .collect()
}

/// Each `{id}` route with an id that is not a UUID (400) and with one that
/// names nothing (404).
fn bad_ids(who: Who, routes: &[(Method, &str, Body)]) -> Vec<Case> {
    let ids = [
        ("not-a-uuid", Want::Is(400, "invalid_path")),
        (
            "0190a0a0-0000-7000-8000-00000000000g",
            Want::Is(400, "invalid_path"),
        ),
        ("12345", Want::Is(400, "invalid_path")),
        (UNKNOWN, MISSING),
    ];
    let mut cases = Vec::new();
    for (method, template, body) in routes {
        for (id, want) in ids {
            let path = template.replace("{id}", id);
            let name = format!("{method} {path}");
            cases.push(case(name, who, method.clone(), &path, body.clone()).want(want));
        }
    }
    cases
}

/// Everything a bad request could have touched, as one comparable value.
async fn snapshot(app: &TestApp) -> String {
    let jobs = kisum_tests::queue::count_all(&app.pool).await;
    sqlx::query_scalar(
        "SELECT json_build_object(
            'requests', (SELECT json_agg(json_build_array(id, status, version) ORDER BY id)
                           FROM booking_requests),
            'offers', (SELECT json_agg(json_build_array(id, status, version, current_version,
                                                        written_by_side, expires_at) ORDER BY id)
                         FROM offers),
            'offer_versions', (SELECT count(*) FROM offer_versions),
            'holds', (SELECT json_agg(json_build_array(id, status, version, priority, offer_id,
                                                       challenge_deadline) ORDER BY id)
                        FROM holds),
            'bookings', (SELECT json_agg(json_build_array(id, status, version, cancel_reason)
                                         ORDER BY id)
                           FROM bookings),
            'availabilities', (SELECT json_agg(json_build_array(id, version, starts_on, ends_on,
                                                                status, min_fee, currency,
                                                                published, notes, areas)
                                               ORDER BY id)
                                 FROM availabilities),
            'activity', (SELECT count(*) FROM booking_activity),
            'jobs', $1::bigint,
            'idempotency', (SELECT count(*) FROM idempotency_keys)
         )::text",
    )
    .bind(jobs)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// What went wrong with one case's answer, if anything.
async fn verdict(want: Want, response: reqwest::Response) -> Result<(), String> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    let (expected, code, fields) = match want {
        Want::Ok(expected) if status == expected => return Ok(()),
        Want::Ok(expected) => (expected, "", &[][..]),
        Want::Is(expected, code) => (expected, code, &[][..]),
        Want::Fields(fields) => (422, "validation_failed", fields),
    };
    if status != expected {
        return Err(format!("status {status}, expected {expected}: {text}"));
    }
    if content_type != "application/problem+json" {
        return Err(format!("content type {content_type:?}: {text}"));
    }
    let body: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    if body["code"] != code || body["status"] != status {
        return Err(format!("expected code {code}: {body}"));
    }
    let filled = |f: &str| body[f].as_str().is_some_and(|s| !s.is_empty());
    if !["type", "title", "detail", "request_id"]
        .into_iter()
        .all(filled)
    {
        return Err(format!("incomplete problem: {body}"));
    }
    if !fields.is_empty() {
        let named: Vec<&str> = body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
            .filter_map(|e| e["field"].as_str())
            .collect();
        if named != fields {
            return Err(format!("expected errors on {fields:?}: {body}"));
        }
    }
    Ok(())
}

/// Runs every case; refusals and reads must leave the booking tables as
/// they were, an accepted write must change them. Reports all failures.
async fn run(app: &TestApp, w: &World, cases: Vec<Case>) {
    let total = cases.len();
    assert!(total > 0);
    let mut failures = Vec::new();
    for case in cases {
        let org = match case.who {
            Agency => &w.p.agency,
            Promoter => &w.p.promoter,
        };
        let before = snapshot(app).await;
        let mut request = org.req(app, case.method.clone(), &case.path);
        if let Some(value) = case.if_match {
            request = request.header("if-match", value);
        }
        request = match &case.body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Raw(raw) => request
                .header("content-type", "application/json")
                .body(*raw),
            Body::Plain(raw) => request.header("content-type", "text/plain").body(*raw),
        };
        if let Err(why) = verdict(case.want, request.send().await.unwrap()).await {
            failures.push(format!("{}: {why}", case.name));
        }
        let changed = snapshot(app).await != before;
        let writes = matches!(case.want, Want::Ok(_)) && case.method != GET;
        if changed != writes {
            let what = if changed {
                "state changed"
            } else {
                "a write changed nothing"
            };
            failures.push(format!("{}: {what}", case.name));
        }
    }
    let count = failures.len();
    assert!(
        failures.is_empty(),
        "{count} of {total} cases failed:\n{}",
        failures.join("\n")
    );
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn day(offset: i64) -> NaiveDate {
    today() + Duration::days(offset)
}

/// The day most offers are for.
fn show_day() -> NaiveDate {
    day(60)
}

/// The day the plain holds are on.
fn hold_day() -> NaiveDate {
    day(30)
}

fn deal() -> Value {
    json!({
        "type": "versus", "currency": "EUR", "guarantee_amount": 1_000_000,
        "percentage": 80.0, "percentage_basis": "net", "ticket_price": 3500, "capacity": 1500,
        "set_length_minutes": 90, "radius": {"km": 100, "days_before": 30, "days_after": 30},
        "bonuses": [{"tickets_sold": 1000, "amount": 100_000}], "hospitality": "Rider as attached"
    })
}

fn offer_body(p: &BookingParties, date: NaiveDate) -> Value {
    json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": date,
        "venue": {"name": "Paradiso", "capacity": 1500, "city_id": 2759794}, "deal": deal(),
        "expires_at": Utc::now() + Duration::days(7), "send": true,
    })
}

fn request_body(p: &BookingParties) -> Value {
    json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": show_day(),
        "venue": {"name": "Melkweg", "capacity": 700, "city_id": 2759794}, "message": "Saturday?",
        "wants_hold": true
    })
}

fn hold_body(p: &BookingParties, date: NaiveDate) -> Value {
    json!({
        "artist_id": p.artist, "date": date, "promoter_company_id": p.promoter_company,
        "expires_at": Utc::now() + Duration::days(3), "note": "first option"
    })
}

fn window_body() -> Value {
    json!({
        "starts_on": day(20), "ends_on": day(29), "status": "available",
        "territory": {"countries": ["NL"]}, "min_fee": 500_000, "currency": "EUR",
        "published": true, "notes": "summer run"
    })
}

/// A setup POST that must succeed; its answer's `id`.
async fn post(app: &TestApp, org: &Org, path: &str, body: Option<Value>) -> String {
    let (status, answer) = org.send(app, POST, path, body).await;
    assert!(
        (200..300).contains(&status),
        "setup {path}: {status} {answer}"
    );
    answer["id"].as_str().unwrap_or_default().to_owned()
}

/// The two parties and their records in every state a route can be called
/// on, by name: an availability `window`; requests `open`, `converted`,
/// `declined_request`, `withdrawn_request`; offers `draft`, `sent`,
/// `accepted` (not booked; its date is), `declined`, `withdrawn`, `lapsed`
/// (sent, past its answer deadline), `booked`; holds `first`, `second`,
/// `released`, `converted_hold`; bookings `confirmed`, `cancelled`,
/// `completed`.
struct World {
    p: BookingParties,
    ids: HashMap<&'static str, String>,
}

impl World {
    fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }

    async fn build(app: &TestApp) -> Self {
        let p = kisum_tests::booking_parties(app, "Input Agency", "Input Artist", &[]).await;
        let (agency, promoter) = (&p.agency, &p.promoter);
        let mut ids = HashMap::new();
        let windows = format!("/api/v1/artists/{}/availabilities", p.artist);
        ids.insert(
            "window",
            post(app, agency, &windows, Some(window_body())).await,
        );

        for name in ["open", "converted", "declined_request", "withdrawn_request"] {
            let id = post(
                app,
                promoter,
                "/api/v1/booking-requests",
                Some(request_body(&p)),
            )
            .await;
            ids.insert(name, id);
        }
        let request =
            |name: &str, action: &str| format!("/api/v1/booking-requests/{}/{action}", ids[name]);
        post(app, agency, &request("declined_request", "decline"), None).await;
        post(
            app,
            promoter,
            &request("withdrawn_request", "withdraw"),
            None,
        )
        .await;
        let quote =
            put("/booking_request_id", json!(ids["converted"])).apply(&offer_body(&p, show_day()));
        post(app, agency, "/api/v1/offers", Some(quote)).await;

        let draft = put("/send", json!(false)).apply(&offer_body(&p, show_day()));
        ids.insert(
            "draft",
            post(app, promoter, "/api/v1/offers", Some(draft)).await,
        );
        for (name, date, answer) in [
            ("sent", show_day(), None),
            ("lapsed", show_day(), None),
            ("accepted", show_day(), Some((agency, "accept"))),
            ("declined", show_day(), Some((agency, "decline"))),
            ("withdrawn", show_day(), Some((promoter, "withdraw"))),
            ("booked", show_day(), Some((agency, "accept"))),
            ("to_cancel", day(61), Some((agency, "accept"))),
            ("to_complete", today(), Some((agency, "accept"))),
        ] {
            let id = post(app, promoter, "/api/v1/offers", Some(offer_body(&p, date))).await;
            if let Some((org, action)) = answer {
                post(app, org, &format!("/api/v1/offers/{id}/{action}"), None).await;
            }
            ids.insert(name, id);
        }
        sqlx::query(
            "UPDATE offers SET expires_at = now() - interval '1 minute' WHERE id = $1::uuid",
        )
        .bind(&ids["lapsed"])
        .execute(&app.pool)
        .await
        .unwrap();

        for name in ["released", "first", "second"] {
            let id = post(
                app,
                agency,
                "/api/v1/holds",
                Some(hold_body(&p, hold_day())),
            )
            .await;
            if name == "released" {
                post(app, agency, &format!("/api/v1/holds/{id}/release"), None).await;
            }
            ids.insert(name, id);
        }
        let backing = put("/offer_id", json!(ids["booked"])).apply(&hold_body(&p, show_day()));
        ids.insert(
            "converted_hold",
            post(app, agency, "/api/v1/holds", Some(backing)).await,
        );

        for (name, offer, then) in [
            ("confirmed", "booked", None),
            ("cancelled", "to_cancel", Some("cancel")),
            ("completed", "to_complete", Some("complete")),
        ] {
            let body = json!({"offer_id": ids[offer]});
            let id = post(app, promoter, "/api/v1/bookings", Some(body)).await;
            if let Some(action) = then {
                let path = format!("/api/v1/bookings/{id}/{action}");
                post(
                    app,
                    agency,
                    &path,
                    (action == "cancel").then(|| json!({"reason": "rain"})),
                )
                .await;
            }
            ids.insert(name, id);
        }
        Self { p, ids }
    }
}

#[tokio::test]
async fn availability_routes_refuse_bad_input_and_change_nothing() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let windows = format!("/api/v1/artists/{}/availabilities", w.p.artist);
    let window = format!("/api/v1/availabilities/{}", w.id("window"));
    let calendar = format!("/api/v1/artists/{}/calendar", w.p.artist);
    let search = "/api/v1/avails/search";
    let base = window_body();
    let far = "%2B262142-12-31";

    let mut cases = edits(
        Agency,
        POST,
        &windows,
        &base,
        rows![
            "start as a number" => put("/starts_on", json!(20_260_101)), BODY;
            "impossible date" => put("/starts_on", json!("2026-13-40")), BODY;
            "unknown field" => put("/colour", json!("red")), BODY;
            "unknown status" => put("/status", json!("maybe")), BODY;
            "no territory" => remove("/territory"), BODY;
            "no start" => remove("/starts_on"), BODY;
            "published as text" => put("/published", json!("yes")), BODY;
            "fee over i64" => put("/min_fee", json!(9_223_372_036_854_775_808_u64)), BODY;
            "fractional fee" => put("/min_fee", json!(1.5)), BODY;
            "market not a uuid" => put("/territory", json!({"market_ids": ["benelux"]})), BODY;
            "unknown territory field" => put("/territory/planet", json!("mars")), BODY;
            "ends before it starts" => put("/ends_on", json!(day(19))), field!("ends_on");
            "over the maximum span" => put("/ends_on", json!(day(400))), field!("ends_on");
            "past" => put("/starts_on", json!("2020-01-01")).put("/ends_on", json!("2020-01-05")),
                field!("ends_on");
            "negative fee" => put("/min_fee", json!(-1)), field!("min_fee");
            "fee without currency" => remove("/currency"), field!("currency");
            "currency not a code" => put("/currency", json!("EURO")), field!("currency");
            "no such currency" => put("/currency", json!("XQZ")), field!("currency");
            "notes too long" => put("/notes", json!("n".repeat(2001))), field!("notes");
            "notes with NUL" => put("/notes", json!("a\u{0}b")), field!("notes");
            "empty territory" => put("/territory", json!({})), field!("territory");
            "unknown country" => put("/territory", json!({"countries": ["NL", "ZZ"]})),
                field!("territory.countries[1]");
            "also NL" => put("/territory", json!({"worldwide": true, "countries": ["NL"]})),
                field!("territory");
            "unknown market" => put("/territory", json!({"market_ids": [UNKNOWN]})),
                field!("territory.market_ids[0]");
            "country as a name" => put("/territory", json!({"countries": ["Netherlands"]})),
                field!("territory.countries[0]");
        ],
    );
    cases.extend(edits(
        Agency,
        PATCH,
        &window,
        &json!({}),
        rows![
            "unknown status" => put("/status", json!("maybe")), BODY;
            "id in the body" => put("/id", json!(UNKNOWN)), BODY;
            "version in the body" => put("/version", json!(7)), BODY;
            "start as a number" => put("/starts_on", json!(5)), BODY;
            "ends before it starts" => put("/ends_on", json!(day(10))), field!("ends_on");
            "negative fee" => put("/min_fee", json!(-5)), field!("min_fee");
            "fee left without currency" => put("/currency", Value::Null), field!("currency");
            "no such currency" => put("/currency", json!("XQZ")), field!("currency");
            "notes too long" => put("/notes", json!("n".repeat(2001))), field!("notes");
            "empty territory" => put("/territory", json!({})), field!("territory");
            "unknown country" => put("/territory", json!({"countries": ["BE", "QQ"]})),
                field!("territory.countries[1]");
            "unknown market" => put("/territory", json!({"market_ids": [UNKNOWN]})),
                field!("territory.market_ids[0]");
        ],
    ));
    let note = || Body::Json(json!({"notes": "x"}));
    let stale = Some("\"99\"");
    cases.extend(calls(rows![
        Agency => PATCH, &window, note(), stale, STALE;
        Agency => PATCH, &window, note(), Some("yesterday"), STALE;
        Promoter => PATCH, &window, note(), None, DENIED;
        Promoter => DELETE, &window, Body::None, None, DENIED;
        Promoter => POST, &windows, Body::Json(base.clone()), None, DENIED;
    ]));
    cases.extend(reads(rows![
        format!("{windows}?from=2026-13-40") => QUERY;
        format!("{windows}?from=tomorrow") => QUERY;
        format!("{windows}?from={}&to={}", day(10), day(5)) => field!("to");
        format!("{windows}?from={}&to={}", day(0), day(400)) => field!("to");
        format!("{windows}?to=2020-01-01") => field!("to");
        format!("{windows}?from={far}") => Want::Ok(200);
        format!("{calendar}?to=2026-02-30") => QUERY;
        format!("{calendar}?from={}&to={}", day(10), day(5)) => field!("to");
        format!("{calendar}?from={}&to={}", day(0), day(367)) => field!("to");
        format!("{calendar}?from={far}") => Want::Ok(200);
        format!("{search}?from=2026-13-40") => QUERY;
        format!("{search}?max_fee=lots") => QUERY;
        format!("{search}?max_fee=9223372036854775808") => QUERY;
        format!("{search}?market_id=benelux") => QUERY;
        format!("{search}?limit=ten") => QUERY;
        format!("{search}?limit=0") => field!("limit");
        format!("{search}?limit=-3") => field!("limit");
        format!("{search}?cursor=garbage") => field!("cursor");
        format!("{search}?from={}&to={}", day(10), day(5)) => field!("to");
        format!("{search}?to=2020-01-01") => field!("to");
        format!("{search}?from={}&to={}", day(1), day(900)) => field!("to");
        format!("{search}?from={far}") => Want::Ok(200);
        format!("{search}?max_fee=-1") => field!("max_fee");
        format!("{search}?max_fee=100&currency=euro") => field!("currency");
        format!("{search}?country=Netherlands") => field!("country");
        format!("{search}?market_id={UNKNOWN}") => field!("market_id");
        format!("{search}?genre=no-such-genre") => field!("genre");
        format!("{search}?country=ZZ") => field!("country");
        format!("{search}?country=zz") => field!("country");
        format!("{search}?max_fee=100&currency=ZZZ") => field!("currency");
        format!("{search}?country=ZZ&currency=ZZZ") => field!("currency", "country");
        format!("{search}?country=nl&max_fee=100&currency=eur") => Want::Ok(200);
    ]));
    cases.extend(malformed_bodies(Agency, POST, &windows));
    cases.extend(malformed_bodies(Agency, PATCH, &window));
    cases.extend(bad_ids(
        Agency,
        &[
            (
                POST,
                "/api/v1/artists/{id}/availabilities",
                Body::Json(base.clone()),
            ),
            (PATCH, "/api/v1/availabilities/{id}", note()),
            (DELETE, "/api/v1/availabilities/{id}", Body::None),
            (GET, "/api/v1/artists/{id}/availabilities", Body::None),
            (GET, "/api/v1/artists/{id}/calendar", Body::None),
        ],
    ));
    // The base bodies are valid: each refusal above is for its one defect.
    cases.extend(calls(rows![
        Agency => POST, &windows, Body::Json(base), None, Want::Ok(201);
        Agency => PATCH, &window, note(), Some("\"1\""), Want::Ok(200);
    ]));
    run(&app, &w, cases).await;
}

#[tokio::test]
async fn request_routes_refuse_bad_input_and_out_of_order_changes() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let requests = "/api/v1/booking-requests";
    let base = request_body(&w.p);

    let mut cases = edits(
        Promoter,
        POST,
        requests,
        &base,
        rows![
            "artist not a uuid" => put("/artist_id", json!("nope")), BODY;
            "artist as a number" => put("/artist_id", json!(42)), BODY;
            "no date" => remove("/event_date"), BODY;
            "no promoter" => remove("/promoter_company_id"), BODY;
            "impossible date" => put("/event_date", json!("2026-13-40")), BODY;
            "date with a time" => put("/event_date", json!("2026-12-01T20:00:00Z")), BODY;
            "status in the body" => put("/status", json!("converted")), BODY;
            "unknown venue field" => put("/venue/stage", json!("main")), BODY;
            "capacity over i32" => put("/venue/capacity", json!(2_147_483_648_i64)), BODY;
            "city as text" => put("/venue/city_id", json!("Amsterdam")), BODY;
            "wants_hold as text" => put("/wants_hold", json!("yes")), BODY;
            "message as a list" => put("/message", json!(["hi"])), BODY;
            "date in the past" => put("/event_date", json!("2020-01-01")), field!("event_date");
            "capacity 0" => put("/venue/capacity", json!(0)), field!("venue.capacity");
            "negative capacity" => put("/venue/capacity", json!(-10)), field!("venue.capacity");
            "venue name too long" => put("/venue/name", json!("v".repeat(201))),
                field!("venue.name");
            "message too long" => put("/message", json!("m".repeat(5001))), field!("message");
            "message with a bell" => put("/message", json!("ring\u{7}")), field!("message");
            "unknown promoter" => put("/promoter_company_id", json!(UNKNOWN)),
                field!("promoter_company_id");
            "unknown artist" => put("/artist_id", json!(UNKNOWN)), field!("artist_id");
            "unknown city" => put("/venue/city_id", json!(999_999_999)), field!("venue.city_id");
            "negative city" => put("/venue/city_id", json!(-1)), field!("venue.city_id");
        ],
    );
    let agency_company = json!(w.p.agency_company);
    cases.extend(edits(
        Agency,
        POST,
        requests,
        &base,
        rows![
            "from an agency" => put("/promoter_company_id", agency_company),
                field!("promoter_company_id");
            "from another org's company" => Edit(Vec::new()), DENIED;
        ],
    ));
    cases.extend(reads(rows![
        format!("{requests}?role=sideways") => QUERY;
        format!("{requests}?role=") => QUERY;
        format!("{requests}?limit=ten") => QUERY;
        format!("{requests}?limit=99999999999999999999") => QUERY;
        format!("{requests}?limit=0") => field!("limit");
        format!("{requests}?cursor=garbage") => field!("cursor");
    ]));
    cases.extend(actions(
        &w,
        "booking-requests",
        rows![
            Agency => "converted", "decline", FLOW;
            Promoter => "converted", "withdraw", FLOW;
            Agency => "declined_request", "decline", FLOW;
            Promoter => "declined_request", "withdraw", FLOW;
            Agency => "withdrawn_request", "decline", FLOW;
            Promoter => "withdrawn_request", "withdraw", FLOW;
            Promoter => "open", "decline", DENIED;
            Agency => "open", "withdraw", DENIED;
        ],
    ));
    cases.extend(malformed_bodies(Promoter, POST, requests));
    cases.extend(bad_ids(
        Promoter,
        &[
            (GET, "/api/v1/booking-requests/{id}", Body::None),
            (POST, "/api/v1/booking-requests/{id}/decline", Body::None),
            (POST, "/api/v1/booking-requests/{id}/withdraw", Body::None),
        ],
    ));
    cases.extend(calls(
        rows![Promoter => POST, requests, Body::Json(base), None, Want::Ok(201);],
    ));
    cases.extend(actions(
        &w,
        "booking-requests",
        rows![Promoter => "open", "withdraw", Want::Ok(200);],
    ));
    run(&app, &w, cases).await;
}

#[tokio::test]
async fn offer_routes_refuse_bad_input_and_out_of_order_changes() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let offers = "/api/v1/offers";
    let base = offer_body(&w.p, show_day());
    let deposit = |percent: Value, due: Value| {
        put("/deal/deposit_percent", percent).put("/deal/deposit_due_date", due)
    };
    let counter_of = |record: &str| format!("/api/v1/offers/{}/counter", w.id(record));
    let counter = counter_of("sent");
    let valid_counter =
        json!({"deal": put("/guarantee_amount", json!(1_100_000)).apply(&deal()), "note": "up"});

    let mut cases = edits(
        Promoter,
        POST,
        offers,
        &base,
        rows![
            "deal type barter" => put("/deal/type", json!("barter")), BODY;
            "percentage as text" => put("/deal/percentage", json!("80")), BODY;
            "basis sideways" => put("/deal/percentage_basis", json!("sideways")), BODY;
            "i64 overflow" => put("/deal/guarantee_amount", json!(9_223_372_036_854_775_808_u64)),
                BODY;
            "guarantee with cents" => put("/deal/guarantee_amount", json!(10.5)), BODY;
            "capacity over i32" => put("/deal/capacity", json!(3_000_000_000_i64)), BODY;
            "impossible deposit date" => deposit(json!(50), json!("2026-02-30")), BODY;
            "unknown deal field" => put("/deal/fee", json!(5)), BODY;
            "unknown bonus field" => put("/deal/bonuses/0/x", json!(1)), BODY;
            "radius without days" => put("/deal/radius", json!({"km": 10})), BODY;
            "deal without currency" => remove("/deal/currency"), BODY;
            "deal without type" => remove("/deal/type"), BODY;
            "no deal" => remove("/deal"), BODY;
            "no expiry" => remove("/expires_at"), BODY;
            "expiry as a word" => put("/expires_at", json!("tomorrow")), BODY;
            "send as text" => put("/send", json!("yes")), BODY;
            "status in the body" => put("/status", json!("accepted")), BODY;
            "request not a uuid" => put("/booking_request_id", json!("nope")), BODY;
            "percentage over 100" => put("/deal/percentage", json!(150)), field!("deal.percentage");
            "percentage 0" => put("/deal/percentage", json!(0)), field!("deal.percentage");
            "negative percentage" => put("/deal/percentage", json!(-5)), field!("deal.percentage");
            "percentage, 3 decimals" => put("/deal/percentage", json!(12.345)),
                field!("deal.percentage");
            "negative guarantee" => put("/deal/guarantee_amount", json!(-1)),
                field!("deal.guarantee_amount");
            "lowercase currency" => put("/deal/currency", json!("eur")), field!("deal.currency");
            "no such currency" => put("/deal/currency", json!("ZZZ")), field!("deal.currency");
            "retired currency" => put("/deal/currency", json!("NLG")), field!("deal.currency");
            "unknown venue city" => put("/venue/city_id", json!(999_999_999)),
                field!("venue.city_id");
            "unknown city and currency" => put("/venue/city_id", json!(999_999_999))
                .put("/deal/currency", json!("ZZZ")), field!("deal.currency", "venue.city_id");
            "long currency" => put("/deal/currency", json!("EURO")), field!("deal.currency");
            "deposit over 100" => deposit(json!(101), json!(day(10))),
                field!("deal.deposit_percent");
            "negative deposit" => deposit(json!(-1), json!(day(10))),
                field!("deal.deposit_percent");
            "deposit due after the show" => deposit(json!(50), json!(day(61))),
                field!("deal.deposit_due_date");
            "deposit due in the past" => deposit(json!(50), json!("2020-01-01")),
                field!("deal.deposit_due_date");
            "deposit, no due date" => put("/deal/deposit_percent", json!(50)),
                field!("deal.deposit_due_date");
            "negative ticket price" => put("/deal/ticket_price", json!(-100)),
                field!("deal.ticket_price");
            "capacity 0" => put("/deal/capacity", json!(0)), field!("deal.capacity");
            "negative capacity" => put("/deal/capacity", json!(-1)), field!("deal.capacity");
            "set of 0 minutes" => put("/deal/set_length_minutes", json!(0)),
                field!("deal.set_length_minutes");
            "set of 601 minutes" => put("/deal/set_length_minutes", json!(601)),
                field!("deal.set_length_minutes");
            "negative radius" => put("/deal/radius/km", json!(-1)), field!("deal.radius");
            "zero bonus" => put("/deal/bonuses", json!([{"tickets_sold": 0, "amount": 5}])),
                field!("deal.bonuses[0]");
            "hospitality too long" => put("/deal/hospitality", json!("h".repeat(5001))),
                field!("deal.hospitality");
            "flat with a percentage" => put("/deal/type", json!("flat")), field!("deal.percentage");
            "expiry in the past" => put("/expires_at", json!(Utc::now() - Duration::hours(1))),
                field!("expires_at");
            "show in the past" => put("/event_date", json!("2020-01-01")), field!("event_date");
            "venue capacity 0" => put("/venue/capacity", json!(0)), field!("venue.capacity");
            "venue name too long" => put("/venue/name", json!("v".repeat(201))),
                field!("venue.name");
            "unknown request" => put("/booking_request_id", json!(UNKNOWN)),
                field!("booking_request_id");
            "unknown artist" => put("/artist_id", json!(UNKNOWN)), field!("artist_id");
        ],
    );
    let not_open = Want::Is(409, "request_not_open");
    cases.extend(edits(Agency, POST, offers, &base, rows![
        "quote, converted request" => put("/booking_request_id", json!(w.id("converted"))),
            not_open;
        "quote, declined request" => put("/booking_request_id", json!(w.id("declined_request"))),
            not_open;
        "quote, unknown promoter" => put("/promoter_company_id", json!(UNKNOWN)),
            field!("promoter_company_id");
    ]));
    cases.extend(reads(rows![
        format!("{offers}?status=maybe") => QUERY;
        format!("{offers}?status=ACCEPTED") => QUERY;
        format!("{offers}?limit=1.5") => QUERY;
        format!("{offers}?limit=-1") => field!("limit");
        format!("{offers}?cursor=%00%00") => field!("cursor");
    ]));
    let lapsed = Want::Is(409, "offer_expired");
    cases.extend(actions(
        &w,
        "offers",
        rows![
            Agency => "draft", "accept", FLOW;
            Agency => "draft", "decline", FLOW;
            Promoter => "sent", "send", FLOW;
            Promoter => "accepted", "send", FLOW;
            Agency => "accepted", "accept", FLOW;
            Agency => "accepted", "decline", FLOW;
            Promoter => "accepted", "withdraw", FLOW;
            Agency => "declined", "accept", FLOW;
            Promoter => "declined", "withdraw", FLOW;
            Promoter => "declined", "send", FLOW;
            Agency => "withdrawn", "accept", FLOW;
            Promoter => "withdrawn", "send", FLOW;
            Agency => "lapsed", "accept", lapsed;
            Agency => "lapsed", "decline", lapsed;
            Promoter => "sent", "accept", DENIED;
            Agency => "sent", "withdraw", DENIED;
        ],
    ));
    let accept = format!("/api/v1/offers/{}/accept", w.id("sent"));
    let answer = || Body::Json(valid_counter.clone());
    cases.extend(calls(rows![
        Agency => POST, &accept, Body::None, Some("\"99\""), STALE;
        Agency => POST, &accept, Body::None, Some("W/\"x\""), STALE;
        Agency => POST, &counter, answer(), Some("\"99\""), STALE;
        Promoter => POST, &counter, answer(), None, DENIED;
        Agency => POST, &counter_of("accepted"), answer(), None, FLOW;
        Agency => POST, &counter_of("draft"), answer(), None, FLOW;
        Agency => POST, &counter_of("withdrawn"), answer(), None, FLOW;
        Agency => POST, &counter_of("lapsed"), answer(), None, lapsed;
    ]));
    cases.extend(edits(Agency, POST, &counter, &valid_counter, rows![
        "no deal" => remove("/deal"), BODY;
        "status in the body" => put("/status", json!("accepted")), BODY;
        "deal type barter" => put("/deal/type", json!("barter")), BODY;
        "expiry as a number" => put("/expires_at", json!(1_700_000_000)), BODY;
        "percentage over 100" => put("/deal/percentage", json!(100.5)), field!("deal.percentage");
        "negative guarantee" => put("/deal/guarantee_amount", json!(-1)),
            field!("deal.guarantee_amount");
        "no such currency" => put("/deal/currency", json!("ZZZ")), field!("deal.currency");
        "note too long" => put("/note", json!("n".repeat(2001))), field!("note");
        "expiry in the past" => put("/expires_at", json!(Utc::now() - Duration::minutes(5))),
            field!("expires_at");
    ]));
    cases.extend(malformed_bodies(Promoter, POST, offers));
    cases.extend(malformed_bodies(Agency, POST, &counter));
    cases.extend(bad_ids(
        Agency,
        &[
            (GET, "/api/v1/offers/{id}", Body::None),
            (GET, "/api/v1/offers/{id}/versions", Body::None),
            (POST, "/api/v1/offers/{id}/send", Body::None),
            (POST, "/api/v1/offers/{id}/accept", Body::None),
            (POST, "/api/v1/offers/{id}/decline", Body::None),
            (POST, "/api/v1/offers/{id}/withdraw", Body::None),
            (POST, "/api/v1/offers/{id}/counter", answer()),
        ],
    ));
    cases.extend(calls(rows![
        Promoter => POST, offers, Body::Json(base), None, Want::Ok(201);
        Agency => POST, &counter, answer(), Some("\"1\""), Want::Ok(200);
    ]));
    run(&app, &w, cases).await;
}

#[tokio::test]
async fn hold_routes_refuse_bad_input_and_out_of_order_changes() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (agency, promoter) = (&w.p.agency, &w.p.promoter);
    let holds = "/api/v1/holds";
    let base = hold_body(&w.p, hold_day());

    // A first hold converted by a same-day booking leaves the second hold
    // without a first one to challenge.
    let gap_day = day(45);
    let same_day = put("/allow_same_day", json!(true)).apply(&offer_body(&w.p, gap_day));
    let same_day = post(&app, promoter, "/api/v1/offers", Some(same_day)).await;
    let rival = post(
        &app,
        promoter,
        "/api/v1/offers",
        Some(offer_body(&w.p, gap_day)),
    )
    .await;
    for offer in [&same_day, &rival] {
        post(
            &app,
            agency,
            &format!("/api/v1/offers/{offer}/accept"),
            None,
        )
        .await;
        let body = put("/offer_id", json!(offer)).apply(&hold_body(&w.p, gap_day));
        post(&app, agency, holds, Some(body)).await;
    }
    let booking = json!({"offer_id": same_day});
    post(&app, promoter, "/api/v1/bookings", Some(booking)).await;
    let (_, page) = agency
        .get(&app, &format!("{holds}?date={gap_day}&status=active"))
        .await;
    let orphan = &page["items"][0];
    let expected = (&json!(rival), &json!(2));
    assert_eq!(
        (&orphan["offer_id"], &orphan["priority"]),
        expected,
        "{page}"
    );
    let orphan = format!("/api/v1/holds/{}/challenge", orphan["id"].as_str().unwrap());

    let mut cases = edits(
        Agency,
        POST,
        holds,
        &base,
        rows![
            "impossible date" => put("/date", json!("2026-13-40")), BODY;
            "date as a number" => put("/date", json!(20_261_201)), BODY;
            "expiry as a word" => put("/expires_at", json!("soon")), BODY;
            "impossible expiry" => put("/expires_at", json!("2026-13-40T00:00:00Z")), BODY;
            "no expiry" => remove("/expires_at"), BODY;
            "no artist" => remove("/artist_id"), BODY;
            "artist not a uuid" => put("/artist_id", json!("nope")), BODY;
            "promoter blank" => put("/promoter_company_id", json!("")), BODY;
            "offer not a uuid" => put("/offer_id", json!("nope")), BODY;
            "chosen priority" => put("/priority", json!(1)), BODY;
            "chosen status" => put("/status", json!("converted")), BODY;
            "note as a number" => put("/note", json!(7)), BODY;
            "date in the past" => put("/date", json!("2020-01-01")), field!("date", "expires_at");
            "expiry in the past" => put("/expires_at", json!(Utc::now() - Duration::minutes(1))),
                field!("expires_at");
            "expiry after the day" => put("/expires_at", json!(Utc::now() + Duration::days(90))),
                field!("expires_at");
            "note too long" => put("/note", json!("n".repeat(2001))), field!("note");
            "note with an escape" => put("/note", json!("a\u{1b}[2J")), field!("note");
            "unknown offer" => put("/offer_id", json!(UNKNOWN)), field!("offer_id");
            "offer for another date" => put("/offer_id", json!(w.id("sent"))), field!("offer_id");
            "agency as promoter" => put("/promoter_company_id", json!(w.p.agency_company)),
                field!("promoter_company_id");
            "unknown promoter" => put("/promoter_company_id", json!(UNKNOWN)),
                field!("promoter_company_id");
            "unknown artist" => put("/artist_id", json!(UNKNOWN)), field!("artist_id");
        ],
    );
    let positional = json!([
        w.p.artist,
        hold_day(),
        w.p.promoter_company,
        null,
        base["expires_at"]
    ]);
    let impossible = Want::Is(409, "challenge_not_possible");
    let release = format!("/api/v1/holds/{}/release", w.id("first"));
    cases.extend(calls(rows![
        Agency => POST, holds, Body::Json(positional), None, BODY;
        Promoter => POST, holds, Body::Json(base.clone()), None, DENIED;
        Promoter => POST, &orphan, Body::None, None, impossible;
        Agency => POST, &release, Body::None, Some("\"99\""), STALE;
    ]));
    cases.extend(reads(rows![
        format!("{holds}?status=maybe") => QUERY;
        format!("{holds}?date=2026-13-40") => QUERY;
        format!("{holds}?artist_id=nope") => QUERY;
        format!("{holds}?limit=0") => field!("limit");
        format!("{holds}?cursor=bm90IGpzb24") => field!("cursor");
    ]));
    cases.extend(actions(
        &w,
        "holds",
        rows![
            Agency => "released", "release", FLOW;
            Agency => "converted_hold", "release", FLOW;
            Promoter => "first", "release", DENIED;
            Agency => "first", "challenge", impossible;
            Agency => "released", "challenge", impossible;
            Agency => "converted_hold", "challenge", impossible;
            Promoter => "second", "challenge", Want::Is(409, "challenge_needs_accepted_offer");
        ],
    ));
    cases.extend(malformed_bodies(Agency, POST, holds));
    cases.extend(bad_ids(
        Agency,
        &[
            (GET, "/api/v1/holds/{id}", Body::None),
            (POST, "/api/v1/holds/{id}/release", Body::None),
            (POST, "/api/v1/holds/{id}/challenge", Body::None),
        ],
    ));
    cases.extend(edits(Agency, POST, holds, &base, rows![
        "valid" => Edit(Vec::new()), Want::Ok(201);
        "for its offer" => put("/date", json!(show_day())).put("/offer_id", json!(w.id("sent"))),
            Want::Ok(201);
    ]));
    run(&app, &w, cases).await;
}

#[tokio::test]
async fn booking_routes_refuse_bad_input_and_out_of_order_changes() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let bookings = "/api/v1/bookings";
    let path = |record: &str, action: &str| format!("/api/v1/bookings/{}/{action}", w.id(record));
    let (cancel, complete) = (path("confirmed", "cancel"), path("confirmed", "complete"));
    let confirm = |offer: &str| put("/offer_id", json!(w.id(offer)));
    let not_accepted = Want::Is(409, "offer_not_accepted");

    let mut cases = edits(
        Promoter,
        POST,
        bookings,
        &json!({"offer_id": w.id("sent")}),
        rows![
            "offer not a uuid" => put("/offer_id", json!("nope")), BODY;
            "offer as a number" => put("/offer_id", json!(42)), BODY;
            "no offer" => remove("/offer_id"), BODY;
            "status in the body" => put("/status", json!("completed")), BODY;
            "unknown offer" => put("/offer_id", json!(UNKNOWN)), field!("offer_id");
            "a draft" => confirm("draft"), not_accepted;
            "a sent offer" => confirm("sent"), not_accepted;
            "a declined offer" => confirm("declined"), not_accepted;
            "a withdrawn offer" => confirm("withdrawn"), not_accepted;
            "a lapsed offer" => confirm("lapsed"), not_accepted;
            "a booked offer" => confirm("booked"), Want::Is(409, "offer_already_booked");
            "a booked date" => confirm("accepted"), Want::Is(409, "date_already_booked");
        ],
    );
    cases.extend(reads(rows![
        format!("{bookings}?limit=0") => field!("limit");
        format!("{bookings}?limit=many") => QUERY;
        format!("{bookings}?cursor=garbage") => field!("cursor");
    ]));
    cases.extend(edits(
        Agency,
        POST,
        &cancel,
        &json!({"reason": "venue closed"}),
        rows![
            "reason too long" => put("/reason", json!("r".repeat(2001))), field!("reason");
            "reason with NUL" => put("/reason", json!("nul\u{0}")), field!("reason");
            "reason as a number" => put("/reason", json!(5)), BODY;
            "status in the body" => put("/status", json!("cancelled")), BODY;
        ],
    ));
    let empty = || Body::Json(json!({}));
    let positional = Body::Json(json!([w.id("accepted")]));
    cases.extend(calls(rows![
        Promoter => POST, bookings, positional, None, BODY;
        Agency => POST, &cancel, empty(), Some("\"99\""), STALE;
        Agency => POST, &complete, Body::None, Some("\"99\""), STALE;
        Agency => POST, &complete, Body::None, None, Want::Is(409, "booking_in_future");
        Agency => POST, &path("cancelled", "cancel"), empty(), None, FLOW;
        Promoter => POST, &path("cancelled", "complete"), Body::None, None, FLOW;
        Promoter => POST, &path("completed", "cancel"), empty(), None, FLOW;
        Promoter => POST, &path("completed", "cancel"), Body::None, None, FLOW;
        Agency => POST, &path("completed", "complete"), Body::None, None, FLOW;
    ]));
    cases.extend(malformed_bodies(Promoter, POST, bookings));
    cases.extend(malformed_bodies(Agency, POST, &cancel));
    cases.extend(bad_ids(
        Agency,
        &[
            (GET, "/api/v1/bookings/{id}", Body::None),
            (GET, "/api/v1/bookings/{id}/activity", Body::None),
            (POST, "/api/v1/bookings/{id}/cancel", empty()),
            (POST, "/api/v1/bookings/{id}/complete", Body::None),
        ],
    ));
    cases.extend(calls(
        rows![Agency => POST, &cancel, Body::None, Some("\"1\""), Want::Ok(200);],
    ));
    run(&app, &w, cases).await;
}

/// Two cancels of one booking at once: one wins, the other finds it
/// cancelled; the booking changes and is recorded once.
#[tokio::test]
async fn concurrent_changes_to_a_booking_apply_once() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Race Agency", "Race Artist", &[]).await;
    for offset in 0..4 {
        let body = offer_body(&p, day(70 + offset));
        let offer = post(&app, &p.promoter, "/api/v1/offers", Some(body)).await;
        post(
            &app,
            &p.agency,
            &format!("/api/v1/offers/{offer}/accept"),
            None,
        )
        .await;
        let body = json!({"offer_id": offer});
        let booking = post(&app, &p.promoter, "/api/v1/bookings", Some(body)).await;
        let path = format!("/api/v1/bookings/{booking}/cancel");
        let (a, b) = tokio::join!(
            p.agency
                .send(&app, POST, &path, Some(json!({"reason": "agency"}))),
            p.promoter
                .send(&app, POST, &path, Some(json!({"reason": "promoter"}))),
        );
        let mut outcomes = [(a.0, a.1["code"].clone()), (b.0, b.1["code"].clone())];
        outcomes.sort_by_key(|o| o.0);
        let expected = [(200, Value::Null), (409, json!("invalid_transition"))];
        assert_eq!(outcomes, expected, "{a:?} {b:?}");
        let (version, cancellations): (i32, i64) = sqlx::query_as(
            "SELECT (SELECT version FROM bookings WHERE id = $1::uuid),
                    (SELECT count(*) FROM booking_activity
                      WHERE subject_id = $1::uuid AND action = 'cancelled')",
        )
        .bind(&booking)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!((version, cancellations), (2, 1));
    }
}
