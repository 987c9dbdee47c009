//! The marketplace's search index: every `artist_search` row in an
//! in-memory tantivy index, kept by each API process on its own.
//!
//! Postgres stays the source of truth and the process stays stateless:
//! the index is built from `artist_search` at start and follows it. Every
//! write of the table records its artists in `artist_search_changes` with
//! its transaction id (a statement trigger) and notifies
//! `artist_search_changed`; the follower remembers the Postgres snapshot
//! it last read under, and reads the artists whose change that snapshot
//! did not see (transaction ids at or past its `xmax`, or in progress in
//! it). Transaction ids are commit-ordered in this sense where a
//! sequence is not: a change committed late with a low id is still one
//! the last snapshot did not see. An artist whose row is gone leaves the
//! index.
//!
//! A search first asks Postgres whether a change committed since that
//! snapshot (one indexed lookup, in the statement that checks the
//! query's reference values) and, if so, catches up before answering,
//! so a page reflects every refresh committed before the request, as the
//! Postgres search did. The follower also catches up on each notification
//! and every 200 ms, so searches rarely wait. Until the first build is
//! done, [`SearchIndex::search`] answers from Postgres ([`super::search`]).
//!
//! tantivy finds the matching artists (the text, the equality filters,
//! the currency and the fee ceiling); the window, the ranking, the keyset
//! and the facets are computed over those artists' rows, held next to the
//! index in the same view.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{AllQuery, BooleanQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal, SegmentReader,
    TantivyDocument, Term,
};
use uuid::Uuid;

use super::{
    Cursor, FACET_VALUES, FacetCount, Facets, Filters, MarketplaceArtist, MarketplacePage,
    MarketplaceQuery, Sort,
};
use crate::DomainError;
use crate::domain::relationships::trust::TrustBand;
use crate::pagination::{Page, PageRequest};

/// How often the follower looks for changes without a notification.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);
/// The channel the table's trigger notifies.
pub const CHANNEL: &str = "artist_search_changed";
/// Memory the index writer buffers before it flushes a segment.
const WRITER_HEAP: usize = 64 * 1024 * 1024;
/// No snapshot read yet: every change is new to it.
const NOTHING_SEEN: &str = "1:1:";

/// A changed artist and its row, as the index reads it (`changed` is
/// `None` only on the snapshot-only row when nothing changed).
#[derive(Debug, sqlx::FromRow)]
struct EntryRow {
    changed: Option<Uuid>,
    artist_id: Option<Uuid>,
    name: Option<String>,
    name_key: Option<String>,
    search_text: Option<String>,
    words: Option<String>,
    aliases: Option<Vec<String>>,
    genre_slugs: Option<Vec<String>>,
    filter_keys: Option<Vec<String>>,
    country_code: Option<String>,
    city_id: Option<i64>,
    city_name: Option<String>,
    fee_min: Option<i64>,
    fee_max: Option<i64>,
    fee_currency: Option<String>,
    trust_score: Option<i16>,
    trust_band: Option<TrustBand>,
    open_from: Option<Vec<NaiveDate>>,
    open_until: Option<Vec<NaiveDate>>,
    next_open_date: Option<NaiveDate>,
    refreshed_at: Option<DateTime<Utc>>,
}

/// An artist in the index's view.
#[derive(Debug)]
struct Entry {
    artist_id: Uuid,
    name: String,
    /// The folded name, the `name` sort's key.
    name_key: String,
    /// The folded name and aliases' trigrams, sorted: the similarity.
    trigrams: Vec<u64>,
    words: String,
    aliases: Vec<String>,
    genre_slugs: Vec<String>,
    filter_keys: Vec<String>,
    country_code: Option<String>,
    city_id: Option<i64>,
    city_name: Option<String>,
    fee_min: Option<i64>,
    fee_max: Option<i64>,
    fee_currency: Option<String>,
    trust_score: Option<i16>,
    trust_band: Option<TrustBand>,
    /// Open days as `[from, until)` ranges, in order.
    open: Vec<(NaiveDate, NaiveDate)>,
    next_open_date: Option<NaiveDate>,
    refreshed_at: DateTime<Utc>,
}

