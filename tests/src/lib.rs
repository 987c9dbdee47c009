//! Test harness: a fresh database per test (cloned from a migrated
//! template), the real API on a random port, the real worker binary as a
//! child process, token minting, and small real HTTP fakes for Auth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fakes;
pub mod pgbench;
pub mod processes;
pub mod queue;
pub mod tokens;
pub mod world;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use shared::config::{ApiConfig, Env, WorkerConfig};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio::sync::oneshot;
use uuid::Uuid;

pub use tokens::{HS_SECRET, Token};

pub const INTERNAL_KEY: &str = "test-internal-key-0123456789abcdef";
pub const INTERNAL_KEY_OLD: &str = "test-internal-key-rotated-out-0000";

/// The server every test database lives on: `TEST_DATABASE_URL`, else
/// `DATABASE_URL`, else the local default. Only its server part is used.
fn server_url() -> String {
    let url = std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    server_of(&url)
}

/// The server part of a database URL (without the database name).
fn server_of(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((server, _db)) if server.contains("://") && !server.ends_with('/') => {
            server.to_owned()
        }
        _ => url.to_owned(),
    }
}

fn db_url(name: &str) -> String {
    format!("{}/{name}", server_url())
}

/// Name of the migrated template: changes whenever a migration or the
/// shipped reference data does.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    for m in shared::db::MIGRATOR.iter() {
        hasher.update(m.version.to_le_bytes());
        hasher.update(&m.checksum);
    }
    for m in apalis_migrations().iter() {
        hasher.update(m.version.to_le_bytes());
        hasher.update(&m.checksum);
    }
    hasher.update(shared::reference::digest().as_bytes());
    let digest = hex(&hasher.finalize()[..6]);
    format!("kisum_tpl_{digest}")
}

fn apalis_migrations() -> sqlx::migrate::Migrator {
    // The queue's migrations, as `shared::db::migrate` applies them.
    shared::jobs::queue::migrator()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn admin() -> PgConnection {
    PgConnection::connect(&db_url("postgres"))
        .await
        .expect("test Postgres is reachable (TEST_DATABASE_URL or DATABASE_URL)")
}

/// Creates the template once per server (across test processes, under an
/// advisory lock), migrated the same way `kisum-api migrate` does.
async fn ensure_template() -> String {
    let template = template_name();
    let mut conn = admin().await;
    conn.execute("SELECT pg_advisory_lock(720413)")
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    if !exists {
        let building = format!("{template}_building");
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
        )))
        .await
        .unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .await
            .unwrap();
        let pool = PgPool::connect(&db_url(&building)).await.unwrap();
        shared::db::migrate(&pool)
            .await
            .expect("migrations apply to a fresh database");
        pool.close().await;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {template}"
        )))
        .await
        .unwrap();
    }
    conn.execute("SELECT pg_advisory_unlock(720413)")
        .await
        .unwrap();
    template
}

