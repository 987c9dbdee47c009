//! The platform seal: when a contract becomes signed, the platform signs
//! its final version's hash and its audit chain head with an Ed25519 key
//! (`CONTRACT_SIGNING_KEY`). With the published public key anyone can check
//! offline that the signed text and its whole history are the ones the
//! platform recorded.
//!
//! The signed message is UTF-8 text, one `name:value` per line:
//! ```text
//! kisum-contract-seal-v1
//! contract:<uuid>
//! version:<n>
//! content-sha256:<hex>
//! audit-seq:<n>
//! audit-head:<hex>
//! sealed-at:<RFC 3339 UTC>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// The platform's contract signing key, and the public keys of the keys it
/// replaced: a seal verifies only under one of these.
#[derive(Clone)]
pub struct SealKey {
    key: SigningKey,
    retired: Vec<VerifyingKey>,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SealKey {
    /// From the base64 of a 32-byte Ed25519 seed, or a PKCS#8 PEM.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        let key = if raw.starts_with("-----BEGIN") {
            SigningKey::from_pkcs8_pem(raw).map_err(|_| "is not an Ed25519 PKCS#8 PEM key")?
        } else {
            let bytes = STANDARD
                .decode(raw)
                .map_err(|_| "must be base64 of a 32-byte Ed25519 seed, or a PKCS#8 PEM")?;
            let seed: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "must be base64 of exactly 32 bytes")?;
            SigningKey::from_bytes(&seed)
        };
        Ok(Self {
            key,
            retired: Vec::new(),
        })
    }

    /// Adds retired public keys (base64 of the raw 32 bytes), so seals made
    /// before a rotation still verify.
    pub fn with_retired(mut self, keys: &[String]) -> Result<Self, &'static str> {
        for raw in keys {
            let key = STANDARD
                .decode(raw.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                .ok_or("each retired key must be base64 of a 32-byte Ed25519 public key")?;
            self.retired.push(key);
        }
        Ok(self)
    }

    /// Every key a seal may verify under: the current one first.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        std::iter::once(self.key.verifying_key())
            .chain(self.retired.iter().copied())
            .map(|k| public_key(&k))
            .collect()
    }

    /// Whether `seal` verifies for `contract_id` under one of our keys (a
    /// seal carrying any other key is not ours, however well it verifies).
    pub fn trusts(&self, seal: &Seal, contract_id: Uuid) -> bool {
        let ours = std::iter::once(self.key.verifying_key())
            .chain(self.retired.iter().copied())
            .any(|k| STANDARD.encode(k.to_bytes()) == seal.public_key);
        ours && seal.verifies(contract_id)
    }

    /// A new random key, as the base64 seed `parse` takes.
    pub fn generate() -> String {
        STANDARD.encode(SigningKey::generate(&mut rand_core::OsRng).to_bytes())
    }

    /// The first 16 hex digits of the SHA-256 of the raw public key.
    pub fn key_id(&self) -> String {
        key_id(&self.key.verifying_key())
    }

    pub fn public_key(&self) -> PublicKey {
        public_key(&self.key.verifying_key())
    }

    /// Seals a signed contract.
    pub fn seal(&self, subject: &SealSubject<'_>) -> Seal {
        let sealed_at = Utc::now();
        let message = subject.message(sealed_at);
        let signature = self.key.sign(message.as_bytes());
        Seal {
            algorithm: "Ed25519".to_owned(),
            key_id: self.key_id(),
            public_key: STANDARD.encode(self.key.verifying_key().to_bytes()),
            message,
            signature: STANDARD.encode(signature.to_bytes()),
            version: subject.version,
            content_sha256: subject.content_sha256.to_owned(),
            audit_seq: subject.audit_seq,
            audit_head: subject.audit_head.to_owned(),
            sealed_at,
        }
    }
}

fn public_key(key: &VerifyingKey) -> PublicKey {
    PublicKey {
        key_id: key_id(key),
        algorithm: "Ed25519".to_owned(),
        public_key: STANDARD.encode(key.to_bytes()),
        public_key_pem: key.to_public_key_pem(LineEnding::LF).unwrap_or_default(),
    }
}

fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.to_bytes()))[..16].to_owned()
}