impl EntryRow {
    /// The artist's entry, `None` when its row is gone.
    fn entry(self) -> Option<Entry> {
        let artist_id = self.artist_id?;
        let search_text = self.search_text.unwrap_or_default();
        let open = self
            .open_from
            .unwrap_or_default()
            .into_iter()
            .zip(self.open_until.unwrap_or_default())
            .collect();
        Some(Entry {
            artist_id,
            name: self.name.unwrap_or_default(),
            name_key: self.name_key.unwrap_or_default(),
            trigrams: trigrams(&search_text),
            words: self.words.unwrap_or_default(),
            aliases: self.aliases.unwrap_or_default(),
            genre_slugs: self.genre_slugs.unwrap_or_default(),
            filter_keys: self.filter_keys.unwrap_or_default(),
            country_code: self.country_code,
            city_id: self.city_id,
            city_name: self.city_name,
            fee_min: self.fee_min,
            fee_max: self.fee_max,
            fee_currency: self.fee_currency,
            trust_score: self.trust_score,
            trust_band: self.trust_band,
            open,
            next_open_date: self.next_open_date,
            refreshed_at: self.refreshed_at.unwrap_or_default(),
        })
    }
}

/// The artists changed since `seen` (a `pg_snapshot` as text), with their
/// current rows (none when removed), and the snapshot they were read
/// under; one statement, so the rows and the snapshot agree.
const CHANGES_SQL: &str = r#"WITH snap AS (SELECT pg_current_snapshot()::text AS snapshot),
           changed AS (
               SELECT c.artist_id FROM artist_search_changes c
                WHERE c.change_xid >= pg_snapshot_xmax($1::text::pg_snapshot)
               UNION
               -- One index probe per transaction in progress at the
               -- snapshot (`= ANY (array)` was planned as a scan of every row).
               SELECT c.artist_id FROM pg_snapshot_xip($1::text::pg_snapshot) x
                 JOIN LATERAL (SELECT c.artist_id FROM artist_search_changes c
                                WHERE c.change_xid = x OFFSET 0) c ON true
           )
           SELECT snap.snapshot, ch.artist_id AS changed, s.artist_id, s.name, kisum_fold(s.name) AS name_key,
                  s.search_text, array_to_string(tsvector_to_array(s.document), ' ') AS words, s.aliases,
                  s.genre_slugs, s.filter_keys, s.country_code::text AS country_code, s.city_id, s.city_name,
                  s.fee_min, s.fee_max, s.fee_currency::text AS fee_currency, s.trust_score, s.trust_band,
                  ARRAY(SELECT lower(r) FROM unnest(s.open_days) r) AS open_from,
                  ARRAY(SELECT upper(r) FROM unnest(s.open_days) r) AS open_until,
                  s.next_open_date, s.refreshed_at
             FROM snap
             LEFT JOIN changed ch ON true
             LEFT JOIN artist_search s ON s.artist_id = ch.artist_id"#;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    id_hi: Field,
    id_lo: Field,
    words: Field,
    keys: Field,
    currency: Field,
    fee_min: Field,
}

impl Fields {
    fn schema() -> (Schema, Self) {
        let mut b = Schema::builder();
        let words = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(IndexRecordOption::Basic),
        );
        let fields = Self {
            id: b.add_text_field("id", STRING),
            id_hi: b.add_u64_field("id_hi", FAST),
            id_lo: b.add_u64_field("id_lo", FAST),
            words: b.add_text_field("words", words),
            keys: b.add_text_field("keys", STRING),
            currency: b.add_text_field("currency", STRING),
            fee_min: b.add_i64_field("fee_min", FAST),
        };
        (b.build(), fields)
    }

    fn document(&self, e: &Entry) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(self.id, e.artist_id.to_string());
        let (hi, lo) = e.artist_id.as_u64_pair();
        d.add_u64(self.id_hi, hi);
        d.add_u64(self.id_lo, lo);
        d.add_text(self.words, &e.words);
        for key in &e.filter_keys {
            d.add_text(self.keys, key);
        }
        if let Some(c) = &e.fee_currency {
            d.add_text(self.currency, c);
        }
        if let Some(fee) = e.fee_min {
            d.add_i64(self.fee_min, fee);
        }
        d
    }
}

