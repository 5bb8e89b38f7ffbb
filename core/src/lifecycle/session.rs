//! The Talkdesk session of one installation: its credentials open a token, the token and the
//! installation's API root make an [`InstallationApi`], and every call goes through here so its
//! failure becomes an [`Outcome`] one way (401 drops the cached tokens and retries; transient
//! failures retry; the rest are permanent).

use super::budget;
use super::outcome::{Outcome, Step};
use super::sealing::{open_set, CURRENT};
use super::{Ports, Settings};
use crate::ports::{Cache, TalkdeskHttp};
use crate::secret::SecretString;
use crate::store::records::Installation;
use crate::talkdesk::api::{ApiError, InstallationApi};
use crate::talkdesk::events::CredentialSet;
use crate::talkdesk::hosts::{HostError, TalkdeskUrl};
use crate::talkdesk::http::{HttpRequest, HttpResponse};
use crate::talkdesk::token::{TokenError, DEFAULT_SCOPES};
use crate::tokens::{self, Credentials, TokenFailure};

/// An open line to Talkdesk for one installation.
pub struct Session {
    pub api: InstallationApi,
}

/// The installation's stored API root, checked against the allowlist again before each use.
pub fn api_root(s: &Settings<'_>, inst: &Installation) -> Step<TalkdeskUrl> {
    s.allowlist
        .check(&inst.api_root)
        .map_err(|e| Outcome::Fail(format!("stored API root is not allowed: {e}")))
}

impl Session {
    /// A session with the installation's current credentials (`scopes` empty: all it was
    /// granted).
    pub async fn open<P: Ports>(
        p: &P,
        s: &Settings<'_>,
        inst: &Installation,
        scopes: &[&str],
    ) -> Step<Session> {
        Session::open_with(p, s, inst, scopes, None).await
    }

    /// A session with the current credentials of `candidate`, an installation not proven yet:
    /// its token is minted fresh for the event that delivered it, and not stored.
    pub async fn open_unproven<P: Ports>(
        p: &P,
        s: &Settings<'_>,
        candidate: &Installation,
        event_id: &str,
        scopes: &[&str],
    ) -> Step<Session> {
        Session::open_with(p, s, candidate, scopes, Some(event_id)).await
    }

    async fn open_with<P: Ports>(
        p: &P,
        s: &Settings<'_>,
        inst: &Installation,
        scopes: &[&str],
        unproven: Option<&str>,
    ) -> Step<Session> {
        let set = open_set(
            s.keys,
            &inst.installation_id,
            CURRENT,
            inst.credentials.as_ref(),
        )?;
        let token = mint(p, s, inst, &set, scopes, unproven).await?;
        Session::with_token(s, inst, token)
    }

    /// A session with a token already minted (a rotation's new set).
    pub fn with_token(s: &Settings<'_>, inst: &Installation, token: SecretString) -> Step<Session> {
        Ok(Session {
            api: InstallationApi::new(
                api_root(s, inst)?,
                s.app_id.as_str(),
                &inst.installation_id,
                token,
            ),
        })
    }

    /// Sends a request; no answer at all (connection error, timeout) is transient.
    pub async fn send<P: Ports>(
        &self,
        p: &P,
        request: Result<HttpRequest, HostError>,
    ) -> Step<HttpResponse> {
        let request = request.map_err(|e| Outcome::Fail(format!("request: {e}")))?;
        p.http()
            .send(&request)
            .await
            .map_err(|e| match budget::spent(&e.0) {
                true => Outcome::Pause(e.0),
                false => Outcome::Retry(format!("Talkdesk unreachable: {e}")),
            })
    }

    /// Sends and parses, mapping every failure to an outcome (`what` names the step).
    pub async fn fetch<P: Ports, T>(
        &self,
        p: &P,
        inst: &Installation,
        what: &str,
        request: Result<HttpRequest, HostError>,
        parse: impl Fn(&HttpResponse) -> Result<T, ApiError>,
    ) -> Step<T> {
        let resp = self.send(p, request).await?;
        match parse(&resp) {
            Ok(v) => Ok(v),
            Err(e) => Err(api_failure(p, inst, what, e).await),
        }
    }
}

/// Maps an API failure to an outcome: 401 and transient ones retry, the rest are permanent.
pub async fn api_failure<P: Ports>(p: &P, inst: &Installation, what: &str, e: ApiError) -> Outcome {
    match e {
        ApiError::Unauthorized => {
            forget_tokens(p, inst).await;
            Outcome::Retry(format!("{what}: token refused; minting a new one"))
        }
        ApiError::Transient(why) => Outcome::Retry(format!("{what}: {why}")),
        other => Outcome::Fail(format!("{what}: {other}")),
    }
}

/// A token minted with `set` at the installation's token URL (cached, once for all callers).
pub async fn mint<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    inst: &Installation,
    set: &CredentialSet,
    scopes: &[&str],
    unproven: Option<&str>,
) -> Step<SecretString> {
    let token_url = s
        .allowlist
        .check(&inst.token_url)
        .map_err(|e| Outcome::Fail(format!("stored token URL is not allowed: {e}")))?;
    let store = p.tokens();
    let deps = tokens::Deps {
        cache: p.cache(),
        store: &store,
        http: p.http(),
        clock: p.clock(),
        signer: p.signer(),
        keys: s.keys,
        lease_ms: s.scaled(tokens::LEASE_MS).max(tokens::MIN_LEASE_MS),
    };
    let creds = Credentials {
        installation_id: &inst.installation_id,
        client_id: &set.client_id,
        key_id: &set.key_id,
        key: &set.private_key,
        token_url: token_url.as_str(),
        unproven,
    };
    tokens::access_token(&deps, &creds, scopes)
        .await
        .map_err(|e| match e {
            TokenFailure::Talkdesk(TokenError::Permanent { error, description }) => {
                Outcome::Refused { error, description }
            }
            // The meter refused a call of the mint: a clean stop, not a failing Talkdesk.
            TokenFailure::Talkdesk(TokenError::Transient(why)) | TokenFailure::Storage(why)
                if budget::spent(&why) =>
            {
                Outcome::Pause(why)
            }
            TokenFailure::Talkdesk(TokenError::Transient(why)) => {
                Outcome::Retry(format!("token: {why}"))
            }
            TokenFailure::Storage(why) => Outcome::Retry(format!("token storage: {why}")),
            TokenFailure::Signing(why) => Outcome::Fail(format!("the key does not sign: {why}")),
        })
}

/// Forgets every cached token of the installation (after a 401 or an uninstall): the D1 rows
/// of every credential set, and the KV copies of the current set's.
pub async fn forget_tokens<P: Ports>(p: &P, inst: &Installation) {
    use crate::ports::TokenStore;
    // Not fatal if it fails: a stale token is refused (401) and dropped again on the next try.
    let _ = p.tokens().forget_installation(&inst.installation_id).await;
    forget_cached(p, &inst.installation_id, inst.client_id()).await;
}

/// Forgets the tokens one credential set minted (a rotation's old set), in D1 and KV.
pub async fn forget_set_tokens<P: Ports>(p: &P, installation_id: &str, client_id: &str) {
    let _ = p.tokens().forget_client(installation_id, client_id).await;
    forget_cached(p, installation_id, client_id).await;
}

async fn forget_cached<P: Ports>(p: &P, installation_id: &str, client_id: &str) {
    let scope_sets: [&[&str]; 2] = [DEFAULT_SCOPES, &[]];
    for scopes in scope_sets {
        let _ = p
            .cache()
            .delete(&tokens::token_key(installation_id, client_id, scopes))
            .await;
    }
}
