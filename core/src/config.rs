//! The worker's settings, read once per request at the top of `entry` and validated here.
//!
//! Each setting's name is a constant below; they match `wrangler.toml`, `.dev.vars.example` and
//! the README's table. A missing or malformed setting becomes a [`ConfigError`] that names the
//! setting and the rule it breaks, never the value (several settings are secrets).

use std::fmt;

use crate::crypto::keyring::SealingKeys;
use crate::secret::SecretString;
use crate::talkdesk::hosts::{parse_extra_hosts, Allowlist, ExtraHost};

/// Our app's id (var, required). Events for any other app are refused.
pub const TALKDESK_APP_ID: &str = "TALKDESK_APP_ID";
/// Extra allowed Talkdesk hosts, `host[:port]` separated by commas (var, optional).
pub const TALKDESK_EXTRA_HOSTS: &str = "TALKDESK_EXTRA_HOSTS";
/// The keys that seal secrets at rest (secret, required): `id:base64key[,id:base64key…]`.
pub const SEALING_KEY: &str = "SEALING_KEY";
/// The operator API's bearer token (secret, required).
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
/// The secret last segment of the callback URL, `/events/{CALLBACK_TOKEN}` (secret, required).
/// Talkdesk signs no event; only Talkdesk and the partner know the callback URL registered in
/// Partner Project, so this keeps everyone else's events out before they cost anything.
pub const CALLBACK_TOKEN: &str = "CALLBACK_TOKEN";

/// The worker's public origin, `https://app.example.com` (var, optional): single sign-on's
/// `redirect_uri` is this + `/oauth/callback`, and the app's forms post only to it. Without it
/// the sign-in pages say single sign-on is not configured.
pub const PUBLIC_BASE_URL: &str = "PUBLIC_BASE_URL";
/// Who may frame the app's pages (var, optional): CSP `frame-ancestors` sources separated by
/// spaces. Default [`DEFAULT_FRAME_ANCESTORS`].
pub const FRAME_ANCESTORS: &str = "FRAME_ANCESTORS";

/// Records per page of a bridge sync (var, optional, 1 to 1,000): overrides the integration
/// configuration's `page_size` (benchmarks compare page sizes with it).
pub const BRIDGE_PAGE_SIZE: &str = "BRIDGE_PAGE_SIZE";

/// The Workers plan the account runs on (var, optional): `paid` (the default) or `free`. It sets
/// the per-invocation budget the outbox stays within (`lifecycle::budget`).
pub const WORKERS_PLAN: &str = "WORKERS_PLAN";

pub mod partner;
pub use partner::{HooksChoice, PartnerSettings, WebhookConfig};

/// Which Workers plan's limits apply (Cloudflare's Workers and D1 limits pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkersPlan {
    Free,
    Paid,
}

/// The partner's own CRM REST backend for the bridge (var, optional): with it the bridge reads
/// from there (paths and fields in `integration/integration.json`'s `connector`) instead of D1.
pub const PARTNER_API_BASE_URL: &str = "PARTNER_API_BASE_URL";
/// Its bearer token (secret; required with `PARTNER_API_BASE_URL`).
pub const PARTNER_API_TOKEN: &str = "PARTNER_API_TOKEN";
/// The hosts it may be on, `host[:port]` as `TALKDESK_EXTRA_HOSTS` (var; required with
/// `PARTNER_API_BASE_URL`): bridge traffic can go nowhere else.
pub const PARTNER_API_HOSTS: &str = "PARTNER_API_HOSTS";
/// The one Talkdesk account whose CRM that backend is (var; required with
/// `PARTNER_API_BASE_URL`): other accounts' keys read their own D1 data, never that backend.
pub const PARTNER_API_ACCOUNT_ID: &str = "PARTNER_API_ACCOUNT_ID";

/// The app's name on its pages (var, optional, at most 60 characters). Default
/// [`DEFAULT_APP_NAME`].
pub const APP_NAME: &str = "APP_NAME";
pub const DEFAULT_APP_NAME: &str = "AppConnect app";

/// Inferred (Talkdesk documents no list): Talkdesk's web app runs on these hosts in each region
/// and may show the app in a frame.
pub const DEFAULT_FRAME_ANCESTORS: &str =
    "'self' https://*.mytalkdesk.com https://*.mytalkdesk.eu \
     https://*.mytalkdeskca.com https://*.mytalkdesk.au https://*.talkdeskapp.com";

/// Multiplies the lifecycle's retry backoff, waits and job lease time (var, optional, a number
/// in (0, 1], default 1). For local tests only, the way the simulator scales Talkdesk's retries.
pub const LIFECYCLE_TIME_SCALE: &str = "LIFECYCLE_TIME_SCALE";

/// `1` turns on the benchmark routes under `/__bench/` (var, optional). Never set it in
/// production: the routes burn CPU on request.
pub const BENCH_ENDPOINTS: &str = "BENCH_ENDPOINTS";

