//! One validated configuration, read once from the environment at start.
//!
//! Every variable is documented in docs/configuration.md and `.env.example`. A missing or
//! malformed required value is a [`ConfigError`] naming the variable, which
//! the binaries print as one line before exiting.
//!
//! Every secret (the database URL with its password, keys, webhook secrets)
//! is a [`SecretString`]: `Debug` prints `[REDACTED]`, so a config logged or
//! shown in a panic leaks nothing, and the code that needs the value says so
//! with `expose_secret()` at the one place it is used.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::client_addr::TrustedProxies;
use crate::domain::contracts::reminders::ReminderPolicy;
use crate::domain::contracts::seal::SealKey;
use crate::domain::touring::routing::RoutingPolicy;

/// A configuration problem, always naming the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

/// A source of variables: the process environment, or a map in tests.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_map<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A set, non-blank value.
    fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, var: &'static str) -> Result<&str, ConfigError> {
        self.get(var)
            .ok_or_else(|| ConfigError::new(var, "is required but not set"))
    }

    fn parsed<T>(&self, var: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| ConfigError::new(var, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    fn bool(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::new(
                var,
                format!("expected true or false, got {other:?}"),
            )),
        }
    }

    fn seconds(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parsed::<u64>(var, default).map(Duration::from_secs)
    }

    fn millis(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parsed::<u64>(var, default).map(Duration::from_millis)
    }

    /// Decimal hours (`0.5` is 30 minutes), at least zero.
    fn hours(&self, var: &'static str, default: f64) -> Result<Duration, ConfigError> {
        let hours = self.parsed::<f64>(var, default)?;
        if !(0.0..=24.0 * 366.0).contains(&hours) {
            return Err(ConfigError::new(var, "must be between 0 and 8784 hours"));
        }
        Ok(Duration::from_secs_f64(hours * 3600.0))
    }

    /// A required secret.
    fn secret(&self, var: &'static str) -> Result<SecretString, ConfigError> {
        self.required(var).map(SecretString::from)
    }

    /// A comma list of secrets.
    fn secret_list(&self, var: &str) -> Vec<SecretString> {
        self.list(var)
            .unwrap_or_default()
            .into_iter()
            .map(SecretString::from)
            .collect()
    }

    fn list(&self, var: &str) -> Option<Vec<String>> {
        self.get(var).map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    fn url(&self, var: &'static str) -> Result<Option<reqwest::Url>, ConfigError> {
        self.get(var)
            .map(|raw| {
                let url = reqwest::Url::parse(raw)
                    .map_err(|e| ConfigError::new(var, format!("not a URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ConfigError::new(var, "must be an http or https URL"));
                }
                Ok(url)
            })
            .transpose()
    }
}

/// Database settings shared by both binaries.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// Holds the password, so it is redacted like any other secret.
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// `DATABASE_READ_URL`: the read replicas (one address, as the
    /// operator's read-only service gives); unset, every read goes to the
    /// primary. The API reads on it what tolerates lag (SPEC 5.11).
    pub read_url: Option<SecretString>,
    /// `REPLICA_MAX_LAG_MS`: the most lag a read without a consistency
    /// token accepts from the replica.
    pub replica_max_lag: Duration,
}

impl DatabaseConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.secret("DATABASE_URL")?;
        let scheme_ok = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.expose_secret().starts_with(scheme));
        if !scheme_ok {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        let max_connections = env.parsed("DATABASE_MAX_CONNECTIONS", 20u32)?;
        if max_connections == 0 {
            return Err(ConfigError::new(
                "DATABASE_MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        let read_url = env
            .get("DATABASE_READ_URL")
            .filter(|u| !u.trim().is_empty())
            .map(|u| SecretString::from(u.trim().to_owned()));
        if read_url.as_ref().is_some_and(|u| {
            !["postgres://", "postgresql://"]
                .iter()
                .any(|scheme| u.expose_secret().starts_with(scheme))
        }) {
            return Err(ConfigError::new(
                "DATABASE_READ_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        let replica_max_lag = env.millis("REPLICA_MAX_LAG_MS", 1000)?;
        if replica_max_lag.is_zero() {
            return Err(ConfigError::new("REPLICA_MAX_LAG_MS", "must be positive"));
        }
        Ok(Self {
            url,
            max_connections,
            acquire_timeout: env.seconds("DATABASE_ACQUIRE_TIMEOUT_SECONDS", 5)?,
            read_url,
            replica_max_lag,
        })
    }
}

/// The JWT algorithm, pinned by configuration and never read from a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Es256,
}

impl FromStr for JwtAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "HS256" => Ok(Self::Hs256),
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            other => Err(format!(
                "unsupported algorithm {other:?} (HS256, RS256, ES256)"
            )),
        }
    }
}

/// Where verification keys come from.
#[derive(Clone, Debug)]
pub enum JwtKeySource {
    /// The HS256 shared secret.
    Secret(SecretString),
    /// A public key: nothing to hide.
    PublicKeyPem(String),
    Jwks(reqwest::Url),
}

#[derive(Clone, Debug)]
pub struct JwtConfig {
    pub algorithm: JwtAlgorithm,
    pub keys: JwtKeySource,
    pub issuer: Option<String>,
    pub audience: Option<Vec<String>>,
    pub leeway: Duration,
    /// Least time between two JWKS refetches caused by an unknown `kid`.
    pub jwks_refetch_interval: Duration,
}

/// Longest clock skew tolerated on `exp`/`nbf`.
pub const MAX_JWT_LEEWAY_SECONDS: u64 = 30;

impl JwtConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let secret = env.get("JWT_SECRET");
        let pem = env.get("JWT_PUBLIC_KEY_PEM");
        let jwks = env.url("JWT_JWKS_URL")?;
        let keys = match (secret, pem, jwks) {
            (Some(s), None, None) => {
                if s.len() < 32 {
                    return Err(ConfigError::new(
                        "JWT_SECRET",
                        "must be at least 32 characters",
                    ));
                }
                JwtKeySource::Secret(SecretString::from(s))
            }
            (None, Some(p), None) => JwtKeySource::PublicKeyPem(p.replace("\\n", "\n")),
            (None, None, Some(u)) => JwtKeySource::Jwks(u),
            (None, None, None) => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "set one of JWT_SECRET, JWT_PUBLIC_KEY_PEM or JWT_JWKS_URL",
                ));
            }
            _ => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "set only one of JWT_SECRET, JWT_PUBLIC_KEY_PEM or JWT_JWKS_URL",
                ));
            }
        };
        let algorithm = match (&keys, env.get("JWT_ALGORITHM")) {
            (_, Some(raw)) => raw
                .parse()
                .map_err(|e: String| ConfigError::new("JWT_ALGORITHM", e))?,
            (JwtKeySource::Secret(_), None) => JwtAlgorithm::Hs256,
            (_, None) => {
                return Err(ConfigError::new(
                    "JWT_ALGORITHM",
                    "is required with JWT_PUBLIC_KEY_PEM or JWT_JWKS_URL (RS256 or ES256)",
                ));
            }
        };
        let symmetric = algorithm == JwtAlgorithm::Hs256;
        if symmetric != matches!(keys, JwtKeySource::Secret(_)) {
            return Err(ConfigError::new(
                "JWT_ALGORITHM",
                "HS256 goes with JWT_SECRET; RS256/ES256 with JWT_PUBLIC_KEY_PEM or JWT_JWKS_URL",
            ));
        }
        let jwks_refetch_interval = env.seconds("JWT_JWKS_REFETCH_SECONDS", 30)?;
        if jwks_refetch_interval.is_zero() {
            return Err(ConfigError::new(
                "JWT_JWKS_REFETCH_SECONDS",
                "must be at least 1",
            ));
        }
        let leeway = env.seconds("JWT_LEEWAY_SECONDS", 5)?;
        if leeway.as_secs() > MAX_JWT_LEEWAY_SECONDS {
            return Err(ConfigError::new(
                "JWT_LEEWAY_SECONDS",
                format!("must be at most {MAX_JWT_LEEWAY_SECONDS}"),
            ));
        }
        Ok(Self {
            algorithm,
            keys,
            issuer: env.get("JWT_ISSUER").map(str::to_owned),
            audience: env.list("JWT_AUDIENCE").filter(|a| !a.is_empty()),
            leeway,
            jwks_refetch_interval,
        })
    }
}

