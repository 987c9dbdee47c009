//! Read-model benchmark, on the booking benchmark's world (`ARTISTS`
//! artists with genres and home cities, `WINDOWS_PER_ARTIST` windows each,
//! `HOLDS` first holds, `BOOKINGS` confirmed bookings of one agency) plus a
//! fee range per artist:
//! - the full rebuild of both read models (as the nightly job runs it);
//! - marketplace search for text (a misspelled name) + genre + country +
//!   fee + an availability window over HTTP against the real API (served
//!   by its tantivy index): one client (and the same search as the
//!   Postgres statement in-process, for comparison), then 16 and 64
//!   clients on pooled connections for `DURATION_S` each (searches/s,
//!   p50/p95/p99, errors);
//! - the anchor in the same run: the same documents and the same query in
//!   tantivy alone, in process, on one thread per core; and the route's
//!   throughput at 64 clients as a ratio of it;
//! - refresh lag: from a write (an open day, over HTTP) until a search
//!   finds the artist open that day, with the real worker process and a
//!   background load of other writes;
//! - the agency dashboard's p95 for the agency with `BOOKINGS` bookings.
//!
//! Run: `./deploy/bench.sh marketplace` (release build). Knobs: `ARTISTS`
//! (100000), `WINDOWS_PER_ARTIST` (5), `HOLDS` (50000), `BOOKINGS`
//! (10000), `SAMPLES` (200), `LAG_SAMPLES` (100), `BACKGROUND_PER_S` (20),
//! `DURATION_S` (10);
//! `GENERATE_ONLY` keeps the generated and rebuilt database (for EXPLAIN)
//! and stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use kisum_tests::world::{AGENCY_ORG, booking_world, exec, rebuild_read_model};
use kisum_tests::{TestApp, TestDb, Token, WorkerProcess};
use serde_json::{Value, json};
use shared::domain::read_models::{Model, search};
use uuid::Uuid;

fn env_num(key: &str, default: i64) -> i64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn percentiles(mut times: Vec<Duration>) -> Value {
    times.sort();
    let p = |q: f64| ms(times[((times.len() as f64 - 1.0) * q).round() as usize]);
    json!({"p50_ms": p(0.5), "p95_ms": p(0.95), "p99_ms": p(0.99), "max_ms": p(1.0), "samples": times.len()})
}

/// One letter of the name swapped for its neighbour: a typo.
fn misspell(name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let i = chars.len() / 2;
    if i + 1 < chars.len() {
        chars.swap(i, i + 1);
    }
    chars.into_iter().collect()
}

