//! An installation's private signing key, imported as Talkdesk sends it and checked against its
//! declared algorithm.
//!
//! Talkdesk sends `private_key` as base64 of a DER PKCS#8 key without PEM armour (contract §2);
//! PEM (`-----BEGIN PRIVATE KEY-----`) is accepted too. The key must fit the declared
//! `key_algorithm`: ES256 a P-256 key, ES384 P-384, ES512 P-521, PS* an RSA key of 2048 to 4096
//! bits. This module reads the key's structure only; the signing itself is the
//! `Signer` port (`ports.rs`)'s (WebCrypto in the runtime: see the README's figures).

use std::fmt;

use pkcs8::der::Decode;
use pkcs8::ObjectIdentifier;
use serde::{Deserialize, Serialize};

/// The algorithms Talkdesk issues keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    ES256,
    ES384,
    ES512,
    PS256,
    PS384,
    PS512,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 6] = [
        KeyAlgorithm::ES256,
        KeyAlgorithm::ES384,
        KeyAlgorithm::ES512,
        KeyAlgorithm::PS256,
        KeyAlgorithm::PS384,
        KeyAlgorithm::PS512,
    ];

    pub fn parse(s: &str) -> Option<KeyAlgorithm> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::ES256 => "ES256",
            KeyAlgorithm::ES384 => "ES384",
            KeyAlgorithm::ES512 => "ES512",
            KeyAlgorithm::PS256 => "PS256",
            KeyAlgorithm::PS384 => "PS384",
            KeyAlgorithm::PS512 => "PS512",
        }
    }

    /// The length of a JOSE ECDSA signature (r‖s), or `None` for RSA.
    pub fn ecdsa_signature_len(self) -> Option<usize> {
        match self {
            KeyAlgorithm::ES256 => Some(64),
            KeyAlgorithm::ES384 => Some(96),
            KeyAlgorithm::ES512 => Some(132),
            _ => None,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RSA sizes accepted: below 2048 is weak; above 4096 would make each signature slow.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

/// The largest key text accepted (a 4096-bit RSA PKCS#8 key is about 3.2 KB in base64).
pub const MAX_KEY_TEXT: usize = 8192;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a key was refused. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not base64 DER nor PEM, or not a PKCS#8 private key of any supported kind.
    Unparsable,
    /// A valid key, but not of the kind the declared algorithm needs.
    Mismatch {
        declared: KeyAlgorithm,
        found: &'static str,
    },
    /// An RSA key outside [`RSA_BITS`].
    RsaSize(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unparsable => {
                f.write_str("private_key is not a PKCS#8 private key (base64 DER or PEM)")
            }
            KeyError::Mismatch { declared, found } => write!(
                f,
                "private_key is {found}, which does not match key_algorithm {declared}"
            ),
            KeyError::RsaSize(bits) => write!(
                f,
                "private_key is a {bits}-bit RSA key; {}-{} bits are accepted",
                RSA_BITS.start(),
                RSA_BITS.end()
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// A private key whose structure fits its algorithm, as PKCS#8 DER. `Debug` prints no key.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    algorithm: KeyAlgorithm,
    der: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.algorithm)
    }
}

/// What a PKCS#8 key turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    P256,
    P384,
    P521,
    OtherCurve,
    Rsa { bits: usize },
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::P256 => "a P-256 EC key",
            Kind::P384 => "a P-384 EC key",
            Kind::P521 => "a P-521 EC key",
            Kind::OtherCurve => "an EC key on an unsupported curve",
            Kind::Rsa { .. } => "an RSA key",
        }
    }
}

impl PrivateKey {
    /// Imports `private_key` as Talkdesk sends it and checks it against `algorithm`.
    pub fn import(algorithm: KeyAlgorithm, private_key: &str) -> Result<PrivateKey, KeyError> {
        if private_key.len() > MAX_KEY_TEXT {
            return Err(KeyError::Unparsable);
        }
        let der = pkcs8_der(private_key).ok_or(KeyError::Unparsable)?;
        Self::from_der(algorithm, der)
    }

    /// The same check on PKCS#8 DER bytes (as stored, sealed).
    pub fn from_der(algorithm: KeyAlgorithm, der: Vec<u8>) -> Result<PrivateKey, KeyError> {
        let kind = classify(&der).ok_or(KeyError::Unparsable)?;
        let fits = matches!(
            (algorithm, kind),
            (KeyAlgorithm::ES256, Kind::P256)
                | (KeyAlgorithm::ES384, Kind::P384)
                | (KeyAlgorithm::ES512, Kind::P521)
                | (
                    KeyAlgorithm::PS256 | KeyAlgorithm::PS384 | KeyAlgorithm::PS512,
                    Kind::Rsa { .. }
                )
        );
        if !fits {
            return Err(KeyError::Mismatch {
                declared: algorithm,
                found: kind.describe(),
            });
        }
        if let Kind::Rsa { bits } = kind {
            if !RSA_BITS.contains(&bits) {
                return Err(KeyError::RsaSize(bits));
            }
        }
        Ok(PrivateKey { algorithm, der })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The PKCS#8 DER bytes, for the signer and for sealing.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.der
    }
}