/// CORS policy per SPEC section 3: `CORS_ORIGIN` wins; the legacy
/// `CORS_ALLOWED_ORIGINS` applies only when it is unset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsPolicy {
    /// No cross-origin access.
    Disabled,
    /// Any origin, never with credentials.
    Wildcard,
    /// Exact origins, echoed back with credentials allowed.
    AllowList(Vec<String>),
}

impl CorsPolicy {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        if let Some(origins) = env.list("CORS_ORIGIN") {
            if origins.iter().any(|o| o == "*") {
                return Err(ConfigError::new(
                    "CORS_ORIGIN",
                    "takes explicit origins only; `*` (any origin, no credentials) belongs in CORS_ALLOWED_ORIGINS",
                ));
            }
            return Self::allow_list("CORS_ORIGIN", origins, false);
        }
        if let Some(origins) = env.list("CORS_ALLOWED_ORIGINS") {
            return Self::allow_list("CORS_ALLOWED_ORIGINS", origins, true);
        }
        Ok(Self::Disabled)
    }

    fn allow_list(
        var: &'static str,
        origins: Vec<String>,
        wildcard_allowed: bool,
    ) -> Result<Self, ConfigError> {
        let mut exact = Vec::new();
        let mut wildcard = false;
        for origin in origins {
            if origin == "*" {
                wildcard = true;
                continue;
            }
            let parsed = reqwest::Url::parse(&origin)
                .map_err(|e| ConfigError::new(var, format!("{origin:?} is not an origin: {e}")))?;
            let normalized = parsed.origin().ascii_serialization();
            if normalized == "null" || normalized != origin.trim_end_matches('/') {
                return Err(ConfigError::new(
                    var,
                    format!("{origin:?} must be scheme://host[:port] with nothing after"),
                ));
            }
            exact.push(normalized);
        }
        Ok(match (exact.is_empty(), wildcard && wildcard_allowed) {
            (false, _) => Self::AllowList(exact),
            (true, true) => Self::Wildcard,
            (true, false) => Self::Disabled,
        })
    }
}

