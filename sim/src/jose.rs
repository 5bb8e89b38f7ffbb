//! Keys, JWS signing and verification, written on top of OpenSSL.
//!
//! The worker signs with RustCrypto or WebCrypto; verifying here with a different implementation
//! means a bug shared by signer and verifier cannot make a test pass. The JWT handling (split,
//! base64url, JSON) is written out by hand for the same reason.

use crate::error::SimError;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::bn::BigNum;
use openssl::ec::{Asn1Flag, EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// The six key algorithms Talkdesk names in `key_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    ES256,
    ES384,
    ES512,
    PS256,
    PS384,
    PS512,
}

impl Alg {
    pub const ALL: [Alg; 6] = [
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Alg::ES256 | Alg::PS256 => MessageDigest::sha256(),
            Alg::ES384 | Alg::PS384 => MessageDigest::sha384(),
            Alg::ES512 | Alg::PS512 => MessageDigest::sha512(),
        }
    }

    /// Curve and the byte length of one JOSE signature half (r or s), for the EC algorithms.
    fn curve(self) -> Option<(Nid, usize)> {
        match self {
            Alg::ES256 => Some((Nid::X9_62_PRIME256V1, 32)),
            Alg::ES384 => Some((Nid::SECP384R1, 48)),
            Alg::ES512 => Some((Nid::SECP521R1, 66)),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| SimError::UnknownAlgorithm(s.to_string()))
    }
}

/// A freshly generated key pair, both halves DER, as Talkdesk delivers them (base64, no PEM).
#[derive(Clone)]
pub struct KeyPair {
    pub alg: Alg,
    /// DER PKCS#8 private key.
    pub private_pkcs8: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub public_spki: Vec<u8>,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("alg", &self.alg)
            .field("private_pkcs8", &"[redacted]")
            .finish()
    }
}

impl KeyPair {
    /// P-256/P-384/P-521 for ES*, RSA 2048 for PS*.
    pub fn generate(alg: Alg) -> KeyPair {
        let pkey: PKey<Private> = match alg.curve() {
            Some((nid, _)) => {
                let mut group = EcGroup::from_curve_name(nid).expect("curve");
                group.set_asn1_flag(Asn1Flag::NAMED_CURVE);
                PKey::from_ec_key(EcKey::generate(&group).expect("ec keygen")).expect("pkey")
            }
            None => PKey::from_rsa(Rsa::generate(2048).expect("rsa keygen")).expect("pkey"),
        };
        KeyPair {
            alg,
            private_pkcs8: pkey.private_key_to_pkcs8().expect("pkcs8"),
            public_spki: pkey.public_key_to_der().expect("spki"),
        }
    }

    pub fn private_b64(&self) -> String {
        STANDARD.encode(&self.private_pkcs8)
    }

    pub fn public_b64(&self) -> String {
        STANDARD.encode(&self.public_spki)
    }
}

/// Decodes a key delivered as base64 DER or as PEM (PKCS#8 private key).
pub fn private_key_from_text(text: &str) -> Result<PKey<Private>, SimError> {
    let invalid = |e: &dyn fmt::Display| SimError::InvalidKey(e.to_string());
    let text = text.trim();
    if text.starts_with("-----") {
        return PKey::private_key_from_pem(text.as_bytes()).map_err(|e| invalid(&e));
    }
    let der = STANDARD.decode(text).map_err(|e| invalid(&e))?;
    PKey::private_key_from_pkcs8(&der).map_err(|e| invalid(&e))
}

