use super::*;

#[test]
fn region_urls_are_the_documented_hosts() {
    let acme = acme();
    let api = |r: Region| r.api_root().map(|u| u.as_str().to_owned());
    assert_eq!(
        api(Region::Us).as_deref(),
        Some("https://api.talkdeskapp.com/")
    );
    assert_eq!(
        api(Region::Eu).as_deref(),
        Some("https://api.talkdeskapp.eu/")
    );
    assert_eq!(
        api(Region::Ca).as_deref(),
        Some("https://api.talkdeskappca.com/")
    );
    assert_eq!(api(Region::Au), None);
    let tokens = Region::ALL.map(|r| r.token_url(&acme).as_str().to_owned());
    assert_eq!(
        tokens,
        [
            "https://acme.talkdeskid.com/oauth/token",
            "https://acme.talkdeskid.eu/oauth/token",
            "https://acme.talkdeskidca.com/oauth/token",
            "https://acme.talkdeskid.au/oauth/token",
        ]
    );
    assert_eq!(
        Region::Eu.authorize_url(&acme).as_str(),
        "https://acme.talkdeskid.eu/oauth/authorize"
    );
}

#[test]
fn every_region_url_passes_the_allowlist_unchanged() {
    let allowlist = Allowlist::default();
    let longest = "z".repeat(MAX_ACCOUNT_NAME_LEN);
    for name in ["a", "0", "acme-", "a--b", longest.as_str()] {
        let account = AccountName::parse(name).unwrap();
        for region in Region::ALL {
            let urls = [
                Some(region.token_url(&account)),
                Some(region.authorize_url(&account)),
                region.api_root(),
            ];
            for url in urls.into_iter().flatten() {
                assert_eq!(allowlist.check(url.as_str()).unwrap(), url);
            }
        }
    }
}
