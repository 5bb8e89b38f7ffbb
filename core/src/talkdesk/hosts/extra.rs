//! The extra Talkdesk hosts a deployment may add (`TALKDESK_EXTRA_HOSTS`, for local development
//! and tests): their syntax and which ports they allow. The allowlist decides what they permit.

/// One `host[:port]` entry of `TALKDESK_EXTRA_HOSTS`. The host is lower-cased; whether plain
/// `http` may be used with it (loopback only) is the allowlist's decision, not the config's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    pub host: String,
    pub port: PortRule,
}

/// Which ports an extra host may be called on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRule {
    /// `host`: the scheme's default port only.
    Default,
    /// `host:8790`: that port only.
    Exact(u16),
    /// `host:*`: any port. Accepted for loopback hosts only (tests start servers on free ports).
    Any,
}

/// Parses `TALKDESK_EXTRA_HOSTS`: entries separated by commas; the error names the entry.
pub fn parse_extra_hosts(value: &str) -> Result<Vec<ExtraHost>, String> {
    let mut hosts = Vec::new();
    for (i, entry) in value.split(',').enumerate() {
        hosts.push(
            parse_extra_host(entry.trim())
                .map_err(|why| format!("entry {} is not host[:port]: {why}", i + 1))?,
        );
    }
    Ok(hosts)
}

fn parse_extra_host(entry: &str) -> Result<ExtraHost, &'static str> {
    if entry.is_empty() {
        return Err("it is empty");
    }
    // Bracketed IPv6 literal, e.g. `[::1]:8443`.
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("unclosed '['")?;
        if inside != "::1" {
            return Err("the only IPv6 literal allowed is [::1]");
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after ']'")?),
        };
        ("[::1]".to_owned(), port)
    } else {
        let (host, port) = match entry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        };
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if host.len() > 253 || !host.split('.').all(valid_label) {
            return Err("the host must be a DNS name or IPv4 address (letters, digits, '-', '.')");
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => PortRule::Default,
        Some("*") if is_loopback(&host) => PortRule::Any,
        Some("*") => return Err("any port ('*') is allowed for loopback hosts only"),
        Some(p) => {
            let n: u16 = p.parse().map_err(|_| "the port is not a number")?;
            if n == 0 || p.starts_with('0') {
                return Err("the port must be 1 to 65535");
            }
            PortRule::Exact(n)
        }
    };
    Ok(ExtraHost { host, port })
}

/// Loopback hosts: `localhost`, `127.0.0.0/8` and `[::1]`. Only these may be called over plain
/// `http` or on any port.
pub fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts[0] == "127"
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
}
