use super::*;

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
    let cases: [(&str, IsExpected); 15] = [
        (
            "FTP://api.talkdeskapp.com/",
            |e| matches!(e, HostError::Scheme { scheme } if scheme == "ftp"),
        ),
        (
            "https://api.talkdeskapp.com/{}",
            |e| matches!(e, HostError::Malformed { why } if why.contains("percent-encoded")),
        ),
        (
            "https://api.talkdeskapp.com/a/../b",
            |e| matches!(e, HostError::Malformed { why } if why.contains(".. segment")),
        ),
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
