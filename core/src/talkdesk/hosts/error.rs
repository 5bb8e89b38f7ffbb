//! [`HostError`]: why a URL, account name or link was refused, and how much of the hostile
//! input an error may repeat.

use std::fmt;

use crate::json::quoted;

use super::{MAX_ECHO, MAX_URL_LEN};

/// Why a URL, account name or link was refused. Any piece of the input it holds is cut to
/// [`MAX_ECHO`] characters, and `Display` prints it escaped and quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// Longer than [`MAX_URL_LEN`] bytes.
    TooLong { len: usize },
    /// White space, a control character, a backslash or a non-ASCII character at `offset`.
    ForbiddenCharacter { offset: usize, what: &'static str },
    /// Not an absolute `scheme://host…` URL, or a part written in a form we do not accept.
    Malformed { why: &'static str },
    /// A scheme other than `https` and `http`.
    Scheme { scheme: String },
    /// Plain `http` to a host that is not loopback.
    PlainHttp { host: String },
    /// A user name or password before the host.
    Userinfo,
    /// A `#fragment`.
    Fragment,
    /// A host that normalization would rewrite (percent-encoding, numeric IPv4 forms,
    /// non-canonical IPv6), so the host called would not be the host written.
    NonCanonicalHost { host: String },
    /// A host that is neither a Talkdesk host nor a configured extra host.
    HostNotAllowed { host: String },
    /// An allowed host on a port it may not be called on.
    PortNotAllowed { host: String, port: u16 },
    /// An account name that breaks the rule in [`AccountName`](super::AccountName).
    AccountName { why: &'static str },
    /// A path segment that would not stay one segment (see [`TalkdeskUrl::join_path`](super::TalkdeskUrl::join_path)).
    PathSegment { segment: String },
    /// An allowed host that is the wrong kind for the link it is in.
    WrongHost { expected: &'static str },
    /// An allowed host, but not the path the contract names for this link.
    WrongPath { expected: &'static str },
    /// A Talkdesk ID host of another account.
    AccountMismatch { host: String },
    /// A Talkdesk ID host of another region than the event's.
    RegionMismatch { host: String },
    /// The token URL cannot be derived: the gateway is not a known region's and the event has
    /// no `_links.tokens`.
    NoRegion,
    /// The error is in this event link.
    Link {
        link: &'static str,
        cause: Box<HostError>,
    },
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::TooLong { len } => {
                write!(f, "the URL is {len} bytes long, more than {MAX_URL_LEN}")
            }
            HostError::ForbiddenCharacter { offset, what } => {
                write!(f, "the URL holds {what} at byte {offset}")
            }
            HostError::Malformed { why } => write!(f, "the URL is malformed: {why}"),
            HostError::Scheme { scheme } => {
                write!(f, "the scheme {scheme} is not allowed (only https)", scheme = quoted(scheme))
            }
            HostError::PlainHttp { host } => {
                write!(f, "plain http to {host} is not allowed (only to loopback)", host = quoted(host))
            }
            HostError::Userinfo => f.write_str("the URL holds a user name or password"),
            HostError::Fragment => f.write_str("the URL holds a fragment"),
            HostError::NonCanonicalHost { host } => {
                write!(f, "the host {host} is not written in canonical form", host = quoted(host))
            }
            HostError::HostNotAllowed { host } => {
                write!(f, "the host {host} is not an allowed Talkdesk host", host = quoted(host))
            }
            HostError::PortNotAllowed { host, port } => {
                write!(f, "the host {host} may not be called on port {port}", host = quoted(host))
            }
            HostError::AccountName { why } => write!(f, "the account name {why}"),
            HostError::PathSegment { segment } => {
                write!(f, "the path segment {segment} would not stay one segment", segment = quoted(segment))
            }
            HostError::WrongHost { expected } => write!(f, "the link is not on {expected}"),
            HostError::WrongPath { expected } => write!(f, "the link's path is not {expected}"),
            HostError::AccountMismatch { host } => {
                write!(f, "the host {host} belongs to another account", host = quoted(host))
            }
            HostError::RegionMismatch { host } => {
                write!(f, "the host {host} is in another region than the event", host = quoted(host))
            }
            HostError::NoRegion => f.write_str(
                "the event's region is unknown and it has no _links.tokens to take the token URL from",
            ),
            HostError::Link { link, cause } => write!(f, "{link}: {cause}"),
        }
    }
}

impl std::error::Error for HostError {}

/// At most [`MAX_ECHO`] characters of hostile input, with `…` when cut.
pub(super) fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_ECHO).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
