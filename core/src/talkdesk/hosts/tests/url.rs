use ::url::Url;

use super::*;

#[test]
fn join_path_appends_each_segment_encoded() {
    let root = Region::Us.api_root().unwrap();
    let url = root
        .join_path(&["apps", "app 1", "installations", "i-9", "state"])
        .unwrap();
    assert_eq!(
        url.as_str(),
        "https://api.talkdeskapp.com/apps/app%201/installations/i-9/state"
    );
    let with_base = Allowlist::default()
        .check("https://api.talkdeskapp.com/v1/?k=v")
        .unwrap();
    assert_eq!(
        with_base.join_path(&["apps"]).unwrap().as_str(),
        "https://api.talkdeskapp.com/v1/apps?k=v"
    );
}

#[test]
fn join_path_never_traverses_or_leaves_the_origin() {
    let root = Region::Us.api_root().unwrap();
    for segment in [
        "../x",
        "a/b",
        "a\\b",
        "..\\..\\x",
        "%2e%2e",
        ".%2e",
        "?x=1",
        "#frag",
        "//evil.example",
        "@evil.example",
        "http://evil.example/",
        "...",
    ] {
        let url = root.join_path(&["apps", segment, "state"]).unwrap();
        assert_eq!(url.origin(), "https://api.talkdeskapp.com", "{segment}");
        assert_eq!(url.host(), "api.talkdeskapp.com");
        assert_eq!(url.as_url().path_segments().count(), 3, "{url}");
        assert_eq!(url.as_url().query(), None, "{url}");
        assert_eq!(url.as_url().fragment(), None, "{url}");
        // What the fetch adapter sends parses back to the same URL.
        assert_eq!(Url::parse(url.as_str()).unwrap().as_str(), url.as_str());
    }
    assert_eq!(
        root.join_path(&["a/b", "../x"]).unwrap().as_str(),
        "https://api.talkdeskapp.com/a%2Fb/..%2Fx"
    );
}

#[test]
fn join_path_refuses_segments_the_parser_would_resolve_or_drop() {
    let root = Region::Us.api_root().unwrap();
    for segment in ["", ".", "..", ".\t.", "a\nb", "\r"] {
        assert!(
            matches!(
                root.join_path(&["apps", segment]),
                Err(HostError::PathSegment { .. })
            ),
            "{segment:?}"
        );
    }
}

#[test]
fn with_query_encodes_pairs_and_keeps_the_origin() {
    let url = Region::Us
        .authorize_url(&acme())
        .with_query(&[("redirect_uri", "https://app/cb?x=1#f"), ("state", "a&b=c")]);
    assert_eq!(
        url.as_str(),
        "https://acme.talkdeskid.com/oauth/authorize?redirect_uri=https%3A%2F%2Fapp%2Fcb%3Fx%3D1%23f&state=a%26b%3Dc"
    );
    assert_eq!(url.origin(), "https://acme.talkdeskid.com");
    assert_eq!(url.with_query(&[]), url);
}

#[test]
fn talkdesk_urls_serialize_as_their_text() {
    let url = Region::Ca.token_url(&acme());
    assert_eq!(
        serde_json::to_string(&url).unwrap(),
        "\"https://acme.talkdeskidca.com/oauth/token\""
    );
    assert_eq!(url.to_string(), url.as_str());
}
