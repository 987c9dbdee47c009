//! Machine-to-machine keys for `/internal/*`.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The accepted internal keys; several so a key can rotate without downtime.
#[derive(Clone)]
pub struct InternalKeys {
    digests: Vec<[u8; 32]>,
}

impl InternalKeys {
    pub fn new(keys: &[SecretString]) -> Self {
        Self {
            digests: keys
                .iter()
                .map(|k| Sha256::digest(k.expose_secret().as_bytes()).into())
                .collect(),
        }
    }

    /// Constant time in the presented key and in which key matches: every
    /// configured key is compared (as SHA-256 digests, so lengths leak nothing).
    pub fn verify(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.ct_eq(&digest)
            })
            .into()
    }
}

impl std::fmt::Debug for InternalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InternalKeys({} keys)", self.digests.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_configured_key_verifies() {
        let keys = InternalKeys::new(&[
            "old-key-aaaaaaaaaaaaaaaaaaaa".into(),
            "new-key-bbbbbbbbbbbbbbbbbbbb".into(),
        ]);
        assert!(keys.verify("old-key-aaaaaaaaaaaaaaaaaaaa"));
        assert!(keys.verify("new-key-bbbbbbbbbbbbbbbbbbbb"));
        assert!(!keys.verify("new-key-bbbbbbbbbbbbbbbbbbb"));
        assert!(!keys.verify(""));
    }
}
