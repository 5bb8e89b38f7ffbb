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
//! constant or function below, with the reason in its doc comment.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

mod extra;
pub use extra::{is_loopback, parse_extra_hosts, ExtraHost, PortRule};

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

/// A Talkdesk region. Each has its own API gateway and Talkdesk ID domain (contract §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    Us,
    Eu,
    Ca,
    Au,
}

impl Region {
    /// Every region, in the contract's order.
    pub const ALL: [Region; 4] = [Region::Us, Region::Eu, Region::Ca, Region::Au];

    /// A short lower-case code (`us`, `eu`, `ca`, `au`) for logs and storage.
    pub fn code(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::Ca => "ca",
            Region::Au => "au",
        }
    }

    /// The host of the region's API gateway (what `_links.root` points at).
    ///
    /// AU's gateway is not documented (contract §1, §7), so it is `None`: an AU installation
    /// works when its `_links.root` host has been added to `TALKDESK_EXTRA_HOSTS`, and its token
    /// host is then learned from `_links.tokens` (see [`resolve_endpoints`]). When Talkdesk
    /// documents the host, add it here and nowhere else.
    pub fn api_host(self) -> Option<&'static str> {
        match self {
            Region::Us => Some("api.talkdeskapp.com"),
            Region::Eu => Some("api.talkdeskapp.eu"),
            Region::Ca => Some("api.talkdeskappca.com"),
            Region::Au => None,
        }
    }

    /// The domain under which each account has its own Talkdesk ID host,
    /// `{account_name}.{suffix}` (tokens and single sign-on).
    pub fn id_host_suffix(self) -> &'static str {
        match self {
            Region::Us => "talkdeskid.com",
            Region::Eu => "talkdeskid.eu",
            Region::Ca => "talkdeskidca.com",
            Region::Au => "talkdeskid.au",
        }
    }

    /// The API gateway root, `https://{api_host}/`; `None` where the host is not documented.
    pub fn api_root(self) -> Option<TalkdeskUrl> {
        self.api_host()
            .map(|host| TalkdeskUrl::built_in(&format!("https://{host}/"), HostKind::Api(self)))
    }

    /// The account's token endpoint, `https://{account}.{suffix}/oauth/token`.
    pub fn token_url(self, account: &AccountName) -> TalkdeskUrl {
        self.id_url(account, TOKEN_PATH)
    }

    /// The account's authorization endpoint, `https://{account}.{suffix}/oauth/authorize`.
    pub fn authorize_url(self, account: &AccountName) -> TalkdeskUrl {
        self.id_url(account, AUTHORIZE_PATH)
    }

    fn id_url(self, account: &AccountName, path: &str) -> TalkdeskUrl {
        let raw = format!(
            "https://{}.{}{path}",
            account.as_str(),
            self.id_host_suffix()
        );
        TalkdeskUrl::built_in(
            &raw,
            HostKind::Id {
                region: self,
                account: account.clone(),
            },
        )
    }

    /// The region whose API gateway `url` is on; `None` for configured extra hosts and for
    /// Talkdesk ID hosts.
    pub fn from_api_root(url: &TalkdeskUrl) -> Option<Region> {
        match url.kind() {
            HostKind::Api(region) => Some(*region),
            _ => None,
        }
    }

    /// The region whose API gateway is `host` (already normalized).
    fn by_api_host(host: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.api_host() == Some(host))
    }

    /// The region and account of a Talkdesk ID host: exactly one valid account label followed
    /// by one region's suffix. `a.b.talkdeskid.com`, `talkdeskid.com` and
    /// `acme.talkdeskid.com.evil.com` are not ID hosts.
    fn by_id_host(host: &str) -> Option<(Region, AccountName)> {
        let (label, rest) = host.split_once('.')?;
        let region = Region::ALL
            .into_iter()
            .find(|r| r.id_host_suffix() == rest)?;
        Some((region, AccountName::parse(label).ok()?))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A Talkdesk account name, safe to put in a host name as one DNS label.
///
/// The contract's rule is `^[a-z0-9][a-z0-9-]*$` (§1), at most [`MAX_ACCOUNT_NAME_LEN`]
/// characters. We also refuse the `xn--` prefix: such a label is punycode, which the URL parser
/// decodes and validates, so it could name a look-alike host or fail to parse at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(value: &str) -> Result<AccountName, HostError> {
        let why = if value.is_empty() {
            Some("is empty")
        } else if value.len() > MAX_ACCOUNT_NAME_LEN {
            Some("is longer than 63 characters")
        } else if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Some("may hold only lower-case letters, digits and '-'")
        } else if value.starts_with('-') {
            Some("must start with a lower-case letter or a digit")
        } else if value.starts_with("xn--") {
            Some("must not start with 'xn--' (punycode)")
        } else {
            None
        };
        match why {
            None => Ok(AccountName(value.to_owned())),
            Some(why) => Err(HostError::AccountName { why }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountName {
    type Error = HostError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountName::parse(&value)
    }
}

impl From<AccountName> for String {
    fn from(name: AccountName) -> String {
        name.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
/// [`Allowlist::check`] or a [`Region`] helper, and every method that derives a new one keeps
/// the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkdeskUrl {
    url: Url,
    kind: HostKind,
}

impl TalkdeskUrl {
    /// For URLs we build from constants and an [`AccountName`]; both are validated, so the parse
    /// cannot fail (the tests build every region with the extreme account names).
    fn built_in(raw: &str, kind: HostKind) -> TalkdeskUrl {
        let url = Url::parse(raw).expect("a built-in Talkdesk URL with a valid account name");
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
        // Only http(s) URLs with a host get past the allowlist.
        self.url.host_str().unwrap_or_default()
    }

    /// `scheme://host[:port]`, the port only when it is not the scheme's default.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
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
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|()| HostError::Malformed {
                why: "the URL cannot have a path",
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(TalkdeskUrl {
            url,
            kind: self.kind.clone(),
        })
    }

    /// This URL with `pairs` appended to its query, form-urlencoded. An empty list leaves the URL
    /// as it is.
    pub fn with_query(&self, pairs: &[(&str, &str)]) -> TalkdeskUrl {
        let mut url = self.url.clone();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        TalkdeskUrl {
            url,
            kind: self.kind.clone(),
        }
    }

    /// The same origin with its path replaced by `path` (a constant) and no query.
    fn with_path(&self, path: &str) -> TalkdeskUrl {
        let mut url = self.url.clone();
        url.set_path(path);
        url.set_query(None);
        TalkdeskUrl {
            url,
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
/// [`Allowlist::check`], so narrowing the allowlist also covers what was stored before.
impl Serialize for TalkdeskUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The hosts the worker may call: the built-in Talkdesk hosts (see [`Region`]) plus the extra
/// hosts from configuration. `Allowlist::default()` holds the built-in hosts only (production).
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    extra: Vec<ExtraHost>,
}

impl Allowlist {
    pub fn new(extra: &[ExtraHost]) -> Allowlist {
        Allowlist {
            extra: extra.to_vec(),
        }
    }

    /// Parses `raw` and returns it if, and only if, it is a URL the worker may call:
    ///
    /// - `https` on the default port to a region's API gateway or to `{account}.{ID suffix}`;
    /// - or a configured extra host, exactly, on a port its [`PortRule`] allows, over `https`
    ///   (or plain `http` when the host is loopback, see [`http_allowed`]);
    /// - with no userinfo and no fragment, written in canonical form (see the module doc).
    pub fn check(&self, raw: &str) -> Result<TalkdeskUrl, HostError> {
        if raw.len() > MAX_URL_LEN {
            return Err(HostError::TooLong { len: raw.len() });
        }
        check_characters(raw)?;
        let url = Url::parse(raw).map_err(|_| HostError::Malformed {
            why: "it is not an absolute URL",
        })?;
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return Err(HostError::Scheme {
                scheme: excerpt(scheme),
            });
        }
        let written = WrittenAuthority::split(raw, scheme)?;
        // Defence in depth: `WrittenAuthority::split` already refused any '@'.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HostError::Userinfo);
        }
        if url.fragment().is_some() {
            return Err(HostError::Fragment);
        }
        let host = url.host_str().ok_or(HostError::Malformed {
            why: "it has no host",
        })?;
        if !written.host.eq_ignore_ascii_case(host) {
            return Err(HostError::NonCanonicalHost {
                host: excerpt(written.host),
            });
        }
        if let Some(p) = written.port {
            if url
                .port_or_known_default()
                .map(|n| n.to_string())
                .as_deref()
                != Some(p)
            {
                return Err(HostError::Malformed {
                    why: "the port is not written as a plain number",
                });
            }
        }
        let kind = self.classify(&url, host)?;
        Ok(TalkdeskUrl { url, kind })
    }

    /// Which allowed host `url` is on, or why it is on none. Built-in hosts win over an extra
    /// entry for the same host, so they keep their region.
    fn classify(&self, url: &Url, host: &str) -> Result<HostKind, HostError> {
        let https = url.scheme() == "https";
        let default_port = url.port().is_none();
        let built_in = Region::by_api_host(host).map(HostKind::Api).or_else(|| {
            Region::by_id_host(host).map(|(region, account)| HostKind::Id { region, account })
        });
        if let (Some(kind), true, true) = (&built_in, https, default_port) {
            return Ok(kind.clone());
        }
        let port = url.port_or_known_default().unwrap_or_default();
        let entries: Vec<&ExtraHost> = self
            .extra
            .iter()
            .filter(|e| e.host.eq_ignore_ascii_case(host))
            .collect();
        if entries.is_empty() && built_in.is_none() {
            return Err(HostError::HostNotAllowed {
                host: excerpt(host),
            });
        }
        if !https && !http_allowed(host) {
            return Err(HostError::PlainHttp {
                host: excerpt(host),
            });
        }
        if entries
            .iter()
            .any(|e| port_allowed(e.port, default_port, port))
        {
            return Ok(HostKind::Extra);
        }
        Err(HostError::PortNotAllowed {
            host: excerpt(host),
            port,
        })
    }
}

/// Plain `http` is allowed to loopback hosts only (the simulator and `wrangler dev`); anything
/// that leaves the machine must be `https`.
pub fn http_allowed(host: &str) -> bool {
    is_loopback(host)
}

/// Whether an extra host's port rule admits `port` (`default` = no port written, or the
/// scheme's default written out).
fn port_allowed(rule: PortRule, default: bool, port: u16) -> bool {
    match rule {
        PortRule::Default => default,
        PortRule::Exact(p) => p == port,
        PortRule::Any => true,
    }
}

/// Refuses white space, control characters, backslashes and anything outside printable ASCII.
/// The URL parser silently drops tabs and newlines, trims spaces, turns `\` into `/` and maps
/// Unicode look-alikes (full-width dots, soft hyphens) onto ASCII, so each of these could make
/// the URL that is called differ from the one that was checked by eye or by a log reader.
fn check_characters(raw: &str) -> Result<(), HostError> {
    match raw
        .char_indices()
        .find(|(_, c)| !c.is_ascii_graphic() || *c == '\\')
    {
        None => Ok(()),
        Some((offset, c)) => Err(HostError::ForbiddenCharacter {
            offset,
            what: if c == '\\' {
                "a backslash"
            } else if c.is_whitespace() {
                "white space"
            } else if c.is_control() {
                "a control character"
            } else {
                "a non-ASCII character"
            },
        }),
    }
}

/// The authority exactly as written in the raw input, before any normalization.
struct WrittenAuthority<'a> {
    host: &'a str,
    port: Option<&'a str>,
}

impl<'a> WrittenAuthority<'a> {
    /// Splits `scheme://host[:port]` off `raw`, whose scheme the URL parser read as `scheme`.
    /// Refuses `https:host` and `https:///host` (which the parser repairs), userinfo, an
    /// empty host, and host characters that normalization would rewrite (`%`, non-ASCII).
    fn split(raw: &'a str, scheme: &str) -> Result<WrittenAuthority<'a>, HostError> {
        let malformed = |why| HostError::Malformed { why };
        let (written_scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| malformed("it does not start with scheme://"))?;
        if !written_scheme.eq_ignore_ascii_case(scheme) {
            return Err(malformed("it does not start with scheme://"));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.contains('@') {
            return Err(HostError::Userinfo);
        }
        let (host, port) = if authority.starts_with('[') {
            let close = authority
                .find(']')
                .ok_or_else(|| malformed("an IPv6 host has no ']'"))?;
            let (host, after) = authority.split_at(close + 1);
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| malformed("junk after an IPv6 host"))?,
                ),
            };
            let inside_ok = host[1..host.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !inside_ok {
                return Err(HostError::NonCanonicalHost {
                    host: excerpt(host),
                });
            }
            (host, port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            if !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                return Err(HostError::NonCanonicalHost {
                    host: excerpt(host),
                });
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(malformed("it has no host"));
        }
        if let Some(p) = port {
            let plain = (1..=5).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && !p.starts_with('0');
            if !plain {
                return Err(malformed("the port is not written as a plain number"));
            }
        }
        Ok(WrittenAuthority { host, port })
    }
}

/// The raw `href`s of an event's `_links` that name endpoints, exactly as received.
///
/// Which link names Talkdesk uses for the token and authorization endpoints is a known unknown
/// (contract §7); the event parser maps them onto these fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventLinks<'a> {
    /// `_links.root.href`: the API gateway.
    pub root: &'a str,
    /// `_links.tokens.href`, when present.
    pub tokens: Option<&'a str>,
    /// `_links.authorization.href`, when present.
    pub authorization: Option<&'a str>,
}

/// An installation's endpoints, each validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The region, when known: from the API gateway's host, or else from a Talkdesk ID link.
    /// `None` when every link is on a configured extra host (tests, local development).
    pub region: Option<Region>,
    pub api_root: TalkdeskUrl,
    pub token_url: TalkdeskUrl,
    pub authorize_url: TalkdeskUrl,
}

