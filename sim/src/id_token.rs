//! The `id_token` of the authorization code grant (OIDC Core §2, §3.1.3.6): a JWT signed RS256 by
//! a key of the simulator's own, published as a JWK Set at `GET /oauth/jwks`, with the defects
//! [`IdTokenFault`] asks for.

use crate::model::SimUser;
use crate::random::{random_hex, random_token};
use crate::sso_model::{IdTokenFault, ID_TOKEN_TTL_SECS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::{json, Value};

/// The simulator's `id_token` signing key (RSA 2048, RS256).
pub(crate) struct IdTokenKey {
    kid: String,
    key: PKey<Private>,
}

/// What an `id_token` says, before any defect is applied.
pub(crate) struct IdClaims<'a> {
    /// The simulator's base URL (no trailing slash).
    pub issuer: &'a str,
    /// The client the code was issued to: the token's audience.
    pub client_id: &'a str,
    pub user: &'a SimUser,
    pub auth_time: i64,
    /// The authorize request's `nonce`, if it sent one.
    pub nonce: Option<&'a str>,
}

impl IdTokenKey {
    pub fn generate() -> IdTokenKey {
        let rsa = Rsa::generate(2048).expect("rsa keygen");
        IdTokenKey {
            kid: random_hex(8),
            key: PKey::from_rsa(rsa).expect("pkey"),
        }
    }

    /// The JWK Set (RFC 7517 §5) that verifies every `id_token`.
    pub fn jwks(&self) -> Value {
        let rsa = self.key.rsa().expect("rsa key");
        json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        }]})
    }

    /// Signs the claims as of `now` (Unix seconds), with `fault` applied.
    pub fn issue(&self, c: &IdClaims, fault: Option<IdTokenFault>, now: i64) -> String {
        let (iat, exp) = match fault {
            Some(IdTokenFault::Expired) => (now - 2 * ID_TOKEN_TTL_SECS, now - ID_TOKEN_TTL_SECS),
            _ => (now, now + ID_TOKEN_TTL_SECS),
        };
        let mut claims = json!({
            "iss": c.issuer, "sub": c.user.id, "aud": c.client_id,
            "iat": iat, "exp": exp, "auth_time": c.auth_time,
            "email": c.user.email, "name": c.user.name,
        });
        if let Some(n) = c.nonce {
            claims["nonce"] = json!(n);
        }
        match fault {
            Some(IdTokenFault::WrongIssuer) => {
                claims["iss"] = json!(format!("{}.attacker.example", c.issuer))
            }
            Some(IdTokenFault::WrongAudience) => claims["aud"] = json!(random_hex(16)),
            Some(IdTokenFault::WrongNonce) => claims["nonce"] = json!(random_token()),
            Some(IdTokenFault::MissingNonce) => {
                claims.as_object_mut().unwrap().remove("nonce");
            }
            Some(IdTokenFault::OtherSubject) => claims["sub"] = json!(random_hex(12)),
            _ => {}
        }
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        // RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), OpenSSL's default RSA padding.
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).expect("signer");
        let mut sig = signer.sign_oneshot_to_vec(input.as_bytes()).expect("sign");
        if fault == Some(IdTokenFault::BadSignature) {
            sig[0] ^= 0x01;
        }
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::parse_jwt;
    use openssl::bn::BigNum;
    use openssl::sign::Verifier;

    fn verifies(jwks: &Value, jwt: &str) -> bool {
        let k = &jwks["keys"][0];
        let part = |name: &str| {
            BigNum::from_slice(&URL_SAFE_NO_PAD.decode(k[name].as_str().unwrap()).unwrap()).unwrap()
        };
        let public =
            PKey::from_rsa(Rsa::from_public_components(part("n"), part("e")).unwrap()).unwrap();
        let parsed = parse_jwt(jwt).unwrap();
        let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        v.verify_oneshot(&parsed.signature, parsed.signing_input.as_bytes())
            .unwrap()
    }

    #[test]
    fn an_id_token_verifies_with_the_published_key_unless_told_to_break() {
        let key = IdTokenKey::generate();
        let user = SimUser::new("u1", "u1@acme.example", "User 1");
        let c = IdClaims {
            issuer: "http://127.0.0.1:1",
            client_id: "c1",
            user: &user,
            auth_time: 5,
            nonce: Some("n1"),
        };
        let good = key.issue(&c, None, 1000);
        assert!(verifies(&key.jwks(), &good));
        let parsed = parse_jwt(&good).unwrap();
        assert_eq!(parsed.header["kid"], key.jwks()["keys"][0]["kid"]);
        assert_eq!(parsed.claims["exp"], json!(1000 + ID_TOKEN_TTL_SECS));
        assert!(!verifies(
            &key.jwks(),
            &key.issue(&c, Some(IdTokenFault::BadSignature), 1000)
        ));
    }

    #[test]
    fn without_a_nonce_in_the_request_the_token_has_none() {
        let key = IdTokenKey::generate();
        let user = SimUser::new("u1", "u1@acme.example", "User 1");
        let c = IdClaims {
            issuer: "http://127.0.0.1:1",
            client_id: "c1",
            user: &user,
            auth_time: 5,
            nonce: None,
        };
        let claims = parse_jwt(&key.issue(&c, None, 1000)).unwrap().claims;
        assert!(claims.get("nonce").is_none());
    }
}