/// A database of one test, dropped (forcefully) when the value drops.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A migrated database, cloned from the template.
    pub async fn migrated() -> Self {
        let template = ensure_template().await;
        Self::create(Some(&template)).await
    }

    /// An empty database: nothing migrated.
    pub async fn empty() -> Self {
        Self::create(None).await
    }

    /// A database that already exists at `url`, on a server of the test's
    /// own (a [`processes::PgServer`]), for a [`TestApp`] to serve from.
    /// Dropped like the others, on that server.
    pub fn existing(url: &str) -> Self {
        let (_, name) = url
            .rsplit_once('/')
            .expect("a database URL names its database");
        Self {
            name: name.to_owned(),
            url: url.to_owned(),
        }
    }

    async fn create(template: Option<&str>) -> Self {
        let name = format!("kisum_test_{}", Uuid::new_v4().simple());
        let mut conn = admin().await;
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        // Cloning fails while another session is briefly on the template.
        let mut tries = 0;
        loop {
            match conn.execute(sqlx::AssertSqlSafe(sql.clone())).await {
                Ok(_) => break,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("creating {name}: {e}"),
            }
        }
        let url = db_url(&name);
        Self { name, url }
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = format!("{}/postgres", server_of(&self.url));
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = conn
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// The platform's contract signing key in tests (base64 Ed25519 seed).
pub const SEAL_KEY: &str = "dGVzdC1vbmx5LWNvbnRyYWN0LXNlYWwta2V5LTAwMDA=";

/// The base variables of a test API; tests override or remove some.
pub fn base_env(database_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("JWT_SECRET", HS_SECRET),
        (
            "INTERNAL_API_KEYS",
            &format!("{INTERNAL_KEY},{INTERNAL_KEY_OLD}"),
        ),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("PUBLIC_RATE_LIMIT_PER_MINUTE", "0"),
        ("CONTRACT_SIGNING_KEY", SEAL_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A running API with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Configures a [`TestApp`] before it starts.
pub struct AppBuilder {
    env: HashMap<String, String>,
    db: Option<TestDb>,
}

impl AppBuilder {
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    /// Unsets a base variable (blank values are dropped before start).
    pub fn without(mut self, key: &str) -> Self {
        self.env.insert(key.to_owned(), String::new());
        self
    }

    /// Serve on this database instead of a fresh migrated one.
    pub fn database(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    pub async fn spawn(self) -> TestApp {
        init();
        let db = match self.db {
            Some(db) => db,
            None => TestDb::migrated().await,
        };
        let mut env = base_env(&db.url);
        env.extend(self.env);
        env.retain(|_, v| !v.is_empty());
        let config = ApiConfig::from_env(&Env::from_map(env)).expect("test config is valid");
        let pool = shared::db::pool(&config.database).unwrap();
        let state = api::AppState::new(config, pool.clone()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        // The server gets its own runtime, built like the binary's, so it
        // does not depend on (or share the stack of) the test's runtime.
        std::thread::spawn(move || {
            let runtime = api::runtime().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = api::serve(listener, state, async {
                    let _ = rx.await;
                })
                .await;
            });
        });
        TestApp {
            addr,
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            pool,
            db,
            shutdown: Some(tx),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub(crate) fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TestApp {
    pub fn builder() -> AppBuilder {
        AppBuilder {
            env: HashMap::new(),
            db: None,
        }
    }

    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.patch(self.url(path))
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path))
    }

    /// A request as a member of `org` with `role`.
    pub fn as_member(
        &self,
        method: reqwest::Method,
        path: &str,
        org: Uuid,
        role: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(Token::member(org, role).hs256())
            .header("x-org", org.to_string())
    }

    /// A request with the internal key.
    pub fn internal(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-Internal-API-Key", INTERNAL_KEY)
    }
}

/// An org calling the API with a token of one of its members.
pub struct Org {
    pub id: Uuid,
    pub token: String,
}

impl Default for Org {
    fn default() -> Self {
        Self::new()
    }
}

impl Org {
    /// A fresh org, acting as its owner.
    pub fn new() -> Self {
        Self::with_role("owner")
    }

    pub fn with_role(role: &str) -> Self {
        let id = Uuid::now_v7();
        Self {
            id,
            token: Token::member(id, role).hs256(),
        }
    }

    pub fn req(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        app.http
            .request(method, app.url(path))
            .bearer_auth(&self.token)
            .header("x-org", self.id.to_string())
    }

    /// Sends a request (with a JSON body when given): status and JSON body.
    pub async fn send(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.req(app, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> (u16, serde_json::Value) {
        self.send(app, reqwest::Method::GET, path, None).await
    }
}

/// An agency (provisioned, representing one artist for booking worldwide)
/// and a promoter company of another org: the two parties of a booking.
pub struct BookingParties {
    pub agency: Org,
    pub promoter: Org,
    pub artist: String,
    pub agency_company: String,
    pub promoter_company: String,
}

pub async fn booking_parties(
    app: &TestApp,
    agency_name: &str,
    artist_name: &str,
    genres: &[&str],
) -> BookingParties {
    use reqwest::Method;
    use serde_json::{Value, json};
    let agency = Org::new();
    let (_, request) = agency
        .send(
            app,
            Method::POST,
            "/api/v1/artists-companies/creation-requests",
            Some(json!({"spec": {"name": agency_name}})),
        )
        .await;
    let approved: Value = app
        .internal(
            Method::POST,
            &format!(
                "/internal/admin/artist-company-requests/{}/approve",
                request["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agency_company = approved["company_id"].as_str().unwrap().to_owned();
    let artist: Value = app
        .internal(Method::POST, "/internal/artists")
        .json(&json!({"name": artist_name, "genres": genres}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let artist = artist["id"].as_str().unwrap().to_owned();
    let (status, _) = agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/artists-companies/{agency_company}/roster"),
            Some(json!({"artist_id": artist, "role": "booking", "territory": {"worldwide": true}})),
        )
        .await;
    assert_eq!(status, 201);
    let promoter = Org::new();
    let (_, company) = promoter
        .send(
            app,
            Method::POST,
            "/api/v1/artists-companies",
            Some(json!({"kind": "promoter", "name": format!("{agency_name} Promoter")})),
        )
        .await;
    BookingParties {
        agency,
        promoter,
        artist,
        agency_company,
        promoter_company: company["id"].as_str().unwrap().to_owned(),
    }
}

/// A confirmed booking between the parties: the promoter sends `offer`
/// (an offer body with `"send": true`), the agency accepts it and the
/// promoter confirms it. Returns the booking's id.
pub async fn confirmed_booking(
    app: &TestApp,
    p: &BookingParties,
    offer: serde_json::Value,
) -> String {
    use reqwest::Method;
    let (status, offer) = p
        .promoter
        .send(app, Method::POST, "/api/v1/offers", Some(offer))
        .await;
    assert_eq!(status, 201, "{offer}");
    let offer = offer["id"].as_str().unwrap();
    let accept = format!("/api/v1/offers/{offer}/accept");
    let (status, body) = p.agency.send(app, Method::POST, &accept, None).await;
    assert_eq!(status, 200, "{body}");
    let confirm = serde_json::json!({"offer_id": offer});
    let (status, booking) = p
        .promoter
        .send(app, Method::POST, "/api/v1/bookings", Some(confirm))
        .await;
    assert_eq!(status, 201, "{booking}");
    booking["id"].as_str().unwrap().to_owned()
}

/// The Python of the pinned test-tools venv (`tests/schemathesis/requirements.txt`:
/// schemathesis, icalendar, standardwebhooks) that `./deploy/dev.sh test`
/// makes under `.dev/schemathesis-venv`, or `SCHEMATHESIS_VENV`.
pub fn venv_python() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf();
    let venv = std::env::var_os("SCHEMATHESIS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".dev/schemathesis-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `./deploy/dev.sh test`, which installs \
         tests/schemathesis/requirements.txt there (or set SCHEMATHESIS_VENV)",
        python.display()
    );
    python
}

/// A `kisum-worker` child process on a test database; killed on drop.
pub struct WorkerProcess {
    pub child: tokio::process::Child,
}

/// The built `kisum-worker` binary beside this test's executable.
pub fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .ancestors()
        .find(|p| p.join("kisum-worker").exists())
        .expect("kisum-worker is built (cargo build --workspace --bins) next to the tests")
        .to_path_buf();
    profile_dir.join("kisum-worker")
}

impl WorkerProcess {
    /// Starts a worker with fast heartbeats so orphaned jobs move quickly.
    pub fn spawn(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let mut command = tokio::process::Command::new(worker_binary());
        command
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("DATABASE_MAX_CONNECTIONS", "5")
            .env("WORKER_HEARTBEAT_SECONDS", "1")
            .env("WORKER_ORPHAN_TIMEOUT_SECONDS", "3")
            .env("WORKER_POLL_INTERVAL_MS", "500")
            .env("SHUTDOWN_GRACE_SECONDS", "5")
            .env(
                "RUST_LOG",
                std::env::var("WORKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if std::env::var("WORKER_LOG").is_err() {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("kisum-worker starts");
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("worker is running")
    }

    /// SIGKILL: no chance to clean up.
    pub async fn kill9(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.pid();
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("worker exits after SIGTERM")
            .unwrap()
    }
}

/// An internal-key call: the status and the JSON body (null when none).
pub async fn internal_call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = app.internal(method, path);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the API answers");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Waits (a worker must be running) until `queue` has a dead job in the ops
/// API, and returns it.
pub async fn dead_job(app: &TestApp, queue: &str) -> serde_json::Value {
    let path = format!("/internal/ops/jobs?queue={queue}&state=dead");
    eventually(std::time::Duration::from_secs(60), "a job dies", || async {
        let (_, page) = internal_call(app, reqwest::Method::GET, &path, None).await;
        page["items"]
            .as_array()
            .and_then(|items| items.first().cloned())
    })
    .await
}

/// Waits (a worker must be running) until `queue` has no job due, running
/// or waiting to retry, as `/ops` counts them (`shared::ops::queue_stats`),
/// and returns the queue's counts. After it a test can assert that nothing
/// more happened: every job of the type that was due has run to its end.
/// Jobs scheduled for later are not waited for; the returned `scheduled`
/// says whether there are any.
pub async fn wait_queue_drained(pool: &PgPool, queue: &str) -> shared::ops::QueueStats {
    eventually(
        Duration::from_secs(60),
        &format!("queue {queue} to drain"),
        || async {
            let mut conn = pool.acquire().await.unwrap();
            let stats = shared::ops::queue_stats(&mut conn).await.unwrap();
            let stats = stats
                .into_iter()
                .find(|s| s.queue == queue)
                .unwrap_or_else(|| shared::ops::QueueStats {
                    queue: queue.to_owned(),
                    ..Default::default()
                });
            (stats.pending + stats.running + stats.failed == 0).then_some(stats)
        },
    )
    .await
}

/// Waits until the clock is past `deadline`: a time the API returned (an
/// `expires_at`), for a test of what holds once it is due.
pub async fn wait_until(deadline: chrono::DateTime<chrono::Utc>) {
    let left = deadline - chrono::Utc::now();
    if let Ok(left) = left.to_std() {
        tokio::time::sleep(left + Duration::from_millis(1)).await;
    }
    assert!(chrono::Utc::now() > deadline);
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A valid worker configuration for in-process use.
pub fn worker_config(database_url: &str) -> WorkerConfig {
    WorkerConfig::from_env(&Env::from_map([
        ("DATABASE_URL", database_url),
        ("WORKER_HEARTBEAT_SECONDS", "1"),
        ("WORKER_ORPHAN_TIMEOUT_SECONDS", "3"),
    ]))
    .unwrap()
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "content type");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status, "problem status in {body}");
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "problem {field} in {body}");
    }
    assert!(
        body["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "request_id in {body}"
    );
    body
}

/// The security headers every HTML page carries (`api/src/page_headers.rs`),
/// with every inline `<style>` of `body` allowed by its hash; returns the
/// `Content-Security-Policy`.
pub fn assert_secure_page(headers: &reqwest::header::HeaderMap, body: &str) -> String {
    use base64::Engine;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("the page has no {name} header: {headers:?}"))
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action ",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-frame-options"), "DENY");
    for style in body.split("<style>").skip(1) {
        let style = &style[..style.find("</style>").expect("a closed <style>")];
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
        assert!(
            csp.contains(&format!("'sha256-{hash}'")),
            "the page's inline style (sha256-{hash}) is allowed by {csp}"
        );
    }
    csp
}

/// Node.js and the npm packages `what` drives are installed in `dir`, or
/// the test fails saying how to get them (`hint`); it never skips.
pub fn require_node_packages(what: &str, dir: &std::path::Path, packages: &[&str], hint: &str) {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    assert!(
        node.is_ok_and(|s| s.success()),
        "{what} needs Node.js (`node` on PATH): {hint}"
    );
    for package in packages {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "{what} needs {package} in {}/node_modules: {hint}",
            dir.display()
        );
    }
}
