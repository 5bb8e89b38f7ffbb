//! The settings of the partner's side: signed webhooks to its backend (`PARTNER_WEBHOOK_URL`,
//! `PARTNER_WEBHOOK_SECRET`, `ALLOW_LOCAL_WEBHOOKS`), which hooks the worker runs
//! (`PARTNER_HOOKS`) and whether every install waits for a person (`MANUAL_PROVISIONING`).

use super::{err, ConfigError};
use crate::secret::SecretBytes;
use crate::weburl::Ip;

pub const PARTNER_WEBHOOK_URL: &str = "PARTNER_WEBHOOK_URL";
pub const PARTNER_WEBHOOK_SECRET: &str = "PARTNER_WEBHOOK_SECRET";
pub const ALLOW_LOCAL_WEBHOOKS: &str = "ALLOW_LOCAL_WEBHOOKS";
pub const PARTNER_HOOKS: &str = "PARTNER_HOOKS";
pub const MANUAL_PROVISIONING: &str = "MANUAL_PROVISIONING";

/// Where the partner's backend gets signed webhooks, and the secrets that sign them.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    /// The `whsec_` secrets, decoded, newest first: every webhook is signed with each, so the
    /// receiver can rotate (two valid at once).
    pub secrets: Vec<SecretBytes>,
}

/// Which hooks (`lifecycle::hooks::Hooks`) the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HooksChoice {
    /// No partner code: approve every installation.
    None,
    /// The example in `core/src/partner/example.rs`.
    Example,
}

/// The partner settings, checked.
#[derive(Debug, Clone)]
pub struct PartnerSettings {
    pub webhooks: Option<WebhookConfig>,
    pub hooks: HooksChoice,
    pub manual_provisioning: bool,
}

pub(super) fn parse(
    get: &dyn Fn(&'static str) -> Option<String>,
) -> Result<PartnerSettings, ConfigError> {
    let allow_local = flag(get, ALLOW_LOCAL_WEBHOOKS)?;
    let webhooks = match get(PARTNER_WEBHOOK_URL) {
        None => None,
        Some(url) => {
            let url =
                check_url(url.trim(), allow_local).map_err(|p| err(PARTNER_WEBHOOK_URL, p))?;
            let secrets = match get(PARTNER_WEBHOOK_SECRET) {
                Some(v) => parse_secrets(&v).map_err(|p| err(PARTNER_WEBHOOK_SECRET, p))?,
                None => {
                    return Err(err(
                        PARTNER_WEBHOOK_SECRET,
                        "is required with PARTNER_WEBHOOK_URL",
                    ))
                }
            };
            Some(WebhookConfig { url, secrets })
        }
    };
    let hooks = match get(PARTNER_HOOKS).as_deref().map(str::trim) {
        None | Some("none") => HooksChoice::None,
        Some("example") => HooksChoice::Example,
        Some(_) => return Err(err(PARTNER_HOOKS, "must be none or example")),
    };
    Ok(PartnerSettings {
        webhooks,
        hooks,
        manual_provisioning: flag(get, MANUAL_PROVISIONING)?,
    })
}

fn flag(
    get: &dyn Fn(&'static str) -> Option<String>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::trim) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(err(name, "must be 0 or 1")),
    }
}

/// HTTPS to a public host; plain HTTP, loopback and private addresses only with
/// `ALLOW_LOCAL_WEBHOOKS=1` (local development and tests), so a setting cannot point the
/// worker's signed traffic at an internal service.
pub fn check_url(raw: &str, allow_local: bool) -> Result<String, String> {
    let url = match crate::weburl::Url::parse(raw) {
        Ok(url) => url,
        Err(crate::weburl::UrlError::Scheme) => return Err("must be https".into()),
        Err(crate::weburl::UrlError::Userinfo) => {
            return Err("must not carry credentials or a fragment".into())
        }
        Err(why) => return Err(format!("is not a valid URL: {why}")),
    };
    if url.fragment().is_some() {
        return Err("must not carry credentials or a fragment".into());
    }
    let host = url.host().trim_end_matches('.');
    let local = is_local_host(host);
    match (url.scheme(), local, allow_local) {
        ("https", false, _) => {}
        ("https" | "http", true, true) => {}
        (_, true, false) => return Err(
            "points at a loopback or private address (allowed only with ALLOW_LOCAL_WEBHOOKS=1)"
                .into(),
        ),
        _ => return Err("must be https".into()),
    }
    Ok(url.to_string())
}

/// Loopback, private, link-local, unspecified and `.local`/`localhost` names.
/// `host` is in the canonical form [`Url`](crate::weburl::Url) gives it.
fn is_local_host(host: &str) -> bool {
    match crate::weburl::ip(host) {
        Some(Ip::V4(v4)) => return is_local_v4(v4),
        Some(Ip::V6(p)) => {
            let mapped = p[..5] == [0; 5] && p[5] == 0xffff;
            let [c, d, e, f] = [p[6] >> 8, p[6] & 255, p[7] >> 8, p[7] & 255].map(|x| x as u8);
            return p == [0, 0, 0, 0, 0, 0, 0, 1] // loopback
                || p == [0; 8] // unspecified
                || (p[0] & 0xfe00) == 0xfc00 // unique local
                || (p[0] & 0xffc0) == 0xfe80 // link-local
                || (mapped && is_local_v4([c, d, e, f]));
        }
        None => {}
    }
    host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".local")
        || host.ends_with(".internal")
        || !host.contains('.')
}