/// The shortest operator token accepted: a guessable token would expose every installation.
pub const ADMIN_TOKEN_MIN_LEN: usize = 24;
/// The shortest callback token accepted, for the same reason.
pub const CALLBACK_TOKEN_MIN_LEN: usize = 24;

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub app_id: AppId,
    pub extra_hosts: Vec<ExtraHost>,
    /// The built-in Talkdesk hosts plus `extra_hosts`.
    pub allowlist: Allowlist,
    pub sealing_keys: SealingKeys,
    pub admin_token: SecretString,
    pub callback_token: SecretString,
    pub bench_endpoints: bool,
    pub time_scale: f64,
    /// `PUBLIC_BASE_URL`, when set.
    pub public_base_url: Option<PublicBaseUrl>,
    /// `FRAME_ANCESTORS`, checked: CSP source expressions separated by single spaces.
    pub frame_ancestors: String,
    /// `APP_NAME`.
    pub app_name: String,
    /// `BRIDGE_PAGE_SIZE`, when set.
    pub bridge_page_size: Option<u32>,
    /// The partner backend, when `PARTNER_API_BASE_URL` is set.
    pub partner_api: Option<PartnerApi>,
    /// `WORKERS_PLAN`.
    pub plan: WorkersPlan,
    /// Webhooks, hooks and manual provisioning.
    pub partner: PartnerSettings,
}

/// The partner's CRM backend settings, checked: its base URL is on its own allowlist.
#[derive(Debug, Clone)]
pub struct PartnerApi {
    /// The Talkdesk account the backend belongs to.
    pub account_id: String,
    pub base_url: String,
    pub token: SecretString,
    pub hosts: Allowlist,
}

/// A setting that is missing or breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting's name, e.g. `SEALING_KEY`.
    pub setting: &'static str,
    /// What is wrong, in words that never include the value.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {} {}", self.setting, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads every setting through `lookup` (the Worker environment in production, a map in
    /// tests). An empty or all-blank value counts as missing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or_else(|| err(name, "is missing"));

        let app_id = AppId::parse(&required(TALKDESK_APP_ID)?)?;
        let extra_hosts = match get(TALKDESK_EXTRA_HOSTS) {
            Some(v) => parse_extra_hosts(&v).map_err(|why| err(TALKDESK_EXTRA_HOSTS, why))?,
            None => Vec::new(),
        };
        let sealing_keys =
            SealingKeys::parse(&required(SEALING_KEY)?).map_err(|why| err(SEALING_KEY, why))?;
        let admin_token = required(ADMIN_TOKEN)?;
        if admin_token.trim() != admin_token {
            return Err(err(ADMIN_TOKEN, "has leading or trailing white space"));
        }
        if admin_token.chars().count() < ADMIN_TOKEN_MIN_LEN {
            return Err(err(
                ADMIN_TOKEN,
                format!("is shorter than {ADMIN_TOKEN_MIN_LEN} characters"),
            ));
        }
        let callback_token = required(CALLBACK_TOKEN)?;
        if callback_token.len() < CALLBACK_TOKEN_MIN_LEN
            || !callback_token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err(
                CALLBACK_TOKEN,
                format!(
                    "must be at least {CALLBACK_TOKEN_MIN_LEN} of letters, digits, '-' or '_' \
                     (it is a URL path segment)"
                ),
            ));
        }
        let bench_endpoints = match get(BENCH_ENDPOINTS).as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(err(BENCH_ENDPOINTS, "must be 0 or 1")),
        };
        let time_scale = match get(LIFECYCLE_TIME_SCALE) {
            None => 1.0,
            Some(v) => match decimal(v.trim()) {
                Some(x) if x > 0.0 && x <= 1.0 => x,
                _ => return Err(err(LIFECYCLE_TIME_SCALE, "must be a number in (0, 1]")),
            },
        };
        let public_base_url = get(PUBLIC_BASE_URL)
            .map(|v| PublicBaseUrl::parse(&v).map_err(|why| err(PUBLIC_BASE_URL, why)))
            .transpose()?;
        let frame_ancestors = match get(FRAME_ANCESTORS) {
            None => DEFAULT_FRAME_ANCESTORS.to_owned(),
            Some(v) => frame_sources(&v).map_err(|why| err(FRAME_ANCESTORS, why))?,
        };
        let app_name = match get(APP_NAME) {
            None => DEFAULT_APP_NAME.to_owned(),
            Some(v) if v.chars().count() <= 60 && !v.chars().any(char::is_control) => {
                v.trim().to_owned()
            }
            Some(_) => {
                return Err(err(
                    APP_NAME,
                    "must be at most 60 characters with no control characters",
                ))
            }
        };
        let bridge_page_size = match get(BRIDGE_PAGE_SIZE) {
            None => None,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => Some(n),
                _ => return Err(err(BRIDGE_PAGE_SIZE, "must be a number from 1 to 1000")),
            },
        };
        let plan = match get(WORKERS_PLAN).as_deref().map(str::trim) {
            None | Some("paid") => WorkersPlan::Paid,
            Some("free") => WorkersPlan::Free,
            Some(_) => return Err(err(WORKERS_PLAN, "must be paid or free")),
        };
        let partner_api = match get(PARTNER_API_BASE_URL) {
            None => None,
            Some(base) => {
                let hosts = Allowlist::new(
                    &parse_extra_hosts(&required(PARTNER_API_HOSTS)?)
                        .map_err(|why| err(PARTNER_API_HOSTS, why))?,
                );
                hosts
                    .check(base.trim())
                    .map_err(|why| err(PARTNER_API_BASE_URL, format!("is refused: {why}")))?;
                Some(PartnerApi {
                    account_id: required(PARTNER_API_ACCOUNT_ID)?.trim().to_owned(),
                    base_url: base.trim().to_owned(),
                    token: SecretString::new(required(PARTNER_API_TOKEN)?),
                    hosts,
                })
            }
        };
        let partner = partner::parse(&get)?;
        Ok(Config {
            app_id,
            allowlist: Allowlist::new(&extra_hosts),
            extra_hosts,
            sealing_keys,
            admin_token: SecretString::new(admin_token),
            callback_token: SecretString::new(callback_token),
            bench_endpoints,
            time_scale,
            public_base_url,
            frame_ancestors,
            app_name,
            bridge_page_size,
            partner_api,
            plan,
            partner,
        })
    }
}

