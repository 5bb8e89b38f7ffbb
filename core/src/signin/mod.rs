//! Single sign-on from Talkdesk (contract §5; README "Single sign-on"): a licensed agent opens
//! the app from Talkdesk and is signed in.
//!
//! 1. [`launch`]: `GET /launch?talkdesk_installation_id=…` finds the installation and sends the
//!    browser to its Talkdesk ID authorize URL with a sealed, short-lived, single-use `state`
//!    bound to the installation and to this browser (a random cookie whose hash the state holds),
//!    a `nonce` and a PKCE S256 challenge.
//! 2. [`callback`]: `GET /oauth/callback?code&state` checks the state, exchanges the code with the
//!    installation's client assertion, checks the `id_token`, reads the user (`/users/me`),
//!    requires one of the installation's licences, and starts a session.
//! 3. [`session`]: the session cookie names a random id stored only as its SHA-256; it ends on
//!    sign-out, expiry, uninstall, `user.logout` and a removed licence.
//!
//! The user id in the launch URL is a hint only: nobody is signed in by it. Nothing here puts a
//! code, token, state or session id in a log line or in a URL after the callback.

pub mod callback;
pub mod cookies;
pub mod launch;
pub mod session;
pub mod state;

pub use callback::callback;
pub use launch::launch;

use crate::config::{Config, PublicBaseUrl};
use crate::lifecycle::Settings;
use crate::talkdesk::oidc::IdTokenError;

/// How long a sign-in may take between launch and callback, in ms.
pub const STATE_TTL_MS: u64 = 10 * 60 * 1000;
/// How long a session lasts from sign-in, in ms (a working day). Talkdesk signs the agent in
/// again without a prompt while their Talkdesk session lives.
pub const SESSION_TTL_MS: u64 = 8 * 3600 * 1000;

/// What single sign-on needs of the settings.
#[derive(Clone, Copy)]
pub struct SignIn<'a> {
    pub lifecycle: Settings<'a>,
    pub base: &'a PublicBaseUrl,
}

impl<'a> SignIn<'a> {
    /// `None` when `PUBLIC_BASE_URL` is not set: single sign-on is not configured.
    pub fn from_config(config: &'a Config) -> Option<SignIn<'a>> {
        Some(SignIn {
            lifecycle: Settings::from_config(config),
            base: config.public_base_url.as_ref()?,
        })
    }
}

/// Why a sign-in state was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    Missing,
    /// Altered, made up, or sealed with a key no longer listed.
    Tampered,
    Expired,
    /// This browser did not start the sign-in (its binding cookie is missing or another).
    OtherBrowser,
    /// Used before.
    Replayed,
}

/// Why a launch or callback did not sign anyone in: each is a page for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `PUBLIC_BASE_URL` is not set.
    NotConfigured,
    /// The launch URL has no installation id: the app was not opened from Talkdesk.
    NotFromTalkdesk,
    /// A query parameter breaks its rule.
    BadParameter {
        name: &'static str,
        problem: &'static str,
    },
    UnknownInstallation,
    /// Installed, not yet verified and approved.
    Installing,
    /// Stopped on a failure the operator must look at.
    NeedsAttention,
    Uninstalled,
    State(StateProblem),
    /// Talkdesk answered the authorize request with `error` (e.g. `access_denied`).
    Denied {
        error: String,
    },
    /// The token endpoint refused the code (`invalid_grant`: used, expired, another client's).
    CodeRefused {
        error: String,
    },
    /// The `id_token` or `/users/me` could not be trusted.
    Untrusted(String),
    /// Signed in to Talkdesk, but without a licence for this installation.
    Unlicensed {
        name: Option<String>,
    },
    /// Talkdesk could not be reached or answered with a failure.
    TalkdeskUnavailable,
    /// Too many sign-ins to this installation in the last minute.
    Busy,
    /// Our own storage failed (logged).
    Internal,
}

impl From<IdTokenError> for Refusal {
    fn from(e: IdTokenError) -> Refusal {
        Refusal::Untrusted(e.to_string())
    }
}

/// Whether `id` looks like a Talkdesk id: 1 to 128 letters, digits, `.`, `-` or `_`.
pub fn is_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The one value of query parameter `name`; a repeated parameter is refused (which one would
/// count is ambiguous).
pub fn single<'q>(
    query: &'q [(String, String)],
    name: &'static str,
) -> Result<Option<&'q str>, Refusal> {
    let mut values = query
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (first, None) => Ok(first.filter(|v| !v.is_empty())),
        (Some(_), Some(_)) => Err(Refusal::BadParameter {
            name,
            problem: "is repeated",
        }),
        (None, Some(_)) => unreachable!("a second value implies a first"),
    }
}
