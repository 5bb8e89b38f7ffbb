//! JWT client assertions for the client-credentials grant (RFC 7523 §2.2, contract §3).
//!
//! Header `alg` = the installation's algorithm, `kid` = its key id; claims `iss` = `sub` = the
//! client id, `aud` = the token URL, `jti` fresh and random, `iat` = now, `exp` = now +
//! [`ASSERTION_LIFETIME_SECS`]. The clock is the caller's: nothing here reads the time.

use serde::Serialize;

use crate::crypto::keys::KeyAlgorithm;
use crate::crypto::{b64url, random_bytes};

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

/// `base64url(header).base64url(claims)`.
pub fn signing_input(alg: KeyAlgorithm, key_id: &str, claims: &AssertionClaims) -> String {
    let header = Header {
        alg: alg.as_str(),
        kid: key_id,
        typ: "JWT",
    };
    // Serialising these plain structs cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    format!("{}.{}", b64url(&header), b64url(&claims))
}

#[cfg(test)]
mod tests {
    //! The runtime signs with WebCrypto (proven against the simulator's OpenSSL verifier in the
    //! end-to-end tier); here an OpenSSL signer stands in, and the JWS we assemble is checked
    //! byte for byte and verified with OpenSSL.
    use super::*;
    use crate::crypto::b64url_decode;
    use crate::crypto::keys::PrivateKey;
    use crate::ports::{PortError, Signer};
    use crate::testing::{generate_key, openssl_verify, talkdesk_form, OpenSslSigner};
    use crate::tokens::sign_assertion;

    const TOKEN_URL: &str = "https://acme.talkdeskid.com/oauth/token";

    struct FixedSigner(Vec<u8>);
    impl Signer for FixedSigner {
        async fn sign(&self, _: &PrivateKey, _: &[u8]) -> Result<Vec<u8>, PortError> {
            Ok(self.0.clone())
        }
    }

    fn es256_key() -> PrivateKey {
        PrivateKey::import(
            KeyAlgorithm::ES256,
            &talkdesk_form(&generate_key(KeyAlgorithm::ES256)),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_jws_is_assembled_exactly() {
        let claims = AssertionClaims {
            iss: "c".into(),
            sub: "c".into(),
            aud: "https://a.talkdeskid.com/oauth/token".into(),
            jti: "j".into(),
            iat: 1,
            exp: 241,
        };
        let jws = sign_assertion(&FixedSigner(vec![0xAB; 64]), &es256_key(), "k", &claims)
            .await
            .unwrap();
        let expected_header = b64url(br#"{"alg":"ES256","kid":"k","typ":"JWT"}"#);
        let expected_claims = b64url(
            br#"{"iss":"c","sub":"c","aud":"https://a.talkdeskid.com/oauth/token","jti":"j","iat":1,"exp":241}"#,
        );
        assert_eq!(
            jws.expose(),
            format!(
                "{expected_header}.{expected_claims}.{}",
                b64url(&[0xAB; 64])
            )
        );
    }

    #[tokio::test]
    async fn an_ecdsa_signature_not_in_jose_form_is_refused() {
        let claims = AssertionClaims::new("c", TOKEN_URL, 1, new_jti());
        let der_like = vec![0x30; 70];
        let err = sign_assertion(&FixedSigner(der_like), &es256_key(), "k", &claims)
            .await
            .unwrap_err();
        assert!(err.0.contains("not the 64"), "{err}");
    }

    #[tokio::test]
    async fn assertions_for_all_six_algorithms_verify_with_openssl() {
        for alg in KeyAlgorithm::ALL {
            let pkey = generate_key(alg);
            let key = PrivateKey::import(alg, &talkdesk_form(&pkey)).unwrap();
            let claims = AssertionClaims::new("client-1", TOKEN_URL, 1_700_000_000, new_jti());
            let jws = sign_assertion(&OpenSslSigner, &key, "kid-7", &claims)
                .await
                .unwrap();
            let parts: Vec<&str> = jws.expose().split('.').collect();
            let input = format!("{}.{}", parts[0], parts[1]);
            let signature = b64url_decode(parts[2]).unwrap();
            assert!(
                openssl_verify(alg, &pkey, input.as_bytes(), &signature),
                "{alg}"
            );
            let json = |p: &str| -> serde_json::Value {
                serde_json::from_slice(&b64url_decode(p).unwrap()).unwrap()
            };
            let (header, body) = (json(parts[0]), json(parts[1]));
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], "kid-7");
            assert_eq!(body["iss"], "client-1");
            assert_eq!(body["sub"], "client-1");
            assert_eq!(body["aud"], TOKEN_URL);
            assert_eq!(body["exp"], 1_700_000_000u64 + ASSERTION_LIFETIME_SECS);
        }
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