/// Loopback, private (RFC 1918), link-local, unspecified, multicast, reserved and broadcast,
/// shared (100.64/10) and benchmarking (198.18/15) addresses.
fn is_local_v4([a, b, ..]: [u8; 4]) -> bool {
    a == 127
        || a == 10
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 169 && b == 254)
        || a == 0
        || a >= 224
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
}

/// `whsec_<base64>` secrets separated by commas, each 24 to 64 bytes.
pub fn parse_secrets(raw: &str) -> Result<Vec<SecretBytes>, String> {
    let mut out = Vec::new();
    for (i, part) in raw.split(',').map(str::trim).enumerate() {
        let b64 = part
            .strip_prefix("whsec_")
            .ok_or_else(|| format!("entry {} must start with whsec_", i + 1))?;
        use crate::crypto::base64::{decode, Alphabet, Padding};
        let bytes = decode(b64, Alphabet::Standard, Padding::Required)
            .ok_or_else(|| format!("entry {} is not base64 after whsec_", i + 1))?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(format!("entry {} must be 24 to 64 bytes", i + 1));
        }
        out.push(SecretBytes::new(bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_https_to_public_hosts_unless_local_ones_are_allowed() {
        assert!(check_url("https://hooks.example.com/talkdesk", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.0.9/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://localhost/x",
            "https://localhost./x",
            "https://0.1.2.3/x",
            "https://198.18.0.1/x",
            "https://printer.local/x",
            "https://intranet/x",
            "https://user:pw@hooks.example.com/x",
            "ftp://hooks.example.com/x",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000/hooks", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/x", true).is_err());
    }

    #[test]
    fn local_addresses_are_the_ones_std_classifies_as_such() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let std_v4 = |v4: Ipv4Addr| {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
        };
        for a in 0..=255u8 {
            for b in [
                0, 1, 15, 16, 31, 32, 63, 64, 127, 128, 167, 168, 253, 254, 255,
            ] {
                for cd in [[0, 0], [0, 1], [255, 255]] {
                    let v4 = Ipv4Addr::new(a, b, cd[0], cd[1]);
                    assert_eq!(is_local_host(&v4.to_string()), std_v4(v4), "{v4}");
                    let mapped = v4.to_ipv6_mapped().segments();
                    let host = format!("[::ffff:{:x}:{:x}]", mapped[6], mapped[7]);
                    assert_eq!(is_local_host(&host), std_v4(v4), "{host}");
                }
            }
        }
        for (v6, local) in [
            ("::1", true),
            ("::", true),
            ("fc00::1", true),
            ("fdff::1", true),
            ("fe80::1", true),
            ("febf::1", true),
            ("fec0::1", false),
            ("2001:db8::1", false),
            ("::2", false),
        ] {
            let parsed: Ipv6Addr = v6.parse().unwrap();
            assert_eq!(is_local_host(&format!("[{v6}]")), local, "{v6}");
            assert_eq!(
                crate::weburl::ip(&format!("[{v6}]")),
                Some(Ip::V6(parsed.segments()))
            );
        }
    }

    #[test]
    fn secrets_are_whsec_base64_and_two_may_be_valid_while_rotating() {
        let one = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let two = "whsec_c2Vjb25kLXNlY3JldC1vZi10d2VudHktZm91ci1ieXRlcw==";
        assert_eq!(parse_secrets(one).unwrap().len(), 1);
        assert_eq!(parse_secrets(&format!("{two},{one}")).unwrap().len(), 2);
        assert!(parse_secrets("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(parse_secrets("whsec_!!!").is_err());
        assert!(parse_secrets("whsec_c2hvcnQ=").is_err(), "too short");
    }
}