/// Names of the links, for error messages.
const LINK_ROOT: &str = "_links.root";
const LINK_TOKENS: &str = "_links.tokens";
const LINK_AUTHORIZATION: &str = "_links.authorization";

/// Validates an event's endpoint links against the allowlist and the event's account:
///
/// - `root` must be an allowed API host: a region's gateway, or a configured extra host.
/// - `tokens` and `authorization`, when present, must be allowed and be either the Talkdesk ID
///   host of `account` (of the same region as the gateway; when the gateway is an extra host,
///   the two links must agree on one region), or, only when the gateway is itself an extra host,
///   a configured extra host.
/// - An absent `tokens` is derived from the region ([`Region::token_url`]); without a region
///   (every link on extra hosts) it must be present.
/// - An absent `authorization` is [`AUTHORIZE_PATH`] on the token URL's origin (see
///   [`derive_authorize_url`]).
pub fn resolve_endpoints(
    allowlist: &Allowlist,
    account: &AccountName,
    links: &EventLinks<'_>,
) -> Result<Endpoints, HostError> {
    let api_root = allowlist.check(links.root).map_err(in_link(LINK_ROOT))?;
    let mut region = match api_root.kind() {
        HostKind::Api(region) => Some(*region),
        HostKind::Extra => None,
        HostKind::Id { .. } => {
            return Err(in_link(LINK_ROOT)(HostError::WrongHost {
                expected: "a Talkdesk API gateway",
            }))
        }
    };
    let root_is_extra = region.is_none();
    let mut id_link = |name: &'static str, href: Option<&str>| {
        href.map(|href| {
            check_id_link(allowlist, account, href, root_is_extra, &mut region)
                .map_err(in_link(name))
        })
        .transpose()
    };
    let tokens = id_link(LINK_TOKENS, links.tokens)?;
    let authorization = id_link(LINK_AUTHORIZATION, links.authorization)?;
    let token_url = match tokens {
        Some(url) => url,
        None => region.ok_or(HostError::NoRegion)?.token_url(account),
    };
    let authorize_url = authorization.unwrap_or_else(|| derive_authorize_url(&token_url));
    Ok(Endpoints {
        region,
        api_root,
        token_url,
        authorize_url,
    })
}

