//! `app.updated`: users added and removed, and the plan from `subscription.adding`.

use super::*;

/// The users and plan of a parsed `app.updated`.
fn changes(event: &Value) -> (Vec<String>, Vec<String>, Option<PlanChange>) {
    match accepted(event).data {
        EventData::Updated {
            users_adding,
            users_removing,
            plan,
            ..
        } => (users_adding, users_removing, plan),
        other => panic!("not Updated: {other:?}"),
    }
}

/// A list of `n` one-letter user ids: the shortest list of that length, to show where the
/// limit sits against [`MAX_EVENT_BYTES`].
fn user_list(n: usize) -> Value {
    Value::Array(vec![json!("u"); n])
}

#[test]
fn a_valid_app_updated_parses_users_and_plan() {
    let event = accepted(&updated());
    let EventData::Updated {
        installation_id,
        account_id,
        users_adding,
        users_removing,
        plan,
    } = event.data
    else {
        panic!("not Updated: {:?}", event.data)
    };
    assert_eq!(
        (installation_id.as_str(), account_id.as_str()),
        ("inst-1", "acc-1")
    );
    assert_eq!(users_adding, ["u-1", "u-2"]);
    assert_eq!(users_removing, ["u-3"]);
    assert_eq!(
        plan,
        Some(PlanChange {
            name: "Pro".into(),
            licenses: Some(25)
        })
    );
}

#[test]
fn users_and_subscription_are_optional() {
    let bare = without(&without(&updated(), "/data/users"), "/data/subscription");
    assert_eq!(changes(&bare), (vec![], vec![], None));
    let nulls = set(
        &set(&updated(), "/data/users", Value::Null),
        "/data/subscription",
        Value::Null,
    );
    assert_eq!(changes(&nulls), (vec![], vec![], None));
}

#[test]
fn either_user_list_may_be_absent_null_or_empty() {
    for list in ["adding", "removing"] {
        let pointer = format!("/data/users/{list}");
        for event in [
            without(&updated(), &pointer),
            set(&updated(), &pointer, Value::Null),
            set(&updated(), &pointer, json!([])),
        ] {
            let (adding, removing, _) = changes(&event);
            let emptied = if list == "adding" { adding } else { removing };
            assert!(emptied.is_empty(), "{list}: {emptied:?}");
        }
    }
    let (adding, removing, _) = changes(&set(&updated(), "/data/users", json!({})));
    assert!(adding.is_empty() && removing.is_empty());
}

#[test]
fn data_users_that_is_not_an_object_is_refused_naming_data_users() {
    assert_must_be_object(&updated(), "/data/users", "data.users");
}

#[test]
fn a_user_list_that_is_not_an_array_is_refused_naming_that_list() {
    for list in ["adding", "removing"] {
        for bad in [json!("u-1"), json!(1), json!(true), json!({ "0": "u-1" })] {
            let event = set(&updated(), &format!("/data/users/{list}"), bad);
            let path = format!("data.users.{list}");
            assert_refused(&event, &path, "must be an array of user ids");
        }
    }
}

#[test]
fn each_user_id_is_an_identifier_named_by_its_list_and_index() {
    assert_present_identifier(&updated(), "/data/users/adding/1", "data.users.adding[1]");
    assert_present_identifier(
        &updated(),
        "/data/users/removing/0",
        "data.users.removing[0]",
    );
    // A null inside a list is a missing id, not an absent list.
    let event = set(&updated(), "/data/users/adding/0", Value::Null);
    assert_refused(&event, "data.users.adding[0]", "is missing");
}

#[test]
fn duplicate_user_ids_are_kept_as_sent() {
    let event = set(&updated(), "/data/users/adding", json!(["u-1", "u-1"]));
    assert_eq!(changes(&event).0, ["u-1", "u-1"]);
}

