//! Effective access of a user to an org. Auth owns it; we read it from the
//! token's `orgs` claim or, when `AUTH_ACCESS_URL` is set, ask Auth and cache
//! the answer briefly. We never invent access.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use utoipa::ToSchema;
use uuid::Uuid;

use super::jwt::{Claims, OrgClaim};
use super::permissions::Permission;

/// A membership role as Auth names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            "viewer" => Ok(Self::Viewer),
            _ => Err(()),
        }
    }
}

/// What the caller may do in one org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgAccess {
    pub user_id: String,
    pub org_id: Uuid,
    pub role: Role,
    pub permissions: BTreeSet<Permission>,
}

impl OrgAccess {
    /// Builds access from a role and, when Auth sent them, explicit keys.
    /// Explicit keys replace the role table; keys outside `artist.*` or
    /// unknown to us are ignored. A viewer never gains a write key.
    pub fn new(user_id: String, org_id: Uuid, role: Role, keys: Option<&[String]>) -> Self {
        let permissions = match keys {
            Some(keys) => keys
                .iter()
                .filter_map(|k| Permission::from_key(k))
                .filter(|p| role != Role::Viewer || p.is_read())
                .collect(),
            None => Permission::ALL
                .iter()
                .copied()
                .filter(|p| p.granted_to(role))
                .collect(),
        };
        Self {
            user_id,
            org_id,
            role,
            permissions,
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The user is not a member of the org: 403.
    #[error("not a member of this org")]
    NotMember,
    /// Auth could not answer: 503.
    #[error("effective access cannot be resolved: {0}")]
    Unavailable(String),
}

/// Auth's answer for one (user, org), as `AUTH_ACCESS_URL` returns it.
#[derive(Debug, Deserialize)]
struct RemoteAccess {
    role: String,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

/// Resolves effective access in the configured mode.
#[derive(Clone)]
pub enum AccessResolver {
    /// From the token's `orgs` claim.
    Claims,
    /// From Auth's access endpoint, cached.
    Remote(Arc<RemoteResolver>),
}

pub struct RemoteResolver {
    url: reqwest::Url,
    api_key: Option<SecretString>,
    http: reqwest::Client,
    ttl: Duration,
    timeout: Duration,
    cache: Mutex<HashMap<(String, Uuid), CachedAccess>>,
}

/// When Auth answered, and what (`None`: not a member).
type CachedAccess = (Instant, Option<OrgAccess>);

/// Cached entries kept at most; beyond it expired entries are dropped.
const CACHE_SOFT_LIMIT: usize = 10_000;

impl AccessResolver {
    pub fn remote(
        url: reqwest::Url,
        api_key: Option<SecretString>,
        http: reqwest::Client,
        ttl: Duration,
        timeout: Duration,
    ) -> Self {
        Self::Remote(Arc::new(RemoteResolver {
            url,
            api_key,
            http,
            ttl,
            timeout,
            cache: Mutex::new(HashMap::new()),
        }))
    }

    pub async fn resolve(&self, claims: &Claims, org_id: Uuid) -> Result<OrgAccess, AccessError> {
        match self {
            Self::Claims => from_claims(claims, org_id),
            Self::Remote(remote) => remote.resolve(&claims.sub, org_id).await,
        }
    }

    /// The access of a user who is not the caller, for a credential that
    /// acts for its owner (a calendar feed token). Only Auth can say, so
    /// this is `None` in claims mode, where a membership is known only from
    /// the member's own token. Answers are cached like the caller's.
    pub async fn resolve_user(
        &self,
        user_id: &str,
        org_id: Uuid,
    ) -> Option<Result<OrgAccess, AccessError>> {
        match self {
            Self::Claims => None,
            Self::Remote(remote) => Some(remote.resolve(user_id, org_id).await),
        }
    }
}

fn from_claims(claims: &Claims, org_id: Uuid) -> Result<OrgAccess, AccessError> {
    let membership: &OrgClaim = claims
        .orgs
        .iter()
        .flatten()
        .find(|o| o.id == org_id)
        .ok_or(AccessError::NotMember)?;
    let role = membership
        .role
        .parse()
        .map_err(|()| AccessError::NotMember)?;
    Ok(OrgAccess::new(
        claims.sub.clone(),
        org_id,
        role,
        membership.permissions.as_deref(),
    ))
}

impl RemoteResolver {
    async fn resolve(&self, user_id: &str, org_id: Uuid) -> Result<OrgAccess, AccessError> {
        let key = (user_id.to_owned(), org_id);
        if let Some((at, cached)) = self.cache.lock().await.get(&key)
            && at.elapsed() < self.ttl
        {
            return cached.clone().ok_or(AccessError::NotMember);
        }
        let answer = self.fetch(user_id, org_id).await?;
        let mut cache = self.cache.lock().await;
        if cache.len() >= CACHE_SOFT_LIMIT {
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        cache.insert(key, (Instant::now(), answer.clone()));
        answer.ok_or(AccessError::NotMember)
    }

    async fn fetch(&self, user_id: &str, org_id: Uuid) -> Result<Option<OrgAccess>, AccessError> {
        let mut request = self
            .http
            .get(self.url.clone())
            .query(&[("user_id", user_id), ("org_id", &org_id.to_string())])
            .timeout(self.timeout);
        if let Some(api_key) = &self.api_key {
            request = request.header("X-Internal-API-Key", api_key.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| AccessError::Unavailable(e.to_string()))?;
        match response.status().as_u16() {
            200 => {}
            // Only 404 means "no membership"; a 401/403 means Auth refused
            // us (a key problem), which must not read as "not a member".
            404 => return Ok(None),
            status => return Err(AccessError::Unavailable(format!("Auth answered {status}"))),
        }
        let body: RemoteAccess = response
            .json()
            .await
            .map_err(|e| AccessError::Unavailable(format!("unreadable answer: {e}")))?;
        let role = body
            .role
            .parse()
            .map_err(|()| AccessError::Unavailable(format!("unknown role {:?}", body.role)))?;
        Ok(Some(OrgAccess::new(
            user_id.to_owned(),
            org_id,
            role,
            body.permissions.as_deref(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_keys_replace_the_role_table() {
        let org = Uuid::now_v7();
        let keys = vec![
            "artist.booking.write".to_owned(),
            "venue.x.write".to_owned(),
        ];
        let access = OrgAccess::new("u".into(), org, Role::Member, Some(&keys));
        assert!(access.can(Permission::BookingWrite));
        assert!(!access.can(Permission::BookingRead));
        let viewer = OrgAccess::new("u".into(), org, Role::Viewer, Some(&keys));
        assert!(viewer.permissions.is_empty());
    }
}
