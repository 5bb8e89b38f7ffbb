//! Access tokens: minted with a signed client assertion, cached sealed, and minted once per
//! installation and scope set even when many requests (in many isolates) need one at once.
//!
//! Read path: KV (fast, eventually consistent) → D1 row (strongly consistent) → mint.
//! Minting is serialised by a lease on the D1 row: the isolate that takes it mints and stores
//! the token in the row and in KV; the others poll the row until the token appears (or the
//! lease lapses and one of them takes over). No token is served within
//! [`REFRESH_MARGIN_SECS`] of its expiry.

use crate::crypto::b64url;
use crate::crypto::keyring::SealingKeys;
use crate::crypto::keys::PrivateKey;
use crate::crypto::seal::{self, SealContext};
use crate::ports::PortError;
use crate::ports::{Cache, Clock, Signer, StoredToken, TalkdeskHttp, TokenStore, KV_MIN_TTL_SECS};
use crate::secret::SecretString;
use crate::store::tokens::token_prefix;
use crate::talkdesk::assertion::{new_jti, signing_input, AssertionClaims};
use crate::talkdesk::token::{parse_token_response, scope_key, token_request, TokenError};

/// A token this close to its expiry is not served; a new one is minted.
pub const REFRESH_MARGIN_SECS: u64 = 60;
/// How long one isolate may hold the minting lease (covers a slow token endpoint).
pub const LEASE_MS: u64 = 15_000;
/// The shortest lease a scaled-down test run may use: a mint under load must still fit in it,
/// or two requests mint at once.
pub const MIN_LEASE_MS: u64 = 2_000;
/// How soon a waiting request first looks again for the token another isolate is minting; the
/// pause doubles after each look, up to [`MAX_POLL_MS`], so a long wait costs a few D1 reads,
/// not hundreds (D1 queries per invocation are counted).
pub const POLL_MS: u64 = 50;
pub const MAX_POLL_MS: u64 = 2_000;
/// How long a request waits for a token in all before giving up (transiently).
pub const WAIT_MS: u64 = 20_000;

/// What it takes to mint a token for one installation.
#[derive(Debug)]
pub struct Credentials<'a> {
    pub installation_id: &'a str,
    pub client_id: &'a str,
    pub key_id: &'a str,
    pub key: &'a PrivateKey,
    /// Already checked against the host allowlist.
    pub token_url: &'a str,
    /// Credentials not yet proven Talkdesk's (an install candidate, a rotation's new set), with
    /// the event that delivered them: their tokens are minted for that event's job alone and
    /// never stored, so a forgery that names a genuine client id can never be handed the
    /// genuine set's token, and no cache is left to clean up.
    pub unproven: Option<&'a str>,
}

/// The ports the token service uses.
pub struct Deps<'a, C, S, H, K, G> {
    pub cache: &'a C,
    pub store: &'a S,
    pub http: &'a H,
    pub clock: &'a K,
    pub signer: &'a G,
    pub keys: &'a SealingKeys,
    /// How long the minting lease is held ([`LEASE_MS`] in production; shorter in tests).
    pub lease_ms: u64,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// From Talkdesk's answer (permanent or transient).
    Talkdesk(TokenError),
    /// Our own storage failed, or waiting for another isolate's mint timed out: transient.
    Storage(String),
    /// The key could not sign (the runtime refused it): permanent, the installation needs
    /// attention.
    Signing(String),
}

/// The cache key of a token: the installation, the credential set that minted it (so a new set
/// after a rotation never finds the old set's token) and the scope set.
pub fn token_key(installation_id: &str, client_id: &str, scopes: &[&str]) -> String {
    format!(
        "{}{}",
        token_prefix(installation_id, Some(client_id)),
        scope_key(scopes)
    )
}

fn seal_context<'a>(installation_id: &'a str) -> SealContext<'a> {
    SealContext {
        record: installation_id,
        field: "access_token",
    }
}

/// A usable access token for `creds` and `scopes`.
pub async fn access_token<C: Cache, S: TokenStore, H: TalkdeskHttp, K: Clock, G: Signer>(
    deps: &Deps<'_, C, S, H, K, G>,
    creds: &Credentials<'_>,
    scopes: &[&str],
) -> Result<SecretString, TokenFailure> {
    if creds.unproven.is_some() {
        // Credentials not proven yet belong to one event, whose job runs under its lease: no
        // other request can be minting with them, so there is no lease to take, nothing to
        // share and nothing to cache (a forgery naming a genuine client id can never be
        // handed a stored token). The token lives as long as the job's attempt.
        return request_token(deps, creds, scopes).await.map(|t| t.token);
    }
    let key = token_key(creds.installation_id, creds.client_id, scopes);
    let storage = |e: crate::ports::PortError| TokenFailure::Storage(e.0);

    // KV first; a failing cache is only slower, never an error.
    if let Ok(Some(sealed)) = deps.cache.get(&key).await {
        if let Some(token) = usable(deps, creds, &sealed) {
            return Ok(token);
        }
    }

    let holder = new_jti();
    let started = deps.clock.now_ms();
    let mut pause = POLL_MS;
    loop {
        if let Some(token) = from_store(deps, creds, &key).await? {
            return Ok(token);
        }
        let now = deps.clock.now_ms();
        if deps
            .store
            .try_lease(&key, &holder, now, now + deps.lease_ms)
            .await
            .map_err(storage)?
        {
            // Under the lease, look again: another request may have stored a token between our
            // read and our lease (it released the lease as it stored).
            if let Some(token) = from_store(deps, creds, &key).await? {
                let _ = deps.store.release(&key, &holder).await;
                return Ok(token);
            }
            return mint(deps, creds, scopes, &key, &holder).await;
        }
        if deps.clock.now_ms() >= started + WAIT_MS {
            return Err(TokenFailure::Storage(
                "timed out waiting for another request to mint the token".into(),
            ));
        }
        deps.clock.sleep_ms(pause).await;
        pause = (pause * 2).min(MAX_POLL_MS);
    }
}