#[tokio::main]
async fn main() {
    let artists = env_num("ARTISTS", 100_000);
    let windows = env_num("WINDOWS_PER_ARTIST", 5);
    let holds = env_num("HOLDS", 50_000);
    let bookings = env_num("BOOKINGS", 10_000);
    let samples = env_num("SAMPLES", 200) as usize;
    let lag_samples = env_num("LAG_SAMPLES", 100) as usize;
    let background = env_num("BACKGROUND_PER_S", 20);
    let duration = Duration::from_secs(u64::try_from(env_num("DURATION_S", 10)).unwrap());

    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let started = Instant::now();
    booking_world(&pool, artists, windows, holds, bookings).await;
    exec(
        &pool,
        "INSERT INTO artist_profiles (artist_id, fee_min, fee_max, fee_currency)
         SELECT id, 100000 * (1 + n % 40), 100000 * (2 + n % 40), 'EUR'
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM artists) a
         ON CONFLICT (artist_id) DO UPDATE SET fee_min = excluded.fee_min, fee_max = excluded.fee_max,
                                                fee_currency = excluded.fee_currency;
         ANALYZE",
    )
    .await;
    let generate_s = started.elapsed().as_secs_f64();

    // The nightly rebuild of both read models.
    let mut rebuild = serde_json::Map::new();
    for model in Model::ALL {
        let begun = Instant::now();
        rebuild_read_model(&pool, model).await;
        rebuild.insert(
            model.as_str().to_owned(),
            json!((begun.elapsed().as_secs_f64() * 10.0).round() / 10.0),
        );
    }
    exec(&pool, "DELETE FROM read_model_dirty").await;
    kisum_tests::queue::delete_all(&pool).await;
    exec(&pool, "ANALYZE").await;
    // What autovacuum would do after the rewrite of every row.
    exec(&pool, "VACUUM ANALYZE artist_search").await;
    if std::env::var("GENERATE_ONLY").is_ok() {
        eprintln!("kept database {}", db.name);
        std::mem::forget(db);
        return;
    }

    // The queries: a misspelled name of an artist with an open day in the
    // window, its genre's parent, its country, a fee ceiling above its fee.
    let picks: Vec<(String, String, String, i64, chrono::NaiveDate)> = sqlx::query_as(
        "SELECT s.name, g.slug, s.country_code::text, s.fee_min * 2, lower(r)
           FROM artist_search s
           CROSS JOIN LATERAL (SELECT r FROM unnest(s.open_days) r LIMIT 1) o
           CROSS JOIN LATERAL (SELECT p.slug FROM genres p WHERE p.id = ANY (s.genre_ids) AND p.parent_id IS NULL LIMIT 1) g
          WHERE s.country_code IS NOT NULL
          ORDER BY s.artist_id LIMIT $1",
    )
    .bind(i64::try_from(samples).unwrap())
    .fetch_all(&pool)
    .await
    .unwrap();
    let observer = db.pool().await;
    let db_url = db.url.clone();
    let app = TestApp::builder()
        .env("DATABASE_MAX_CONNECTIONS", "20")
        .database(db)
        .spawn()
        .await;
    let token = Token::user("bench")
        .org(AGENCY_ORG, "owner")
        .claim("exp", json!(Utc::now().timestamp() + 86_400))
        .hs256();
    let query =
        |(name, genre, country, fee, day): &(String, String, String, i64, chrono::NaiveDate)| {
            let to = *day + chrono::Duration::days(30);
            search::MarketplaceQuery {
                q: Some(misspell(name)),
                genre: Some(genre.clone()),
                country: Some(country.clone()),
                max_fee: Some(*fee),
                currency: Some("EUR".to_owned()),
                available_from: Some(*day),
                available_to: Some(to),
                ..Default::default()
            }
        };
    let paths: Vec<String> = picks
        .iter()
        .map(|pick| {
            let q = query(pick);
            format!(
                "{}/api/v1/marketplace/artists?q={}&genre={}&country={}&max_fee={}&currency=EUR&available_from={}&available_to={}",
                app.base,
                urlencode(q.q.as_deref().unwrap()),
                pick.1,
                pick.2,
                pick.3,
                q.available_from.unwrap(),
                q.available_to.unwrap(),
            )
        })
        .collect();

    // One client, one search at a time: the route, and the Postgres
    // statement in-process (what served the route before the index).
    let http = app.http.clone();
    let mut single = Vec::with_capacity(samples);
    let mut sql = Vec::with_capacity(samples);
    let mut found = 0;
    let mut conn = observer.acquire().await.unwrap();
    for (pick, path) in picks.iter().zip(&paths) {
        let begun = Instant::now();
        let body = get(&http, path, &token).await;
        single.push(begun.elapsed());
        if body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == pick.0.as_str())
        {
            found += 1;
        }
        let begun = Instant::now();
        search::search(&mut conn, &query(pick)).await.unwrap();
        sql.push(begun.elapsed());
    }
    drop(conn);

    // The route under 16 and 64 clients on pooled connections.
    let mut under_load = serde_json::Map::new();
    let mut rates = Vec::new();
    for clients in [16usize, 64] {
        let (rate, figures) = drive(&http, &paths, &token, clients, duration).await;
        rates.push(rate);
        under_load.insert(format!("clients_{clients}"), figures);
    }

    // The anchor: the same documents and the same query in tantivy alone,
    // in this process, on as many threads as there are cores.
    let anchor = anchor::run(&pool, &picks, duration).await;
    let anchor_rate = anchor["searches_per_s"].as_f64().unwrap();

    // Refresh lag under a background load of writes, with the real worker:
    // from a write (an open day, over HTTP) until a search finds the
    // artist open on that day.
    let _worker = WorkerProcess::spawn(&db_url, &[]);
    let targets: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT s.artist_id, s.name FROM artist_search s
              WHERE NOT EXISTS (SELECT 1 FROM holds h WHERE h.artist_id = s.artist_id)
                AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.artist_id = s.artist_id)
              ORDER BY random() LIMIT $1",
    )
    .bind(i64::try_from(lag_samples * 2 + 200).unwrap())
    .fetch_all(&pool)
    .await
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let http = app.http.clone();
        let base = app.base.clone();
        let token = token.clone();
        let others: Vec<Uuid> = targets[lag_samples..].iter().map(|t| t.0).collect();
        tokio::spawn(async move {
            let mut sent = 0u64;
            let period = Duration::from_millis(1000 / u64::try_from(background.max(1)).unwrap());
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let artist = others[i % others.len()];
                let body = json!({"starts_on": Utc::now().date_naive() + chrono::Duration::days(400),
                                  "ends_on": Utc::now().date_naive() + chrono::Duration::days(400),
                                  "status": "available", "territory": {"worldwide": true}, "published": false});
                let _ = http
                    .post(format!("{base}/api/v1/artists/{artist}/availabilities"))
                    .bearer_auth(&token)
                    .header("x-org", AGENCY_ORG.to_string())
                    .json(&body)
                    .send()
                    .await;
                sent += 1;
                i += 1;
                tokio::time::sleep(period).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut lags = Vec::with_capacity(lag_samples);
    let mut day = 120;
    for (artist, name) in &targets[..lag_samples] {
        // A day the artist is not open yet (and has no hold or booking on).
        let (date, open_path) = loop {
            day += 1;
            let date = Utc::now().date_naive() + chrono::Duration::days(200 + day % 150);
            let path = format!(
                "{}/api/v1/marketplace/artists?q={}&available_from={date}&available_to={date}&limit=200",
                app.base,
                urlencode(name)
            );
            if !lists(&get(&http, &path, &token).await, *artist) {
                break (date, path);
            }
        };
        let body = json!({"starts_on": date, "ends_on": date, "status": "available",
                          "territory": {"worldwide": true}, "published": true});
        let begun = Instant::now();
        let response = app
            .post(&format!("/api/v1/artists/{artist}/availabilities"))
            .bearer_auth(&token)
            .header("x-org", AGENCY_ORG.to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        loop {
            if lists(&get(&http, &open_path, &token).await, *artist) {
                break;
            }
            assert!(
                begun.elapsed() < Duration::from_secs(30),
                "search did not find {artist} open on {date} after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(begun.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let background_writes = load.await.unwrap();

    // The agency dashboard of the agency with every booking.
    let mut dashboard = Vec::with_capacity(samples);
    let mut upcoming = 0;
    for _ in 0..samples {
        let begun = Instant::now();
        let response = app
            .get("/api/v1/dashboards/agency")
            .bearer_auth(&token)
            .header("x-org", AGENCY_ORG.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        dashboard.push(begun.elapsed());
        upcoming = body["upcoming_bookings"].as_array().unwrap().len();
    }

    println!(
        "{}",
        json!({
            "benchmark": "marketplace",
            "artists": artists,
            "windows": artists * windows,
            "holds": holds,
            "bookings": bookings,
            "generate_s": (generate_s * 10.0).round() / 10.0,
            "rebuild_s": rebuild,
            "marketplace": {
                "query": "misspelled name + parent genre + country + max_fee + 30-day window",
                "served_by": "the API's tantivy index (shared::domain::read_models::search::index)",
                "one_client_http": percentiles(single),
                "one_client_postgres_sql_in_process": percentiles(sql),
                "found_the_artist": found,
                "http": under_load,
                "no_collapse": rates[1] >= rates[0],
                "anchor_tantivy_in_process": anchor,
                "ratio_to_anchor_at_64": (rates[1] / anchor_rate * 1000.0).round() / 1000.0,
            },
            "refresh_lag": {
                "write": "POST an open day over HTTP until a marketplace search finds the artist open on it",
                "background_writes_per_s": background,
                "background_writes": background_writes,
                "lag": percentiles(lags),
            },
            "agency_dashboard": {
                "bookings": bookings,
                "http": percentiles(dashboard),
                "upcoming_shown": upcoming,
            },
        })
    );
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let response = http
        .get(url)
        .bearer_auth(token)
        .header("x-org", AGENCY_ORG.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

/// Whether a page lists the artist.
fn lists(page: &Value, artist: Uuid) -> bool {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["artist_id"] == artist.to_string())
}

/// `clients` clients, each sending the next query as soon as its last
/// answer arrived, for `duration`: searches/s, latency percentiles and
/// errors.
async fn drive(
    http: &reqwest::Client,
    paths: &[String],
    token: &str,
    clients: usize,
    duration: Duration,
) -> (f64, Value) {
    let paths = std::sync::Arc::new(paths.to_vec());
    let begun = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let http = http.clone();
            let paths = paths.clone();
            let token = token.to_owned();
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut errors = 0u64;
                let mut i = c * 7;
                while begun.elapsed() < duration {
                    let sent = Instant::now();
                    let ok = match http
                        .get(&paths[i % paths.len()])
                        .bearer_auth(&token)
                        .header("x-org", AGENCY_ORG.to_string())
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                        _ => false,
                    };
                    if ok {
                        times.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                    i += 1;
                }
                (times, errors)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (t, e) = t.await.unwrap();
        times.extend(t);
        errors += e;
    }
    let elapsed = begun.elapsed().as_secs_f64();
    let rate = times.len() as f64 / elapsed;
    let mut figures = percentiles(times);
    figures["searches_per_s"] = json!((rate * 10.0).round() / 10.0);
    figures["errors"] = json!(errors);
    figures["seconds"] = json!((elapsed * 10.0).round() / 10.0);
    (rate, figures)
}

/// The anchor: the same `artist_search` documents in a plain tantivy
/// index (the document's words, the filter keys, the currency, the lowest
/// fee, the open days) and the same query (every word with a typo
/// allowed, the last also as a prefix, the genre and country keys, the fee
/// ceiling in the currency, an open day in the window), counting the
/// results and taking the best 50 by BM25, on one thread per core.
mod anchor {
    use std::ops::Bound;
    use std::time::{Duration, Instant};

    use serde_json::{Value, json};
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery};
    use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema, TEXT};
    use tantivy::{Index, IndexWriter, TantivyDocument, Term};

    type Pick = (String, String, String, i64, chrono::NaiveDate);
    /// The document's words, filter keys, lowest fee, currency, open days.
    type Doc = (String, Vec<String>, Option<i64>, Option<String>, Vec<i32>);

    pub async fn run(pool: &sqlx::PgPool, picks: &[Pick], duration: Duration) -> Value {
        let rows: Vec<Doc> = sqlx::query_as(
            "SELECT array_to_string(tsvector_to_array(s.document), ' '), s.filter_keys, s.fee_min,
                    s.fee_currency::text,
                    ARRAY(SELECT d::date - date '2000-01-01' FROM unnest(s.open_days) r
                           CROSS JOIN LATERAL generate_series(lower(r), upper(r) - 1, interval '1 day') d)
               FROM artist_search s",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let genres: Vec<(String, String)> = sqlx::query_as("SELECT slug, id::text FROM genres")
            .fetch_all(pool)
            .await
            .unwrap();
        let genre = |slug: &str| genres.iter().find(|g| g.0 == slug).unwrap().1.clone();
        let queries: Vec<(String, String, String, i64, i64, i64)> = picks
            .iter()
            .map(|(name, g, country, fee, day)| {
                let from = (*day - chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()).num_days();
                (
                    super::misspell(name).to_lowercase(),
                    format!("g:{}", genre(g)),
                    format!("c:{country}"),
                    *fee,
                    from,
                    from + 30,
                )
            })
            .collect();
        let begun = Instant::now();
        let mut b = Schema::builder();
        let words = b.add_text_field("words", TEXT);
        let keys = b.add_text_field("keys", STRING);
        let currency = b.add_text_field("currency", STRING);
        let fee_min = b.add_i64_field("fee_min", FAST);
        let open = b.add_i64_field("open", INDEXED | FAST);
        let index = Index::create_in_ram(b.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 128 * 1024 * 1024).unwrap();
        let documents = rows.len();
        for (text, filter_keys, fee, cur, days) in rows {
            let mut d = TantivyDocument::default();
            d.add_text(words, &text);
            for k in &filter_keys {
                d.add_text(keys, k);
            }
            if let Some(c) = cur {
                d.add_text(currency, &c);
            }
            if let Some(f) = fee {
                d.add_i64(fee_min, f);
            }
            for day in days {
                d.add_i64(open, i64::from(day));
            }
            writer.add_document(d).unwrap();
        }
        writer.commit().unwrap();
        let build_s = begun.elapsed().as_secs_f64();
        let reader = index.reader().unwrap();
        let analyzer = index.tokenizer_for_field(words).unwrap();
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let begun = Instant::now();
        let found = std::sync::atomic::AtomicU64::new(0);
        let times: Vec<Duration> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let searcher = reader.searcher();
                    let mut analyzer = analyzer.clone();
                    let queries = &queries;
                    let found = &found;
                    scope.spawn(move || {
                        let mut times = Vec::new();
                        let mut i = t * 13;
                        while begun.elapsed() < duration {
                            let (q, genre, country, fee, from, to) = &queries[i % queries.len()];
                            let sent = Instant::now();
                            let mut tokens = Vec::new();
                            let mut stream = analyzer.token_stream(q);
                            while stream.advance() {
                                tokens.push(stream.token().text.clone());
                            }
                            let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                            for (n, token) in tokens.iter().enumerate() {
                                let term = Term::from_field_text(words, token);
                                let typos = match token.chars().count() {
                                    0..=3 => 0,
                                    4..=8 => 1,
                                    _ => 2,
                                };
                                must.push((
                                    Occur::Must,
                                    if n + 1 == tokens.len() && token.chars().count() >= 3 {
                                        Box::new(FuzzyTermQuery::new_prefix(term, typos, true))
                                    } else {
                                        Box::new(FuzzyTermQuery::new(term, typos, true))
                                    },
                                ));
                            }
                            for (field, value) in [
                                (keys, genre.as_str()),
                                (keys, country.as_str()),
                                (currency, "EUR"),
                            ] {
                                must.push((
                                    Occur::Must,
                                    Box::new(TermQuery::new(
                                        Term::from_field_text(field, value),
                                        IndexRecordOption::Basic,
                                    )),
                                ));
                            }
                            must.push((
                                Occur::Must,
                                Box::new(RangeQuery::new(
                                    Bound::Unbounded,
                                    Bound::Included(Term::from_field_i64(fee_min, *fee)),
                                )),
                            ));
                            must.push((
                                Occur::Must,
                                Box::new(RangeQuery::new(
                                    Bound::Included(Term::from_field_i64(open, *from)),
                                    Bound::Included(Term::from_field_i64(open, *to)),
                                )),
                            ));
                            let query = BooleanQuery::new(must);
                            let (count, top) = searcher
                                .search(&query, &(Count, TopDocs::with_limit(50).order_by_score()))
                                .unwrap();
                            times.push(sent.elapsed());
                            if count > 0 && !top.is_empty() {
                                found.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            i += 1;
                        }
                        times
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let elapsed = begun.elapsed().as_secs_f64();
        let rate = times.len() as f64 / elapsed;
        let mut figures = super::percentiles(times);
        figures["searches_per_s"] = json!((rate * 10.0).round() / 10.0);
        figures["threads"] = json!(threads);
        figures["documents"] = json!(documents);
        figures["build_s"] = json!((build_s * 10.0).round() / 10.0);
        figures["searches_with_results"] = json!(found.into_inner());
        figures
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