/// What searches read: a searcher and the rows it was built from, and the
/// Postgres snapshot both reflect.
struct View {
    searcher: tantivy::Searcher,
    entries: Arc<HashMap<Uuid, Arc<Entry>>>,
    snapshot: String,
}

/// What only the follower touches.
struct Writer {
    writer: IndexWriter,
    reader: IndexReader,
}

/// The marketplace's search index of one process (see the module doc).
pub struct SearchIndex {
    fields: Fields,
    analyzer: Mutex<Option<TextAnalyzer>>,
    view: RwLock<Option<Arc<View>>>,
    writer: Arc<Mutex<Option<Writer>>>,
    /// One catch-up at a time; searches that find the view stale wait here.
    catching_up: tokio::sync::Mutex<()>,
}

impl Default for SearchIndex {
    fn default() -> Self {
        Self::new()
    }
}

fn internal(e: impl Into<anyhow::Error>) -> DomainError {
    DomainError::Internal(e.into())
}

impl SearchIndex {
    /// An index not built yet: searches go to Postgres until [`Self::build`].
    pub fn new() -> Self {
        let (_, fields) = Fields::schema();
        Self {
            fields,
            analyzer: Mutex::new(None),
            view: RwLock::new(None),
            writer: Arc::new(Mutex::new(None)),
            catching_up: tokio::sync::Mutex::new(()),
        }
    }

    fn view(&self) -> Option<Arc<View>> {
        self.view.read().ok().and_then(|v| v.clone())
    }

    /// Artists in the index, `None` before it is built.
    pub fn documents(&self) -> Option<usize> {
        self.view().map(|v| v.entries.len())
    }

