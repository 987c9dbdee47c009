//! SPEC 5.10: the change feed, paged and streamed. Who sees an event, paging
//! past a transaction that commits late, a stream fed by a write through
//! another API process, resuming with `Last-Event-ID`, and the per-org
//! bound on streams.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use kisum_tests::processes::ApiProcess;
use kisum_tests::{BookingParties, Org, TestApp, eventually};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn offer_body(p: &BookingParties, days: i64) -> Value {
    json!({
        "artist_id": p.artist,
        "promoter_company_id": p.promoter_company,
        "event_date": Utc::now().date_naive() + chrono::Duration::days(days),
        "venue": {"name": "Paradiso", "capacity": 1500},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 500_000},
        "expires_at": Utc::now() + chrono::Duration::days(7),
        "send": true,
    })
}

/// A sent offer's id.
async fn sent_offer(app: &TestApp, p: &BookingParties, days: i64) -> String {
    let (status, offer) = p
        .promoter
        .send(
            app,
            Method::POST,
            "/api/v1/offers",
            Some(offer_body(p, days)),
        )
        .await;
    assert_eq!(status, 201, "{offer}");
    offer["id"].as_str().unwrap().to_owned()
}

/// `by` counters the offer with a new guarantee.
async fn counter(app: &TestApp, by: &Org, offer: &str, amount: i64) {
    let (status, body) = by
        .send(
            app,
            Method::POST,
            &format!("/api/v1/offers/{offer}/counter"),
            Some(json!({"deal": {"type": "flat", "currency": "EUR", "guarantee_amount": amount}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Every event `org` may see after `after`, paging `limit` at a time.
async fn all_events(app: &TestApp, org: &Org, after: Option<&str>, limit: u32) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = after.map(str::to_owned);
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/events?limit={limit}&after={c}"),
            None => format!("/api/v1/events?limit={limit}"),
        };
        let (status, page) = org.get(app, &path).await;
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        let Some(last) = page.last() else {
            return events;
        };
        cursor = Some(last["id"].as_str().unwrap().to_owned());
        events.extend(page);
    }
}

/// The org's whole feed once it holds `n` events: a write transaction
/// anywhere on the server (other tests' included) may hold the feed back
/// for a moment, never reorder it.
async fn feed_of(app: &TestApp, org: &Org, n: usize) -> Vec<Value> {
    eventually(WAIT, "the feed to hold the events", || async {
        let events = all_events(app, org, None, 100).await;
        (events.len() >= n).then_some(events)
    })
    .await
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn ids(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_promoters_counter_offer_reaches_the_agency_and_no_one_else() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Feed Agency", "Feed Artist", &[]).await;
    let offer = sent_offer(&app, &p, 60).await;
    counter(&app, &p.agency, &offer, 700_000).await;
    counter(&app, &p.promoter, &offer, 600_000).await;

    let seen = feed_of(&app, &p.agency, 3).await;
    assert_eq!(
        types(&seen),
        ["offer.sent", "offer.countered", "offer.countered"],
        "{seen:?}"
    );
    let last = &seen[2];
    assert_eq!(last["subject_type"], "offer");
    assert_eq!(last["subject_id"], offer.as_str());
    assert_eq!(
        last["data"],
        json!({"from": "countered", "to": "countered"})
    );
    assert!(last["version"].as_i64().is_some(), "{last}");
    let keys: HashSet<&str> = last
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from([
            "id",
            "type",
            "at",
            "subject_type",
            "subject_id",
            "version",
            "data"
        ])
    );
    // The promoter sees the same story; a stranger sees nothing.
    assert_eq!(
        ids(&all_events(&app, &p.promoter, None, 100).await),
        ids(&seen)
    );
    assert!(all_events(&app, &Org::new(), None, 100).await.is_empty());

    // A malformed cursor is a validation error.
    let (status, body) = p.agency.get(&app, "/api/v1/events?after=nope").await;
    assert_eq!(status, 422, "{body}");
}

/// A transaction that wrote an event and commits after a later one is
/// served after the reader's cursor, not skipped.
#[tokio::test]
async fn paging_never_skips_an_event_whose_transaction_commits_late() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Late Agency", "Late Artist", &[]).await;
    let offer = sent_offer(&app, &p, 61).await;
    let offer_id: uuid::Uuid = offer.parse().unwrap();
    let first = feed_of(&app, &p.agency, 1).await;
    assert_eq!(types(&first), ["offer.sent"]);
    let cursor = first[0]["id"].as_str().unwrap().to_owned();

    // Takes its transaction id now, commits last.
    let mut late = app.pool.begin().await.unwrap();
    // The activity entry alone (its trigger writes the event), so the
    // transaction holds no lock the API's write below waits for.
    sqlx::query(
        "INSERT INTO booking_activity (id, artist_id, subject_type, subject_id, action, actor, details)
         VALUES (gen_random_uuid(), $1::uuid, 'offer', $2, 'viewed', 'test', '{}')",
    )
    .bind(&p.artist)
    .bind(offer_id)
    .execute(&mut *late)
    .await
    .unwrap();
    // Written and committed meanwhile.
    counter(&app, &p.agency, &offer, 700_000).await;

    let mut pages = first.clone();
    let middle = all_events(&app, &p.agency, Some(&cursor), 1).await;
    let cursor = middle
        .last()
        .map_or(cursor, |e| e["id"].as_str().unwrap().to_owned());
    pages.extend(middle);
    late.commit().await.unwrap();
    pages.extend(all_events(&app, &p.agency, Some(&cursor), 1).await);

    let everything = feed_of(&app, &p.agency, 3).await;
    // The last pages, once the feed has passed both transactions.
    let mut cursor = pages.last().unwrap()["id"].as_str().unwrap().to_owned();
    while pages.len() < everything.len() {
        let more = all_events(&app, &p.agency, Some(&cursor), 1).await;
        if let Some(last) = more.last() {
            cursor = last["id"].as_str().unwrap().to_owned();
        }
        pages.extend(more);
    }
    assert_eq!(ids(&pages), ids(&everything), "no gap, no duplicate");
    assert_eq!(
        types(&everything).iter().copied().collect::<HashSet<_>>(),
        HashSet::from(["offer.sent", "offer.viewed", "offer.countered"])
    );
    assert_eq!(everything.len(), 3);
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct Sse {
    id: String,
    kind: String,
    data: Value,
}

/// Reads server-sent events off a response.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event; `None` when the stream ends.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if let (Some(id), Some(kind)) = (id, kind) {
                    return Some(Sse {
                        id,
                        kind,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
            }
            let chunk = self.response.chunk().await.unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn next_within(&mut self, wait: Duration) -> Sse {
        tokio::time::timeout(wait, self.next())
            .await
            .expect("an event in time")
            .expect("the stream is open")
    }
}

async fn stream(
    http: &reqwest::Client,
    url: String,
    org: &Org,
    last: Option<&str>,
) -> reqwest::Response {
    let mut request = http
        .get(url)
        .bearer_auth(&org.token)
        .header("x-org", org.id.to_string());
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_stream_delivers_an_event_written_through_another_api_process() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Wire Agency", "Wire Artist", &[]).await;
    let other = ApiProcess::spawn(&app.db.url, &[]).await;
    let mut events = SseReader::new(
        stream(
            &other.http,
            other.url("/api/v1/events/stream"),
            &p.agency,
            None,
        )
        .await,
    );
    let offer = sent_offer(&app, &p, 62).await;
    let sent = events.next_within(WAIT).await;
    assert_eq!(sent.kind, "offer.sent");
    assert_eq!(sent.data["subject_id"], offer.as_str());
    assert_eq!(sent.data["id"], sent.id.as_str());
    counter(&app, &p.agency, &offer, 700_000).await;
    counter(&app, &p.promoter, &offer, 600_000).await;
    let next = [
        events.next_within(WAIT).await,
        events.next_within(WAIT).await,
    ];
    assert_eq!(
        next.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["offer.countered", "offer.countered"]
    );
    let listed = feed_of(&app, &p.agency, 3).await;
    assert_eq!(
        ids(&listed),
        [sent.id.as_str(), next[0].id.as_str(), next[1].id.as_str()]
    );
}

#[tokio::test]
async fn resuming_with_last_event_id_gives_exactly_the_missed_events() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Resume Agency", "Resume Artist", &[]).await;
    let url = app.url("/api/v1/events/stream");
    let mut events = SseReader::new(stream(&app.http, url.clone(), &p.agency, None).await);
    let offer = sent_offer(&app, &p, 63).await;
    let sent = events.next_within(WAIT).await;
    assert_eq!(sent.kind, "offer.sent");
    drop(events);

    counter(&app, &p.agency, &offer, 700_000).await;
    counter(&app, &p.promoter, &offer, 600_000).await;
    let missed: Vec<Value> = feed_of(&app, &p.agency, 3).await.split_off(1);
    assert_eq!(types(&missed), ["offer.countered", "offer.countered"]);
    assert_eq!(
        ids(&all_events(&app, &p.agency, Some(&sent.id), 100).await),
        ids(&missed)
    );

    // Bounded with max_wait, so the end of the stream shows nothing more.
    let bounded = format!("{url}?max_wait=2");
    let mut resumed = SseReader::new(stream(&app.http, bounded, &p.agency, Some(&sent.id)).await);
    let mut got = Vec::new();
    while let Some(event) = resumed.next().await {
        got.push(event.id);
    }
    assert_eq!(got, ids(&missed));

    // `after=` does the same without the header.
    let after = format!("{url}?max_wait=1&after={}", sent.id);
    let mut resumed = SseReader::new(stream(&app.http, after, &p.agency, None).await);
    let mut got = Vec::new();
    while let Some(event) = resumed.next().await {
        got.push(event.id);
    }
    assert_eq!(got, ids(&missed));
}

#[tokio::test]
async fn an_org_has_a_bounded_number_of_streams_per_process() {
    let app = TestApp::builder()
        .env("EVENT_STREAMS_PER_ORG", "2")
        .spawn()
        .await;
    let org = Org::new();
    let url = app.url("/api/v1/events/stream");
    let first = stream(&app.http, url.clone(), &org, None).await;
    assert_eq!(first.status(), 200);
    let _second = SseReader::new(stream(&app.http, url.clone(), &org, None).await);
    let third = stream(&app.http, url.clone(), &org, None).await;
    assert!(third.headers().contains_key("retry-after"));
    kisum_tests::problem(third, 429, "too_many_streams").await;
    // Another org is not held back.
    let _other = SseReader::new(stream(&app.http, url.clone(), &Org::new(), None).await);
    // A closed stream frees its place.
    drop(first);
    eventually(WAIT, "a place after a stream closed", || async {
        let again = stream(&app.http, url.clone(), &org, None).await;
        (again.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_event_source_may_send_its_credentials_in_the_query_of_the_stream_only() {
    let app = TestApp::spawn().await;
    let org = Org::new();
    let url = format!(
        "{}?max_wait=0&access_token={}&org={}",
        app.url("/api/v1/events/stream"),
        org.token,
        org.id
    );
    let answer = app.http.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let listed = format!(
        "{}?access_token={}&org={}",
        app.url("/api/v1/events"),
        org.token,
        org.id
    );
    let answer = app.http.get(&listed).send().await.unwrap();
    kisum_tests::problem(answer, 401, "missing_token").await;
}

/// Events past the retention are pruned (as the maintenance job does); a
/// cursor older than what is kept answers 410, and a later one is served.
#[tokio::test]
async fn a_cursor_older_than_the_retention_answers_410() {
    let app = TestApp::spawn().await;
    let p = kisum_tests::booking_parties(&app, "Old Agency", "Old Artist", &[]).await;
    let offer = sent_offer(&app, &p, 64).await;
    counter(&app, &p.agency, &offer, 700_000).await;
    let before = feed_of(&app, &p.agency, 2).await;
    let mut conn = app.pool.acquire().await.unwrap();
    let pruned = shared::domain::events::prune(
        &mut conn,
        Duration::from_secs(86_400),
        Utc::now() + chrono::Duration::days(2),
    )
    .await
    .unwrap();
    assert!(pruned >= 2, "{pruned}");
    counter(&app, &p.promoter, &offer, 600_000).await;
    let after = feed_of(&app, &p.agency, 1).await;
    assert_eq!(types(&after), ["offer.countered"]);

    let old = before[0]["id"].as_str().unwrap();
    let answer = p
        .agency
        .req(&app, Method::GET, &format!("/api/v1/events?after={old}"))
        .send()
        .await
        .unwrap();
    kisum_tests::problem(answer, 410, "events_expired").await;
    let stream = app
        .http
        .get(app.url(&format!("/api/v1/events/stream?after={old}")))
        .bearer_auth(&p.agency.token)
        .header("x-org", p.agency.id.to_string())
        .send()
        .await
        .unwrap();
    kisum_tests::problem(stream, 410, "events_expired").await;
    // The newest pruned event is a cursor that missed nothing.
    let newest = before[1]["id"].as_str().unwrap();
    let (status, page) = p
        .agency
        .get(&app, &format!("/api/v1/events?after={newest}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(page.as_array().unwrap()), ids(&after));
}

#[tokio::test]
async fn a_silent_stream_sends_heartbeats() {
    let app = TestApp::builder()
        .env("EVENT_HEARTBEAT_SECONDS", "1")
        .spawn()
        .await;
    let org = Org::new();
    let url = format!("{}?max_wait=3", app.url("/api/v1/events/stream"));
    let body = stream(&app.http, url, &org, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains(": heartbeat\n"), "{body:?}");
    assert!(!body.contains("event:"), "{body:?}");
}

/// A process shutting down ends its streams at once (clients resume on
/// another replica) rather than holding the drain for the grace period.
#[tokio::test]
async fn shutting_down_ends_open_streams() {
    let db = kisum_tests::TestDb::migrated().await;
    let api = ApiProcess::spawn(&db.url, &[("SHUTDOWN_GRACE_SECONDS", "30")]).await;
    let org = Org::new();
    let mut events =
        SseReader::new(stream(&api.http, api.url("/api/v1/events/stream"), &org, None).await);
    api.sigterm();
    let ended = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the stream ends well before the grace period");
    assert!(ended.is_none());
}
