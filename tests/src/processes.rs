//! Real processes beside the tests: the `kisum-api` binary on its own port
//! (for signals and for replicas that share nothing but the database), and
//! a private Postgres server a test may stop and start again, back up with
//! `pg_basebackup` and restore to a point in time.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::{INTERNAL_KEY, base_env, eventually, worker_binary};

/// A `kisum-api` child process; killed on drop. Its stdout (JSON logs) goes
/// to [`ApiProcess::log`].
pub struct ApiProcess {
    pub child: tokio::process::Child,
    pub base: String,
    pub log: PathBuf,
    pub http: reqwest::Client,
}

/// A free loopback port (the kernel's pick, released for the child).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ApiProcess {
    /// Starts the API with the test base variables plus `extra` on a free
    /// port and waits until `/healthz` answers.
    pub async fn spawn(database_url: &str, extra: &[(&str, &str)]) -> Self {
        crate::init();
        let binary = worker_binary().with_file_name("kisum-api");
        let port = free_port();
        let log = std::env::temp_dir().join(format!("kisum-api-{}.log", uuid::Uuid::new_v4()));
        let mut command = tokio::process::Command::new(binary);
        command.env_clear().envs(base_env(database_url));
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("SHUTDOWN_GRACE_SECONDS", "10")
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json");
        for (k, v) in extra {
            command.env(k, v);
        }
        command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command.spawn().expect("kisum-api starts");
        let api = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::new(),
        };
        let url = api.url("/healthz");
        eventually(Duration::from_secs(20), "kisum-api answers", || async {
            let answered = reqwest::get(&url).await.ok()?;
            answered.status().is_success().then_some(())
        })
        .await;
        api
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("kisum-api is running")
    }

    /// An internal-key request.
    pub fn internal(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-Internal-API-Key", INTERNAL_KEY)
    }

    /// Sends SIGTERM (without waiting).
    pub fn sigterm(&self) {
        signal(self.pid(), "-TERM");
    }

    /// Its log lines so far, parsed (non-JSON lines are skipped).
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// A Postgres server of the test's own (`initdb` in a temporary
/// directory, on a free port) that it may stop and start. Stopped and
/// removed on drop, also when the test fails.
pub struct PgServer {
    pub port: u16,
    bindir: PathBuf,
    dir: PathBuf,
    /// Whether commits reach the disk (`fsync`); off for tests, whose
    /// servers need not survive a crash of the machine.
    durable: bool,
}

/// The directory of `initdb` and `pg_ctl`: `pg_config --bindir`, else the
/// newest `/usr/lib/postgresql/*/bin`.
fn pg_bindir() -> PathBuf {
    let from_config = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|d| d.join("initdb").exists());
    if let Some(dir) = from_config {
        return dir;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|d| d.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect(
        "PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup) are installed \
         (./deploy/dev.sh installs them when missing)",
    )
}

/// `program args`, as the user Postgres runs as: `postgres` when the tests
/// run as root (initdb and postgres refuse root), else the current user.
fn as_owner(program: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    let mut command = if is_root() {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        std::process::Command::new(program)
    };
    command.args(args).output()
}

