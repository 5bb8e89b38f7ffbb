//! An installation's private signing key, imported as Talkdesk sends it, and the JWS signatures
//! of its client assertions.
//!
//! Talkdesk sends `private_key` as base64 of a DER PKCS#8 key without PEM armour (contract §2);
//! PEM (`-----BEGIN PRIVATE KEY-----`) is accepted too. The key must match the declared
//! `key_algorithm`: ES256 a P-256 key, ES384 P-384, ES512 P-521, PS* an RSA key of 2048 to 4096
//! bits. ES signatures are in JOSE form (r‖s, 64/96/132 bytes); PS is RSASSA-PSS with MGF1 and
//! salt of the hash's length.

use std::fmt;

use p256::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
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
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RSA sizes accepted: below 2048 is weak; above 4096 would make each signature too slow for
/// the Workers CPU budget.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

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

/// A private key ready to sign with its algorithm. `Debug` never prints key material.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: KeyAlgorithm,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Rsa(rsa::RsaPrivateKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.algorithm)
    }
}

impl SigningKey {
    /// Imports `private_key` as Talkdesk sends it and checks it against `algorithm`.
    pub fn import(algorithm: KeyAlgorithm, private_key: &str) -> Result<SigningKey, KeyError> {
        let der = pkcs8_der(private_key).ok_or(KeyError::Unparsable)?;
        let inner = parse_any(&der).ok_or(KeyError::Unparsable)?;
        let fits = matches!(
            (algorithm, &inner),
            (KeyAlgorithm::ES256, Inner::P256(_))
                | (KeyAlgorithm::ES384, Inner::P384(_))
                | (KeyAlgorithm::ES512, Inner::P521(_))
                | (
                    KeyAlgorithm::PS256 | KeyAlgorithm::PS384 | KeyAlgorithm::PS512,
                    Inner::Rsa(_)
                )
        );
        if !fits {
            return Err(KeyError::Mismatch {
                declared: algorithm,
                found: inner.describe(),
            });
        }
        if let Inner::Rsa(k) = &inner {
            let bits = k.size() * 8;
            if !RSA_BITS.contains(&bits) {
                return Err(KeyError::RsaSize(bits));
            }
        }
        Ok(SigningKey { algorithm, inner })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The JWS signature of `signing_input` (`base64url(header).base64url(claims)`).
    pub fn sign(&self, signing_input: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
        let mut rng = rand_core::OsRng;
        match (&self.inner, self.algorithm) {
            (Inner::P256(k), _) => {
                let s: p256::ecdsa::Signature = k.sign(signing_input);
                s.to_bytes().to_vec()
            }
            (Inner::P384(k), _) => {
                let s: p384::ecdsa::Signature = k.sign(signing_input);
                s.to_bytes().to_vec()
            }
            (Inner::P521(k), _) => {
                // p521 0.13 signs with a random nonce (no RFC 6979 for P-521 there).
                let s: p521::ecdsa::Signature =
                    p521::ecdsa::signature::RandomizedSigner::sign_with_rng(
                        k,
                        &mut rng,
                        signing_input,
                    );
                s.to_bytes().to_vec()
            }
            (Inner::Rsa(k), KeyAlgorithm::PS256) => {
                let signer = rsa::pss::BlindedSigningKey::<sha2::Sha256>::new(k.clone());
                signer.sign_with_rng(&mut rng, signing_input).to_vec()
            }
            (Inner::Rsa(k), KeyAlgorithm::PS384) => {
                let signer = rsa::pss::BlindedSigningKey::<sha2::Sha384>::new(k.clone());
                signer.sign_with_rng(&mut rng, signing_input).to_vec()
            }
            (Inner::Rsa(k), _) => {
                let signer = rsa::pss::BlindedSigningKey::<sha2::Sha512>::new(k.clone());
                signer.sign_with_rng(&mut rng, signing_input).to_vec()
            }
        }
    }
}

impl Inner {
    fn describe(&self) -> &'static str {
        match self {
            Inner::P256(_) => "a P-256 EC key",
            Inner::P384(_) => "a P-384 EC key",
            Inner::P521(_) => "a P-521 EC key",
            Inner::Rsa(_) => "an RSA key",
        }
    }
}

fn parse_any(der: &[u8]) -> Option<Inner> {
    if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
        return Some(Inner::P256(k));
    }
    if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
        return Some(Inner::P384(k));
    }
    if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
        return p521::ecdsa::SigningKey::from_bytes(&k.to_bytes())
            .ok()
            .map(Inner::P521);
    }
    rsa::RsaPrivateKey::from_pkcs8_der(der).ok().map(Inner::Rsa)
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
