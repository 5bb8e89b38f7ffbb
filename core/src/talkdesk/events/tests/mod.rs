//! Tests of the event parser, field by field. Each event type starts from one valid event built
//! here; a test changes one field and checks the exact path and problem of the refusal, so a
//! rule that moves to another field, or stops being checked, fails a test.
//!
//! The files: `envelope.rs` (the fields around `data`), `common.rs` (what every known type
//! shares), one file per event kind, and `hostile.rs` (malformed JSON and the limits).

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;
use crate::testing::{generate_key, talkdesk_form};

mod common;
mod envelope;
mod hostile;
mod installed;
mod trial;
mod uninstalled;
mod updated;
mod user_and_unknown;

/// The `type` of every event kind the parser knows.
const KNOWN_TYPES: [&str; 8] = [
    "app.installed",
    "app.updated",
    "app.uninstalled",
    "app.credentials_rotated",
    "app.trial_started",
    "app.trial_extended",
    "app.trial_ended",
    "user.logout",
];

/// A key of `alg` in Talkdesk's form. Generated once per kind and run: RSA generation is slow,
/// and the tests only need a key that fits its algorithm.
fn key_text(alg: KeyAlgorithm) -> String {
    static KEYS: [OnceLock<String>; 4] = [const { OnceLock::new() }; 4];
    let slot = match alg {
        KeyAlgorithm::ES256 => 0,
        KeyAlgorithm::ES384 => 1,
        KeyAlgorithm::ES512 => 2,
        // One RSA key serves all three PS algorithms, as it does at Talkdesk.
        _ => 3,
    };
    KEYS[slot]
        .get_or_init(|| talkdesk_form(&generate_key(alg)))
        .clone()
}

/// A valid event of `event_type` around `data`, in the shape of the contract's example (§2),
/// with every link the parser reads and one it ignores.
fn envelope(event_type: &str, data: Value) -> Value {
    json!({
        "id": "evt-1",
        "created_at": "2024-05-01T12:00:00.000Z",
        "api_version": "1",
        "type": event_type,
        "app_id": "app-123",
        "app_version_id": "ver-1",
        "app_version_name": "1.0",
        "data": data,
        "_links": {
            "root": { "href": "https://api.talkdeskapp.com/" },
            "self": { "href": "https://api.talkdeskapp.com/apps/app-123/events/evt-1" },
            "tokens": { "href": "https://acme.talkdeskid.com/oauth/token" },
            "authorization": { "href": "https://acme.talkdeskid.com/oauth/authorize" },
            "installation": { "href": "https://api.talkdeskapp.com/apps/app-123/installations/inst-1" }
        }
    })
}

fn installed() -> Value {
    envelope(
        "app.installed",
        json!({
            "installation_id": "inst-1",
            "account_id": "acc-1",
            "account_name": "acme",
            "client_id": "client-1",
            "client_secret": "s3cret-value",
            "key_id": "key-1",
            "key_algorithm": "ES256",
            "private_key": key_text(KeyAlgorithm::ES256),
            "public_key": "unused-by-the-parser",
        }),
    )
}

fn rotated() -> Value {
    envelope(
        "app.credentials_rotated",
        json!({
            "installation_id": "inst-1",
            "account_id": "acc-1",
            "client_id": "client-2",
            "client_secret": "n3w-secret",
            "key_id": "key-2",
            "key_algorithm": "ES384",
            "private_key": key_text(KeyAlgorithm::ES384),
        }),
    )
}

fn updated() -> Value {
    envelope(
        "app.updated",
        json!({
            "installation_id": "inst-1",
            "account_id": "acc-1",
            "users": { "adding": ["u-1", "u-2"], "removing": ["u-3"] },
            "subscription": { "adding": { "name": "Pro", "licenses": "25" } },
        }),
    )
}

fn uninstalled() -> Value {
    envelope(
        "app.uninstalled",
        json!({
            "installation_id": "inst-1",
            "account_id": "acc-1",
            "reason": { "type": "USER_REQUEST", "message": "No longer needed" },
        }),
    )
}

fn trial(event_type: &str) -> Value {
    envelope(
        event_type,
        json!({
            "installation_id": "inst-1",
            "account_id": "acc-1",
            "expires_at": "2024-06-01T00:00:00Z",
            "ended_at": "2024-05-20T00:00:00Z",
            "ended_reason": "plan_upgraded",
            "ended_by": "user",
        }),
    )
}

fn logout() -> Value {
    envelope(
        "user.logout",
        json!({
            "installation_id": "inst-1",
            "account_id": "acc-1",
            "user_id": "u-9",
            "user_email": "u9@acme.example",
        }),
    )
}

fn unknown() -> Value {
    envelope(
        "app.something_new",
        json!({ "installation_id": "inst-1", "whatever": [1, 2, 3] }),
    )
}

/// One valid event of each known type, in [`KNOWN_TYPES`] order.
fn every_known_type() -> Vec<Value> {
    vec![
        installed(),
        updated(),
        uninstalled(),
        rotated(),
        trial("app.trial_started"),
        trial("app.trial_extended"),
        trial("app.trial_ended"),
        logout(),
    ]
}

