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
