//! Minting tokens as Auth would, with the test keys in `tests/fixtures`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

pub const HS_SECRET: &str = "test-hs256-secret-0123456789abcdef0123";

pub fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims under construction.
#[derive(Clone, Debug)]
pub struct Token {
    pub claims: Value,
    pub kid: Option<String>,
}

impl Token {
    /// A user token with no memberships, valid for an hour.
    pub fn user(sub: &str) -> Self {
        Self {
            claims: json!({"sub": sub, "exp": now() + 3600, "iat": now()}),
            kid: None,
        }
    }

    /// A fresh user who is a `role` member of `org`.
    pub fn member(org: Uuid, role: &str) -> Self {
        Self::user(&format!("user-{}", Uuid::new_v4())).org(org, role)
    }

    pub fn org(mut self, org: Uuid, role: &str) -> Self {
        self.orgs_mut().push(json!({"id": org, "role": role}));
        self
    }

    pub fn org_with(mut self, org: Uuid, role: &str, permissions: &[&str]) -> Self {
        self.orgs_mut()
            .push(json!({"id": org, "role": role, "permissions": permissions}));
        self
    }

    fn orgs_mut(&mut self) -> &mut Vec<Value> {
        if self.claims.get("orgs").is_none() {
            self.claims["orgs"] = json!([]);
        }
        self.claims["orgs"].as_array_mut().unwrap()
    }

    pub fn claim(mut self, key: &str, value: Value) -> Self {
        self.claims[key] = value;
        self
    }

    pub fn without(mut self, key: &str) -> Self {
        self.claims.as_object_mut().unwrap().remove(key);
        self
    }

    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }

    pub fn sign(&self, alg: Algorithm, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, &self.claims, key).unwrap()
    }

    pub fn hs256(&self) -> String {
        self.hs256_with(HS_SECRET)
    }

    pub fn hs256_with(&self, secret: &str) -> String {
        self.sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
    }

    pub fn rs256(&self) -> String {
        self.rs256_with("rsa_private.pem")
    }

    pub fn rs256_with(&self, fixture_name: &str) -> String {
        let key = EncodingKey::from_rsa_pem(fixture(fixture_name).as_bytes()).unwrap();
        self.sign(Algorithm::RS256, &key)
    }

    pub fn es256(&self) -> String {
        let key = EncodingKey::from_ec_pem(fixture("ec_private.pem").as_bytes()).unwrap();
        self.sign(Algorithm::ES256, &key)
    }

    /// An unsigned token (`alg: none`), which must never verify.
    pub fn unsigned(&self) -> String {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = engine.encode(self.claims.to_string());
        format!("{header}.{payload}.")
    }
}