/// The API binary's configuration.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub database: DatabaseConfig,
    pub host: IpAddr,
    pub port: u16,
    pub jwt: JwtConfig,
    pub auth_access_url: Option<reqwest::Url>,
    /// Key we present to Auth's access endpoint.
    pub auth_api_key: Option<SecretString>,
    pub auth_access_cache_ttl: Duration,
    pub auth_access_timeout: Duration,
    pub internal_api_keys: Vec<SecretString>,
    pub cors: CorsPolicy,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub rate_limit_per_minute: u32,
    /// Requests a minute one client address may send to the
    /// unauthenticated routes, across replicas; 0 turns the limit off.
    pub public_rate_limit_per_minute: u32,
    /// Whose `X-Forwarded-For` hop to believe ([`crate::client_addr`]).
    pub trusted_proxies: TrustedProxies,
    pub run_migrations_on_start: bool,
    pub shutdown_grace: Duration,
    /// How long a challenged first hold has to confirm.
    pub hold_challenge_window: Duration,
    /// How long a calendar subscription token opens its feed
    /// (`CALENDAR_TOKEN_TTL_DAYS`); a member makes a new one after.
    pub calendar_token_ttl: Duration,
    /// The platform key that seals signed contracts (`CONTRACT_SIGNING_KEY`).
    pub contract_signing_key: SealKey,
    /// Assumptions behind tour routing's estimated drives.
    pub routing: RoutingPolicy,
    /// `FINANCE_EVENTS_SECRET`: the `whsec_...` secrets Finance signs its
    /// events with (several while one rotates); empty turns the inbound
    /// route off (503).
    pub finance_events_secrets: Vec<SecretString>,
    /// Change-feed streams one org may have open on one API process
    /// (`EVENT_STREAMS_PER_ORG`).
    pub event_streams_per_org: usize,
    /// Time between heartbeats of a change-feed stream
    /// (`EVENT_HEARTBEAT_SECONDS`).
    pub event_heartbeat: Duration,
}

/// Longest calendar token lifetime accepted: a feed URL is a bearer
/// credential, so it must not outlive what expiry is there to bound.
pub const MAX_CALENDAR_TOKEN_TTL_DAYS: u64 = 366;

/// Shortest internal API key accepted, so a key cannot be guessed.
pub const MIN_INTERNAL_KEY_LEN: usize = 24;

impl ApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let internal_api_keys = env.secret_list("INTERNAL_API_KEYS");
        if internal_api_keys.is_empty() {
            return Err(ConfigError::new(
                "INTERNAL_API_KEYS",
                "is required but not set",
            ));
        }
        if internal_api_keys
            .iter()
            .any(|k| k.expose_secret().len() < MIN_INTERNAL_KEY_LEN)
        {
            return Err(ConfigError::new(
                "INTERNAL_API_KEYS",
                format!("every key must be at least {MIN_INTERNAL_KEY_LEN} characters"),
            ));
        }
        let request_timeout = env.seconds("REQUEST_TIMEOUT_SECONDS", 30)?;
        if request_timeout.is_zero() || request_timeout.as_secs() > 300 {
            return Err(ConfigError::new(
                "REQUEST_TIMEOUT_SECONDS",
                "must be between 1 and 300 (idempotency claims outlive requests by design)",
            ));
        }
        let auth_access_timeout = env.millis("AUTH_ACCESS_TIMEOUT_MS", 2000)?;
        if auth_access_timeout.is_zero() {
            return Err(ConfigError::new(
                "AUTH_ACCESS_TIMEOUT_MS",
                "must be positive",
            ));
        }
        let auth_access_url = env.url("AUTH_ACCESS_URL")?;
        let auth_api_key = env.get("AUTH_API_KEY").map(SecretString::from);
        if auth_access_url.is_some() && auth_api_key.is_none() {
            return Err(ConfigError::new(
                "AUTH_API_KEY",
                "is required with AUTH_ACCESS_URL",
            ));
        }
        let calendar_token_ttl_days = env.parsed("CALENDAR_TOKEN_TTL_DAYS", 180u64)?;
        if !(1..=MAX_CALENDAR_TOKEN_TTL_DAYS).contains(&calendar_token_ttl_days) {
            return Err(ConfigError::new(
                "CALENDAR_TOKEN_TTL_DAYS",
                format!("must be between 1 and {MAX_CALENDAR_TOKEN_TTL_DAYS} days"),
            ));
        }
        let body_limit_bytes = env.parsed("BODY_LIMIT_BYTES", 1024 * 1024usize)?;
        if body_limit_bytes == 0 {
            return Err(ConfigError::new("BODY_LIMIT_BYTES", "must be positive"));
        }
        let event_streams_per_org = env.parsed("EVENT_STREAMS_PER_ORG", 20usize)?;
        if event_streams_per_org == 0 {
            return Err(ConfigError::new(
                "EVENT_STREAMS_PER_ORG",
                "must be positive",
            ));
        }
        let event_heartbeat = env.seconds("EVENT_HEARTBEAT_SECONDS", 15)?;
        if !(1..=300).contains(&event_heartbeat.as_secs()) {
            return Err(ConfigError::new(
                "EVENT_HEARTBEAT_SECONDS",
                "must be between 1 and 300",
            ));
        }
        Ok(Self {
            database: DatabaseConfig::from_env(env)?,
            host: env.parsed("HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: env.parsed("PORT", 8080u16)?,
            jwt: JwtConfig::from_env(env)?,
            auth_access_url,
            auth_api_key,
            auth_access_cache_ttl: env.seconds("AUTH_ACCESS_CACHE_SECONDS", 30)?,
            auth_access_timeout,
            internal_api_keys,
            cors: CorsPolicy::from_env(env)?,
            request_timeout,
            body_limit_bytes,
            rate_limit_per_minute: env.parsed("RATE_LIMIT_PER_MINUTE", 1200u32)?,
            public_rate_limit_per_minute: env.parsed("PUBLIC_RATE_LIMIT_PER_MINUTE", 120u32)?,
            trusted_proxies: env.parsed("TRUSTED_PROXIES", TrustedProxies::default())?,
            run_migrations_on_start: env.bool("RUN_MIGRATIONS_ON_START", false)?,
            shutdown_grace: env.seconds("SHUTDOWN_GRACE_SECONDS", 20)?,
            hold_challenge_window: env.seconds("HOLD_CHALLENGE_WINDOW_SECONDS", 48 * 3600)?,
            calendar_token_ttl: Duration::from_secs(calendar_token_ttl_days * 24 * 3600),
            contract_signing_key: SealKey::parse(env.required("CONTRACT_SIGNING_KEY")?)
                .map_err(|e| ConfigError::new("CONTRACT_SIGNING_KEY", e))?
                .with_retired(
                    &env.list("CONTRACT_SIGNING_RETIRED_KEYS")
                        .unwrap_or_default(),
                )
                .map_err(|e| ConfigError::new("CONTRACT_SIGNING_RETIRED_KEYS", e))?,
            routing: routing_policy(env)?,
            finance_events_secrets: webhook_secrets(env, "FINANCE_EVENTS_SECRET")?,
            event_streams_per_org,
            event_heartbeat,
        })
    }
}