fn parse(event: &Value) -> Result<UnverifiedEvent, EventError> {
    parse_event(&serde_json::to_vec(event).unwrap())
}

fn accepted(event: &Value) -> UnverifiedEvent {
    parse(event).unwrap_or_else(|e| panic!("refused ({e}): {event}"))
}

fn refused(event: &Value) -> EventError {
    match parse(event) {
        Ok(parsed) => panic!("accepted as {parsed:?}"),
        Err(e) => e,
    }
}

/// `event` with the value at the JSON `pointer` replaced, or added to its parent object.
fn set(event: &Value, pointer: &str, value: Value) -> Value {
    let mut event = event.clone();
    if let Some(slot) = event.pointer_mut(pointer) {
        *slot = value;
        return event;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent:?}"))
        .insert(key.to_owned(), value);
    event
}

/// `event` without the key at the JSON `pointer`.
fn without(event: &Value, pointer: &str) -> Value {
    let mut event = event.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let removed = event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key));
    assert!(removed.is_some(), "nothing at {pointer:?} to remove");
    event
}

/// Asserts that `event` is refused, naming exactly `path` with exactly `problem`.
#[track_caller]
fn assert_refused(event: &Value, path: &str, problem: &str) {
    let e = refused(event);
    assert_eq!(
        (e.path.as_str(), e.problem.as_str()),
        (path, problem),
        "for {event}"
    );
}

/// The values that break the rules every string field shares, with the problem each gets.
/// `max` is the field's limit in characters.
fn bad_strings(max: usize) -> Vec<(Value, String)> {
    vec![
        (json!(""), "must not be empty".into()),
        (json!(7), "must be a string".into()),
        (json!(true), "must be a string".into()),
        (json!(["a"]), "must be a string".into()),
        (json!({ "a": "b" }), "must be a string".into()),
        (
            json!("x".repeat(max + 1)),
            format!("is longer than {max} characters"),
        ),
        (json!("a\u{0}b"), "contains control characters".into()),
        (json!("line\nbreak"), "contains control characters".into()),
        (json!("esc\u{1b}[31m"), "contains control characters".into()),
        (json!("del\u{7f}"), "contains control characters".into()),
        (json!("c1\u{85}"), "contains control characters".into()),
    ]
}

/// A required string of at most `max` characters at `pointer`: missing, null, of another JSON
/// type, empty, too long or holding a control character is refused naming `path`; exactly
/// `max` characters, spaces and non-ASCII text are accepted.
#[track_caller]
fn assert_required_text(event: &Value, pointer: &str, path: &str, max: usize) {
    assert_refused(&without(event, pointer), path, "is missing");
    assert_refused(&set(event, pointer, Value::Null), path, "is missing");
    assert_optional_text(event, pointer, path, max);
}

/// An optional string: like [`assert_required_text`], except that missing and null are
/// accepted.
#[track_caller]
fn assert_optional_text(event: &Value, pointer: &str, path: &str, max: usize) {
    for (bad, problem) in bad_strings(max) {
        assert_refused(&set(event, pointer, bad), path, &problem);
    }
    for good in ["x".repeat(max), "a b/c?d".into(), "é".into()] {
        accepted(&set(event, pointer, json!(good)));
    }
}

/// An identifier at `pointer`: the string rules with a limit of 128, plus only letters, digits,
/// `.`, `_`, `:` and `-`, with at least one letter or digit (it ends up in URL paths).
#[track_caller]
fn assert_identifier(event: &Value, pointer: &str, path: &str) {
    assert_refused(&without(event, pointer), path, "is missing");
    assert_refused(&set(event, pointer, Value::Null), path, "is missing");
    assert_present_identifier(event, pointer, path);
}

/// The identifier rules for a value that is present (for optional identifiers and list items).
#[track_caller]
fn assert_present_identifier(event: &Value, pointer: &str, path: &str) {
    for (bad, problem) in bad_strings(128) {
        assert_refused(&set(event, pointer, bad), path, &problem);
    }
    let charset = "may hold only letters, digits, '.', '_', ':' and '-'";
    for bad in [
        "a/b", "a b", "a?b", "a#b", "a%2e", "a@b", "a\\b", "é", "a+b", " a",
    ] {
        assert_refused(&set(event, pointer, json!(bad)), path, charset);
    }
    for bad in [".", "..", "...", "-", "_:-.", ":"] {
        assert_refused(
            &set(event, pointer, json!(bad)),
            path,
            "must contain a letter or digit",
        );
    }
    for good in ["a".repeat(128).as_str(), "7", "a.b_c:d-e", "..a", "Z"] {
        accepted(&set(event, pointer, json!(good)));
    }
}

/// The object at `pointer`: of another JSON type it is refused naming `path`.
#[track_caller]
fn assert_must_be_object(event: &Value, pointer: &str, path: &str) {
    for bad in [json!("x"), json!(1), json!(true), json!([])] {
        assert_refused(&set(event, pointer, bad), path, "must be an object");
    }
}