#[test]
fn as_many_users_as_the_limit_are_accepted_in_either_list() {
    for list in ["adding", "removing"] {
        let event = set(
            &updated(),
            &format!("/data/users/{list}"),
            user_list(MAX_USER_CHANGES),
        );
        // The limit must be reachable within a body the worker reads at all.
        assert!(serde_json::to_vec(&event).unwrap().len() <= MAX_EVENT_BYTES);
        let (adding, removing, _) = changes(&event);
        let listed = if list == "adding" { adding } else { removing };
        assert_eq!(listed.len(), MAX_USER_CHANGES);
    }
}

#[test]
fn one_user_more_than_the_limit_is_refused_naming_the_list() {
    for list in ["adding", "removing"] {
        let event = set(
            &updated(),
            &format!("/data/users/{list}"),
            user_list(MAX_USER_CHANGES + 1),
        );
        let path = format!("data.users.{list}");
        assert_refused(&event, &path, "lists more than 10000 users");
    }
}

#[test]
fn the_user_limit_is_judged_before_any_user_id() {
    // An over-long list is refused as a whole, without the work of checking its items.
    let list = Value::Array(vec![json!("../bad"); MAX_USER_CHANGES + 1]);
    let event = set(&updated(), "/data/users/removing", list);
    assert_refused(&event, "data.users.removing", "lists more than 10000 users");
}

#[test]
fn data_subscription_that_is_not_an_object_is_refused_naming_it() {
    assert_must_be_object(&updated(), "/data/subscription", "data.subscription");
}

#[test]
fn a_subscription_without_adding_has_no_plan_change() {
    let event = set(
        &updated(),
        "/data/subscription",
        json!({ "removing": { "name": "Old" } }),
    );
    assert_eq!(changes(&event).2, None);
    let event = set(&updated(), "/data/subscription/adding", Value::Null);
    assert_eq!(changes(&event).2, None);
}

#[test]
fn subscription_adding_that_is_not_an_object_is_refused_naming_it() {
    assert_must_be_object(
        &updated(),
        "/data/subscription/adding",
        "data.subscription.adding",
    );
}

#[test]
fn the_plan_name_is_required_text_of_at_most_200_characters() {
    assert_required_text(
        &updated(),
        "/data/subscription/adding/name",
        "data.subscription.adding.name",
        200,
    );
}

#[test]
fn licenses_may_be_a_whole_number_or_a_string_of_one() {
    let pointer = "/data/subscription/adding/licenses";
    for (given, expected) in [
        (json!(25), Some(25)),
        (json!(0), Some(0)),
        (json!(u64::MAX), Some(u64::MAX)),
        // The documented example sends a string.
        (json!("25"), Some(25)),
        (json!(" 7 "), Some(7)),
        // Rust's integer syntax allows a leading '+'; harmless, so pinned rather than refused.
        (json!("+3"), Some(3)),
        (json!(u64::MAX.to_string()), Some(u64::MAX)),
        (Value::Null, None),
    ] {
        let plan = changes(&set(&updated(), pointer, given.clone())).2.unwrap();
        assert_eq!(plan.licenses, expected, "{given}");
    }
    let plan = changes(&without(&updated(), pointer)).2.unwrap();
    assert_eq!(plan.licenses, None);
}

#[test]
fn licenses_that_are_not_a_whole_number_are_refused_naming_the_field() {
    let pointer = "/data/subscription/adding/licenses";
    let path = "data.subscription.adding.licenses";
    for bad in [
        json!(-1),
        json!(2.5),
        json!(1e3),
        json!(true),
        json!([1]),
        json!({ "n": 1 }),
    ] {
        assert_refused(
            &set(&updated(), pointer, bad),
            path,
            "must be a whole number",
        );
    }
    let problem = "must be a whole number (or a string of one)";
    for bad in [
        "",
        " ",
        "abc",
        "-1",
        "2.5",
        "1e3",
        "0x10",
        "18446744073709551616",
        "1 2",
    ] {
        assert_refused(&set(&updated(), pointer, json!(bad)), path, problem);
    }
}
