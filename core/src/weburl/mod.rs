//! Absolute `http`/`https` URLs, read strictly, and form-urlencoding.
//!
//! The worker only ever calls, stores or redirects to URLs of one shape:
//! `scheme://host[:port]/path[?query][#fragment]`. [`Url::parse`] accepts exactly the URLs of
//! that shape that a WHATWG parser (browsers, `fetch`, the runtime) would read as written,
//! and refuses the rest instead of repairing them: white space, control characters,
//! backslashes, non-ASCII, `scheme:host` without `//`, userinfo, `.` and `..` path segments, a
//! host a WHATWG parser would rewrite other than by case, and the characters it would
//! percent-encode. So what is checked is what is sent: an accepted URL's text
//! ([`Url::as_str`]) is the WHATWG serialization of its input, which the tests check against
//! the `url` crate on every case. (The `url` crate is not used at run time: a general WHATWG
//! parser with IDNA costs about 15 KB of gzip in the wasm, README "Figures".)

pub mod form;
mod host;
pub use host::{ip, Ip};
mod punycode;

use std::fmt;

/// Why [`Url::parse`] refused a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// It does not start with a scheme and `:`.
    NotAbsolute,
    /// It has a scheme, and it is neither `http` nor `https`.
    Scheme,
    /// It holds a user name or password (`user:pass@host`).
    Userinfo,
    /// Anything else, with the reason.
    Invalid(&'static str),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::NotAbsolute => f.write_str("it is not an absolute URL"),
            UrlError::Scheme => f.write_str("it is not an http or https URL"),
            UrlError::Userinfo => f.write_str("it holds a user name or password"),
            UrlError::Invalid(why) => f.write_str(why),
        }
    }
}

/// An absolute `http` or `https` URL in its WHATWG serialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    text: String,
    /// Where the host ends (a `:port` or the path follows).
    host_end: usize,
    path_start: usize,
    /// The `?` and `#` positions, when there is a query or a fragment.
    query_start: Option<usize>,
    fragment_start: Option<usize>,
    /// The port when it is not the scheme's default.
    port: Option<u16>,
}

/// Characters a WHATWG parser would percent-encode in each part; [`Url::parse`] refuses them
/// there, so it never has to rewrite what it accepts. `^` is in the path's set since 2025
/// (browsers and the runtime encode it; the `url` crate 2.5 does not yet).
const PATH_ENCODED: &[u8] = b"\"<>`{}^";
const QUERY_ENCODED: &[u8] = b"\"<>'";
const FRAGMENT_ENCODED: &[u8] = b"\"<>`";

impl Url {
    pub fn parse(raw: &str) -> Result<Url, UrlError> {
        let invalid = |why| Err(UrlError::Invalid(why));
        if raw.bytes().any(|b| !b.is_ascii_graphic() || b == b'\\') {
            return invalid(
                "it holds white space, a control character, a backslash or a non-ASCII character",
            );
        }
        let Some((scheme, rest)) = raw.split_once(':').filter(|(s, _)| is_scheme(s)) else {
            return Err(UrlError::NotAbsolute);
        };
        let https = scheme.eq_ignore_ascii_case("https");
        if !https && !scheme.eq_ignore_ascii_case("http") {
            return Err(UrlError::Scheme);
        }
        let Some(rest) = rest.strip_prefix("//") else {
            return invalid("it does not start with scheme://");
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        let (host, port) = host::split_authority(authority)?;
        let host = host::canonical(host)?;
        let default = if https { 443 } else { 80 };
        let port = port.filter(|p| *p != default);

        let (before_fragment, fragment) = match rest.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (rest, None),
        };
        let (path, query) = match before_fragment.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (before_fragment, None),
        };
        check_part(
            path,
            PATH_ENCODED,
            "the path holds a character that must be percent-encoded",
        )?;
        if path.split('/').any(is_dot_segment) {
            return invalid("the path has a . or .. segment");
        }
        if let Some(q) = query {
            check_part(
                q,
                QUERY_ENCODED,
                "the query holds a character that must be percent-encoded",
            )?;
        }
        if let Some(f) = fragment {
            check_part(
                f,
                FRAGMENT_ENCODED,
                "the fragment holds a character that must be percent-encoded",
            )?;
        }

