//! Sealing secrets at rest with AES-256-GCM.
//!
//! A sealed value is the text `v1.{key id}.{nonce}.{ciphertext+tag}` (base64url parts), so it
//! can sit in a D1 column or a KV value. Each seal draws a fresh 96-bit random nonce. The
//! associated data binds the ciphertext to the record and field it belongs to: a client secret
//! copied to another installation's row, or into its private-key column, does not open.
//! The key id lets `SEALING_KEY` rotate: the current key seals, every listed key opens.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use super::{b64url, b64url_decode, random_bytes};
use crate::crypto::keyring::SealingKeys;
use crate::secret::SecretString;

const VERSION: &str = "v1";

/// Where a sealed value belongs: the record (e.g. an installation id) and the field
/// (e.g. `private_key`). Both go into the AEAD's associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealContext<'a> {
    pub record: &'a str,
    pub field: &'a str,
}

impl SealContext<'_> {
    fn associated_data(&self) -> Vec<u8> {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        let mut aad = Vec::with_capacity(32 + self.record.len() + self.field.len());
        aad.extend_from_slice(b"appconnect-seal-v1");
        for part in [self.record, self.field] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// Why a sealed value did not open. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// Not of the `v1.kid.nonce.ciphertext` form.
    Malformed,
    /// Sealed with a key that `SEALING_KEY` no longer lists.
    UnknownKey(String),
    /// The key is known but the value does not open: altered, or moved to another record/field.
    Tampered,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Malformed => f.write_str("sealed value is malformed"),
            SealError::UnknownKey(id) => write!(
                f,
                "sealed with key id {id}, which SEALING_KEY does not list"
            ),
            SealError::Tampered => f.write_str("sealed value does not open (altered or moved)"),
        }
    }
}

impl std::error::Error for SealError {}

/// Seals `plaintext` for `context` with the current key.
pub fn seal(keys: &SealingKeys, context: SealContext<'_>, plaintext: &[u8]) -> String {
    let (key_id, key) = keys.current();
    let cipher = Aes256Gcm::new(key.expose().into());
    let nonce: [u8; 12] = random_bytes();
    let aad = context.associated_data();
    let ciphertext = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    format!(
        "{VERSION}.{key_id}.{}.{}",
        b64url(&nonce),
        b64url(&ciphertext)
    )
}

/// Opens a value sealed by [`seal`] for the same `context`.
pub fn open(
    keys: &SealingKeys,
    context: SealContext<'_>,
    sealed: &str,
) -> Result<Vec<u8>, SealError> {
    let mut parts = sealed.split('.');
    let (Some(VERSION), Some(key_id), Some(nonce), Some(ciphertext), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SealError::Malformed);
    };
    let nonce: [u8; 12] = b64url_decode(nonce)
        .and_then(|n| n.try_into().ok())
        .ok_or(SealError::Malformed)?;
    let ciphertext = b64url_decode(ciphertext).ok_or(SealError::Malformed)?;
    let key = keys
        .by_id(key_id)
        .ok_or_else(|| SealError::UnknownKey(key_id.chars().take(16).collect()))?;
    let aad = context.associated_data();
    Aes256Gcm::new(key.expose().into())
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::Tampered)
}

/// [`seal`] for a secret string.
pub fn seal_secret(keys: &SealingKeys, context: SealContext<'_>, secret: &SecretString) -> String {
    seal(keys, context, secret.expose().as_bytes())
}

/// [`open`] for a secret string.
pub fn open_secret(
    keys: &SealingKeys,
    context: SealContext<'_>,
    sealed: &str,
) -> Result<SecretString, SealError> {
    let bytes = open(keys, context, sealed)?;
    String::from_utf8(bytes)
        .map(SecretString::new)
        .map_err(|_| SealError::Tampered)
}

/// The key id a value was sealed with, to find values still sealed with a retiring key.
pub fn key_id_of(sealed: &str) -> Option<&str> {
    let mut parts = sealed.split('.');
    (parts.next() == Some(VERSION))
        .then(|| parts.next())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    fn keys(spec: &str) -> SealingKeys {
        SealingKeys::parse(spec).unwrap()
    }

    const CTX: SealContext = SealContext {
        record: "inst-1",
        field: "private_key",
    };

    #[test]
    fn a_sealed_value_opens_with_the_same_context() {
        let k = keys(&format!("k1:{A}"));
        let s = seal(&k, CTX, b"the secret");
        assert_eq!(open(&k, CTX, &s).unwrap(), b"the secret");
        assert!(s.starts_with("v1.k1."));
        assert!(!s.contains("the secret"));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let k = keys(&format!("k1:{A}"));
        assert_ne!(seal(&k, CTX, b"same"), seal(&k, CTX, b"same"));
    }

    #[test]
    fn a_value_moved_to_another_record_or_field_does_not_open() {
        let k = keys(&format!("k1:{A}"));
        let s = seal(&k, CTX, b"x");
        let other_record = SealContext {
            record: "inst-2",
            ..CTX
        };
        let other_field = SealContext {
            field: "client_secret",
            ..CTX
        };
        assert_eq!(open(&k, other_record, &s), Err(SealError::Tampered));
        assert_eq!(open(&k, other_field, &s), Err(SealError::Tampered));
        // The length prefix keeps ("inst-1","private_key") apart from a shifted split.
        let shifted = SealContext {
            record: "inst-1private_",
            field: "key",
        };
        assert_eq!(open(&k, shifted, &s), Err(SealError::Tampered));
    }

    #[test]
    fn an_altered_value_does_not_open() {
        let k = keys(&format!("k1:{A}"));
        let s = seal(&k, CTX, b"secret value");
        let mut bytes = s.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert_eq!(open(&k, CTX, &altered), Err(SealError::Tampered));
    }

    #[test]
    fn rotation_seals_with_the_new_key_and_still_opens_the_old() {
        let old = keys(&format!("old:{A}"));
        let sealed_before = seal(&old, CTX, b"v");
        let rotated = keys(&format!("new:{B},old:{A}"));
        assert_eq!(open(&rotated, CTX, &sealed_before).unwrap(), b"v");
        let sealed_after = seal(&rotated, CTX, b"v");
        assert_eq!(key_id_of(&sealed_after), Some("new"));
        let retired = keys(&format!("new:{B}"));
        assert_eq!(open(&retired, CTX, &sealed_after).unwrap(), b"v");
        assert_eq!(
            open(&retired, CTX, &sealed_before),
            Err(SealError::UnknownKey("old".into()))
        );
    }

    #[test]
    fn a_different_key_with_the_same_id_does_not_open() {
        let s = seal(&keys(&format!("k:{A}")), CTX, b"v");
        assert_eq!(
            open(&keys(&format!("k:{B}")), CTX, &s),
            Err(SealError::Tampered)
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        let k = keys(&format!("k1:{A}"));
        for bad in [
            "",
            "v1",
            "v1.k1",
            "v1.k1.AAAA",
            "v2.k1.AAAAAAAAAAAAAAAA.AAAA",
            "v1.k1.!!.AAAA",
            "v1.k1.AAAA.AAAA.extra",
        ] {
            assert_eq!(open(&k, CTX, bad), Err(SealError::Malformed), "{bad}");
        }
    }

    #[test]
    fn secrets_round_trip_and_stay_redacted() {
        let k = keys(&format!("k1:{A}"));
        let s = seal_secret(&k, CTX, &SecretString::new("client-secret-xyz"));
        let opened = open_secret(&k, CTX, &s).unwrap();
        assert_eq!(opened.expose(), "client-secret-xyz");
        assert_eq!(format!("{opened:?}"), "[redacted]");
    }
}