/// A comma list of Standard Webhooks secrets, each `whsec_` + base64.
/// A retention period in whole days, at least one.
fn retention_days(env: &Env, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match env.parsed(var, default)? {
        0 => Err(ConfigError::new(var, "must be at least 1 day")),
        days => Ok(Duration::from_secs(days * 86_400)),
    }
}

fn webhook_secrets(env: &Env, var: &'static str) -> Result<Vec<SecretString>, ConfigError> {
    let secrets = env.secret_list(var);
    for secret in &secrets {
        let secret = secret.expose_secret();
        if !secret.starts_with("whsec_") || standardwebhooks::Webhook::new(secret).is_err() {
            return Err(ConfigError::new(
                var,
                "each secret must be whsec_ followed by base64",
            ));
        }
    }
    Ok(secrets)
}

/// `ROUTING_*`: the road factor, average speeds and daily driving limit
/// behind estimated drives, each within a sane range.
fn routing_policy(env: &Env) -> Result<RoutingPolicy, ConfigError> {
    let d = RoutingPolicy::default();
    let road_factor = env.parsed("ROUTING_ROAD_FACTOR", d.road_factor)?;
    if !(1.0..=3.0).contains(&road_factor) {
        return Err(ConfigError::new(
            "ROUTING_ROAD_FACTOR",
            "must be between 1.0 and 3.0",
        ));
    }
    let speed = |var: &'static str, default: u32| -> Result<u32, ConfigError> {
        let kmh = env.parsed(var, default)?;
        if (1..=200).contains(&kmh) {
            Ok(kmh)
        } else {
            Err(ConfigError::new(var, "must be between 1 and 200 km/h"))
        }
    };
    let limit = env.hours(
        "ROUTING_MAX_DRIVE_HOURS_PER_DAY",
        d.max_drive_minutes_per_day as f64 / 60.0,
    )?;
    if limit.is_zero() || limit > Duration::from_secs(24 * 3600) {
        return Err(ConfigError::new(
            "ROUTING_MAX_DRIVE_HOURS_PER_DAY",
            "must be more than 0 and at most 24",
        ));
    }
    let load_out = env.hours("ROUTING_LOAD_OUT_HOURS", d.load_out_minutes as f64 / 60.0)?;
    if load_out > Duration::from_secs(12 * 3600) {
        return Err(ConfigError::new(
            "ROUTING_LOAD_OUT_HOURS",
            "must be at most 12",
        ));
    }
    Ok(RoutingPolicy {
        road_factor,
        bus_kmh: speed("ROUTING_SPEED_KMH_BUS", d.bus_kmh)?,
        van_kmh: speed("ROUTING_SPEED_KMH_VAN", d.van_kmh)?,
        car_kmh: speed("ROUTING_SPEED_KMH_CAR", d.car_kmh)?,
        max_drive_minutes_per_day: i64::try_from(limit.as_secs() / 60).unwrap_or(i64::MAX),
        load_out_minutes: i64::try_from(load_out.as_secs() / 60).unwrap_or(i64::MAX),
    })
}

