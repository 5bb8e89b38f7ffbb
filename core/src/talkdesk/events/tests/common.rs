//! What every known event type shares: `data.installation_id` and `data.account_id`.

use super::*;

#[test]
fn every_known_type_parses_from_its_valid_example() {
    for (event, event_type) in every_known_type().iter().zip(KNOWN_TYPES) {
        let parsed = accepted(event);
        assert_eq!(parsed.event_type, event_type);
        assert!(
            !matches!(parsed.data, EventData::Unknown { .. }),
            "{event_type} parsed as unknown"
        );
    }
}

#[test]
fn data_installation_id_is_an_identifier_in_every_known_type() {
    for event in every_known_type() {
        assert_identifier(&event, "/data/installation_id", "data.installation_id");
    }
}

#[test]
fn data_account_id_is_an_identifier_in_every_known_type() {
    for event in every_known_type() {
        assert_identifier(&event, "/data/account_id", "data.account_id");
    }
}

#[test]
fn every_known_type_reports_its_installation_and_account() {
    for event in every_known_type() {
        let data = accepted(&event).data;
        assert_eq!(data.installation_id(), Some("inst-1"), "{event}");
        assert_eq!(data.account_id(), Some("acc-1"), "{event}");
    }
}

#[test]
fn data_fields_a_type_does_not_use_are_ignored() {
    // Talkdesk may add fields; only the ones a type reads are judged.
    for event in every_known_type() {
        let event = set(&event, "/data/future_field", json!({ "x": [null, 1.5] }));
        let event = set(&event, "/data/user_id_extra", json!("../../x"));
        accepted(&event);
    }
}
