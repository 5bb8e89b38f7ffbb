//! The public vocabulary of single sign-on (contract §5): registered redirect URIs, the knobs that
//! make Talkdesk ID refuse, deny or replay an authorization, and tamper with an `id_token`, what a
//! test can inspect of the user tokens issued, and the app's launch URL.

use crate::error::{SimError, SimResult};
use crate::model::{InstallationView, SimUser};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long an authorization code can be exchanged (inferred; RFC 6749 §4.1.2 recommends at most
/// 10 minutes, and a short life makes an app that dawdles fail here rather than in production).
pub const CODE_TTL_SECS: i64 = 60;
/// `exp - iat` of an `id_token`.
pub const ID_TOKEN_TTL_SECS: i64 = 300;
/// The cookie that remembers who signed in, per account (the simulator's stand-in for the
/// session on `{account}.talkdeskid.com`).
pub const SSO_COOKIE: &str = "td_sim_sso";
/// The redirect URI `talkdesk-sim serve` registers unless told otherwise: the worker's callback
/// under `wrangler dev`. The library registers none by default.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8787/oauth/callback";
/// The app's launch URL `talkdesk-sim launch` builds on unless told otherwise (`wrangler dev`).
pub const DEFAULT_WORKER_URL: &str = "http://127.0.0.1:8787";

/// How the next requests to `/oauth/authorize` are answered (until set back to `Normal`).
///
/// JSON (control API): `"normal"`, `"refuse"`, `"deny"`, `"replay"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizeMode {
    /// Validate, then sign in (page, remembered session or auto sign-in) and issue a fresh code.
    #[default]
    Normal,
    /// Talkdesk ID refuses outright: a 400 HTML error page, no redirect (GET and POST).
    Refuse,
    /// A valid request is answered by redirecting with `error=access_denied&state=…`, as when the
    /// user declines.
    Deny,
    /// Where a fresh code would be issued, redirect with the code issued most recently to this
    /// client instead (used or not); if there is none, with a code that was never issued. Either
    /// way the app's exchange meets `invalid_grant`. No new code is counted.
    Replay,
}

impl std::str::FromStr for AuthorizeMode {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        serde_json::from_value(Value::String(s.to_ascii_lowercase())).map_err(|_| {
            SimError::InvalidSpec(format!(
                "authorize mode: {s:?} is not normal, refuse, deny or replay"
            ))
        })
    }
}

/// A defect for the next `id_token` the token endpoint issues (one token only), so a test can
/// prove the app checks each claim (OIDC Core §3.1.3.7).
///
/// JSON (control API): the snake_case names, e.g. `"wrong_issuer"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenFault {
    /// `iss` = the simulator's base URL followed by `.attacker.example`: an app that compares by
    /// prefix accepts it, one that compares exactly does not.
    WrongIssuer,
    /// `aud` = a client id of no installation.
    WrongAudience,
    /// `iat` 600 s ago, `exp` 300 s ago.
    Expired,
    /// `nonce` is a fresh random value, not the authorize request's (present even if the request
    /// sent none).
    WrongNonce,
    /// No `nonce`, although the authorize request sent one.
    MissingNonce,
    /// Claims are right but the signature does not verify with the published key.
    BadSignature,
    /// `sub` names someone else than the user who signed in (whom `/users/me` names).
    OtherSubject,
}

impl std::str::FromStr for IdTokenFault {
    type Err = SimError;
    /// The snake_case name; `-` works too (`wrong-issuer`).
    fn from_str(s: &str) -> Result<Self, SimError> {
        serde_json::from_value(Value::String(s.replace('-', "_"))).map_err(|_| {
            SimError::InvalidSpec(format!(
                "id_token fault: {s:?} is not wrong_issuer, wrong_audience, expired, wrong_nonce, missing_nonce, bad_signature or other_subject"
            ))
        })
    }
}

/// What one successful `authorization_code` exchange issued, plaintext, so a test can check the
/// app never stores or logs any of it, and which user and client it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedUserToken {
    pub installation_id: String,
    /// The credential set that exchanged the code.
    pub client_id: String,
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub id_token: String,
    pub scopes: Vec<String>,
    /// True once the code it came from was used again (RFC 6749 §4.1.2): the access token then
    /// answers 401.
    pub revoked: bool,
}

/// Checks a redirect URI before it is registered: an absolute `http` or `https` URL with a host
/// and no fragment (RFC 6749 §3.1.2). It is then matched byte for byte, never normalised.
pub fn validate_redirect_uri(uri: &str) -> SimResult<()> {
    let invalid = |why: &str| {
        Err(SimError::InvalidSpec(format!(
            "redirect URI {uri:?}: {why}"
        )))
    };
    let Ok(url) = reqwest::Url::parse(uri) else {
        return invalid("not an absolute URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return invalid("the scheme must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return invalid("no host");
    }
    if uri.contains('#') {
        return invalid("a redirect URI must not have a fragment (RFC 6749 §3.1.2)");
    }
    Ok(())
}

/// The URL Talkdesk opens when a user launches the app:
/// `{worker}/launch?talkdesk_installation_id=…&talkdesk_user_id=…`. `user` (id or email) must be
/// a member of the account, licensed or not; `None` picks the first licensed user.
pub fn launch_url(worker: &str, view: &InstallationView, user: Option<&str>) -> SimResult<String> {
    let user: &SimUser = match user {
        None => view.users.first().ok_or_else(|| {
            SimError::InvalidSpec(format!(
                "installation {} has no licensed user; name a member",
                view.id
            ))
        })?,
        Some(u) => view
            .users
            .iter()
            .chain(&view.unlicensed_users)
            .find(|m| m.id == u || m.email == u)
            .ok_or_else(|| SimError::UnknownUser {
                installation_id: view.id.clone(),
                user: u.to_string(),
            })?,
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("talkdesk_installation_id", &view.id)
        .append_pair("talkdesk_user_id", &user.id)
        .finish();
    Ok(format!("{}/launch?{query}", worker.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_absolute_http_urls_without_a_fragment() {
        assert!(validate_redirect_uri("http://127.0.0.1:8787/oauth/callback").is_ok());
        assert!(validate_redirect_uri("https://app.example/cb?x=1").is_ok());
        for bad in [
            "/oauth/callback",
            "ftp://app.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_and_faults_parse_from_their_snake_case_names() {
        assert_eq!(
            "replay".parse::<AuthorizeMode>().unwrap(),
            AuthorizeMode::Replay
        );
        assert!("sometimes".parse::<AuthorizeMode>().is_err());
        assert_eq!(
            "wrong-issuer".parse::<IdTokenFault>().unwrap(),
            IdTokenFault::WrongIssuer
        );
        assert!("late".parse::<IdTokenFault>().is_err());
    }
}