        let mut origin = String::with_capacity(raw.len() + 1);
        origin.push_str(if https { "https://" } else { "http://" });
        origin.push_str(&host);
        let host_end = origin.len();
        if let Some(p) = port {
            origin.push(':');
            origin.push_str(&p.to_string());
        }
        let path = if path.is_empty() { "/" } else { path };
        Ok(Url::assemble(origin, host_end, port, path, query, fragment))
    }

    /// A URL from its origin (`scheme://host[:port]`, the host ending at `host_end`) and the
    /// rest, each part already checked or encoded.
    fn assemble(
        mut text: String,
        host_end: usize,
        port: Option<u16>,
        path: &str,
        query: Option<&str>,
        fragment: Option<&str>,
    ) -> Url {
        let path_start = text.len();
        text.push_str(path);
        let mut mark = |c: char, part: &str| {
            let at = text.len();
            text.push(c);
            text.push_str(part);
            at
        };
        let query_start = query.map(|q| mark('?', q));
        let fragment_start = fragment.map(|f| mark('#', f));
        Url {
            text,
            host_end,
            path_start,
            query_start,
            fragment_start,
            port,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &str {
        let colon = self.text.find(':').unwrap_or_default();
        &self.text[..colon]
    }

    /// The host in canonical form: lower case, IPv4 dotted, IPv6 in brackets.
    pub fn host(&self) -> &str {
        &self.text[self.scheme().len() + 3..self.host_end]
    }

    /// The port when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn port_or_default(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme() == "https" { 443 } else { 80 })
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.text[..self.path_start]
    }

    /// The path, always starting with `/`.
    pub fn path(&self) -> &str {
        let end = self
            .query_start
            .or(self.fragment_start)
            .unwrap_or(self.text.len());
        &self.text[self.path_start..end]
    }

    pub fn path_segments(&self) -> std::str::Split<'_, char> {
        self.path().strip_prefix('/').unwrap_or_default().split('/')
    }

    pub fn query(&self) -> Option<&str> {
        let start = self.query_start? + 1;
        Some(&self.text[start..self.fragment_start.unwrap_or(self.text.len())])
    }

    pub fn fragment(&self) -> Option<&str> {
        Some(&self.text[self.fragment_start? + 1..])
    }

    /// The same origin with `path` (which starts with `/` and needs no encoding), no query and
    /// no fragment.
    pub fn with_path(&self, path: &str) -> Url {
        self.rebuilt(path, None, None)
    }

    /// The path with a trailing empty segment dropped and then `segments` appended, each
    /// percent-encoded so that it stays one segment; the query and fragment are kept. The
    /// caller refuses empty, `.` and `..` segments and control characters first
    /// (`TalkdeskUrl::join_path`), since no encoding keeps those as data.
    pub(crate) fn with_segments(&self, segments: &[&str]) -> Url {
        if segments.is_empty() {
            return self.clone();
        }
        let old = self.path();
        let mut path = old.strip_suffix('/').unwrap_or(old).to_owned();
        // As the url crate does: what is left of a root path takes no separator.
        if path == "/" {
            path.clear();
        }
        for s in segments {
            path.push('/');
            form::encode_segment(s, &mut path);
        }
        self.rebuilt(&path, self.query(), self.fragment())
    }

    /// `pairs` appended to the query, form-urlencoded (`&` between them and after an existing
    /// non-empty query).
    pub fn with_query_pairs(&self, pairs: &[(&str, &str)]) -> Url {
        let mut query = self.query().unwrap_or_default().to_owned();
        for (k, v) in pairs {
            form::append_pair(&mut query, k, v);
        }
        self.rebuilt(self.path(), Some(&query), self.fragment())
    }

    fn rebuilt(&self, path: &str, query: Option<&str>, fragment: Option<&str>) -> Url {
        let origin = self.origin().to_owned();
        Url::assemble(origin, self.host_end, self.port, path, query, fragment)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The path and query of a URL the runtime handed over (already in WHATWG form), without
/// judging it: `scheme://authority` is skipped, the fragment dropped.
pub fn request_target(url: &str) -> (&str, Option<&str>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let start = rest.find(['/', '?']).unwrap_or(rest.len());
    let target = &rest[start..];
    match target.split_once('?') {
        Some((path, query)) => (if path.is_empty() { "/" } else { path }, Some(query)),
        None => (if target.is_empty() { "/" } else { target }, None),
    }
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn check_part(part: &str, encoded: &[u8], why: &'static str) -> Result<(), UrlError> {
    match part.bytes().any(|b| encoded.contains(&b)) {
        true => Err(UrlError::Invalid(why)),
        false => Ok(()),
    }
}

/// `.` and `..`, also written with `%2e`: a WHATWG parser resolves them.
fn is_dot_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    let dots = lower.replace("%2e", ".");
    matches!(dots.as_str(), "." | "..")
}

#[cfg(test)]
mod tests;
