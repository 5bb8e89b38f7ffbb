//! An installation's private signing key, imported as Talkdesk sends it and checked against its
//! declared algorithm.
//!
//! Talkdesk sends `private_key` as base64 of a DER PKCS#8 key without PEM armour (contract §2);
//! PEM (`-----BEGIN PRIVATE KEY-----`) is accepted too. The key must fit the declared
//! `key_algorithm`: ES256 a P-256 key, ES384 P-384, ES512 P-521, PS* an RSA key of 2048 to 4096
//! bits. This module reads the key's structure only; the signing itself is the
//! `Signer` port (`ports.rs`)'s (WebCrypto in the runtime: see the README's figures).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::der::{Der, BIT_STRING, OCTET_STRING, SEQUENCE};

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

// Object identifiers as their DER contents.
/// 1.2.840.10045.2.1
const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// 1.2.840.10045.3.1.7
const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// 1.3.132.0.34
const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
/// 1.3.132.0.35
const P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
/// 1.2.840.113549.1.1.1
const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];

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

/// PKCS#8 `PrivateKeyInfo` (RFC 5208, or RFC 5958's v2 with a public key), then the key inside:
/// SEC 1 `ECPrivateKey` or PKCS#1 `RSAPrivateKey`.
fn classify(der: &[u8]) -> Option<Kind> {
    let mut outer = Der::new(der);
    let mut info = Der::new(outer.take(SEQUENCE)?);
    let version = info.small()?;
    if !outer.is_empty() || version > 1 {
        return None;
    }
    let mut algorithm = Der::new(info.take(SEQUENCE)?);
    let oid = algorithm.oid()?;
    // The parameters, any one value: the curve's OID for an EC key, NULL for RSA.
    let curve = {
        let mut parameters = algorithm;
        parameters.oid()
    };
    if !algorithm.is_empty() {
        algorithm.skip()?;
    }
    let private_key = info.take(OCTET_STRING)?;
    info.optional(0xA0)?; // [0] attributes
                          // [1] the public key, which v2 (version 1) has and v1 has not.
    let public_key = info.optional(0x81)?;
    if !algorithm.is_empty() || !info.is_empty() || public_key.is_some() != (version == 1) {
        return None;
    }
    if public_key.is_some_and(|bits| Der::whole_bits(bits).is_none()) {
        return None;
    }
    if oid == EC_PUBLIC_KEY {
        let scalar = ec_private_key(private_key)?;
        let (kind, scalar_len) = match curve? {
            P256 => (Kind::P256, 32),
            P384 => (Kind::P384, 48),
            P521 => (Kind::P521, 66),
            _ => return Some(Kind::OtherCurve),
        };
        (scalar.len() == scalar_len).then_some(kind)
    } else if oid == RSA_ENCRYPTION {
        rsa_modulus(private_key).map(|m| Kind::Rsa { bits: m.len() * 8 })
    } else {
        None
    }
}

/// SEC 1 `ECPrivateKey`: version 1, the private scalar, then optional parameters and public
/// key. The scalar.
fn ec_private_key(der: &[u8]) -> Option<&[u8]> {
    let mut outer = Der::new(der);
    let mut key = Der::new(outer.take(SEQUENCE)?);
    if !outer.is_empty() || key.small()? != 1 {
        return None;
    }
    let scalar = key.take(OCTET_STRING)?;
    // [0] the curve, one OID; [1] the public key, one whole BIT STRING.
    if let Some(parameters) = key.optional(0xA0)? {
        let mut curve = Der::new(parameters);
        curve.oid()?;
        curve.is_empty().then_some(())?;
    }
    if let Some(public_key) = key.optional(0xA1)? {
        let mut bits = Der::new(public_key);
        Der::whole_bits(bits.take(BIT_STRING)?)?;
        bits.is_empty().then_some(())?;
    }
    key.is_empty().then_some(scalar)
}

/// PKCS#1 `RSAPrivateKey` (two primes, version 0): its modulus's significant bytes.
fn rsa_modulus(der: &[u8]) -> Option<&[u8]> {
    let mut outer = Der::new(der);
    let mut key = Der::new(outer.take(SEQUENCE)?);
    if !outer.is_empty() || key.small()? != 0 {
        return None;
    }
    let modulus = key.unsigned()?;
    // publicExponent, privateExponent, prime1, prime2, exponent1, exponent2, coefficient.
    for _ in 0..7 {
        key.unsigned()?;
    }
    (key.is_empty() && !modulus.is_empty()).then_some(modulus)
}

