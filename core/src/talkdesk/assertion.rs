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
#[path = "assertion_tests.rs"]
mod tests;