/// Our app's id as Talkdesk issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppId(String);

impl AppId {
    pub fn parse(value: &str) -> Result<AppId, ConfigError> {
        let ok = (1..=128).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if ok {
            Ok(AppId(value.to_owned()))
        } else {
            Err(err(
                TALKDESK_APP_ID,
                "must be 1 to 128 characters of letters, digits, '.', '-' or '_'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The worker's public origin (`PUBLIC_BASE_URL`): `https://host[:port]` with no path, or plain
/// `http` on a loopback host for local development. Kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

impl PublicBaseUrl {
    pub fn parse(value: &str) -> Result<PublicBaseUrl, String> {
        let trimmed = value.trim().trim_end_matches('/');
        let url = match crate::weburl::Url::parse(trimmed) {
            Ok(url) => url,
            Err(crate::weburl::UrlError::Scheme) => {
                return Err("must be https (plain http only on a loopback host)".into())
            }
            Err(crate::weburl::UrlError::Userinfo) => {
                return Err("must not hold a user name or password".into())
            }
            Err(crate::weburl::UrlError::NotAbsolute) => {
                return Err("is not an absolute URL".into())
            }
            Err(why) => return Err(format!("is not a valid URL: {why}")),
        };
        let scheme_ok = url.scheme() == "https"
            || (url.scheme() == "http" && crate::talkdesk::hosts::is_loopback(url.host()));
        if !scheme_ok {
            return Err("must be https (plain http only on a loopback host)".into());
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err("must be an origin only, with no path, query or fragment".into());
        }
        // `Url` writes the origin back in canonical form (lower-case host, no default port).
        Ok(PublicBaseUrl(url.origin().to_owned()))
    }

    /// The origin, e.g. `https://app.example.com`.
    pub fn origin(&self) -> &str {
        &self.0
    }

    /// Single sign-on's `redirect_uri`, as registered in Partner Project.
    pub fn redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.0)
    }

    /// An absolute URL of the app's own `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// Checks `FRAME_ANCESTORS`: each source is `'self'`, `'none'`, an `https://` host (optionally
/// `*.`-prefixed, with a port), or plain `http://` to a loopback host (local tests); nothing
/// that could end the CSP directive early.
fn frame_sources(value: &str) -> Result<String, String> {
    let host_ok = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
    };
    let sources: Vec<&str> = value.split_whitespace().collect();
    if sources.is_empty() {
        return Err("is empty".into());
    }
    for (i, source) in sources.iter().enumerate() {
        let ok = match *source {
            "'self'" | "'none'" => true,
            s => match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
                (Some(h), _) => host_ok(h.strip_prefix("*.").unwrap_or(h)),
                (_, Some(h)) => {
                    host_ok(h)
                        && crate::talkdesk::hosts::is_loopback(h.split(':').next().unwrap_or(h))
                }
                _ => false,
            },
        };
        if !ok {
            return Err(format!(
                "source {} is not 'self', 'none', https://[*.]host or http://<loopback>",
                i + 1
            ));
        }
    }
    Ok(sources.join(" "))
}

/// A decimal number as written in a setting (`0.01`, `1`, `.5`, `5e-3`, `+1`), of at most 15
/// digits. Not
/// `str::parse::<f64>`: its exact algorithm carries a table of powers of five into the wasm
/// (about 8 KB of gzip) for a setting that needs two or three digits.
fn decimal(s: &str) -> Option<f64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], s[at + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || int.bytes().chain(frac.bytes());
    // Up to 15 digits are an exact integer in an f64, so one division by an exact power of ten
    // rounds correctly (`0.3` is 3 / 10, not 3 × 0.1).
    let count = int.len() + frac.len();
    if !(1..=15).contains(&count) || !digits().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let m = digits().fold(0.0f64, |m, b| m * 10.0 + f64::from(b - b'0'));
    let scale = exponent.checked_sub(i32::try_from(frac.len()).ok()?)?;
    Some(if scale < 0 {
        m / 10f64.powi(-scale)
    } else {
        m * 10f64.powi(scale)
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
