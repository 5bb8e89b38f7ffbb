//! `app.uninstalled`: the optional `reason`.

use super::*;

/// The reason type and message of a parsed `app.uninstalled`.
fn reason(event: &Value) -> (Option<String>, Option<String>) {
    match accepted(event).data {
        EventData::Uninstalled {
            reason_type,
            reason_message,
            ..
        } => (reason_type, reason_message),
        other => panic!("not Uninstalled: {other:?}"),
    }
}

#[test]
fn a_valid_app_uninstalled_parses_its_reason() {
    let event = accepted(&uninstalled());
    let EventData::Uninstalled {
        installation_id,
        account_id,
        reason_type,
        reason_message,
    } = event.data
    else {
        panic!("not Uninstalled: {:?}", event.data)
    };
    assert_eq!(
        (installation_id.as_str(), account_id.as_str()),
        ("inst-1", "acc-1")
    );
    assert_eq!(reason_type.as_deref(), Some("USER_REQUEST"));
    assert_eq!(reason_message.as_deref(), Some("No longer needed"));
}

#[test]
fn the_reason_and_each_of_its_parts_are_optional() {
    assert_eq!(
        reason(&without(&uninstalled(), "/data/reason")),
        (None, None)
    );
    assert_eq!(
        reason(&set(&uninstalled(), "/data/reason", Value::Null)),
        (None, None)
    );
    assert_eq!(
        reason(&set(&uninstalled(), "/data/reason", json!({}))),
        (None, None)
    );
    let only_type = without(&uninstalled(), "/data/reason/message");
    assert_eq!(reason(&only_type), (Some("USER_REQUEST".into()), None));
    let only_message = set(&uninstalled(), "/data/reason/type", Value::Null);
    assert_eq!(
        reason(&only_message),
        (None, Some("No longer needed".into()))
    );
}

#[test]
fn data_reason_that_is_not_an_object_is_refused_naming_data_reason() {
    assert_must_be_object(&uninstalled(), "/data/reason", "data.reason");
}

#[test]
fn the_reason_type_is_optional_text_of_at_most_100_characters() {
    assert_optional_text(&uninstalled(), "/data/reason/type", "data.reason.type", 100);
}

#[test]
fn the_reason_message_is_optional_text_of_at_most_1000_characters() {
    assert_optional_text(
        &uninstalled(),
        "/data/reason/message",
        "data.reason.message",
        1000,
    );
}