/// Hands `path` to the user Postgres runs as.
fn give_to_owner(path: &Path) {
    if is_root() {
        let status = std::process::Command::new("chown")
            .args(["-R", "postgres", path.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "chown -R postgres {}", path.display());
    }
}

/// `key = 'value'` lines for a Postgres configuration file.
fn settings_lines(settings: &[(&str, &str)]) -> String {
    settings
        .iter()
        .map(|(key, value)| format!("{key} = '{}'\n", value.replace('\'', "''")))
        .collect()
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .unwrap_or_else(|e| panic!("{} opens: {e}", file.display()));
    out.write_all(text.as_bytes()).unwrap();
}

/// A directory of the test's own that the user Postgres runs as may write
/// (a WAL archive, a base backup); removed on drop, also when the test fails.
pub struct ScratchDir {
    pub path: PathBuf,
}

impl ScratchDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        give_to_owner(&path);
        Self { path }
    }

    /// A new directory inside, owned like this one.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        give_to_owner(&dir);
        dir
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl PgServer {
    /// Makes and starts a fresh server (trust auth, user `postgres`).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A server of a new directory on a free port; nothing started yet.
    fn fresh() -> Self {
        let bindir = pg_bindir();
        let dir = std::env::temp_dir().join(format!("kisum-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        // initdb and postgres refuse to run as root.
        give_to_owner(&dir);
        Self {
            port: free_port(),
            bindir,
            dir,
            durable: false,
        }
    }

    /// Makes and starts a fresh server with `settings` added to its
    /// `postgresql.conf` (so a base backup carries them too).
    pub async fn start_with(settings: &[(&str, &str)]) -> Self {
        let mut server = Self::fresh();
        server.durable = settings.contains(&("fsync", "on"));
        let data = server.dir.join("data");
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        append(&data.join("postgresql.conf"), &settings_lines(settings));
        server.start_again().await;
        server
    }

    /// A server made from a tar-format base backup (`base.tar` in
    /// `backup`, as [`PgServer::base_backup`] writes it), recovering with
    /// `settings` (`restore_command`, a recovery target, ...) written to its
    /// `postgresql.auto.conf` and a `recovery.signal`, started on a free port
    /// of its own. It accepts connections once consistent; it may still be
    /// in recovery (`pg_is_in_recovery()`).
    pub async fn restore(backup: &Path, settings: &[(&str, &str)]) -> Self {
        let server = Self::fresh();
        let data = server.dir.join("data");
        let data_arg = data.to_str().unwrap();
        let tar = backup.join("base.tar");
        let signal = data.join("recovery.signal");
        for (program, args) in [
            ("mkdir", vec!["-m", "0700", data_arg]),
            ("tar", vec!["-xf", tar.to_str().unwrap(), "-C", data_arg]),
            ("touch", vec![signal.to_str().unwrap()]),
        ] {
            let output = as_owner(Path::new(program), &args).unwrap();
            assert!(
                output.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        append(
            &data.join("postgresql.auto.conf"),
            &settings_lines(settings),
        );
        server.start_again().await;
        server
    }

    /// A hot standby of `primary`, streaming from it: a base backup
    /// (`pg_basebackup -R`, which writes the connection to the primary and
    /// `standby.signal`) started on a free port. Replay can be paused with
    /// `pg_wal_replay_pause()`.
    pub async fn standby_of(primary: &PgServer) -> Self {
        let mut server = Self::fresh();
        server.durable = primary.durable;
        let data = server.dir.join("data");
        let port = primary.port.to_string();
        server.run(
            "pg_basebackup",
            &[
                "-D",
                data.to_str().unwrap(),
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                // Not a spread checkpoint: that waits minutes.
                "--checkpoint=fast",
                "--no-sync",
            ],
        );
        server.start_again().await;
        server
    }

    /// A base backup of the whole server into `to` (a new directory):
    /// `pg_basebackup` in tar format with the WAL the backup needs
    /// (`base.tar`, `backup_manifest`), after an immediate checkpoint.
    pub fn base_backup(&self, to: &Path) {
        self.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-D",
                to.to_str().unwrap(),
                "--format=tar",
                "--wal-method=fetch",
                "--checkpoint=fast",
                "--no-sync",
            ],
        );
    }

    /// The postmaster's process id, while the server runs.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let tool = self.bindir.join(tool);
        let output =
            as_owner(&tool, args).unwrap_or_else(|e| panic!("{} runs: {e}", tool.display()));
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}\n--- server log\n{}",
            tool.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
    }

    /// Starts the server (again) on its port and waits until it accepts.
    pub async fn start_again(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("postgres.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
            self.port,
            self.dir.display(),
            if self.durable { "on" } else { "off" }
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        );
    }

    /// Stops the server: `fast` rolls back open transactions and drops
    /// every connection, as a restart or failover does.
    pub fn stop(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A migrated database on this server.
    pub async fn migrated_database(&self, name: &str) -> String {
        let url = self.url(name);
        let config = shared::config::DatabaseConfig::from_env(&shared::config::Env::from_map([(
            "DATABASE_URL",
            url.as_str(),
        )]))
        .unwrap();
        shared::db::create_database_if_missing(&config)
            .await
            .unwrap();
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        shared::db::migrate(&pool).await.unwrap();
        pool.close().await;
        url
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_owner(
            &self.bindir.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A primary with a migrated database and a hot standby streaming it, both
/// servers of the test's own: the deployment's read replica in small.
pub struct ReplicaPair {
    pub primary: PgServer,
    pub standby: PgServer,
    /// The database's name, the same on both.
    pub name: String,
}

impl ReplicaPair {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A pair whose primary (and so the standby, from its base backup) has
    /// `settings` in its `postgresql.conf`; `("fsync", "on")` makes both
    /// durable.
    pub async fn start_with(settings: &[(&str, &str)]) -> Self {
        let primary = PgServer::start_with(settings).await;
        let name = format!("kisum_test_{}", uuid::Uuid::new_v4().simple());
        primary.migrated_database(&name).await;
        let standby = PgServer::standby_of(&primary).await;
        Self {
            primary,
            standby,
            name,
        }
    }

    pub fn primary_url(&self) -> String {
        self.primary.url(&self.name)
    }

    pub fn standby_url(&self) -> String {
        self.standby.url(&self.name)
    }

    /// The primary's database, for [`crate::AppBuilder::database`] (its
    /// drop leaves this server alone: the server goes with the pair).
    pub fn database(&self) -> crate::TestDb {
        crate::TestDb {
            name: self.name.clone(),
            url: self.primary_url(),
        }
    }

    /// Pauses the standby's replay and waits until it says it is paused.
    pub async fn pause(&self) {
        self.on_standby("SELECT pg_wal_replay_pause()").await;
        self.until_standby_says(
            "replay paused",
            30,
            "SELECT pg_get_wal_replay_pause_state() = 'paused'",
            None,
        )
        .await;
    }

    /// Waits until the standby has replayed everything the primary had
    /// written when called.
    pub async fn caught_up(&self) {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.primary_url())
            .await
            .unwrap();
        let written: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        self.until_standby_says(
            "the standby replays the primary's writes",
            600,
            "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
            Some(&written),
        )
        .await;
    }

    /// Polls the standby (reconnecting each time: it may be restarting)
    /// until `sql` (given `arg` as `$1`, if any) answers true.
    async fn until_standby_says(&self, what: &str, seconds: u64, sql: &str, arg: Option<&str>) {
        let url = self.standby_url();
        crate::eventually(std::time::Duration::from_secs(seconds), what, || async {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .ok()?;
            let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()));
            let query = match arg {
                Some(arg) => query.bind(arg),
                None => query,
            };
            let yes: bool = query.fetch_one(&mut conn).await.ok()?;
            yes.then_some(())
        })
        .await;
    }

    pub async fn resume(&self) {
        self.on_standby("SELECT pg_wal_replay_resume()").await;
    }

    async fn on_standby(&self, sql: &str) {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.standby_url())
            .await
            .unwrap();
        sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .unwrap();
    }
}