/// One Talkdesk ID link (`tokens` or `authorization`) of an event for `account`. `region` is
/// the region known so far; the first ID host fixes it when the gateway did not.
///
/// Inferred policy (contract §7): Talkdesk ID serves both endpoints on the account's own host in
/// the account's region, so a link to another account, another region or the API gateway is a
/// forged or broken event. Extra hosts are accepted only beside an extra-host gateway, so a real
/// Talkdesk event cannot send an assertion to a development host.
fn check_id_link(
    allowlist: &Allowlist,
    account: &AccountName,
    href: &str,
    root_is_extra: bool,
    region: &mut Option<Region>,
) -> Result<TalkdeskUrl, HostError> {
    let url = allowlist.check(href)?;
    match url.kind() {
        HostKind::Id {
            region: link_region,
            account: link_account,
        } => {
            if link_account != account {
                return Err(HostError::AccountMismatch {
                    host: excerpt(url.host()),
                });
            }
            match *region {
                Some(known) if known != *link_region => {
                    return Err(HostError::RegionMismatch {
                        host: excerpt(url.host()),
                    })
                }
                _ => *region = Some(*link_region),
            }
        }
        HostKind::Extra if root_is_extra => {}
        HostKind::Extra | HostKind::Api(_) => {
            return Err(HostError::WrongHost {
                expected: "the account's Talkdesk ID host",
            })
        }
    }
    Ok(url)
}