/// The worker binary's configuration.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub database: DatabaseConfig,
    /// Jobs each queue runs at once in this process.
    pub concurrency: usize,
    /// Most jobs one fetch claims; a fetch claims about 100 ms of work at
    /// the rate the queue's last batch ran, and at least `concurrency`.
    pub buffer_size: usize,
    /// Backstop poll for delayed jobs and missed notifications.
    pub poll_interval: Duration,
    pub heartbeat: Duration,
    /// A job whose worker missed heartbeats this long is re-run elsewhere.
    pub orphan_timeout: Duration,
    pub run_migrations_on_start: bool,
    pub shutdown_grace: Duration,
    /// Done jobs older than this are pruned by the maintenance job.
    pub job_retention: Duration,
    /// History partitions this many months past their end are detached
    /// into the `archive` schema by the maintenance job; `None` (unset):
    /// never (`HISTORY_DETACH_AFTER_MONTHS`, see [`crate::history`]).
    pub history_detach_after_months: Option<u32>,
    /// When contract signers are reminded (`CONTRACT_REMINDER_*`).
    pub contract_reminders: ReminderPolicy,
    /// How long personal data is kept (`SIGNATURE_EVIDENCE_RETENTION_DAYS`,
    /// `CANCELLED_DEAL_RETENTION_DAYS`; see [`crate::privacy::retention`]).
    pub retention: crate::privacy::retention::RetentionPolicy,
    /// How long change-feed events are kept (`EVENT_RETENTION_DAYS`; see
    /// [`crate::domain::events`]).
    pub event_retention: Duration,
    pub notifications: NotificationsConfig,
    pub finance: FinanceConfig,
}

/// Where booking handoffs go (`FINANCE_BASE_URL`), signed per Standard
/// Webhooks with every `FINANCE_WEBHOOK_SECRET`, and when a failed one is
/// tried again.
#[derive(Clone, Debug)]
pub struct FinanceConfig {
    /// Unset: handoffs wait as `paused` and nothing is sent.
    pub url: Option<reqwest::Url>,
    pub secrets: Vec<SecretString>,
    pub timeout: Duration,
    /// The delay before each attempt; its length is the number of attempts.
    pub retry_schedule: Vec<Duration>,
    /// Deliveries each worker process has under way at once. A delivery
    /// spends its time waiting for Finance's answer, not on a core, so the
    /// queue runs more at once than `WORKER_CONCURRENCY`.
    pub concurrency: usize,
}

/// Svix's schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const FINANCE_RETRY_SCHEDULE: [u64; 8] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

impl FinanceConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.url("FINANCE_BASE_URL")?;
        let secrets = webhook_secrets(env, "FINANCE_WEBHOOK_SECRET")?;
        if url.is_some() && secrets.is_empty() {
            return Err(ConfigError::new(
                "FINANCE_WEBHOOK_SECRET",
                "is required with FINANCE_BASE_URL",
            ));
        }
        let retry_schedule = match env.list("FINANCE_RETRY_SCHEDULE_SECONDS") {
            None => FINANCE_RETRY_SCHEDULE.map(Duration::from_secs).to_vec(),
            Some(list) => list
                .iter()
                .map(|s| s.parse::<u64>().map(Duration::from_secs))
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .filter(|l| {
                    (1..=50).contains(&l.len())
                        && l[0].is_zero()
                        && l.iter().all(|d| d.as_secs() <= 7 * 86_400)
                })
                .ok_or_else(|| {
                    ConfigError::new(
                        "FINANCE_RETRY_SCHEDULE_SECONDS",
                        "must be 1 to 50 comma-separated delays in seconds, the first 0 (the first attempt is at once), each at most a week",
                    )
                })?,
        };
        let timeout = env.seconds("FINANCE_TIMEOUT_SECONDS", 15)?;
        if timeout.is_zero() || timeout.as_secs() > 30 {
            return Err(ConfigError::new(
                "FINANCE_TIMEOUT_SECONDS",
                "must be between 1 and 30",
            ));
        }
        let concurrency = env.parsed("FINANCE_CONCURRENCY", 32usize)?;
        if !(1..=1000).contains(&concurrency) {
            return Err(ConfigError::new(
                "FINANCE_CONCURRENCY",
                "must be between 1 and 1000",
            ));
        }
        Ok(Self {
            url,
            secrets,
            timeout,
            retry_schedule,
            concurrency,
        })
    }
}

/// Where notifications (signature reminders) are POSTed, signed per
/// Standard Webhooks; logged instead when no URL is set.
#[derive(Clone, Debug)]
pub struct NotificationsConfig {
    pub url: Option<reqwest::Url>,
    /// `whsec_...` secrets; each signs every message, for rotation.
    pub secrets: Vec<SecretString>,
    pub timeout: Duration,
}

