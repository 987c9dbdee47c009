//! Verification of Auth's access tokens.
//!
//! What must stay true: the algorithm comes from configuration, never from the
//! token; `exp` and `sub` are required and `nbf` honoured; `iss`/`aud` are
//! checked when configured; header-carried keys (`jwk`, `jku`, `x5u`, `x5c`)
//! are never used. JWKS keys are cached by `kid`; an unknown `kid` causes at
//! most one refetch per `jwks_refetch_interval`; a set older than an hour is
//! refetched; while Auth cannot be reached, known keys keep working and
//! unknown ones are 503, not 401.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::config::{JwtAlgorithm, JwtConfig, JwtKeySource};

/// The claims we read. Unknown claims are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default)]
    pub email: Option<String>,
    /// Memberships with their effective access, when Auth embeds them.
    #[serde(default)]
    pub orgs: Option<Vec<OrgClaim>>,
}

/// One membership as carried in the token's `orgs` claim.
#[derive(Clone, Debug, Deserialize)]
pub struct OrgClaim {
    pub id: uuid::Uuid,
    pub role: String,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The token is malformed, forged, expired or not for us: 401.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The signing keys cannot be fetched: 503.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl From<jsonwebtoken::errors::Error> for JwtError {
    fn from(err: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        let reason = match err.kind() {
            ErrorKind::ExpiredSignature => "the token has expired",
            ErrorKind::ImmatureSignature => "the token is not valid yet",
            ErrorKind::InvalidAudience => "the token is for another audience",
            ErrorKind::InvalidIssuer => "the token is from another issuer",
            ErrorKind::InvalidAlgorithm => "the token uses an algorithm that is not accepted",
            ErrorKind::InvalidSignature => "the token signature does not verify",
            ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
            _ => "the token is malformed",
        };
        Self::Invalid(reason.to_owned())
    }
}

enum Keys {
    Static(DecodingKey),
    Jwks(Box<JwksCache>),
}

struct JwksCache {
    url: reqwest::Url,
    http: reqwest::Client,
    refetch_interval: Duration,
    /// Read on every request; written only to swap in a fetched key set.
    keys: RwLock<JwksState>,
    /// One fetch at a time; readers never wait on it.
    fetching: Mutex<()>,
}

#[derive(Default)]
struct JwksState {
    keys: HashMap<String, DecodingKey>,
    /// The only key of a set whose single key has no `kid`.
    anonymous: Option<DecodingKey>,
    /// Last successful fetch.
    fetched_at: Option<Instant>,
    /// Last failed fetch, to answer 503 (not 401) while Auth is unreachable.
    failed_at: Option<Instant>,
}

/// A key set older than this is refetched, so keys Auth removed stop working.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// After a failed fetch, wait this long before trying again.
const JWKS_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Verifies bearer tokens against the configured key source.
#[derive(Clone)]
pub struct JwtVerifier {
    validation: Arc<Validation>,
    keys: Arc<Keys>,
}

impl JwtVerifier {
    pub fn new(config: &JwtConfig, http: reqwest::Client) -> anyhow::Result<Self> {
        let algorithm = match config.algorithm {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Rs256 => Algorithm::RS256,
            JwtAlgorithm::Es256 => Algorithm::ES256,
        };
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = config.leeway.as_secs();
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        match &config.audience {
            Some(audience) => {
                validation.set_audience(audience);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        let keys = match &config.keys {
            JwtKeySource::Secret(secret) => {
                Keys::Static(DecodingKey::from_secret(secret.expose_secret().as_bytes()))
            }
            JwtKeySource::PublicKeyPem(pem) => Keys::Static(match config.algorithm {
                JwtAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem.as_bytes())?,
                JwtAlgorithm::Es256 => DecodingKey::from_ec_pem(pem.as_bytes())?,
                JwtAlgorithm::Hs256 => anyhow::bail!("HS256 cannot use a public key"),
            }),
            JwtKeySource::Jwks(url) => Keys::Jwks(Box::new(JwksCache {
                url: url.clone(),
                http,
                refetch_interval: config.jwks_refetch_interval,
                keys: RwLock::new(JwksState::default()),
                fetching: Mutex::new(()),
            })),
        };
        Ok(Self {
            validation: Arc::new(validation),
            keys: Arc::new(keys),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token)?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(JwtError::Invalid(
                "the token uses an algorithm that is not accepted".into(),
            ));
        }
        let data = match self.keys.as_ref() {
            Keys::Static(key) => jsonwebtoken::decode::<Claims>(token, key, &self.validation)?,
            Keys::Jwks(cache) => {
                let key = cache.key_for(header.kid.as_deref()).await?;
                jsonwebtoken::decode::<Claims>(token, &key, &self.validation)?
            }
        };
        if data.claims.sub.trim().is_empty() {
            return Err(JwtError::Invalid("the token lacks a required claim".into()));
        }
        Ok(data.claims)
    }
}

impl JwksCache {
    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, JwtError> {
        {
            let state = self.keys.read().await;
            let fresh = state
                .fetched_at
                .is_some_and(|at| at.elapsed() < JWKS_MAX_AGE);
            if fresh && let Some(key) = state.lookup(kid) {
                return Ok(key);
            }
        }
        let _fetching = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let (due, failed_recently) = {
            let state = self.keys.read().await;
            let fresh = state
                .fetched_at
                .is_some_and(|at| at.elapsed() < JWKS_MAX_AGE);
            if fresh && let Some(key) = state.lookup(kid) {
                return Ok(key);
            }
            let due = !fresh
                || state
                    .fetched_at
                    .is_none_or(|at| at.elapsed() >= self.refetch_interval);
            let failed_recently = state
                .failed_at
                .is_some_and(|at| at.elapsed() < JWKS_RETRY_AFTER_FAILURE);
            (due, failed_recently)
        };
        if failed_recently {
            return Err(JwtError::KeysUnavailable(
                "the last JWKS fetch failed".into(),
            ));
        }
        if !due {
            return Err(JwtError::Invalid(
                "the token's signing key is unknown".into(),
            ));
        }
        let set = match self.fetch().await {
            Ok(set) => set,
            Err(e) => {
                let mut state = self.keys.write().await;
                state.failed_at = Some(Instant::now());
                // Stale keys keep working while Auth cannot be reached.
                return state.lookup(kid).ok_or(e);
            }
        };
        let mut fetched = JwksState {
            fetched_at: Some(Instant::now()),
            ..JwksState::default()
        };
        let only_one = set.keys.len() == 1;
        for jwk in &set.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                tracing::warn!(kid = ?jwk.common.key_id, "skipping a JWKS key that cannot be used");
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    fetched.keys.insert(kid.clone(), key);
                }
                None if only_one => fetched.anonymous = Some(key),
                None => {}
            }
        }
        let key = fetched.lookup(kid);
        *self.keys.write().await = fetched;
        key.ok_or_else(|| JwtError::Invalid("the token's signing key is unknown".into()))
    }

    async fn fetch(&self) -> Result<JwkSet, JwtError> {
        let response = self
            .http
            .get(self.url.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| JwtError::KeysUnavailable(e.to_string()))?;
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| JwtError::KeysUnavailable(format!("JWKS is not a key set: {e}")))
    }
}

impl JwksState {
    fn lookup(&self, kid: Option<&str>) -> Option<DecodingKey> {
        match kid {
            Some(kid) => self.keys.get(kid).cloned(),
            None => self.anonymous.clone(),
        }
    }
}