/// What a seal covers.
pub struct SealSubject<'a> {
    pub contract_id: Uuid,
    pub version: i32,
    pub content_sha256: &'a str,
    pub audit_seq: i32,
    pub audit_head: &'a str,
}

impl SealSubject<'_> {
    fn message(&self, sealed_at: DateTime<Utc>) -> String {
        format!(
            "kisum-contract-seal-v1\ncontract:{}\nversion:{}\ncontent-sha256:{}\naudit-seq:{}\naudit-head:{}\nsealed-at:{}",
            self.contract_id,
            self.version,
            self.content_sha256,
            self.audit_seq,
            self.audit_head,
            sealed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        )
    }
}

/// A published verification key.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PublicKey {
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The raw 32-byte public key, base64.
    pub public_key: String,
    /// The same key as an SPKI PEM (`openssl pkeyutl -verify` takes it).
    pub public_key_pem: String,
}

/// The platform's signature over a signed contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Seal {
    pub algorithm: String,
    pub key_id: String,
    /// The signing key's raw public key, base64.
    pub public_key: String,
    /// The exact signed text (see the module docs for its lines).
    pub message: String,
    /// Ed25519 signature over `message`'s UTF-8 bytes, base64.
    pub signature: String,
    pub version: i32,
    pub content_sha256: String,
    pub audit_seq: i32,
    pub audit_head: String,
    pub sealed_at: DateTime<Utc>,
}

impl Seal {
    /// Whether the signature is a valid Ed25519 signature of `message`
    /// under `public_key`, and `message` says what the fields say. Whose
    /// key it is, is [`SealKey::trusts`]'s question.
    pub fn verifies(&self, contract_id: Uuid) -> bool {
        let expected = SealSubject {
            contract_id,
            version: self.version,
            content_sha256: &self.content_sha256,
            audit_seq: self.audit_seq,
            audit_head: &self.audit_head,
        }
        .message(self.sealed_at);
        if expected != self.message {
            return false;
        }
        let Some(key) = STANDARD
            .decode(&self.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        else {
            return false;
        };
        let Some(signature) = STANDARD
            .decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b))
        else {
            return false;
        };
        key.verify_strict(self.message.as_bytes(), &signature)
            .is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subject(id: Uuid) -> SealSubject<'static> {
        SealSubject {
            contract_id: id,
            version: 2,
            content_sha256: "ab",
            audit_seq: 7,
            audit_head: "cd",
        }
    }

    #[test]
    fn a_seal_verifies_and_any_change_breaks_it() {
        let key = SealKey::parse(&SealKey::generate()).unwrap();
        let id = Uuid::now_v7();
        let seal = key.seal(&subject(id));
        assert!(seal.verifies(id));
        assert!(!seal.verifies(Uuid::now_v7()));
        let mut moved = seal.clone();
        moved.audit_head = "ce".into();
        assert!(!moved.verifies(id));
        let other = SealKey::parse(&SealKey::generate()).unwrap();
        let mut forged = seal.clone();
        forged.public_key = other.public_key().public_key;
        assert!(!forged.verifies(id));
    }

    #[test]
    fn only_our_current_or_retired_keys_are_trusted() {
        let old = SealKey::parse(&SealKey::generate()).unwrap();
        let id = Uuid::now_v7();
        let sealed_before = old.seal(&subject(id));
        let new = SealKey::parse(&SealKey::generate()).unwrap();
        assert!(!new.trusts(&sealed_before, id), "a key we do not know");
        let rotated = new
            .clone()
            .with_retired(&[old.public_key().public_key])
            .unwrap();
        assert!(rotated.trusts(&sealed_before, id));
        assert_eq!(rotated.public_keys().len(), 2);
        assert!(rotated.trusts(&rotated.seal(&subject(id)), id));
        assert!(new.clone().with_retired(&["short".into()]).is_err());
    }

    #[test]
    fn keys_parse_from_base64_seeds_and_pem_only() {
        let seed = SealKey::generate();
        let key = SealKey::parse(&seed).unwrap();
        assert_eq!(key.key_id().len(), 16);
        assert!(key.public_key().public_key_pem.contains("BEGIN PUBLIC KEY"));
        assert!(SealKey::parse("not base64!").is_err());
        assert!(SealKey::parse(&STANDARD.encode([1u8; 31])).is_err());
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        assert!(SealKey::parse(pem).is_ok());
    }
}
