//! [`Allowlist::check`]: the one gate every href from an event or from storage passes, and the
//! checks of the authority exactly as it was written.

use super::error::excerpt;
use super::{
    is_loopback, ExtraHost, HostError, HostKind, PortRule, Region, TalkdeskUrl, MAX_URL_LEN,
};
use crate::weburl::{Url, UrlError};

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
        let scheme = raw.split_once(':').map_or("", |(s, _)| s);
        let parsed = Url::parse(raw);
        match parsed {
            Err(UrlError::Scheme) => {
                return Err(HostError::Scheme {
                    scheme: excerpt(&scheme.to_ascii_lowercase()),
                })
            }
            Err(UrlError::NotAbsolute) => {
                return Err(HostError::Malformed {
                    why: "it is not an absolute URL",
                })
            }
            _ => {}
        }
        // The authority as written is judged before the parse's verdict, so a refusal names
        // what is wrong with it rather than only that the text is not a URL.
        let written = WrittenAuthority::split(raw, scheme)?;
        let url = parsed.map_err(|e| HostError::Malformed {
            why: match e {
                UrlError::Invalid(why) => why,
                _ => "it is not an absolute URL",
            },
        })?;
        if url.fragment().is_some() {
            return Err(HostError::Fragment);
        }
        let host = url.host();
        if !written.host.eq_ignore_ascii_case(host) {
            return Err(HostError::NonCanonicalHost {
                host: excerpt(written.host),
            });
        }
        if let Some(p) = written.port {
            if url.port_or_default().to_string() != p {
                return Err(HostError::Malformed {
                    why: "the port is not written as a plain number",
                });
            }
        }
        let kind = self.classify(&url, host)?;
        Ok(TalkdeskUrl::checked(url, kind))
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
        let port = url.port_or_default();
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
    /// Splits `scheme://host[:port]` off `raw`, whose scheme is written as `scheme`.
    /// Refuses `https:host` and `https:///host` (which a WHATWG parser repairs), userinfo, an
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
