//! [`TalkdeskUrl`]: a URL known to be on an allowed host, and the few ways to derive another
//! one from it that keep its origin.

use std::fmt;

use crate::weburl::Url;
use serde::Serialize;

use super::error::excerpt;
use super::{AccountName, HostError, Region};

/// What kind of allowed host a [`TalkdeskUrl`] is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// A region's API gateway.
    Api(Region),
    /// An account's Talkdesk ID host.
    Id {
        region: Region,
        account: AccountName,
    },
    /// A host from `TALKDESK_EXTRA_HOSTS` (local development, tests, or a gateway the contract
    /// does not list yet).
    Extra,
}

/// A URL on an allowed Talkdesk host. There is no public constructor: it comes from
/// [`Allowlist::check`](super::Allowlist::check) or a [`Region`] helper, and every method that derives a new one keeps
/// the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkdeskUrl {
    url: Url,
    kind: HostKind,
}

impl TalkdeskUrl {
    /// For URLs we build from constants and an [`AccountName`]; both are validated, so the parse
    /// cannot fail (the tests build every region with the extreme account names).
    pub(super) fn built_in(raw: &str, kind: HostKind) -> TalkdeskUrl {
        let url = Url::parse(raw).expect("a built-in Talkdesk URL with a valid account name");
        TalkdeskUrl { url, kind }
    }

    /// For a URL that [`Allowlist::check`](super::Allowlist::check) has just found to be on an
    /// allowed host of `kind`; the allowlist is the only caller.
    pub(super) fn checked(url: Url, kind: HostKind) -> TalkdeskUrl {
        TalkdeskUrl { url, kind }
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The parsed URL, read-only (for the fetch adapter and request builders).
    pub fn as_url(&self) -> &Url {
        &self.url
    }

    /// The normalized host: lower-case, IPv6 in brackets.
    pub fn host(&self) -> &str {
        self.url.host()
    }

    /// `scheme://host[:port]`, the port only when it is not the scheme's default.
    pub fn origin(&self) -> String {
        self.url.origin().to_owned()
    }

    pub fn kind(&self) -> &HostKind {
        &self.kind
    }

    /// This URL with `segments` appended to its path, each percent-encoded as one segment: `/`,
    /// `\`, `?`, `#` and `%` inside a segment are encoded, so a segment can neither add segments
    /// nor leave the path. The query, if any, is kept.
    ///
    /// An empty segment, `.`, `..` or one holding a control character is refused: the URL
    /// parser would drop the first kind and resolve the others (browsers and `fetch` decode
    /// `%2e%2e` as `..` too), so there is no encoding that keeps them as data.
    pub fn join_path(&self, segments: &[&str]) -> Result<TalkdeskUrl, HostError> {
        if let Some(bad) = segments.iter().find(|s| !is_safe_segment(s)) {
            return Err(HostError::PathSegment {
                segment: excerpt(bad),
            });
        }
        Ok(TalkdeskUrl {
            url: self.url.with_segments(segments),
            kind: self.kind.clone(),
        })
    }

    /// This URL with `pairs` appended to its query, form-urlencoded. An empty list leaves the URL
    /// as it is.
    pub fn with_query(&self, pairs: &[(&str, &str)]) -> TalkdeskUrl {
        if pairs.is_empty() {
            return self.clone();
        }
        TalkdeskUrl {
            url: self.url.with_query_pairs(pairs),
            kind: self.kind.clone(),
        }
    }

    /// The same origin with its path replaced by `path` (a constant) and no query.
    pub(super) fn with_path(&self, path: &str) -> TalkdeskUrl {
        TalkdeskUrl {
            url: self.url.with_path(path),
            kind: self.kind.clone(),
        }
    }
}

fn is_safe_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..") && !segment.chars().any(char::is_control)
}

impl fmt::Display for TalkdeskUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored as its text. There is deliberately no `Deserialize`: a stored URL goes back through
/// [`Allowlist::check`](super::Allowlist::check), so narrowing the allowlist also covers what was stored before.
impl Serialize for TalkdeskUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
