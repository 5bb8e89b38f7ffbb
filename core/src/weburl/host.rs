//! The authority of a URL: its host in the form a WHATWG parser writes it, and its port.

use super::UrlError;

const NOT_A_HOST: UrlError = UrlError::Invalid("the host holds a character a host name cannot");

/// `host[:port]` split, the port read as a WHATWG parser reads it (leading zeros allowed, an
/// empty port is no port).
pub(super) fn split_authority(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(inside) => {
            let close = inside
                .find(']')
                .ok_or(UrlError::Invalid("an IPv6 host has no ']'"))?;
            let after = &inside[close + 1..];
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or(UrlError::Invalid("junk after an IPv6 host"))?,
                ),
            };
            (&authority[..close + 2], port)
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(port_number(p)?),
    };
    Ok((host, port))
}

fn port_number(text: &str) -> Result<u16, UrlError> {
    let mut value: u32 = 0;
    for b in text.bytes() {
        if !b.is_ascii_digit() {
            return Err(UrlError::Invalid("the port is not a number"));
        }
        value = value * 10 + u32::from(b - b'0');
        if value > 65535 {
            return Err(UrlError::Invalid("the port is out of range"));
        }
    }
    Ok(value as u16)
}

/// The host as a WHATWG parser serializes it: a name in lower case, an IPv4 address in dotted
/// decimal (whatever form it was written in), an IPv6 address compressed in brackets. Names
/// are ASCII letters, digits, `-` and `.` only: percent-encoding and Unicode, which the
/// parser would map, are refused.
pub(super) fn canonical(host: &str) -> Result<String, UrlError> {
    if host.is_empty() {
        return Err(UrlError::Invalid("it has no host"));
    }
    if let Some(inside) = host.strip_prefix('[') {
        let inside = inside.strip_suffix(']').ok_or(NOT_A_HOST)?;
        let pieces = ipv6(inside).ok_or(UrlError::Invalid("the host is not an IPv6 address"))?;
        return Ok(format!("[{}]", ipv6_text(&pieces)));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(NOT_A_HOST);
    }
    let host = host.to_ascii_lowercase();
    let punycode = host
        .split('.')
        .filter_map(|label| label.strip_prefix("xn--"));
    if punycode
        .clone()
        .any(|p| super::punycode::decode(p).is_none())
    {
        return Err(UrlError::Invalid(
            "the host has a label that is not valid punycode",
        ));
    }
    if !ends_in_a_number(&host) {
        return Ok(host);
    }
    let address = ipv4(&host).ok_or(UrlError::Invalid("the host is not an IPv4 address"))?;
    let [a, b, c, d] = address.to_be_bytes();
    Ok(format!("{a}.{b}.{c}.{d}"))
}

/// An IP address host, as [`canonical`] writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ip {
    V4([u8; 4]),
    V6([u16; 8]),
}

/// The address a canonical host names, when it is an IP address.
pub fn ip(host: &str) -> Option<Ip> {
    if let Some(inside) = host.strip_prefix('[') {
        return ipv6(inside.strip_suffix(']')?).map(Ip::V6);
    }
    // The same reading [`canonical`] gives a host (for a canonical one, its dotted octets).
    let v4 = ends_in_a_number(host).then(|| ipv4(host)).flatten()?;
    Some(Ip::V4(v4.to_be_bytes()))
}

/// WHATWG's test for a host to be read as IPv4: its last label (before a trailing dot) is
/// digits, or `0x` and hex digits.
fn ends_in_a_number(host: &str) -> bool {
    let trimmed = host.strip_suffix('.').filter(|t| !t.is_empty());
    let last = trimmed
        .unwrap_or(host)
        .rsplit('.')
        .next()
        .unwrap_or_default();
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())) || ipv4_number(last).is_some()
}

/// WHATWG's IPv4 parser: one to four numbers, each decimal, `0x` hex or `0` octal, the last
/// filling the bytes the others leave.
fn ipv4(host: &str) -> Option<u32> {
    let host = match host.strip_suffix('.') {
        Some(t) if !t.is_empty() => t,
        _ => host,
    };
    let mut numbers = Vec::with_capacity(4);
    for part in host.split('.') {
        numbers.push(ipv4_number(part)?);
    }
    let (last, init) = numbers.split_last()?;
    if numbers.len() > 4 || init.iter().any(|n| *n > 255) {
        return None;
    }
    let room = 1u64 << (8 * (5 - numbers.len()));
    if *last >= room {
        return None;
    }
    let mut address = *last;
    for (i, n) in init.iter().enumerate() {
        address += n << (8 * (3 - i));
    }
    u32::try_from(address).ok()
}

fn ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or(part.strip_prefix("0X")) {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let d = u64::from(c.to_digit(radix)?);
        value = value.saturating_mul(radix.into()).saturating_add(d);
    }
    Some(value)
}

/// Eight 16-bit pieces from hex groups with at most one `::`. An embedded IPv4 address is
/// refused: a WHATWG parser would rewrite it as hex.
fn ipv6(text: &str) -> Option<[u16; 8]> {
    fn groups(side: &str) -> Option<Vec<u16>> {
        if side.is_empty() {
            return Some(Vec::new());
        }
        let mut pieces = Vec::new();
        for g in side.split(':') {
            let ok = (1..=4).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_hexdigit());
            pieces.push(u16::from_str_radix(g, 16).ok().filter(|_| ok)?);
        }
        Some(pieces)
    }
    let mut pieces = [0u16; 8];
    match text.split_once("::") {
        Some((left, right)) => {
            let (left, right) = (groups(left)?, groups(right)?);
            if left.len() + right.len() > 7 {
                return None;
            }
            pieces[..left.len()].copy_from_slice(&left);
            pieces[8 - right.len()..].copy_from_slice(&right);
        }
        None => pieces.copy_from_slice(&groups(text).filter(|g| g.len() == 8)?),
    }
    Some(pieces)
}

/// WHATWG's IPv6 serializer: lower-case hex, the first longest run of two or more zero
/// pieces written as `::`.
fn ipv6_text(pieces: &[u16; 8]) -> String {
    let (mut best, mut best_len, mut i) = (None, 1, 0);
    while i < 8 {
        let run = pieces[i..].iter().take_while(|p| **p == 0).count();
        if run > best_len {
            (best, best_len) = (Some(i), run);
        }
        i += run.max(1);
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if Some(i) == best {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        out.push_str(&format!("{:x}", pieces[i]));
        if i != 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}
