//! JWT client assertions for the client-credentials grant (RFC 7523 §2.2, contract §3).
//!
//! Header `alg` = the installation's algorithm, `kid` = its key id; claims `iss` = `sub` = the
//! client id, `aud` = the token URL, `jti` fresh and random, `iat` = now, `exp` = now +
//! [`ASSERTION_LIFETIME_SECS`]. The clock is the caller's: nothing here reads the time.

use serde::Serialize;

use crate::crypto::{b64url, keys::SigningKey, random_bytes};
use crate::secret::SecretString;

/// How long an assertion is valid. Talkdesk's samples use 5 minutes and its limit elsewhere is
/// undocumented (contract §7), so we stay a minute inside it.
pub const ASSERTION_LIFETIME_SECS: u64 = 240;
// Talkdesk's samples allow at most 300 s.
const _: () = assert!(ASSERTION_LIFETIME_SECS <= 300);

/// The claims of one assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
}

impl AssertionClaims {
    pub fn new(client_id: &str, token_url: &str, now: u64, jti: String) -> AssertionClaims {
        AssertionClaims {
            iss: client_id.to_owned(),
            sub: client_id.to_owned(),
            aud: token_url.to_owned(),
            jti,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'static str,
}

/// A random version-4 UUID, for `jti`.
pub fn new_jti() -> String {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The signed assertion in JWS compact form. It is a credential for its lifetime, so it is
/// returned as a secret.
pub fn sign_assertion(key: &SigningKey, key_id: &str, claims: &AssertionClaims) -> SecretString {
    let header = Header {
        alg: key.algorithm().as_str(),
        kid: key_id,
        typ: "JWT",
    };
    // Serialising these plain structs cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!("{}.{}", b64url(&header), b64url(&claims));
    let signature = key.sign(signing_input.as_bytes());
    SecretString::new(format!("{signing_input}.{}", b64url(&signature)))
}

#[cfg(test)]
mod tests {
    //! Every signature is checked with OpenSSL, an implementation independent of the RustCrypto
    //! crates that made it.
    use super::*;
    use crate::crypto::b64url_decode;
    use crate::crypto::keys::{KeyAlgorithm, KeyError};
    use base64::Engine;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::ecdsa::EcdsaSig;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::{Padding, Rsa};
    use openssl::sign::{RsaPssSaltlen, Verifier};

    const TOKEN_URL: &str = "https://acme.talkdeskid.com/oauth/token";

    fn generate(alg: KeyAlgorithm) -> PKey<Private> {
        let ec = |nid| {
            PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap())
                .unwrap()
        };
        match alg {
            KeyAlgorithm::ES256 => ec(Nid::X9_62_PRIME256V1),
            KeyAlgorithm::ES384 => ec(Nid::SECP384R1),
            KeyAlgorithm::ES512 => ec(Nid::SECP521R1),
            _ => PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        }
    }

    /// The key as Talkdesk sends it: base64 of DER PKCS#8, no armour.
    fn talkdesk_form(key: &PKey<Private>) -> String {
        base64::engine::general_purpose::STANDARD.encode(key.private_key_to_pkcs8().unwrap())
    }

    fn digest(alg: KeyAlgorithm) -> MessageDigest {
        match alg {
            KeyAlgorithm::ES256 | KeyAlgorithm::PS256 => MessageDigest::sha256(),
            KeyAlgorithm::ES384 | KeyAlgorithm::PS384 => MessageDigest::sha384(),
            _ => MessageDigest::sha512(),
        }
    }

    /// Verifies a compact JWS with OpenSSL; returns its header and claims.
    fn openssl_verify(
        alg: KeyAlgorithm,
        key: &PKey<Private>,
        jws: &str,
    ) -> (serde_json::Value, serde_json::Value) {
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let input = format!("{}.{}", parts[0], parts[1]);
        let sig = b64url_decode(parts[2]).unwrap();
        let md = digest(alg);
        let ok = match alg {
            KeyAlgorithm::ES256 | KeyAlgorithm::ES384 | KeyAlgorithm::ES512 => {
                let n = match alg {
                    KeyAlgorithm::ES256 => 32,
                    KeyAlgorithm::ES384 => 48,
                    _ => 66,
                };
                assert_eq!(sig.len(), 2 * n, "JOSE r||s form, not DER");
                let r = BigNum::from_slice(&sig[..n]).unwrap();
                let s = BigNum::from_slice(&sig[n..]).unwrap();
                let hash = openssl::hash::hash(md, input.as_bytes()).unwrap();
                EcdsaSig::from_private_components(r, s)
                    .unwrap()
                    .verify(&hash, &key.ec_key().unwrap())
                    .unwrap()
            }
            _ => {
                let mut v = Verifier::new(md, key).unwrap();
                v.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                v.set_rsa_mgf1_md(md).unwrap();
                v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
                v.verify_oneshot(&sig, input.as_bytes()).unwrap()
            }
        };
        assert!(ok, "{alg}: OpenSSL rejects the signature");
        let json = |p: &str| serde_json::from_slice(&b64url_decode(p).unwrap()).unwrap();
        (json(parts[0]), json(parts[1]))
    }

    #[test]
    fn assertions_for_all_six_algorithms_verify_with_openssl() {
        for alg in KeyAlgorithm::ALL {
            let key = generate(alg);
            let signing = SigningKey::import(alg, &talkdesk_form(&key)).unwrap();
            let claims = AssertionClaims::new("client-1", TOKEN_URL, 1_700_000_000, new_jti());
            let jws = sign_assertion(&signing, "kid-7", &claims);
            let (header, body) = openssl_verify(alg, &key, jws.expose());
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], "kid-7");
            assert_eq!(body["iss"], "client-1");
            assert_eq!(body["sub"], "client-1");
            assert_eq!(body["aud"], TOKEN_URL);
            assert_eq!(body["iat"], 1_700_000_000u64);
            assert_eq!(body["exp"], 1_700_000_000u64 + ASSERTION_LIFETIME_SECS);
        }
    }

