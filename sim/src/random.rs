//! Random identifiers and secrets, from OpenSSL's generator.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// `n` random bytes as lowercase hex (Talkdesk ids look like 24-hex Mongo ids).
pub(crate) fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).expect("rand");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes, base64url: client secrets and access tokens.
pub(crate) fn random_token() -> String {
    let mut buf = [0u8; 32];
    openssl::rand::rand_bytes(&mut buf).expect("rand");
    URL_SAFE_NO_PAD.encode(buf)
}