    /// Builds the index from every row of `artist_search`, once: a second
    /// call (the follower after a build at start) does nothing.
    pub async fn build(&self, pool: &PgPool) -> Result<usize, DomainError> {
        let _one = self.catching_up.lock().await;
        if let Some(view) = self.view() {
            return Ok(view.entries.len());
        }
        let mut conn = pool.acquire().await?;
        let (snapshot, rows) = changes(&mut conn, NOTHING_SEEN).await?;
        drop(conn);
        let fields = self.fields;
        let (writer, view, analyzer) = tokio::task::spawn_blocking(move || {
            let (schema, _) = Fields::schema();
            let index = Index::create_in_ram(schema);
            let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_HEAP)?;
            let mut entries = HashMap::with_capacity(rows.len());
            for row in rows {
                if let Some(entry) = row.entry() {
                    writer.add_document(fields.document(&entry))?;
                    entries.insert(entry.artist_id, Arc::new(entry));
                }
            }
            let mut writer = writer;
            writer.commit()?;
            let reader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()?;
            let analyzer = index.tokenizer_for_field(fields.words)?;
            let view = View {
                searcher: reader.searcher(),
                entries: Arc::new(entries),
                snapshot,
            };
            Ok::<_, tantivy::TantivyError>((Writer { writer, reader }, view, analyzer))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        let n = view.entries.len();
        *self.writer.lock().map_err(|_| poisoned())? = Some(writer);
        *self.analyzer.lock().map_err(|_| poisoned())? = Some(analyzer);
        *self.view.write().map_err(|_| poisoned())? = Some(Arc::new(view));
        Ok(n)
    }

    /// Reads the changes the view has not seen and applies them: a new
    /// view, whose snapshot is the one they were read under.
    pub async fn catch_up(&self, conn: &mut PgConnection) -> Result<(), DomainError> {
        let _one = self.catching_up.lock().await;
        let Some(view) = self.view() else {
            return Ok(());
        };
        let (snapshot, rows) = changes(conn, &view.snapshot).await?;
        if rows.is_empty() {
            if snapshot != view.snapshot {
                let next = View {
                    searcher: view.searcher.clone(),
                    entries: view.entries.clone(),
                    snapshot,
                };
                *self.view.write().map_err(|_| poisoned())? = Some(Arc::new(next));
            }
            return Ok(());
        }
        let fields = self.fields;
        let writer = self.writer.clone();
        let next = tokio::task::spawn_blocking(move || {
            let mut guard = writer.lock().map_err(|_| poisoned())?;
            let w = guard.as_mut().ok_or_else(poisoned)?;
            let mut entries = (*view.entries).clone();
            for row in rows {
                let Some(changed) = row.changed else {
                    continue;
                };
                w.writer
                    .delete_term(Term::from_field_text(fields.id, &changed.to_string()));
                entries.remove(&changed);
                if let Some(entry) = row.entry() {
                    w.writer
                        .add_document(fields.document(&entry))
                        .map_err(internal)?;
                    entries.insert(entry.artist_id, Arc::new(entry));
                }
            }
            w.writer.commit().map_err(internal)?;
            w.reader.reload().map_err(internal)?;
            Ok::<_, DomainError>(View {
                searcher: w.reader.searcher(),
                entries: Arc::new(entries),
                snapshot,
            })
        })
        .await
        .map_err(internal)??;
        *self.view.write().map_err(|_| poisoned())? = Some(Arc::new(next));
        Ok(())
    }

    /// Builds the index (retrying while the database is away), then
    /// follows the table: on each notification and every
    /// [`FOLLOW_INTERVAL`]. Runs until dropped.
    pub async fn follow(self: Arc<Self>, pool: PgPool) {
        while self.documents().is_none() {
            match self.build(&pool).await {
                Ok(n) => tracing::info!(artists = n, "marketplace index built"),
                Err(e) => {
                    tracing::warn!(error = %e, "marketplace index build failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let mut listener = None;
        loop {
            if listener.is_none() {
                match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut l) => match l.listen(CHANNEL).await {
                        Ok(()) => listener = Some(l),
                        Err(e) => tracing::warn!(error = %e, "marketplace index: LISTEN failed"),
                    },
                    Err(e) => tracing::warn!(error = %e, "marketplace index: LISTEN failed"),
                }
            }
            match listener.as_mut() {
                Some(l) => {
                    tokio::select! {
                        r = l.try_recv() => if r.is_err() { listener = None },
                        () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                    }
                }
                None => tokio::time::sleep(FOLLOW_INTERVAL).await,
            }
            let caught = async {
                let mut conn = pool.acquire().await?;
                self.catch_up(&mut conn).await
            };
            if let Err(e) = caught.await {
                tracing::warn!(error = %e, "marketplace index: catching up failed");
            }
        }
    }

    /// The marketplace search (SPEC 5.8), from the index once it is built
    /// and current, else from Postgres. `conn` may be a replica's: it only
    /// checks the query and whether a change the view has not seen is
    /// there; the index catches up from the `primary`, so its snapshot
    /// never goes back.
    pub async fn search(
        &self,
        conn: &mut PgConnection,
        primary: &PgPool,
        query: &MarketplaceQuery,
    ) -> Result<MarketplacePage, DomainError> {
        let Some(view) = self.view() else {
            return super::search(conn, query).await;
        };
        let page: PageRequest<Cursor> = PageRequest::parse(query.limit, query.cursor.as_deref())?;
        let (f, stale) = super::filters(&mut *conn, query, Some(&view.snapshot)).await?;
        let view = if stale {
            self.catch_up(&mut *primary.acquire().await?).await?;
            self.view().unwrap_or(view)
        } else {
            view
        };
        let sort = f.sort(query.sort);
        let tokens = match &f.folded {
            Some(q) => self.tokens(q)?,
            None => Vec::new(),
        };
        let today = Utc::now().date_naive();
        let found = self.find(&view, &f, &tokens)?;
        Ok(answer(
            &found,
            &Ask {
                filters: &f,
                folded: f.folded.as_deref(),
                sort,
                today,
            },
            page,
        ))
    }

    fn tokens(&self, q: &str) -> Result<Vec<String>, DomainError> {
        let mut guard = self.analyzer.lock().map_err(|_| poisoned())?;
        let analyzer = guard.as_mut().ok_or_else(poisoned)?;
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(q);
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        Ok(out)
    }

    /// The artists tantivy finds for the text and the indexed filters,
    /// narrowed by the window.
    fn find(
        &self,
        view: &View,
        f: &Filters,
        tokens: &[String],
    ) -> Result<Vec<Arc<Entry>>, DomainError> {
        if f.q.is_some() && tokens.is_empty() {
            // Text without a word (only punctuation) matches nothing.
            return Ok(Vec::new());
        }
        let query = build_query(self.fields, f, tokens);
        let ids = view
            .searcher
            .search(
                query.as_ref(),
                &Ids {
                    hi: self.fields.id_hi,
                    lo: self.fields.id_lo,
                },
            )
            .map_err(internal)?;
        let window = f.from.zip(f.to);
        Ok(ids
            .into_iter()
            .filter_map(|id| view.entries.get(&id))
            .filter(|e| window.is_none_or(|(from, to)| open_in(&e.open, from, to)))
            .cloned()
            .collect())
    }
}

fn poisoned() -> DomainError {
    DomainError::Internal(anyhow::anyhow!("the marketplace index is unusable"))
}

async fn changes(
    conn: &mut PgConnection,
    seen: &str,
) -> Result<(String, Vec<EntryRow>), DomainError> {
    #[derive(sqlx::FromRow)]
    struct Changed {
        snapshot: String,
        #[sqlx(flatten)]
        row: EntryRow,
    }
    let found: Vec<Changed> = sqlx::query_as(CHANGES_SQL)
        .bind(seen)
        .persistent(false)
        .fetch_all(conn)
        .await?;
    let snapshot = found
        .first()
        .map(|c| c.snapshot.clone())
        .ok_or_else(|| internal(anyhow::anyhow!("no snapshot")))?;
    let rows = found
        .into_iter()
        .map(|c| c.row)
        .filter(|r| r.changed.is_some())
        .collect();
    Ok((snapshot, rows))
}

/// How many typos a query word may have: none under four letters, one
/// up to eight, two from nine (a swap of neighbours counts as one).
fn typos(word: &str) -> u8 {
    match word.chars().count() {
        0..=3 => 0,
        4..=8 => 1,
        _ => 2,
    }
}

/// Every word of the text matches a word of the artist's document (name,
/// aliases, genres, city, country) with the typos [`typos`] allows, the
/// last word also as a prefix (a name being typed); then the equality
/// filters, the currency and the fee ceiling.
fn build_query(fields: Fields, f: &Filters, tokens: &[String]) -> Box<dyn Query> {
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let term = Term::from_field_text(fields.words, token);
        let q: Box<dyn Query> = if i + 1 == tokens.len() && token.chars().count() >= 3 {
            Box::new(FuzzyTermQuery::new_prefix(term, typos(token), true))
        } else {
            Box::new(FuzzyTermQuery::new(term, typos(token), true))
        };
        must.push((Occur::Must, q));
    }
    for key in f.keys() {
        must.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(fields.keys, &key),
                IndexRecordOption::Basic,
            )),
        ));
    }
    if let Some(fee) = f.max_fee {
        must.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Unbounded,
                Bound::Included(Term::from_field_i64(fields.fee_min, fee)),
            )),
        ));
        if let Some(c) = &f.currency {
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(fields.currency, c),
                    IndexRecordOption::Basic,
                )),
            ));
        }
    }
    if must.is_empty() {
        Box::new(AllQuery)
    } else {
        Box::new(BooleanQuery::new(must))
    }
}