impl NotificationsConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.url("NOTIFICATIONS_WEBHOOK_URL")?;
        let secrets = webhook_secrets(env, "NOTIFICATIONS_WEBHOOK_SECRET")?;
        if url.is_some() && secrets.is_empty() {
            return Err(ConfigError::new(
                "NOTIFICATIONS_WEBHOOK_SECRET",
                "is required with NOTIFICATIONS_WEBHOOK_URL",
            ));
        }
        Ok(Self {
            url,
            secrets,
            timeout: env.seconds("NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS", 15)?,
        })
    }
}

impl WorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let heartbeat = env.seconds("WORKER_HEARTBEAT_SECONDS", 5)?;
        let orphan_timeout = env.seconds("WORKER_ORPHAN_TIMEOUT_SECONDS", 30)?;
        if heartbeat.is_zero() {
            return Err(ConfigError::new(
                "WORKER_HEARTBEAT_SECONDS",
                "must be at least 1",
            ));
        }
        if orphan_timeout <= heartbeat {
            return Err(ConfigError::new(
                "WORKER_ORPHAN_TIMEOUT_SECONDS",
                "must be longer than WORKER_HEARTBEAT_SECONDS",
            ));
        }
        let poll_interval = env.millis("WORKER_POLL_INTERVAL_MS", 1000)?;
        if poll_interval < Duration::from_millis(50) {
            return Err(ConfigError::new(
                "WORKER_POLL_INTERVAL_MS",
                "must be at least 50",
            ));
        }
        let concurrency = env.parsed("WORKER_CONCURRENCY", 8usize)?;
        if concurrency == 0 {
            return Err(ConfigError::new("WORKER_CONCURRENCY", "must be at least 1"));
        }
        Ok(Self {
            database: DatabaseConfig::from_env(env)?,
            concurrency,
            buffer_size: env.parsed("WORKER_BUFFER_SIZE", 1000usize)?.max(1),
            poll_interval,
            heartbeat,
            orphan_timeout,
            run_migrations_on_start: env.bool("RUN_MIGRATIONS_ON_START", false)?,
            shutdown_grace: env.seconds("SHUTDOWN_GRACE_SECONDS", 20)?,
            job_retention: {
                let hours = env.parsed("JOB_RETENTION_HOURS", 24u64)?;
                if hours == 0 {
                    return Err(ConfigError::new(
                        "JOB_RETENTION_HOURS",
                        "must be at least 1",
                    ));
                }
                Duration::from_secs(hours * 3600)
            },
            history_detach_after_months: match env.get("HISTORY_DETACH_AFTER_MONTHS") {
                None => None,
                Some(_) => match env.parsed("HISTORY_DETACH_AFTER_MONTHS", 0u32)? {
                    0 => {
                        return Err(ConfigError::new(
                            "HISTORY_DETACH_AFTER_MONTHS",
                            "must be at least 1 (unset: never detach)",
                        ));
                    }
                    months => Some(months),
                },
            },
            contract_reminders: {
                let every = env.hours("CONTRACT_REMINDER_EVERY_HOURS", 48.0)?;
                if every < Duration::from_secs(1) {
                    return Err(ConfigError::new(
                        "CONTRACT_REMINDER_EVERY_HOURS",
                        "must be at least one second",
                    ));
                }
                ReminderPolicy {
                    after: env.hours("CONTRACT_REMINDER_AFTER_HOURS", 48.0)?,
                    every,
                    max: env.parsed("CONTRACT_REMINDER_MAX", 3i32)?.clamp(0, 100),
                }
            },
            retention: crate::privacy::retention::RetentionPolicy {
                signature_evidence: retention_days(env, "SIGNATURE_EVIDENCE_RETENTION_DAYS", 1095)?,
                cancelled_deals: retention_days(env, "CANCELLED_DEAL_RETENTION_DAYS", 365)?,
            },
            event_retention: retention_days(env, "EVENT_RETENTION_DAYS", 30)?,
            notifications: NotificationsConfig::from_env(env)?,
            finance: FinanceConfig::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://localhost/kisum"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("INTERNAL_API_KEYS", "internal-key-0123456789abcdef"),
            (
                "CONTRACT_SIGNING_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ]
    }

    fn api(extra: &[(&'static str, &'static str)]) -> Result<ApiConfig, ConfigError> {
        let mut vars = base();
        vars.extend_from_slice(extra);
        ApiConfig::from_env(&Env::from_map(vars))
    }

    #[test]
    fn defaults_apply() {
        let config = api(&[]).unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.jwt.algorithm, JwtAlgorithm::Hs256);
        assert_eq!(config.body_limit_bytes, 1024 * 1024);
        assert_eq!(config.cors, CorsPolicy::Disabled);
        assert_eq!(
            config.calendar_token_ttl,
            Duration::from_secs(180 * 24 * 3600)
        );
        assert_eq!(config.public_rate_limit_per_minute, 120);
        assert!(config.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_are_cidr_blocks() {
        let config = api(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).unwrap();
        assert!(config.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
        assert!(config.trusted_proxies.trusts("127.0.0.1".parse().unwrap()));
        assert!(!config.trusted_proxies.trusts("127.0.0.2".parse().unwrap()));
        for bad in ["10.0.0.0/40", "10.0.0.0/8;10.1.0.0/16", "proxy.internal"] {
            let err = api(&[("TRUSTED_PROXIES", bad)]).unwrap_err();
            assert_eq!(err.var, "TRUSTED_PROXIES", "{bad}");
            assert!(err.to_string().contains("not a CIDR block"), "{err}");
        }
        assert_eq!(
            api(&[("PUBLIC_RATE_LIMIT_PER_MINUTE", "-1")])
                .unwrap_err()
                .var,
            "PUBLIC_RATE_LIMIT_PER_MINUTE"
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let err = ApiConfig::from_env(&Env::from_map(Vec::<(String, String)>::new())).unwrap_err();
        assert_eq!(err.var, "INTERNAL_API_KEYS");
        assert_eq!(api(&[("PORT", "http")]).unwrap_err().var, "PORT");
        assert_eq!(
            api(&[("JWT_LEEWAY_SECONDS", "31")]).unwrap_err().var,
            "JWT_LEEWAY_SECONDS"
        );
        assert_eq!(
            api(&[("JWT_ALGORITHM", "none")]).unwrap_err().var,
            "JWT_ALGORITHM"
        );
        assert_eq!(
            api(&[("JWT_ALGORITHM", "RS256")]).unwrap_err().var,
            "JWT_ALGORITHM"
        );
        assert_eq!(
            api(&[("JWT_PUBLIC_KEY_PEM", "x")]).unwrap_err().var,
            "JWT_SECRET"
        );
        assert_eq!(
            api(&[("AUTH_ACCESS_URL", "ftp://x")]).unwrap_err().var,
            "AUTH_ACCESS_URL"
        );
        for days in ["0", "367", "-1"] {
            assert_eq!(
                api(&[("CALENDAR_TOKEN_TTL_DAYS", days)]).unwrap_err().var,
                "CALENDAR_TOKEN_TTL_DAYS"
            );
        }
        assert_eq!(
            api(&[("CORS_ORIGIN", "https://a.test/path")])
                .unwrap_err()
                .var,
            "CORS_ORIGIN"
        );
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let database_url = "postgres://kisum:db-password-4f1c@localhost/kisum";
        let finance_events = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let finance_webhook = "whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5";
        let notifications = "whsec_bm90aWZpY2F0aW9ucy1zZWNyZXQtMDEyMw==";
        let env = Env::from_map(vec![
            ("DATABASE_URL", database_url),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            (
                "INTERNAL_API_KEYS",
                "internal-key-0123456789abcdef,second-internal-key-abcdef0123",
            ),
            (
                "CONTRACT_SIGNING_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
            ("AUTH_ACCESS_URL", "https://auth.test/access"),
            ("AUTH_API_KEY", "auth-api-key-0123456789abcdef"),
            ("FINANCE_EVENTS_SECRET", finance_events),
            ("FINANCE_BASE_URL", "https://finance.test/hooks"),
            ("FINANCE_WEBHOOK_SECRET", finance_webhook),
            ("NOTIFICATIONS_WEBHOOK_URL", "https://notify.test/hooks"),
            ("NOTIFICATIONS_WEBHOOK_SECRET", notifications),
        ]);
        let shown = format!(
            "{:?} {:?}",
            ApiConfig::from_env(&env).unwrap(),
            WorkerConfig::from_env(&env).unwrap()
        );
        for secret in [
            "db-password-4f1c",
            "0123456789abcdef0123456789abcdef",
            "internal-key-0123456789abcdef",
            "second-internal-key-abcdef0123",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "auth-api-key-0123456789abcdef",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5",
            "bm90aWZpY2F0aW9ucy1zZWNyZXQtMDEyMw",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert!(shown.contains("REDACTED"), "{shown}");
        assert!(shown.contains("finance.test"), "{shown}");
    }

    #[test]
    fn finance_handoff_settings_are_checked() {
        let worker = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base();
            vars.extend_from_slice(extra);
            WorkerConfig::from_env(&Env::from_map(vars))
        };
        let defaults = worker(&[]).unwrap().finance;
        assert!(defaults.url.is_none());
        assert_eq!(defaults.retry_schedule.len(), 8);
        assert_eq!(defaults.retry_schedule[2], Duration::from_secs(300));
        assert_eq!(defaults.concurrency, 32);
        let tuned = worker(&[
            ("FINANCE_BASE_URL", "https://finance.test/hooks"),
            (
                "FINANCE_WEBHOOK_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
            ("FINANCE_RETRY_SCHEDULE_SECONDS", "0,1,1"),
            ("FINANCE_CONCURRENCY", "64"),
        ])
        .unwrap()
        .finance;
        assert_eq!(tuned.retry_schedule, [0, 1, 1].map(Duration::from_secs));
        assert_eq!(tuned.concurrency, 64);
        for (extra, var) in [
            (
                vec![("FINANCE_BASE_URL", "https://finance.test/hooks")],
                "FINANCE_WEBHOOK_SECRET",
            ),
            (
                vec![("FINANCE_WEBHOOK_SECRET", "secret")],
                "FINANCE_WEBHOOK_SECRET",
            ),
            (
                vec![("FINANCE_RETRY_SCHEDULE_SECONDS", "0,soon")],
                "FINANCE_RETRY_SCHEDULE_SECONDS",
            ),
            (
                vec![("FINANCE_RETRY_SCHEDULE_SECONDS", "0,9999999")],
                "FINANCE_RETRY_SCHEDULE_SECONDS",
            ),
            (
                vec![("FINANCE_RETRY_SCHEDULE_SECONDS", "60,300")],
                "FINANCE_RETRY_SCHEDULE_SECONDS",
            ),
            (
                vec![("FINANCE_TIMEOUT_SECONDS", "31")],
                "FINANCE_TIMEOUT_SECONDS",
            ),
            (vec![("FINANCE_CONCURRENCY", "0")], "FINANCE_CONCURRENCY"),
        ] {
            assert_eq!(worker(&extra).unwrap_err().var, var, "{extra:?}");
        }
    }

    #[test]
    fn history_is_never_detached_unless_configured() {
        let worker = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base();
            vars.extend_from_slice(extra);
            WorkerConfig::from_env(&Env::from_map(vars))
        };
        assert_eq!(worker(&[]).unwrap().history_detach_after_months, None);
        assert_eq!(
            worker(&[("HISTORY_DETACH_AFTER_MONTHS", " ")])
                .unwrap()
                .history_detach_after_months,
            None
        );
        assert_eq!(
            worker(&[("HISTORY_DETACH_AFTER_MONTHS", "36")])
                .unwrap()
                .history_detach_after_months,
            Some(36)
        );
        for bad in ["0", "-1", "two years"] {
            assert_eq!(
                worker(&[("HISTORY_DETACH_AFTER_MONTHS", bad)])
                    .unwrap_err()
                    .var,
                "HISTORY_DETACH_AFTER_MONTHS",
                "{bad}"
            );
        }
    }

    #[test]
    fn finance_events_secrets_are_optional_and_must_parse() {
        assert!(api(&[]).unwrap().finance_events_secrets.is_empty());
        let two = api(&[(
            "FINANCE_EVENTS_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5",
        )])
        .unwrap();
        assert_eq!(two.finance_events_secrets.len(), 2);
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_ok,nope",
        ] {
            assert_eq!(
                api(&[("FINANCE_EVENTS_SECRET", bad)]).unwrap_err().var,
                "FINANCE_EVENTS_SECRET",
                "{bad}"
            );
        }
    }

    #[test]
    fn routing_policy_reads_its_variables_within_range() {
        assert_eq!(api(&[]).unwrap().routing, RoutingPolicy::default());
        let tuned = api(&[
            ("ROUTING_ROAD_FACTOR", "1.4"),
            ("ROUTING_SPEED_KMH_VAN", "75"),
            ("ROUTING_MAX_DRIVE_HOURS_PER_DAY", "10.5"),
            ("ROUTING_LOAD_OUT_HOURS", "0.5"),
        ])
        .unwrap()
        .routing;
        assert_eq!(tuned.road_factor, 1.4);
        assert_eq!(tuned.van_kmh, 75);
        assert_eq!(tuned.max_drive_minutes_per_day, 630);
        assert_eq!(tuned.load_out_minutes, 30);
        for (var, value) in [
            ("ROUTING_ROAD_FACTOR", "0.5"),
            ("ROUTING_SPEED_KMH_BUS", "0"),
            ("ROUTING_SPEED_KMH_CAR", "fast"),
            ("ROUTING_MAX_DRIVE_HOURS_PER_DAY", "0"),
            ("ROUTING_MAX_DRIVE_HOURS_PER_DAY", "25"),
            ("ROUTING_LOAD_OUT_HOURS", "13"),
        ] {
            assert_eq!(api(&[(var, value)]).unwrap_err().var, var, "{var}={value}");
        }
    }

    #[test]
    fn cors_origin_wins_and_ignores_wildcards() {
        let both = api(&[
            (
                "CORS_ORIGIN",
                "https://app.kisum.test, https://admin.kisum.test",
            ),
            ("CORS_ALLOWED_ORIGINS", "*"),
        ])
        .unwrap();
        assert_eq!(
            both.cors,
            CorsPolicy::AllowList(vec![
                "https://app.kisum.test".into(),
                "https://admin.kisum.test".into()
            ])
        );
        let star = api(&[("CORS_ORIGIN", "*"), ("CORS_ALLOWED_ORIGINS", "*")]).unwrap_err();
        assert_eq!(star.var, "CORS_ORIGIN");
        let legacy = api(&[("CORS_ALLOWED_ORIGINS", "*")]).unwrap();
        assert_eq!(legacy.cors, CorsPolicy::Wildcard);
        let legacy_list = api(&[("CORS_ALLOWED_ORIGINS", "http://localhost:3000,*")]).unwrap();
        assert_eq!(
            legacy_list.cors,
            CorsPolicy::AllowList(vec!["http://localhost:3000".into()])
        );
    }
}