fn classify(der: &[u8]) -> Option<Kind> {
    let info = pkcs8::PrivateKeyInfo::from_der(der).ok()?;
    if info.algorithm.oid == EC_PUBLIC_KEY {
        let ec = sec1::EcPrivateKey::from_der(info.private_key).ok()?;
        let (kind, scalar_len) = match info.algorithm.parameters_oid().ok()? {
            oid if oid == P256 => (Kind::P256, 32),
            oid if oid == P384 => (Kind::P384, 48),
            oid if oid == P521 => (Kind::P521, 66),
            _ => return Some(Kind::OtherCurve),
        };
        (ec.private_key.len() == scalar_len).then_some(kind)
    } else if info.algorithm.oid == RSA_ENCRYPTION {
        let rsa = pkcs1::RsaPrivateKey::from_der(info.private_key).ok()?;
        Some(Kind::Rsa {
            bits: rsa.modulus.as_bytes().len() * 8,
        })
    } else {
        None
    }
}

/// The DER bytes of a PKCS#8 key given as bare base64 (Talkdesk's form) or as PEM.
pub fn pkcs8_der(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = text.trim();
    let body = if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        text.strip_prefix("-----BEGIN PRIVATE KEY-----")?
            .trim_end()
            .strip_suffix("-----END PRIVATE KEY-----")?
    } else {
        text
    };
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&b64))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&b64))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{generate_key, talkdesk_form};

    #[test]
    fn keys_of_every_algorithm_import_in_talkdesk_form_and_as_pem() {
        for alg in KeyAlgorithm::ALL {
            let key = generate_key(alg);
            let imported = PrivateKey::import(alg, &talkdesk_form(&key)).unwrap();
            assert_eq!(imported.algorithm(), alg);
            assert_eq!(imported.pkcs8_der(), key.private_key_to_pkcs8().unwrap());
            let pem = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
            assert_eq!(PrivateKey::import(alg, &pem).unwrap(), imported);
        }
    }

    #[test]
    fn a_key_of_the_wrong_kind_is_refused_by_name() {
        let p256 = talkdesk_form(&generate_key(KeyAlgorithm::ES256));
        let p521 = talkdesk_form(&generate_key(KeyAlgorithm::ES512));
        let rsa = talkdesk_form(&generate_key(KeyAlgorithm::PS256));
        let mismatch = |declared, found| Err(KeyError::Mismatch { declared, found });
        assert_eq!(
            PrivateKey::import(KeyAlgorithm::ES384, &p256),
            mismatch(KeyAlgorithm::ES384, "a P-256 EC key")
        );
        assert_eq!(
            PrivateKey::import(KeyAlgorithm::ES256, &p521),
            mismatch(KeyAlgorithm::ES256, "a P-521 EC key")
        );
        assert_eq!(
            PrivateKey::import(KeyAlgorithm::ES256, &rsa),
            mismatch(KeyAlgorithm::ES256, "an RSA key")
        );
        assert_eq!(
            PrivateKey::import(KeyAlgorithm::PS512, &p256),
            mismatch(KeyAlgorithm::PS512, "a P-256 EC key")
        );
    }

    #[test]
    fn other_curves_weak_rsa_and_garbage_are_refused_without_panicking() {
        use openssl::{ec::EcGroup, ec::EcKey, nid::Nid, pkey::PKey, rsa::Rsa};
        let secp256k1 = PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::SECP256K1).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            PrivateKey::import(KeyAlgorithm::ES256, &talkdesk_form(&secp256k1)),
            Err(KeyError::Mismatch {
                declared: KeyAlgorithm::ES256,
                found: "an EC key on an unsupported curve"
            })
        );
        let weak = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        assert_eq!(
            PrivateKey::import(KeyAlgorithm::PS256, &talkdesk_form(&weak)),
            Err(KeyError::RsaSize(1024))
        );
        let public = {
            use base64::Engine;
            let der = generate_key(KeyAlgorithm::ES256)
                .public_key_to_der()
                .unwrap();
            base64::engine::general_purpose::STANDARD.encode(der)
        };
        for bad in [
            "",
            "not base64 !!",
            "AAAA",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            &public,
            &"A".repeat(MAX_KEY_TEXT + 4),
        ] {
            assert_eq!(
                PrivateKey::import(KeyAlgorithm::ES256, bad),
                Err(KeyError::Unparsable),
                "{bad:.20}"
            );
        }
    }

    #[test]
    fn key_errors_and_debug_show_no_key_material() {
        let form = talkdesk_form(&generate_key(KeyAlgorithm::ES256));
        let key = PrivateKey::import(KeyAlgorithm::ES256, &form).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey(ES256, [redacted])");
        let err = PrivateKey::import(KeyAlgorithm::PS256, &form)
            .unwrap_err()
            .to_string();
        assert!(!err.contains(&form[10..30]), "{err}");
    }
}