    #[test]
    fn a_signature_does_not_verify_under_another_key() {
        for alg in [KeyAlgorithm::ES256, KeyAlgorithm::PS256] {
            let signing = SigningKey::import(alg, &talkdesk_form(&generate(alg))).unwrap();
            let jws = sign_assertion(
                &signing,
                "k",
                &AssertionClaims::new("c", TOKEN_URL, 1, new_jti()),
            );
            let other = generate(alg);
            let result = std::panic::catch_unwind(|| openssl_verify(alg, &other, jws.expose()));
            assert!(result.is_err(), "{alg}: verified under a foreign key");
        }
    }

    #[test]
    fn pem_keys_are_accepted_too() {
        let key = generate(KeyAlgorithm::ES384);
        let pem = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let signing = SigningKey::import(KeyAlgorithm::ES384, &pem).unwrap();
        let jws = sign_assertion(
            &signing,
            "k",
            &AssertionClaims::new("c", TOKEN_URL, 1, new_jti()),
        );
        openssl_verify(KeyAlgorithm::ES384, &key, jws.expose());
    }

    #[test]
    fn a_key_of_the_wrong_kind_is_refused_by_name() {
        let p256 = talkdesk_form(&generate(KeyAlgorithm::ES256));
        let rsa = talkdesk_form(&generate(KeyAlgorithm::PS256));
        assert_eq!(
            SigningKey::import(KeyAlgorithm::ES384, &p256).unwrap_err(),
            KeyError::Mismatch {
                declared: KeyAlgorithm::ES384,
                found: "a P-256 EC key"
            }
        );
        assert_eq!(
            SigningKey::import(KeyAlgorithm::ES256, &rsa).unwrap_err(),
            KeyError::Mismatch {
                declared: KeyAlgorithm::ES256,
                found: "an RSA key"
            }
        );
        assert!(matches!(
            SigningKey::import(KeyAlgorithm::PS512, &p256),
            Err(KeyError::Mismatch { .. })
        ));
    }

    #[test]
    fn garbage_and_weak_keys_are_refused_without_panicking() {
        for bad in [
            "",
            "not base64 !!",
            "AAAA",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            &"A".repeat(10_000),
        ] {
            assert_eq!(
                SigningKey::import(KeyAlgorithm::ES256, bad).unwrap_err(),
                KeyError::Unparsable,
                "{bad:.20}"
            );
        }
        let weak = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        assert_eq!(
            SigningKey::import(KeyAlgorithm::PS256, &talkdesk_form(&weak)).unwrap_err(),
            KeyError::RsaSize(1024)
        );
        // A public key where the private key belongs.
        let public = base64::engine::general_purpose::STANDARD
            .encode(generate(KeyAlgorithm::ES256).public_key_to_der().unwrap());
        assert_eq!(
            SigningKey::import(KeyAlgorithm::ES256, &public).unwrap_err(),
            KeyError::Unparsable
        );
    }

    #[test]
    fn key_errors_and_debug_show_no_key_material() {
        let form = talkdesk_form(&generate(KeyAlgorithm::ES256));
        let key = SigningKey::import(KeyAlgorithm::ES256, &form).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey(ES256, [redacted])");
        let err = SigningKey::import(KeyAlgorithm::PS256, &form)
            .unwrap_err()
            .to_string();
        assert!(!err.contains(&form[10..30]), "{err}");
    }

    /// RFC 6979 §A.2.5: P-256 with SHA-256, message "sample". ECDSA with RFC 6979 nonces is
    /// deterministic, so the exact signature is known.
    #[test]
    fn es256_matches_the_rfc6979_known_answer() {
        let x = hex::decode("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
            .unwrap();
        let secret = p256::SecretKey::from_slice(&x).unwrap();
        use p256::pkcs8::EncodePrivateKey;
        let der = secret.to_pkcs8_der().unwrap();
        let form = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        let key = SigningKey::import(KeyAlgorithm::ES256, &form).unwrap();
        let sig = key.sign(b"sample");
        assert_eq!(
            hex::encode_upper(&sig),
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
             F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
        );
    }

    #[test]
    fn jti_is_a_fresh_v4_uuid() {
        let a = new_jti();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(a, new_jti());
    }
}
