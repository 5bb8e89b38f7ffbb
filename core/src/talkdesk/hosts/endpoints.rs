//! From an event's `_links` to an installation's endpoints: which link may point where, and
//! what is derived when a link is absent.

use super::error::excerpt;
use super::{
    AccountName, Allowlist, HostError, HostKind, Region, TalkdeskUrl, AUTHORIZE_PATH, TOKEN_PATH,
};

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
pub(super) const LINK_ROOT: &str = "_links.root";
pub(super) const LINK_TOKENS: &str = "_links.tokens";
pub(super) const LINK_AUTHORIZATION: &str = "_links.authorization";

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
    path_is(&api_root, "/", "the gateway's root `/`").map_err(in_link(LINK_ROOT))?;
    if api_root.as_url().query().is_some() {
        return Err(in_link(LINK_ROOT)(HostError::WrongPath {
            expected: "the gateway's root `/`, with no query",
        }));
    }
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
    // An allowed host is not enough: a signed assertion goes only to the token endpoint, and a
    // browser only to the authorize endpoint, at the paths the contract names.
    if let Some(url) = &tokens {
        path_is(url, TOKEN_PATH, TOKEN_PATH).map_err(in_link(LINK_TOKENS))?;
    }
    if let Some(url) = &authorization {
        path_is(url, AUTHORIZE_PATH, AUTHORIZE_PATH).map_err(in_link(LINK_AUTHORIZATION))?;
    }
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

/// The URL's path is exactly `path`.
fn path_is(url: &TalkdeskUrl, path: &str, expected: &'static str) -> Result<(), HostError> {
    if url.as_url().path() == path {
        Ok(())
    } else {
        Err(HostError::WrongPath { expected })
    }
}

fn in_link(link: &'static str) -> impl Fn(HostError) -> HostError {
    move |cause| HostError::Link {
        link,
        cause: Box::new(cause),
    }
}
