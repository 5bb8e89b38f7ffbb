//! The Talkdesk regions and the hosts each one serves (contract §1): the API gateway, and the
//! per-account Talkdesk ID hosts under the region's suffix.

use std::fmt;

use super::{AccountName, HostKind, TalkdeskUrl, AUTHORIZE_PATH, TOKEN_PATH};

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
    /// host is then learned from `_links.tokens` (see [`resolve_endpoints`](super::resolve_endpoints)). When Talkdesk
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
    pub(super) fn by_api_host(host: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.api_host() == Some(host))
    }

    /// The region and account of a Talkdesk ID host: exactly one valid account label followed
    /// by one region's suffix. `a.b.talkdeskid.com`, `talkdeskid.com` and
    /// `acme.talkdeskid.com.evil.com` are not ID hosts.
    pub(super) fn by_id_host(host: &str) -> Option<(Region, AccountName)> {
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
