//! `user.logout`, and the types the parser does not know.

use super::*;

#[test]
fn a_valid_user_logout_parses_its_user() {
    let event = accepted(&logout());
    let EventData::UserLogout {
        installation_id,
        account_id,
        user_id,
    } = event.data
    else {
        panic!("not UserLogout: {:?}", event.data)
    };
    assert_eq!(
        (
            installation_id.as_str(),
            account_id.as_str(),
            user_id.as_str()
        ),
        ("inst-1", "acc-1", "u-9")
    );
}

#[test]
fn data_user_id_is_an_identifier() {
    assert_identifier(&logout(), "/data/user_id", "data.user_id");
}

#[test]
fn an_unknown_type_parses_to_unknown_keeping_only_its_installation_id() {
    let event = accepted(&unknown());
    assert_eq!(event.event_type, "app.something_new");
    let EventData::Unknown { installation_id } = &event.data else {
        panic!("not Unknown: {:?}", event.data)
    };
    assert_eq!(installation_id.as_deref(), Some("inst-1"));
    assert_eq!(event.data.installation_id(), Some("inst-1"));
    assert_eq!(event.data.account_id(), None);
}

#[test]
fn an_unknown_type_needs_no_installation_or_account() {
    // It is recorded and acknowledged, never acted on, so nothing in `data` is required.
    let event = set(&unknown(), "/data", json!({}));
    assert_eq!(accepted(&event).data.installation_id(), None);
    let event = set(&unknown(), "/data/installation_id", Value::Null);
    assert_eq!(accepted(&event).data.installation_id(), None);
    let event = set(&unknown(), "/data/account_id", json!(["not", "checked"]));
    accepted(&event);
}

#[test]
fn an_unknown_types_installation_id_when_present_is_an_identifier() {
    // It is recorded against the installation, so it obeys the same rule as everywhere else.
    assert_present_identifier(&unknown(), "/data/installation_id", "data.installation_id");
}

#[test]
fn an_unknown_type_still_needs_the_whole_envelope() {
    for (pointer, path) in [
        ("/id", "id"),
        ("/created_at", "created_at"),
        ("/app_id", "app_id"),
        ("/data", "data"),
        ("/_links", "_links"),
        ("/_links/root", "_links.root"),
    ] {
        assert_refused(&without(&unknown(), pointer), path, "is missing");
    }
}

#[test]
fn type_names_are_matched_exactly() {
    // A near miss of a known type is unknown, so its data is never acted on.
    for near_miss in [
        "App.Installed",
        "app.installed ",
        " app.installed",
        "app_installed",
        "app.installed.v2",
        "app.trial",
        "user.logout2",
    ] {
        let event = set(&installed(), "/type", json!(near_miss));
        assert!(
            matches!(accepted(&event).data, EventData::Unknown { .. }),
            "{near_miss:?}"
        );
    }
}

#[test]
fn a_known_type_is_judged_by_its_own_rules_not_another_types() {
    // The type chooses the rules: an `app.installed` body sent as `user.logout` lacks user_id.
    let event = set(&installed(), "/type", json!("user.logout"));
    assert_refused(&event, "data.user_id", "is missing");
    let event = set(&logout(), "/type", json!("app.installed"));
    assert_refused(&event, "data.account_name", "is missing");
}