/// Signs `header` and `claims` as a compact JWS. For tests and tools: the simulator itself never
/// signs assertions, it only verifies them.
pub fn sign_jwt(alg: Alg, private_key: &str, header: &Value, claims: &Value) -> String {
    let key = private_key_from_text(private_key).expect("private key");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = sign_bytes(alg, &key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Raw JWS signature: JOSE r‖s for ES*, RSASSA-PSS (MGF1 same hash, salt = hash length) for PS*.
pub fn sign_bytes(alg: Alg, key: &PKey<Private>, data: &[u8]) -> Vec<u8> {
    match alg.curve() {
        Some((_, half)) => {
            let digest = hash(alg.digest(), data).expect("hash");
            let ec = key.ec_key().expect("EC key for ES algorithm");
            let sig = EcdsaSig::sign(&digest, &ec).expect("ecdsa sign");
            let mut out = sig.r().to_vec_padded(half as i32).unwrap();
            out.extend(sig.s().to_vec_padded(half as i32).unwrap());
            out
        }
        None => {
            let mut signer = Signer::new(alg.digest(), key).expect("signer");
            signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
            signer.set_rsa_mgf1_md(alg.digest()).unwrap();
            signer
                .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .unwrap();
            signer.sign_oneshot_to_vec(data).expect("rsa-pss sign")
        }
    }
}

/// Verifies a raw JWS signature with a DER SPKI public key.
pub fn verify_bytes(alg: Alg, public_spki: &[u8], data: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = PKey::<Public>::public_key_from_der(public_spki) else {
        return false;
    };
    match alg.curve() {
        Some((nid, half)) => {
            let Ok(ec) = key.ec_key() else { return false };
            if ec.group().curve_name() != Some(nid) || sig.len() != 2 * half {
                return false;
            }
            let (Ok(r), Ok(s)) = (
                BigNum::from_slice(&sig[..half]),
                BigNum::from_slice(&sig[half..]),
            ) else {
                return false;
            };
            let Ok(sig) = EcdsaSig::from_private_components(r, s) else {
                return false;
            };
            let Ok(digest) = hash(alg.digest(), data) else {
                return false;
            };
            sig.verify(&digest, &ec).unwrap_or(false)
        }
        None => {
            if key.rsa().is_err() {
                return false;
            }
            let Ok(mut v) = Verifier::new(alg.digest(), &key) else {
                return false;
            };
            if v.set_rsa_padding(Padding::PKCS1_PSS).is_err()
                || v.set_rsa_mgf1_md(alg.digest()).is_err()
                || v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).is_err()
            {
                return false;
            }
            v.verify_oneshot(sig, data).unwrap_or(false)
        }
    }
}

/// A compact JWS split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    pub header: Value,
    pub claims: Value,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. Strict: three parts, unpadded base64url, JSON objects.
pub fn parse_jwt(token: &str) -> Result<UnverifiedJwt, SimError> {
    let malformed = SimError::MalformedJwt;
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed(format!(
            "client_assertion is not a compact JWS (expected 3 parts, got {})",
            parts.len()
        )));
    }
    let decode = |what: &str, s: &str| {
        URL_SAFE_NO_PAD.decode(s).map_err(|e| {
            malformed(format!(
                "client_assertion {what} is not unpadded base64url: {e}"
            ))
        })
    };
    let header: Value = serde_json::from_slice(&decode("header", parts[0])?)
        .map_err(|e| malformed(format!("client_assertion header is not JSON: {e}")))?;
    let claims: Value = serde_json::from_slice(&decode("payload", parts[1])?)
        .map_err(|e| malformed(format!("client_assertion payload is not JSON: {e}")))?;
    if !header.is_object() || !claims.is_object() {
        return Err(malformed(
            "client_assertion header and payload must be JSON objects".into(),
        ));
    }
    Ok(UnverifiedJwt {
        header,
        claims,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: decode("signature", parts[2])?,
    })
}

impl UnverifiedJwt {
    pub fn verify(&self, alg: Alg, public_spki: &[u8]) -> bool {
        verify_bytes(
            alg,
            public_spki,
            self.signing_input.as_bytes(),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_algorithm_round_trips_and_rejects_a_tampered_payload() {
        for alg in Alg::ALL {
            let kp = KeyPair::generate(alg);
            let jwt = sign_jwt(
                alg,
                &kp.private_b64(),
                &json!({"alg": alg.as_str()}),
                &json!({"a": 1}),
            );
            let parsed = parse_jwt(&jwt).unwrap();
            assert!(parsed.verify(alg, &kp.public_spki), "{alg}");
            let mut tampered = parsed.clone();
            tampered.signing_input.push('x');
            assert!(!tampered.verify(alg, &kp.public_spki), "{alg}");
            let other = KeyPair::generate(alg);
            assert!(!parsed.verify(alg, &other.public_spki), "{alg}");
        }
    }

    #[test]
    fn es_signatures_are_jose_sized_not_der() {
        for (alg, len) in [(Alg::ES256, 64), (Alg::ES384, 96), (Alg::ES512, 132)] {
            let kp = KeyPair::generate(alg);
            let key = private_key_from_text(&kp.private_b64()).unwrap();
            assert_eq!(sign_bytes(alg, &key, b"x").len(), len);
        }
    }

    #[test]
    fn a_signature_of_one_algorithm_does_not_verify_as_another() {
        let kp = KeyPair::generate(Alg::PS256);
        let key = private_key_from_text(&kp.private_b64()).unwrap();
        let sig = sign_bytes(Alg::PS256, &key, b"data");
        assert!(verify_bytes(Alg::PS256, &kp.public_spki, b"data", &sig));
        assert!(!verify_bytes(Alg::PS384, &kp.public_spki, b"data", &sig));
        let ec = KeyPair::generate(Alg::ES256);
        assert!(!verify_bytes(
            Alg::ES384,
            &ec.public_spki,
            b"data",
            &[0; 96]
        ));
    }

    #[test]
    fn parse_rejects_padding_and_wrong_part_counts() {
        assert!(parse_jwt("a.b").is_err());
        assert!(parse_jwt("e30=.e30.").is_err());
        assert!(parse_jwt("e30.e30.").is_ok());
    }
}
