//! Cryptography, pure Rust so it runs the same natively and in wasm:
//! [`seal`] (secrets at rest, AES-256-GCM) and [`keys`] (importing an installation's private key
//! and signing JWT client assertions with it).

pub mod base64;
mod der;
pub mod keyring;
pub mod keys;
pub mod seal;

/// Fills a buffer from the platform's secure random source (`crypto.getRandomValues` in
/// workerd, the OS natively). Failure is not recoverable and never expected.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).expect("the platform has a secure random source");
    buf
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// A fresh random value of `N` bytes as base64url text: session ids, state ids, nonces, PKCE
/// verifiers (32 bytes give 43 characters, RFC 7636's shortest verifier).
pub(crate) fn random_text<const N: usize>() -> String {
    b64url(&random_bytes::<N>())
}

/// base64url without padding, as JOSE uses.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::encode(bytes, base64::Alphabet::UrlSafe, base64::Padding::Forbidden)
}

pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::decode(s, base64::Alphabet::UrlSafe, base64::Padding::Forbidden)
}
