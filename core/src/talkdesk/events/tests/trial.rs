//! `app.trial_started`, `app.trial_extended` and `app.trial_ended`.

use super::*;

const TRIAL_TYPES: [(&str, TrialKind); 3] = [
    ("app.trial_started", TrialKind::Started),
    ("app.trial_extended", TrialKind::Extended),
    ("app.trial_ended", TrialKind::Ended),
];

/// The fields of a parsed trial event.
struct Trial {
    kind: TrialKind,
    expires_at: Option<String>,
    ended_at: Option<String>,
    ended_reason: Option<String>,
    ended_by: Option<String>,
}

fn trial_of(event: &Value) -> Trial {
    match accepted(event).data {
        EventData::Trial {
            kind,
            installation_id,
            account_id,
            expires_at,
            ended_at,
            ended_reason,
            ended_by,
        } => {
            assert_eq!(
                (installation_id.as_str(), account_id.as_str()),
                ("inst-1", "acc-1")
            );
            Trial {
                kind,
                expires_at,
                ended_at,
                ended_reason,
                ended_by,
            }
        }
        other => panic!("not Trial: {other:?}"),
    }
}

#[test]
fn each_trial_type_parses_to_its_kind_with_every_field() {
    for (event_type, kind) in TRIAL_TYPES {
        let t = trial_of(&trial(event_type));
        assert_eq!(t.kind, kind, "{event_type}");
        assert_eq!(t.expires_at.as_deref(), Some("2024-06-01T00:00:00Z"));
        assert_eq!(t.ended_at.as_deref(), Some("2024-05-20T00:00:00Z"));
        assert_eq!(t.ended_reason.as_deref(), Some("plan_upgraded"));
        assert_eq!(t.ended_by.as_deref(), Some("user"));
    }
}

#[test]
fn trial_kinds_name_themselves_as_stored() {
    let names = TRIAL_TYPES.map(|(_, kind)| kind.as_str());
    assert_eq!(names, ["started", "extended", "ended"]);
}

#[test]
fn every_trial_field_is_optional() {
    for (event_type, _) in TRIAL_TYPES {
        let mut event = trial(event_type);
        for field in ["expires_at", "ended_at", "ended_reason", "ended_by"] {
            event = without(&event, &format!("/data/{field}"));
        }
        let t = trial_of(&event);
        assert_eq!(
            (t.expires_at, t.ended_at, t.ended_reason, t.ended_by),
            (None, None, None, None)
        );
    }
}

#[test]
fn each_trial_field_is_optional_text_of_at_most_64_characters() {
    for (event_type, _) in TRIAL_TYPES {
        for field in ["expires_at", "ended_at", "ended_reason", "ended_by"] {
            let pointer = format!("/data/{field}");
            let path = format!("data.{field}");
            assert_optional_text(&trial(event_type), &pointer, &path, 64);
        }
    }
}