/// Collects the matching artists' ids (from the fast fields).
struct Ids {
    hi: Field,
    lo: Field,
}

struct SegmentIds {
    hi: tantivy::columnar::Column<u64>,
    lo: tantivy::columnar::Column<u64>,
    ids: Vec<Uuid>,
}

impl Collector for Ids {
    type Fruit = Vec<Uuid>;
    type Child = SegmentIds;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentIds> {
        let ff = segment.fast_fields();
        let name = |f: Field| segment.schema().get_field_name(f).to_owned();
        Ok(SegmentIds {
            hi: ff.u64(&name(self.hi))?,
            lo: ff.u64(&name(self.lo))?,
            ids: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Uuid>>) -> tantivy::Result<Vec<Uuid>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentIds {
    type Fruit = Vec<Uuid>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let (Some(hi), Some(lo)) = (self.hi.first(doc), self.lo.first(doc)) {
            self.ids.push(Uuid::from_u64_pair(hi, lo));
        }
    }

    fn harvest(self) -> Vec<Uuid> {
        self.ids
    }
}

/// Whether one of the `[from, until)` ranges has a day in `[from, to]`.
fn open_in(open: &[(NaiveDate, NaiveDate)], from: NaiveDate, to: NaiveDate) -> bool {
    open.iter().any(|(a, b)| *a <= to && *b > from)
}

/// The first day of `open` in `[from, to]` (`to` open-ended when `None`).
fn first_open(
    open: &[(NaiveDate, NaiveDate)],
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Option<NaiveDate> {
    open.iter().find_map(|(a, b)| {
        let day = (*a).max(from);
        (day < *b && to.is_none_or(|t| day <= t)).then_some(day)
    })
}

/// Up to ten days of `open` in `[from, to]`.
fn open_dates(
    open: &[(NaiveDate, NaiveDate)],
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    for (a, b) in open {
        let mut day = (*a).max(from);
        while day < *b && to.is_none_or(|t| day <= t) && out.len() < 10 {
            out.push(day);
            day = day.succ_opt().unwrap_or(*b);
        }
        if out.len() == 10 {
            break;
        }
    }
    out
}

/// The trigrams of `text` as `pg_trgm` makes them: each word of letters
/// and digits, padded with two blanks before and one after; sorted and
/// deduplicated, each packed into a number.
fn trigrams(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let chars: Vec<char> = [' ', ' ']
            .into_iter()
            .chain(word.chars().flat_map(char::to_lowercase))
            .chain([' '])
            .collect();
        for w in chars.windows(3) {
            out.push((u64::from(w[0]) << 42) | (u64::from(w[1]) << 21) | u64::from(w[2]));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `pg_trgm`'s `similarity`: shared trigrams over all trigrams of both.
fn similarity(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let all = a.len() + b.len() - common;
    // As `pg_trgm` does, in single precision.
    f64::from(common as f32 / all as f32)
}

/// What the page is asked for.
struct Ask<'a> {
    filters: &'a Filters,
    folded: Option<&'a str>,
    sort: Sort,
    today: NaiveDate,
}

/// The text key of the keyset: the folded name, or a day (`9999-12-31`
/// when none), compared as the Postgres search compares their text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TextKey<'a> {
    Text(&'a str),
    Day(NaiveDate),
}

impl TextKey<'_> {
    fn to_text(self) -> String {
        match self {
            Self::Text(t) => t.to_owned(),
            Self::Day(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

struct Hit<'a> {
    entry: &'a Entry,
    relevance: Option<f64>,
    key_n: f64,
    key_t: TextKey<'a>,
}

impl Hit<'_> {
    fn order(&self, other: &Self) -> Ordering {
        self.key_n
            .total_cmp(&other.key_n)
            .then_with(|| self.key_t.cmp(&other.key_t))
            .then_with(|| self.entry.artist_id.cmp(&other.entry.artist_id))
    }
}

/// The keyset order of the Postgres search: a number key, a text key,
/// the artist.
fn hit<'a>(entry: &'a Entry, ask: &Ask<'_>, q: &[u64]) -> Hit<'a> {
    let relevance = ask.folded.map(|_| similarity(&entry.trigrams, q));
    let trust = f64::from(entry.trust_score.unwrap_or(-1));
    let f = ask.filters;
    let key_n = match ask.sort {
        Sort::Relevance => {
            let r = (relevance.unwrap_or(0.0) * 10_000.0).round() / 10_000.0;
            -(r * 10_000_000.0 + trust)
        }
        Sort::Trust => -trust,
        Sort::Availability => {
            let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
            first_open(&entry.open, f.from.unwrap_or(ask.today), f.to)
                .map_or(1_000_000.0, |d| (d - epoch).num_days() as f64)
        }
        Sort::Fee => entry.fee_min.map_or(1e18, |fee| fee as f64),
        Sort::Name => 0.0,
    };
    let key_t = match ask.sort {
        Sort::Name => TextKey::Text(&entry.name_key),
        _ => TextKey::Day(
            entry
                .next_open_date
                .or_else(|| NaiveDate::from_ymd_opt(9999, 12, 31))
                .unwrap_or_default(),
        ),
    };
    Hit {
        entry,
        relevance,
        key_n,
        key_t,
    }
}

/// Whether `h` comes after the cursor.
fn after(h: &Hit<'_>, cursor: &Cursor) -> bool {
    let t = h.key_t.to_text();
    h.key_n
        .total_cmp(&cursor.0)
        .then_with(|| t.as_str().cmp(cursor.1.as_str()))
        .then_with(|| h.entry.artist_id.cmp(&cursor.2))
        == Ordering::Greater
}

/// The page, the total and the facets over `found`.
fn answer(found: &[Arc<Entry>], ask: &Ask<'_>, page: PageRequest<Cursor>) -> MarketplacePage {
    let q = ask.folded.map(trigrams).unwrap_or_default();
    let mut genres: HashMap<&str, i64> = HashMap::new();
    let mut countries: HashMap<&str, i64> = HashMap::new();
    let mut hits = Vec::new();
    for e in found {
        for g in &e.genre_slugs {
            *genres.entry(g.as_str()).or_default() += 1;
        }
        if let Some(c) = &e.country_code {
            *countries.entry(c.as_str()).or_default() += 1;
        }
        let h = hit(e, ask, &q);
        if page.after.as_ref().is_none_or(|c| after(&h, c)) {
            hits.push(h);
        }
    }
    let take = usize::try_from(page.fetch_limit()).unwrap_or(0);
    if hits.len() > take {
        hits.select_nth_unstable_by(take, Hit::order);
        hits.truncate(take);
    }
    hits.sort_by(Hit::order);
    let from = ask.filters.from.unwrap_or(ask.today);
    let to = ask.filters.to;
    let rows: Vec<(MarketplaceArtist, Cursor)> = hits
        .iter()
        .map(|h| {
            let e = h.entry;
            (
                MarketplaceArtist {
                    artist_id: e.artist_id,
                    name: e.name.clone(),
                    aliases: e.aliases.clone(),
                    genres: e.genre_slugs.clone(),
                    country_code: e.country_code.clone(),
                    city_id: e.city_id,
                    city: e.city_name.clone(),
                    fee_min: e.fee_min,
                    fee_max: e.fee_max,
                    fee_currency: e.fee_currency.clone(),
                    trust_score: e.trust_score,
                    trust_band: e.trust_band,
                    open_dates: open_dates(&e.open, from, to),
                    next_open_date: e.next_open_date,
                    relevance: h.relevance,
                    refreshed_at: e.refreshed_at,
                },
                (h.key_n, h.key_t.to_text(), e.artist_id),
            )
        })
        .collect();
    let page = Page::from_rows(rows, page.limit, |(_, key)| key.clone());
    MarketplacePage {
        items: page.items.into_iter().map(|(a, _)| a).collect(),
        next_cursor: page.next_cursor,
        total: i64::try_from(found.len()).unwrap_or(i64::MAX),
        facets: Facets {
            genres: top(genres),
            countries: top(countries),
        },
    }
}

/// Facet values, most results first, then by value; the first
/// [`FACET_VALUES`].
fn top(counts: HashMap<&str, i64>) -> Vec<FacetCount> {
    let mut v: Vec<(&str, i64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.truncate(usize::try_from(FACET_VALUES).unwrap_or(0));
    v.into_iter()
        .map(|(value, count)| FacetCount {
            value: value.to_owned(),
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_pg_trgm_s() {
        // SELECT similarity('nightingale collective', 'nightengale') = 0.34615386
        let s = similarity(
            &trigrams("nightingale collective"),
            &trigrams("nightengale"),
        );
        assert!((s - 0.346_153_86).abs() < 1e-6, "{s}");
        assert_eq!(similarity(&trigrams("abc"), &trigrams("abc")), 1.0);
        assert_eq!(similarity(&trigrams(""), &trigrams("abc")), 0.0);
    }

    #[test]
    fn open_days_in_a_window() {
        let d = |n: u32| NaiveDate::from_ymd_opt(2027, 1, n).unwrap_or_default();
        let open = [(d(5), d(8)), (d(20), d(21))];
        assert!(open_in(&open, d(7), d(9)));
        assert!(!open_in(&open, d(8), d(19)));
        assert_eq!(first_open(&open, d(6), None), Some(d(6)));
        assert_eq!(first_open(&open, d(8), Some(d(19))), None);
        assert_eq!(open_dates(&open, d(1), None), [d(5), d(6), d(7), d(20)]);
        assert_eq!(open_dates(&open, d(6), Some(d(6))), [d(6)]);
    }
}