/// The DER bytes of a PKCS#8 key given as bare base64 (Talkdesk's form) or as PEM.
pub fn pkcs8_der(text: &str) -> Option<Vec<u8>> {
    use super::base64::{decode, Alphabet, Padding};
    let text = text.trim();
    let body = if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        text.strip_prefix("-----BEGIN PRIVATE KEY-----")?
            .trim_end()
            .strip_suffix("-----END PRIVATE KEY-----")?
    } else {
        text
    };
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    decode(&b64, Alphabet::Standard, Padding::Required)
        .or_else(|| decode(&b64, Alphabet::UrlSafe, Padding::Required))
        .or_else(|| decode(&b64, Alphabet::Standard, Padding::Forbidden))
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

    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if contents.len() >= 0x80 {
            v.push(0x81);
        }
        v.push(contents.len() as u8);
        v.extend_from_slice(contents);
        v
    }

    /// A P-256 PKCS#8 key built by hand: `version`, then `inner` after the scalar of its
    /// ECPrivateKey and `outer` after its private key.
    fn p256(version: u8, inner: &[u8], outer: &[u8]) -> Vec<u8> {
        let ec = [tlv(0x02, &[1]), tlv(0x04, &[7; 32]), inner.to_vec()].concat();
        let algorithm = [tlv(0x06, EC_PUBLIC_KEY), tlv(0x06, P256)].concat();
        let info = [
            tlv(0x02, &[version]),
            tlv(0x30, &algorithm),
            tlv(0x04, &tlv(0x30, &ec)),
            outer.to_vec(),
        ]
        .concat();
        tlv(0x30, &info)
    }

    #[test]
    fn optional_key_fields_must_be_what_pkcs8_and_sec1_say() {
        let point = [&[0u8, 4][..], &[9; 64]].concat();
        let with_curve = tlv(0xA0, &tlv(0x06, P256));
        let with_point = tlv(0xA1, &tlv(0x03, &point));
        let v2_point = tlv(0x81, &point);
        for good in [
            p256(0, &[], &[]),
            p256(0, &[with_curve.clone(), with_point.clone()].concat(), &[]),
            p256(1, &with_point, &v2_point),
        ] {
            assert!(PrivateKey::from_der(KeyAlgorithm::ES256, good).is_ok());
        }
        let mut odd_bits = point.clone();
        odd_bits[0] = 1;
        for bad in [
            p256(0, &tlv(0xA0, &[0x05, 0x00]), &[]), // a curve that is no OID
            p256(0, &tlv(0xA1, &tlv(0x03, &odd_bits)), &[]), // a point with unused bits
            p256(0, &tlv(0xA1, &[]), &[]),           // no point in [1]
            p256(0, &[], &v2_point),                 // v1 with a public key
            p256(1, &[], &[]),                       // v2 without one
            p256(1, &[], &tlv(0x81, &odd_bits)),
        ] {
            assert_eq!(
                PrivateKey::from_der(KeyAlgorithm::ES256, bad),
                Err(KeyError::Unparsable)
            );
        }
    }

    #[test]
    fn a_key_whose_der_is_cut_padded_or_relabelled_is_refused() {
        for alg in [KeyAlgorithm::ES384, KeyAlgorithm::PS256] {
            let der = generate_key(alg).private_key_to_pkcs8().unwrap();
            assert!(PrivateKey::from_der(alg, der.clone()).is_ok());
            let mut padded = der.clone();
            padded.push(0);
            let cut = der[..der.len() - 1].to_vec();
            let mut v3 = der.clone();
            // The version INTEGER right after the outer SEQUENCE's header.
            let at = der
                .windows(3)
                .position(|w| w == [0x02, 0x01, 0x00])
                .unwrap();
            v3[at + 2] = 3;
            for bad in [padded, cut, v3] {
                assert_eq!(
                    PrivateKey::from_der(alg, bad),
                    Err(KeyError::Unparsable),
                    "{alg}"
                );
            }
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
