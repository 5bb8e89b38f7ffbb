//! Bodies that are not a well-formed event at the JSON level, and the size limits.

use super::*;

/// The event's JSON text with `from` replaced by `to` (exactly once), for malformations that a
/// `Value` cannot hold.
fn tampered(event: &Value, from: &str, to: &[u8]) -> Vec<u8> {
    let text = serde_json::to_string(event).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} in {text}");
    let at = text.find(from).unwrap();
    [
        &text.as_bytes()[..at],
        to,
        &text.as_bytes()[at + from.len()..],
    ]
    .concat()
}

#[track_caller]
fn assert_not_json(body: &[u8]) {
    let e = parse_event(body).unwrap_err();
    assert_eq!(e.path, "$", "{:?}", String::from_utf8_lossy(body));
    assert!(
        e.problem.starts_with("is not valid JSON (line "),
        "{:?}: {e}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn a_body_that_is_not_json_is_refused_naming_the_root() {
    for body in [
        "",
        "   ",
        "not json",
        "{",
        "{\"id\":}",
        "{'id': 'evt-1'}",
        "{\"id\": \"evt-1\",}",
        "{\"n\": NaN}",
        "{} {}",
        "{}x",
        "\u{feff}{}",
    ] {
        assert_not_json(body.as_bytes());
    }
}

#[test]
fn a_json_error_gives_the_line_and_column_and_never_the_body() {
    let e = parse_event(b"{\n  \"client_secret\": hunter2\n}").unwrap_err();
    assert_eq!(e.path, "$");
    assert_eq!(e.problem, "is not valid JSON (line 2, column 20)");
}

#[test]
fn a_body_that_is_not_an_object_is_refused_naming_the_root() {
    for body in ["[]", "[{}]", "\"event\"", "1", "true"] {
        let e = parse_event(body.as_bytes()).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.problem.as_str()),
            ("$", "must be an object")
        );
    }
    // `null` reads as an absent event, with the same wording as an absent field.
    let e = parse_event(b"null").unwrap_err();
    assert_eq!((e.path.as_str(), e.problem.as_str()), ("$", "is missing"));
}

#[test]
fn white_space_around_the_event_is_allowed() {
    let body = format!(" \n\t{}\r\n ", serde_json::to_string(&logout()).unwrap());
    parse_event(body.as_bytes()).unwrap();
}

#[test]
fn invalid_utf8_in_a_string_is_refused_as_not_json() {
    let event = set(&logout(), "/created_at", json!("STAMP"));
    assert_not_json(&tampered(&event, "STAMP", b"\xff\xfe"));
    assert_not_json(&tampered(&event, "STAMP", b"\xc0\xae"));
}

#[test]
fn a_lone_surrogate_escape_is_refused_as_not_json() {
    let event = set(&logout(), "/created_at", json!("STAMP"));
    assert_not_json(&tampered(&event, "STAMP", b"\\ud800"));
    assert_not_json(&tampered(&event, "STAMP", b"\\udc00x"));
}

#[test]
fn a_raw_control_character_in_a_string_is_refused_as_not_json() {
    // JSON itself forbids them unescaped; escaped ones reach the field rules (see mod.rs).
    let event = set(&logout(), "/created_at", json!("STAMP"));
    assert_not_json(&tampered(&event, "STAMP", b"a\x01b"));
    assert_not_json(&tampered(&event, "STAMP", b"a\nb"));
}

#[test]
fn an_escaped_control_character_is_refused_by_the_field_rule() {
    let event = set(&logout(), "/data/user_id", json!("USER"));
    let body = tampered(&event, "USER", b"u\\u0000");
    let e = parse_event(&body).unwrap_err();
    assert_eq!(
        (e.path.as_str(), e.problem.as_str()),
        ("data.user_id", "contains control characters")
    );
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    // serde_json stops at 128 levels; this nests far deeper, in a field nobody reads, within
    // the size the worker accepts.
    let depth = 20_000;
    let event = set(&logout(), "/data/nested", json!("NEST"));
    let nest = ["[".repeat(depth), "]".repeat(depth)].concat();
    let body = tampered(&event, "\"NEST\"", nest.as_bytes());
    assert!(body.len() <= MAX_EVENT_BYTES);
    assert_not_json(&body);
}

#[test]
fn a_number_beyond_f64_is_refused_as_not_json() {
    let event = set(&logout(), "/data/big", json!("BIG"));
    assert_not_json(&tampered(&event, "\"BIG\"", b"1e400"));
}

#[test]
fn length_limits_count_characters_not_bytes() {
    // 64 two-byte characters are 128 bytes, within created_at's 64-character limit.
    let event = set(&logout(), "/created_at", json!("é".repeat(64)));
    assert_eq!(accepted(&event).created_at.len(), 128);
    let event = set(&logout(), "/created_at", json!("é".repeat(65)));
    assert_refused(&event, "created_at", "is longer than 64 characters");
    let event = set(&logout(), "/created_at", json!("😀".repeat(64)));
    accepted(&event);
}

#[test]
fn a_duplicate_key_is_judged_by_its_last_value() {
    // serde_json keeps the last of duplicate keys. Pinned so that an earlier, valid copy can
    // never hide a later, invalid one from the checks: what is checked is what is used.
    let event = logout();
    let twice = |first: &str, last: &str| {
        tampered(
            &event,
            "\"user_id\":\"u-9\"",
            format!("\"user_id\":\"{first}\",\"user_id\":\"{last}\"").as_bytes(),
        )
    };
    let e = parse_event(&twice("u-9", "../x")).unwrap_err();
    assert_eq!(e.path, "data.user_id");
    let parsed = parse_event(&twice("../x", "u-10")).unwrap();
    let EventData::UserLogout { user_id, .. } = parsed.data else {
        panic!("not UserLogout")
    };
    assert_eq!(user_id, "u-10");
}

#[test]
fn a_duplicate_type_is_judged_by_its_last_value() {
    let body = tampered(
        &logout(),
        "\"type\":\"user.logout\"",
        b"\"type\":\"user.logout\",\"type\":\"app.installed\"",
    );
    let e = parse_event(&body).unwrap_err();
    assert_eq!(e.path, "data.account_name");
}

#[test]
fn a_body_of_exactly_the_size_limit_still_parses() {
    // The worker refuses longer bodies before parsing (413); the parser leaves size to it.
    let base = serde_json::to_vec(&set(&logout(), "/padding", json!("")))
        .unwrap()
        .len();
    let event = set(
        &logout(),
        "/padding",
        json!("p".repeat(MAX_EVENT_BYTES - base)),
    );
    let body = serde_json::to_vec(&event).unwrap();
    assert_eq!(body.len(), MAX_EVENT_BYTES);
    parse_event(&body).unwrap();
}
