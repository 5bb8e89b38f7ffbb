use super::super::endpoints::{LINK_AUTHORIZATION, LINK_ROOT, LINK_TOKENS};
use super::*;

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
        let e = resolve_endpoints(&Allowlist::default(), &acme(), &links(root, None)).unwrap_err();
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

#[test]
fn links_on_allowed_hosts_but_other_paths_are_refused() {
    for (root, tokens, authorization, link) in [
        (
            "https://api.talkdeskapp.com/anything",
            None,
            None,
            "_links.root",
        ),
        (
            "https://api.talkdeskapp.com/?x=1",
            None,
            None,
            "_links.root",
        ),
        (
            "https://api.talkdeskapp.com/",
            Some("https://acme.talkdeskid.com/"),
            None,
            "_links.tokens",
        ),
        (
            "https://api.talkdeskapp.com/",
            Some("https://acme.talkdeskid.com/oauth/token/x"),
            None,
            "_links.tokens",
        ),
        (
            "https://api.talkdeskapp.com/",
            None,
            Some("https://acme.talkdeskid.com/oauth/token"),
            "_links.authorization",
        ),
    ] {
        let e = resolve_endpoints(
            &Allowlist::default(),
            &acme(),
            &EventLinks {
                root,
                tokens,
                authorization,
            },
        )
        .unwrap_err();
        match e {
            HostError::Link { link: l, cause } => {
                assert_eq!(l, link, "{root} {tokens:?} {authorization:?}");
                assert!(matches!(*cause, HostError::WrongPath { .. }), "{cause:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
