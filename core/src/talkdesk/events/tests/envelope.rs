//! The envelope: `id`, `created_at`, `type`, `app_id`, `data` and `_links`.

use super::*;

#[test]
fn a_complete_envelope_parses_to_its_typed_fields() {
    let event = accepted(&logout());
    assert_eq!(event.id, "evt-1");
    assert_eq!(event.created_at, "2024-05-01T12:00:00.000Z");
    assert_eq!(event.event_type, "user.logout");
    assert_eq!(event.app_id, "app-123");
    assert_eq!(
        event.links,
        Links {
            root: "https://api.talkdeskapp.com/".into(),
            self_link: Some("https://api.talkdeskapp.com/apps/app-123/events/evt-1".into()),
            tokens: Some("https://acme.talkdeskid.com/oauth/token".into()),
            authorization: Some("https://acme.talkdeskid.com/oauth/authorize".into()),
            widget_url: None,
        }
    );
}

#[test]
fn the_event_id_is_an_identifier_named_id() {
    for event in every_known_type() {
        assert_identifier(&event, "/id", "id");
    }
    assert_identifier(&unknown(), "/id", "id");
}

#[test]
fn created_at_is_required_text_of_at_most_64_characters() {
    assert_required_text(&logout(), "/created_at", "created_at", 64);
}

#[test]
fn created_at_is_kept_as_written_without_a_timestamp_check() {
    // Ordering by stamp (`stamped_before`) ignores stamps not shaped like RFC 3339, and the
    // confirmed copy from Talkdesk supplies the stamp that counts, so the parser need not judge.
    let event = accepted(&set(&logout(), "/created_at", json!("yesterday")));
    assert_eq!(event.created_at, "yesterday");
}

#[test]
fn the_type_is_required_text_of_at_most_64_characters() {
    assert_required_text(&logout(), "/type", "type", 64);
}

#[test]
fn app_id_is_required_text_of_at_most_128_characters() {
    // Only compared with the configured id, never put in a URL, so any printable text passes.
    assert_required_text(&logout(), "/app_id", "app_id", 128);
}

#[test]
fn api_version_and_other_unknown_envelope_fields_are_ignored() {
    let event = set(&logout(), "/api_version", json!({ "not": "a version" }));
    let event = set(&event, "/extra", json!([1, 2]));
    accepted(&event);
    accepted(&without(&logout(), "/api_version"));
}

#[test]
fn a_missing_or_null_data_is_refused_naming_data() {
    for event in every_known_type().into_iter().chain([unknown()]) {
        assert_refused(&without(&event, "/data"), "data", "is missing");
        assert_refused(&set(&event, "/data", Value::Null), "data", "is missing");
    }
}

#[test]
fn data_that_is_not_an_object_is_refused_naming_data() {
    assert_must_be_object(&logout(), "/data", "data");
    assert_must_be_object(&unknown(), "/data", "data");
}

#[test]
fn a_missing_or_null_links_object_is_refused_naming_links() {
    assert_refused(&without(&logout(), "/_links"), "_links", "is missing");
    assert_refused(
        &set(&logout(), "/_links", Value::Null),
        "_links",
        "is missing",
    );
}

#[test]
fn links_that_are_not_an_object_are_refused_naming_links() {
    assert_must_be_object(&logout(), "/_links", "_links");
}

#[test]
fn a_missing_or_null_root_link_is_refused_naming_links_root() {
    assert_refused(
        &without(&logout(), "/_links/root"),
        "_links.root",
        "is missing",
    );
    assert_refused(
        &set(&logout(), "/_links/root", Value::Null),
        "_links.root",
        "is missing",
    );
}

#[test]
fn the_self_tokens_and_authorization_links_are_optional() {
    let mut event = logout();
    for name in ["self", "tokens", "authorization"] {
        event = without(&event, &format!("/_links/{name}"));
    }
    let links = accepted(&event).links;
    assert_eq!(links.root, "https://api.talkdeskapp.com/");
    assert_eq!(
        (links.self_link, links.tokens, links.authorization),
        (None, None, None)
    );
}

#[test]
fn a_null_optional_link_counts_as_absent() {
    for name in ["self", "tokens", "authorization"] {
        let event = set(&logout(), &format!("/_links/{name}"), Value::Null);
        let links = accepted(&event).links;
        let got = match name {
            "self" => links.self_link,
            "tokens" => links.tokens,
            _ => links.authorization,
        };
        assert_eq!(got, None, "{name}");
    }
}

#[test]
fn each_link_that_is_not_an_object_is_refused_naming_that_link() {
    for name in ["root", "self", "tokens", "authorization"] {
        let pointer = format!("/_links/{name}");
        assert_must_be_object(&logout(), &pointer, &format!("_links.{name}"));
    }
}

#[test]
fn each_link_href_is_required_text_of_at_most_2048_characters() {
    for name in ["root", "self", "tokens", "authorization"] {
        let pointer = format!("/_links/{name}/href");
        assert_required_text(&logout(), &pointer, &format!("_links.{name}.href"), 2048);
    }
}

#[test]
fn hrefs_are_kept_raw_for_the_allowlist_to_judge() {
    // The parser only bounds the text; which hosts may be called is `hosts::Allowlist`'s rule,
    // applied at intake, so a hostile host still parses here.
    let event = set(
        &logout(),
        "/_links/tokens/href",
        json!("HTTP://evil.example:1/x?y#z"),
    );
    assert_eq!(
        accepted(&event).links.tokens.as_deref(),
        Some("HTTP://evil.example:1/x?y#z")
    );
}

#[test]
fn unknown_link_names_are_ignored() {
    let event = set(&logout(), "/_links/elsewhere", json!(42));
    accepted(&event);
}

#[test]
fn an_event_error_displays_as_its_path_then_its_problem() {
    let e = refused(&without(&logout(), "/data/user_id"));
    assert_eq!(e.to_string(), "data.user_id: is missing");
}
