//! Regions, hosts and the allowlist: the security boundary between a hostile event and the
//! network.
//!
//! Every URL the worker calls, or hands to a browser, is a [`TalkdeskUrl`], and the only ways to
//! get one are [`Allowlist::check`] (for hrefs that arrive in events or come back from storage)
//! and the [`Region`] helpers (for hosts we build ourselves from a parsed [`AccountName`]). So a
//! forged `_links.root` can never make the worker send a request, or a signed client assertion,
//! anywhere but Talkdesk (contract §1).
//!
//! The checks are deliberately stricter than URL syntax requires: the raw text must already be in
//! the form the `url` crate would normalize it to (no percent-encoded, numeric-IPv4, IDN or
//! trailing-dot hosts, no userinfo, no fragment, no white space or backslashes). Normalization
//! therefore can never turn a refused host into an allowed one: we compare what was written with
//! what would be called, and refuse the input when they differ.
//!
//! Each policy choice that the contract marks as unknown or inferred (§7) sits behind one
//! constant or function of this module, with the reason in its doc comment.
//!
//! One file per concept: `region.rs` (regions and their hosts), `account.rs` (account names),
//! `url.rs` ([`TalkdeskUrl`]), `allowlist.rs` (the allowlist and its checks of the written
//! authority), `endpoints.rs` (event links to endpoints), `error.rs` ([`HostError`]) and
//! `extra.rs` (the `TALKDESK_EXTRA_HOSTS` syntax). Their tests are under `tests/`.

mod account;
mod allowlist;
mod endpoints;
mod error;
mod extra;
mod region;
mod url;

pub use self::url::{HostKind, TalkdeskUrl};
pub use account::AccountName;
pub use allowlist::{http_allowed, Allowlist};
pub use endpoints::{derive_authorize_url, resolve_endpoints, Endpoints, EventLinks};
pub use error::HostError;
pub use extra::{is_loopback, parse_extra_hosts, ExtraHost, PortRule};
pub use region::Region;

/// The longest href accepted, in bytes. Talkdesk's links are short; a multi-kilobyte "URL" in an
/// event is an attack or a bug, and refusing it early keeps the parser's work bounded.
pub const MAX_URL_LEN: usize = 2048;

/// The longest account name: one DNS label (RFC 1035 §2.3.4), since it becomes one.
pub const MAX_ACCOUNT_NAME_LEN: usize = 63;

/// How many characters of hostile input an error may repeat. Enough to recognise it in a log
/// line, not enough to smuggle a payload into one.
pub const MAX_ECHO: usize = 100;

/// The token endpoint's path on a Talkdesk ID host (contract §3).
pub const TOKEN_PATH: &str = "/oauth/token";

/// The authorization endpoint's path on a Talkdesk ID host (contract §5).
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";

#[cfg(test)]
mod tests;