/// Inferred (contract §5, §7): the authorization endpoint sits beside the token endpoint on the
/// same Talkdesk ID host. For a built-in ID host this is exactly [`Region::authorize_url`].
pub fn derive_authorize_url(token_url: &TalkdeskUrl) -> TalkdeskUrl {
    token_url.with_path(AUTHORIZE_PATH)
}

fn in_link(link: &'static str) -> impl Fn(HostError) -> HostError {
    move |cause| HostError::Link {
        link,
        cause: Box::new(cause),
    }
}

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
    /// An account name that breaks the rule in [`AccountName`].
    AccountName { why: &'static str },
    /// A path segment that would not stay one segment (see [`TalkdeskUrl::join_path`]).
    PathSegment { segment: String },
    /// An allowed host that is the wrong kind for the link it is in.
    WrongHost { expected: &'static str },
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
                write!(f, "the scheme {scheme:?} is not allowed (only https)")
            }
            HostError::PlainHttp { host } => {
                write!(f, "plain http to {host:?} is not allowed (only to loopback)")
            }
            HostError::Userinfo => f.write_str("the URL holds a user name or password"),
            HostError::Fragment => f.write_str("the URL holds a fragment"),
            HostError::NonCanonicalHost { host } => {
                write!(f, "the host {host:?} is not written in canonical form")
            }
            HostError::HostNotAllowed { host } => {
                write!(f, "the host {host:?} is not an allowed Talkdesk host")
            }
            HostError::PortNotAllowed { host, port } => {
                write!(f, "the host {host:?} may not be called on port {port}")
            }
            HostError::AccountName { why } => write!(f, "the account name {why}"),
            HostError::PathSegment { segment } => {
                write!(f, "the path segment {segment:?} would not stay one segment")
            }
            HostError::WrongHost { expected } => write!(f, "the link is not on {expected}"),
            HostError::AccountMismatch { host } => {
                write!(f, "the host {host:?} belongs to another account")
            }
            HostError::RegionMismatch { host } => {
                write!(f, "the host {host:?} is in another region than the event")
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
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_ECHO).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extra(host: &str, port: PortRule) -> ExtraHost {
        ExtraHost {
            host: host.into(),
            port,
        }
    }

    /// The allowlist of a development setup: the simulator on loopback, plus one https test host.
    fn dev_allowlist() -> Allowlist {
        Allowlist::new(&[
            extra("127.0.0.1", PortRule::Exact(8790)),
            extra("localhost", PortRule::Exact(8790)),
            extra("[::1]", PortRule::Any),
            extra("td.example.test", PortRule::Default),
        ])
    }

    fn acme() -> AccountName {
        AccountName::parse("acme").unwrap()
    }

    #[test]
    fn hostile_urls_are_all_refused() {
        let long = format!("https://api.talkdeskapp.com/{}", "a".repeat(MAX_URL_LEN));
        let hostile: Vec<&str> = vec![
            // look-alike hosts and suffixes
            "https://api.talkdeskapp.com.evil.com/",
            "https://api.talkdeskapp.co/",
            "https://evil-talkdeskapp.com/",
            "https://apitalkdeskapp.com/",
            "https://x.api.talkdeskapp.com/",
            "https://talkdeskid.com/oauth/token",
            "https://a.b.talkdeskid.com/oauth/token",
            "https://acme.talkdeskid.com.evil.com/oauth/token",
            "https://evil-talkdeskid.com/oauth/token",
            "https://acme.talkdeskid.co/oauth/token",
            "https://acme.talkdeskidca.eu/oauth/token",
            "https://acme.talkdeskid.au.evil/oauth/token",
            "https://-acme.talkdeskid.com/",
            "https://xn--80ak6aa92e.talkdeskid.com/",
            "https://api.talkdeskapp.com./",
            "https://acme.talkdeskid.com./oauth/token",
            "https://api.talkdeskapp.au/",
            "https://evil.example/",
            // userinfo
            "https://api.talkdeskapp.com@evil.example/",
            "https://user:pw@api.talkdeskapp.com/",
            "https://@api.talkdeskapp.com/",
            "https://api.talkdeskapp.com:443@evil.example/",
            // schemes
            "http://api.talkdeskapp.com/",
            "ftp://api.talkdeskapp.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,hi",
            "wss://api.talkdeskapp.com/",
            "https:api.talkdeskapp.com/",
            "https:/api.talkdeskapp.com/",
            "https:///api.talkdeskapp.com/",
            "//api.talkdeskapp.com/",
            "/apps/1",
            "",
            // ports
            "https://api.talkdeskapp.com:8443/",
            "https://api.talkdeskapp.com:80/",
            "https://api.talkdeskapp.com:0443/",
            "https://api.talkdeskapp.com:/",
            "https://acme.talkdeskid.com:444/oauth/token",
            "http://127.0.0.1:8791/",
            "http://127.0.0.1/",
            "http://localhost/",
            "https://td.example.test:8443/",
            // plain http off loopback, even to a configured host
            "http://td.example.test/",
            // IP literals in all forms
            "https://1.2.3.4/",
            "http://127.0.0.2:8790/",
            "http://2130706433:8790/",
            "http://0x7f.0.0.1:8790/",
            "http://0177.0.0.1:8790/",
            "http://127.1:8790/",
            "http://127.000.000.001:8790/",
            "http://[::ffff:127.0.0.1]:8790/",
            "http://[0:0:0:0:0:0:0:1]:8790/",
            "http://[::ffff:7f00:1]:8790/",
            "http://[fe80::1]:8790/",
            // percent-encoding, IDN and look-alike characters
            "https://api%2etalkdeskapp.com/",
            "https://%61pi.talkdeskapp.com/",
            "https://api.talkdeskаpp.com/",
            "https://api.xn--talkdeskpp-l2i.com/",
            "https://api\u{ff0e}talkdeskapp.com/",
            "https://\u{ff41}pi.talkdeskapp.com/",
            "https://api.talk\u{ad}deskapp.com/",
            "https://acme\u{3002}talkdeskid.com/",
            // fragments, backslashes, white space and control characters
            "https://api.talkdeskapp.com/#",
            "https://api.talkdeskapp.com/x#y",
            "https://evil.example\\@api.talkdeskapp.com/",
            "https://api.talkdeskapp.com\\@evil.example/",
            "https:\\\\api.talkdeskapp.com/",
            " https://api.talkdeskapp.com/",
            "https://api.talkdeskapp.com/ ",
            "https://api.talk\tdeskapp.com/",
            "https://api.talkdeskapp.com/\n",
            "https://api.talkdeskapp.com/\0",
            "https://evil.example\r\n.talkdeskid.com/",
            // over-long
            &long,
        ];
        assert!(hostile.len() >= 40);
        let allowlist = dev_allowlist();
        for raw in hostile {
            let result = allowlist.check(raw);
            assert!(result.is_err(), "{raw:?} was accepted as {result:?}");
        }
    }

    #[test]
    fn good_urls_are_accepted_with_their_normalized_form() {
        let allowlist = dev_allowlist();
        let good = [
            (
                "https://api.talkdeskapp.com",
                "https://api.talkdeskapp.com/",
            ),
            ("https://api.talkdeskapp.eu/", "https://api.talkdeskapp.eu/"),
            (
                "https://api.talkdeskappca.com/apps",
                "https://api.talkdeskappca.com/apps",
            ),
            (
                "https://api.talkdeskapp.com:443/x",
                "https://api.talkdeskapp.com/x",
            ),
            (
                "HTTPS://API.TalkdeskApp.COM/Apps?a=B",
                "https://api.talkdeskapp.com/Apps?a=B",
            ),
            (
                "https://acme.talkdeskid.com/oauth/token",
                "https://acme.talkdeskid.com/oauth/token",
            ),
            (
                "https://acme-2.talkdeskid.eu/oauth/token",
                "https://acme-2.talkdeskid.eu/oauth/token",
            ),
            (
                "https://42.talkdeskidca.com/oauth/authorize",
                "https://42.talkdeskidca.com/oauth/authorize",
            ),
            (
                "https://acme.talkdeskid.au/oauth/token",
                "https://acme.talkdeskid.au/oauth/token",
            ),
            (
                "http://localhost:8790/oauth/token",
                "http://localhost:8790/oauth/token",
            ),
            ("http://127.0.0.1:8790/x", "http://127.0.0.1:8790/x"),
            ("http://[::1]:45678/", "http://[::1]:45678/"),
            ("https://[::1]/", "https://[::1]/"),
            ("https://td.example.test/", "https://td.example.test/"),
            ("https://td.example.test:443/", "https://td.example.test/"),
        ];
        for (raw, normalized) in good {
            let url = allowlist
                .check(raw)
                .unwrap_or_else(|e| panic!("{raw:?} was refused: {e}"));
            assert_eq!(url.as_str(), normalized);
        }
    }

    #[test]
    fn built_in_hosts_are_classified_by_region_and_account() {
        let allowlist = Allowlist::default();
        let url = allowlist.check("https://api.talkdeskapp.eu/").unwrap();
        assert_eq!(url.kind(), &HostKind::Api(Region::Eu));
        assert_eq!(Region::from_api_root(&url), Some(Region::Eu));
        let url = allowlist.check("https://acme.talkdeskidca.com/x").unwrap();
        assert_eq!(
            url.kind(),
            &HostKind::Id {
                region: Region::Ca,
                account: acme()
            }
        );
        assert_eq!(Region::from_api_root(&url), None);
    }

    #[test]
    fn an_extra_host_that_is_also_built_in_keeps_its_region() {
        let allowlist = Allowlist::new(&[extra("api.talkdeskapp.com", PortRule::Exact(8443))]);
        let url = allowlist.check("https://api.talkdeskapp.com/").unwrap();
        assert_eq!(url.kind(), &HostKind::Api(Region::Us));
        let url = allowlist
            .check("https://api.talkdeskapp.com:8443/")
            .unwrap();
        assert_eq!(url.kind(), &HostKind::Extra);
    }

    #[test]
    fn the_default_allowlist_refuses_loopback() {
        let allowlist = Allowlist::default();
        for raw in [
            "http://localhost:8790/",
            "https://127.0.0.1/",
            "https://[::1]/",
        ] {
            assert!(
                matches!(allowlist.check(raw), Err(HostError::HostNotAllowed { .. })),
                "{raw}"
            );
        }
    }

    #[test]
    fn extra_port_rules_are_honoured() {
        let allowlist = Allowlist::new(&[
            extra("localhost", PortRule::Default),
            extra("127.0.0.1", PortRule::Any),
            extra("[::1]", PortRule::Exact(443)),
        ]);
        assert!(allowlist.check("http://localhost/").is_ok());
        assert!(allowlist.check("http://localhost:80/").is_ok());
        assert!(allowlist.check("https://localhost/").is_ok());
        assert!(allowlist.check("http://localhost:8080/").is_err());
        assert!(allowlist.check("http://127.0.0.1:1/").is_ok());
        assert!(allowlist.check("http://127.0.0.1:65535/").is_ok());
        assert!(allowlist.check("https://[::1]/").is_ok());
        assert!(allowlist.check("https://[::1]:443/").is_ok());
        assert!(allowlist.check("http://[::1]/").is_err());
    }

    type IsExpected = fn(&HostError) -> bool;

    #[test]
    fn each_refusal_names_its_reason() {
        let a = dev_allowlist();
        let cases: [(&str, IsExpected); 12] = [
            ("ftp://api.talkdeskapp.com/", |e| {
                matches!(e, HostError::Scheme { .. })
            }),
            ("http://api.talkdeskapp.com/", |e| {
                matches!(e, HostError::PlainHttp { .. })
            }),
            ("https://u@api.talkdeskapp.com/", |e| {
                matches!(e, HostError::Userinfo)
            }),
            ("https://api.talkdeskapp.com/#x", |e| {
                matches!(e, HostError::Fragment)
            }),
            ("http://2130706433:8790/", |e| {
                matches!(e, HostError::NonCanonicalHost { .. })
            }),
            ("https://api%2etalkdeskapp.com/", |e| {
                matches!(e, HostError::NonCanonicalHost { .. })
            }),
            ("https://api.talkdeskаpp.com/", |e| {
                matches!(e, HostError::ForbiddenCharacter { offset: 20, .. })
            }),
            ("https://api.talkdeskapp.com:8443/", |e| {
                matches!(e, HostError::PortNotAllowed { port: 8443, .. })
            }),
            ("https://api.talkdeskapp.com./", |e| {
                matches!(e, HostError::HostNotAllowed { .. })
            }),
            ("https://a\\b/", |e| {
                matches!(
                    e,
                    HostError::ForbiddenCharacter {
                        what: "a backslash",
                        ..
                    }
                )
            }),
            ("https:api.talkdeskapp.com", |e| {
                matches!(e, HostError::Malformed { .. })
            }),
            ("https://api.talkdeskapp.com:+443/", |e| {
                matches!(e, HostError::Malformed { .. })
            }),
        ];
        for (raw, expected) in cases {
            let e = a.check(raw).unwrap_err();
            assert!(expected(&e), "{raw:?} gave {e:?}");
        }
    }

    #[test]
    fn errors_echo_at_most_a_hundred_characters_of_the_input() {
        let host = format!("{}.example", "x".repeat(300));
        let e = Allowlist::default()
            .check(&format!("https://{host}/"))
            .unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains(&"x".repeat(MAX_ECHO)));
        assert!(!shown.contains(&"x".repeat(MAX_ECHO + 1)), "{shown}");
        let e = Allowlist::default()
            .check(&format!("{}://h/", "s".repeat(500)))
            .unwrap_err();
        assert!(!e.to_string().contains(&"s".repeat(MAX_ECHO + 1)));
        let e = Allowlist::default().check(&"y".repeat(5000)).unwrap_err();
        assert!(!e.to_string().contains("yy"));
    }

    #[test]
    fn errors_escape_control_characters_they_echo() {
        let e = Region::Us
            .token_url(&acme())
            .join_path(&["a\nb"])
            .unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn hostile_account_names_are_refused() {
        let long = "a".repeat(MAX_ACCOUNT_NAME_LEN + 1);
        for bad in [
            "",
            "acme.evil",
            "acme.talkdeskid.com",
            "acme/x",
            "a@b",
            "Acme",
            "ACME",
            "..",
            ".",
            "-acme",
            " acme",
            "acme ",
            "ac me",
            "acme\n",
            "a%2eb",
            "acme_co",
            "acme:443",
            "ácme",
            "xn--80ak6aa92e",
            &long,
        ] {
            assert!(AccountName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn good_account_names_are_accepted() {
        let longest = "a".repeat(MAX_ACCOUNT_NAME_LEN);
        for good in ["acme", "a", "0", "123", "acme-2", "a--b", "acme-", &longest] {
            assert_eq!(AccountName::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn account_names_deserialize_only_when_valid() {
        let name: AccountName = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(name, acme());
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"acme\"");
        assert!(serde_json::from_str::<AccountName>("\"evil.com\"").is_err());
    }

    #[test]
    fn region_urls_are_the_documented_hosts() {
        let acme = acme();
        let api = |r: Region| r.api_root().map(|u| u.as_str().to_owned());
        assert_eq!(
            api(Region::Us).as_deref(),
            Some("https://api.talkdeskapp.com/")
        );
        assert_eq!(
            api(Region::Eu).as_deref(),
            Some("https://api.talkdeskapp.eu/")
        );
        assert_eq!(
            api(Region::Ca).as_deref(),
            Some("https://api.talkdeskappca.com/")
        );
        assert_eq!(api(Region::Au), None);
        let tokens = Region::ALL.map(|r| r.token_url(&acme).as_str().to_owned());
        assert_eq!(
            tokens,
            [
                "https://acme.talkdeskid.com/oauth/token",
                "https://acme.talkdeskid.eu/oauth/token",
                "https://acme.talkdeskidca.com/oauth/token",
                "https://acme.talkdeskid.au/oauth/token",
            ]
        );
        assert_eq!(
            Region::Eu.authorize_url(&acme).as_str(),
            "https://acme.talkdeskid.eu/oauth/authorize"
        );
    }

    #[test]
    fn every_region_url_passes_the_allowlist_unchanged() {
        let allowlist = Allowlist::default();
        let longest = "z".repeat(MAX_ACCOUNT_NAME_LEN);
        for name in ["a", "0", "acme-", "a--b", longest.as_str()] {
            let account = AccountName::parse(name).unwrap();
            for region in Region::ALL {
                let urls = [
                    Some(region.token_url(&account)),
                    Some(region.authorize_url(&account)),
                    region.api_root(),
                ];
                for url in urls.into_iter().flatten() {
                    assert_eq!(allowlist.check(url.as_str()).unwrap(), url);
                }
            }
        }
    }

    #[test]
    fn join_path_appends_each_segment_encoded() {
        let root = Region::Us.api_root().unwrap();
        let url = root
            .join_path(&["apps", "app 1", "installations", "i-9", "state"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.talkdeskapp.com/apps/app%201/installations/i-9/state"
        );
        let with_base = Allowlist::default()
            .check("https://api.talkdeskapp.com/v1/?k=v")
            .unwrap();
        assert_eq!(
            with_base.join_path(&["apps"]).unwrap().as_str(),
            "https://api.talkdeskapp.com/v1/apps?k=v"
        );
    }

    #[test]
    fn join_path_never_traverses_or_leaves_the_origin() {
        let root = Region::Us.api_root().unwrap();
        for segment in [
            "../x",
            "a/b",
            "a\\b",
            "..\\..\\x",
            "%2e%2e",
            ".%2e",
            "?x=1",
            "#frag",
            "//evil.example",
            "@evil.example",
            "http://evil.example/",
            "...",
        ] {
            let url = root.join_path(&["apps", segment, "state"]).unwrap();
            assert_eq!(url.origin(), "https://api.talkdeskapp.com", "{segment}");
            assert_eq!(url.host(), "api.talkdeskapp.com");
            assert_eq!(url.as_url().path_segments().unwrap().count(), 3, "{url}");
            assert_eq!(url.as_url().query(), None, "{url}");
            assert_eq!(url.as_url().fragment(), None, "{url}");
            // What the fetch adapter sends parses back to the same URL.
            assert_eq!(Url::parse(url.as_str()).unwrap(), *url.as_url());
        }
        assert_eq!(
            root.join_path(&["a/b", "../x"]).unwrap().as_str(),
            "https://api.talkdeskapp.com/a%2Fb/..%2Fx"
        );
    }

    #[test]
    fn join_path_refuses_segments_the_parser_would_resolve_or_drop() {
        let root = Region::Us.api_root().unwrap();
        for segment in ["", ".", "..", ".\t.", "a\nb", "\r"] {
            assert!(
                matches!(
                    root.join_path(&["apps", segment]),
                    Err(HostError::PathSegment { .. })
                ),
                "{segment:?}"
            );
        }
    }

    #[test]
    fn with_query_encodes_pairs_and_keeps_the_origin() {
        let url = Region::Us
            .authorize_url(&acme())
            .with_query(&[("redirect_uri", "https://app/cb?x=1#f"), ("state", "a&b=c")]);
        assert_eq!(
            url.as_str(),
            "https://acme.talkdeskid.com/oauth/authorize?redirect_uri=https%3A%2F%2Fapp%2Fcb%3Fx%3D1%23f&state=a%26b%3Dc"
        );
        assert_eq!(url.origin(), "https://acme.talkdeskid.com");
        assert_eq!(url.with_query(&[]), url);
    }

    #[test]
    fn talkdesk_urls_serialize_as_their_text() {
        let url = Region::Ca.token_url(&acme());
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            "\"https://acme.talkdeskidca.com/oauth/token\""
        );
        assert_eq!(url.to_string(), url.as_str());
    }

    fn links<'a>(root: &'a str, tokens: Option<&'a str>) -> EventLinks<'a> {
        EventLinks {
            root,
            tokens,
            authorization: None,
        }
    }

    #[test]
    fn endpoints_are_derived_from_the_region_when_links_are_absent() {
        let allowlist = Allowlist::default();
        for (root, region, tokens) in [
            (
                "https://api.talkdeskapp.com",
                Region::Us,
                "https://acme.talkdeskid.com/oauth/token",
            ),
            (
                "https://api.talkdeskapp.eu/",
                Region::Eu,
                "https://acme.talkdeskid.eu/oauth/token",
            ),
            (
                "https://api.talkdeskappca.com/",
                Region::Ca,
                "https://acme.talkdeskidca.com/oauth/token",
            ),
        ] {
            let e = resolve_endpoints(&allowlist, &acme(), &links(root, None)).unwrap();
            assert_eq!(e.region, Some(region));
            assert_eq!(e.api_root, region.api_root().unwrap());
            assert_eq!(e.token_url.as_str(), tokens);
            assert_eq!(e.authorize_url, region.authorize_url(&acme()));
        }
    }

    #[test]
    fn a_tokens_link_on_the_accounts_own_id_host_is_used() {
        let e = resolve_endpoints(
            &Allowlist::default(),
            &acme(),
            &EventLinks {
                root: "https://api.talkdeskapp.eu/",
                tokens: Some("https://acme.talkdeskid.eu/oauth/token?v=2"),
                authorization: Some("https://acme.talkdeskid.eu/oauth/authorize"),
            },
        )
        .unwrap();
        assert_eq!(
            e.token_url.as_str(),
            "https://acme.talkdeskid.eu/oauth/token?v=2"
        );
        assert_eq!(e.authorize_url, Region::Eu.authorize_url(&acme()));
    }

    #[test]
    fn a_tokens_link_on_another_accounts_or_regions_host_is_refused() {
        let allowlist = dev_allowlist();
        for (tokens, expected) in [
            (
                "https://other.talkdeskid.com/oauth/token",
                "AccountMismatch",
            ),
            ("https://acme.talkdeskid.eu/oauth/token", "RegionMismatch"),
            ("https://acme.talkdeskid.au/oauth/token", "RegionMismatch"),
            ("https://api.talkdeskapp.com/oauth/token", "WrongHost"),
            ("http://localhost:8790/oauth/token", "WrongHost"),
            ("https://evil.example/oauth/token", "HostNotAllowed"),
            ("https://acme.talkdeskid.com@evil.example/", "Userinfo"),
        ] {
            let e = resolve_endpoints(
                &allowlist,
                &acme(),
                &links("https://api.talkdeskapp.com/", Some(tokens)),
            )
            .unwrap_err();
            let HostError::Link { link, cause } = &e else {
                panic!("{tokens}: {e:?}")
            };
            assert_eq!(*link, LINK_TOKENS);
            assert!(
                format!("{cause:?}").starts_with(expected),
                "{tokens}: {e:?}"
            );
        }
    }

    #[test]
    fn an_authorization_link_is_held_to_the_same_rules_as_tokens() {
        let e = resolve_endpoints(
            &Allowlist::default(),
            &acme(),
            &EventLinks {
                root: "https://api.talkdeskapp.com/",
                tokens: None,
                authorization: Some("https://evil.talkdeskid.com/oauth/authorize"),
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "_links.authorization: the host \"evil.talkdeskid.com\" belongs to another account"
        );
    }

    #[test]
    fn a_root_link_off_the_allowlist_or_on_an_id_host_is_refused() {
        for root in [
            "https://evil.example/",
            "https://acme.talkdeskid.com/",
            "http://api.talkdeskapp.com/",
        ] {
            let e =
                resolve_endpoints(&Allowlist::default(), &acme(), &links(root, None)).unwrap_err();
            assert!(
                matches!(
                    &e,
                    HostError::Link {
                        link: LINK_ROOT,
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_simulator_on_loopback_supplies_every_endpoint() {
        let e = resolve_endpoints(
            &dev_allowlist(),
            &acme(),
            &links(
                "http://127.0.0.1:8790/",
                Some("http://localhost:8790/oauth/token"),
            ),
        )
        .unwrap();
        assert_eq!(e.region, None);
        assert_eq!(e.api_root.as_str(), "http://127.0.0.1:8790/");
        assert_eq!(e.token_url.as_str(), "http://localhost:8790/oauth/token");
        assert_eq!(
            e.authorize_url.as_str(),
            "http://localhost:8790/oauth/authorize"
        );
    }

    #[test]
    fn an_extra_gateway_without_a_tokens_link_has_no_token_url() {
        let e = resolve_endpoints(
            &dev_allowlist(),
            &acme(),
            &links("http://127.0.0.1:8790/", None),
        )
        .unwrap_err();
        assert_eq!(e, HostError::NoRegion);
    }

    #[test]
    fn an_au_gateway_from_config_takes_its_region_from_the_tokens_link() {
        let allowlist = Allowlist::new(&[extra("api.talkdeskapp.au", PortRule::Default)]);
        let e = resolve_endpoints(
            &allowlist,
            &acme(),
            &links(
                "https://api.talkdeskapp.au/",
                Some("https://acme.talkdeskid.au/oauth/token"),
            ),
        )
        .unwrap();
        assert_eq!(e.region, Some(Region::Au));
        assert_eq!(e.authorize_url, Region::Au.authorize_url(&acme()));
        let mixed = resolve_endpoints(
            &allowlist,
            &acme(),
            &EventLinks {
                root: "https://api.talkdeskapp.au/",
                tokens: Some("https://acme.talkdeskid.au/oauth/token"),
                authorization: Some("https://acme.talkdeskid.com/oauth/authorize"),
            },
        )
        .unwrap_err();
        assert!(
            matches!(&mixed, HostError::Link { link: LINK_AUTHORIZATION, cause } if matches!(**cause, HostError::RegionMismatch { .. })),
            "{mixed:?}"
        );
    }
}