/// A usable token from D1, if there is one. It is not copied to KV: KV takes one write per
/// second per key, and the mint that stored it wrote KV already.
async fn from_store<C: Cache, S: TokenStore, H, K: Clock, G>(
    deps: &Deps<'_, C, S, H, K, G>,
    creds: &Credentials<'_>,
    key: &str,
) -> Result<Option<SecretString>, TokenFailure> {
    let Some(stored) = deps
        .store
        .read(key)
        .await
        .map_err(|e| TokenFailure::Storage(e.0))?
    else {
        return Ok(None);
    };
    Ok(usable(deps, creds, &encode_cached(&stored)))
}

async fn mint<C: Cache, S: TokenStore, H: TalkdeskHttp, K: Clock, G: Signer>(
    deps: &Deps<'_, C, S, H, K, G>,
    creds: &Credentials<'_>,
    scopes: &[&str],
    key: &str,
    holder: &str,
) -> Result<SecretString, TokenFailure> {
    let now = deps.clock.now_secs();
    let token = match request_token(deps, creds, scopes).await {
        Ok(token) => token,
        Err(e) => {
            let _ = deps.store.release(key, holder).await;
            return Err(e);
        }
    };
    let stored = StoredToken {
        sealed: seal::seal_secret(deps.keys, seal_context(creds.installation_id), &token.token),
        expires_at: now + token.expires_in,
    };
    deps.store
        .store(key, holder, &stored)
        .await
        .map_err(|e| TokenFailure::Storage(e.0))?;
    put_in_cache(deps, key, &stored).await;
    Ok(token.token)
}

/// A token from Talkdesk's token endpoint, minted with a freshly signed assertion.
async fn request_token<C, S, H: TalkdeskHttp, K: Clock, G: Signer>(
    deps: &Deps<'_, C, S, H, K, G>,
    creds: &Credentials<'_>,
    scopes: &[&str],
) -> Result<crate::talkdesk::token::AccessToken, TokenFailure> {
    let claims = AssertionClaims::new(
        creds.client_id,
        creds.token_url,
        deps.clock.now_secs(),
        new_jti(),
    );
    let assertion = sign_assertion(deps.signer, creds.key, creds.key_id, &claims)
        .await
        .map_err(|e| TokenFailure::Signing(e.0))?;
    let request = token_request(creds.token_url, &assertion, scopes);
    match deps.http.send(&request).await {
        Ok(resp) => parse_token_response(&resp).map_err(TokenFailure::Talkdesk),
        Err(e) => Err(TokenFailure::Talkdesk(TokenError::Transient(e.0))),
    }
}

/// KV holds `{expires_at}.{sealed}` so a reader can judge freshness before opening it.
fn encode_cached(stored: &StoredToken) -> String {
    format!("{}.{}", stored.expires_at, stored.sealed)
}

/// The token in a cached value, if it opens and is not within the refresh margin.
fn usable<C, S, H, K: Clock, G>(
    deps: &Deps<'_, C, S, H, K, G>,
    creds: &Credentials<'_>,
    cached: &str,
) -> Option<SecretString> {
    let (expires_at, sealed) = cached.split_once('.')?;
    let expires_at: u64 = expires_at.parse().ok()?;
    if deps.clock.now_secs() + REFRESH_MARGIN_SECS >= expires_at {
        return None;
    }
    seal::open_secret(deps.keys, seal_context(creds.installation_id), sealed).ok()
}

async fn put_in_cache<C: Cache, S, H, K: Clock, G>(
    deps: &Deps<'_, C, S, H, K, G>,
    key: &str,
    stored: &StoredToken,
) {
    // Keep it in KV until the refresh margin; KV will not take less than its minimum TTL, and
    // `usable` checks the expiry anyway, so a longer TTL never serves a stale token.
    let ttl = stored
        .expires_at
        .saturating_sub(deps.clock.now_secs() + REFRESH_MARGIN_SECS)
        .max(KV_MIN_TTL_SECS);
    let _ = deps.cache.put(key, &encode_cached(stored), ttl).await;
}

/// The signed assertion in JWS compact form. It is a credential for its lifetime, so it is
/// returned as a secret. An ECDSA signature of the wrong length (DER instead of JOSE form) is
/// refused rather than sent.
pub async fn sign_assertion<S: Signer>(
    signer: &S,
    key: &PrivateKey,
    key_id: &str,
    claims: &AssertionClaims,
) -> Result<SecretString, PortError> {
    let input = signing_input(key.algorithm(), key_id, claims);
    let signature = signer.sign(key, input.as_bytes()).await?;
    if let Some(len) = key.algorithm().ecdsa_signature_len() {
        if signature.len() != len {
            return Err(PortError(format!(
                "{} signature is {} bytes, not the {len} of the JOSE form",
                key.algorithm(),
                signature.len()
            )));
        }
    }
    Ok(SecretString::new(format!("{input}.{}", b64url(&signature))))
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
