//! What Talkdesk Integrations accepts from a CRM bridge (contract §6), as pure checks of one answer
//! each. A broken rule is a `String` that starts with the JSON path it concerns (`contacts[3].id:
//! …`), so a failing test says exactly what the bridge got wrong.
//!
//! Where the contract is silent the stricter reading wins: optional members are omitted, never
//! `null`; members Talkdesk does not know are refused (a misspelt optional member would otherwise
//! be dropped without a word); `date` is RFC 3339.

use serde_json::{Map, Value};
use std::collections::HashSet;

/// Optional string members of a contact.
const CONTACT_STRINGS: [&str; 5] = ["company", "title", "photo_url", "address", "url"];
const CONTACT_MEMBERS: [&str; 10] = [
    "id",
    "name",
    "company",
    "title",
    "emails",
    "phones",
    "photo_url",
    "address",
    "websites",
    "url",
];
const INTERACTION_MEMBERS: [&str; 8] = [
    "id",
    "subject",
    "description",
    "date",
    "url",
    "type",
    "priority",
    "status",
];
pub const PRIORITIES: [&str; 5] = ["none", "low", "normal", "high", "urgent"];
pub const STATUSES: [&str; 5] = ["new", "open", "pending", "solved", "closed"];
const ACTION_MEMBERS: [&str; 5] = [
    "message",
    "external_id",
    "contact_external_id",
    "contact_external_type",
    "contact_external_url",
];

/// One checked page of a contact sync.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactsPage {
    pub contacts: Vec<Value>,
    /// Opaque: sent back exactly as received.
    pub next_offset: Option<Value>,
    pub checkpoint: String,
    pub context: Option<Value>,
}

/// One checked page of an agent sync.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsPage {
    pub agents: Vec<Value>,
    pub next_offset: Option<Value>,
}

/// `{contacts, next_offset?, synchronization_checkpoint, context?}`.
pub fn contacts_page(v: &Value) -> Result<ContactsPage, String> {
    let obj = object(v, "answer")?;
    only_members(
        obj,
        "answer",
        &[
            "contacts",
            "next_offset",
            "synchronization_checkpoint",
            "context",
        ],
    )?;
    let contacts = array(obj.get("contacts"), "contacts")?;
    for (i, c) in contacts.iter().enumerate() {
        contact(c, &format!("contacts[{i}]"))?;
    }
    let checkpoint = match obj.get("synchronization_checkpoint") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err("synchronization_checkpoint: must not be empty".into())
        }
        Some(_) => return Err("synchronization_checkpoint: must be a string".into()),
        None => {
            return Err(
                "synchronization_checkpoint: required on every page (Talkdesk resumes from it)"
                    .into(),
            )
        }
    };
    let next_offset = next_offset(obj)?;
    if next_offset.is_some() && contacts.is_empty() {
        return Err(
            "contacts: empty page with a next_offset (only the last page may be empty)".into(),
        );
    }
    Ok(ContactsPage {
        contacts: contacts.clone(),
        next_offset,
        checkpoint,
        context: obj.get("context").cloned(),
    })
}

/// `{id, name, emails, phones}` plus the optional members, each of its own type.
pub fn contact(c: &Value, at: &str) -> Result<(), String> {
    let obj = object(c, at)?;
    only_members(obj, at, &CONTACT_MEMBERS)?;
    non_empty_string(obj.get("id"), &format!("{at}.id"))?;
    string(obj.get("name"), &format!("{at}.name"))?;
    strings(obj.get("emails"), &format!("{at}.emails"))?;
    strings(obj.get("phones"), &format!("{at}.phones"))?;
    for key in CONTACT_STRINGS {
        if obj.contains_key(key) {
            string(obj.get(key), &format!("{at}.{key}"))?;
        }
    }
    if obj.contains_key("websites") {
        strings(obj.get("websites"), &format!("{at}.websites"))?;
    }
    Ok(())
}

/// `{agents: [{id, name, email}], next_offset?}`.
pub fn agents_page(v: &Value) -> Result<AgentsPage, String> {
    let obj = object(v, "answer")?;
    only_members(obj, "answer", &["agents", "next_offset"])?;
    let agents = array(obj.get("agents"), "agents")?;
    for (i, a) in agents.iter().enumerate() {
        let at = format!("agents[{i}]");
        let a = object(a, &at)?;
        only_members(a, &at, &["id", "name", "email"])?;
        non_empty_string(a.get("id"), &format!("{at}.id"))?;
        string(a.get("name"), &format!("{at}.name"))?;
        // Talkdesk matches agents by email: one without an address can never match.
        let email = non_empty_string(a.get("email"), &format!("{at}.email"))?;
        if !email.contains('@') {
            return Err(format!("{at}.email: {email:?} is not an email address"));
        }
    }
    let next_offset = next_offset(obj)?;
    if next_offset.is_some() && agents.is_empty() {
        return Err(
            "agents: empty page with a next_offset (only the last page may be empty)".into(),
        );
    }
    Ok(AgentsPage {
        agents: agents.clone(),
        next_offset,
    })
}

/// A bare array of interactions, each of a type Talkdesk asked for (when it named any), no id
/// twice.
pub fn interactions(v: &Value, types: &[&str]) -> Result<Vec<Value>, String> {
    let Value::Array(items) = v else {
        return Err("answer: must be a bare JSON array of interactions".into());
    };
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("[{i}]");
        let obj = object(item, &at)?;
        only_members(obj, &at, &INTERACTION_MEMBERS)?;
        let id = non_empty_string(obj.get("id"), &format!("{at}.id"))?;
        if !seen.insert(id) {
            return Err(format!("{at}.id: {id:?} repeated"));
        }
        string(obj.get("subject"), &format!("{at}.subject"))?;
        let date = string(obj.get("date"), &format!("{at}.date"))?;
        if chrono::DateTime::parse_from_rfc3339(date).is_err() {
            return Err(format!("{at}.date: {date:?} is not an RFC 3339 date-time"));
        }
        let kind = string(obj.get("type"), &format!("{at}.type"))?;
        if !types.is_empty() && !types.contains(&kind) {
            return Err(format!(
                "{at}.type: {kind:?} was not asked for (interaction_types: {})",
                types.join(", ")
            ));
        }
        for key in ["description", "url"] {
            if obj.contains_key(key) {
                string(obj.get(key), &format!("{at}.{key}"))?;
            }
        }
        one_of(obj, "priority", &PRIORITIES, &at)?;
        one_of(obj, "status", &STATUSES, &at)?;
    }
    Ok(items.clone())
}

/// A 201 answer to an action: `external_id` and `contact_external_url` (what the agent is shown),
/// and the other documented members as strings when present.
pub fn action_answer(v: &Value) -> Result<(), String> {
    let obj = object(v, "answer")?;
    only_members(obj, "answer", &ACTION_MEMBERS)?;
    non_empty_string(obj.get("external_id"), "external_id")?;
    non_empty_string(obj.get("contact_external_url"), "contact_external_url")?;
    for key in ["message", "contact_external_id", "contact_external_type"] {
        if obj.contains_key(key) {
            string(obj.get(key), key)?;
        }
    }
    Ok(())
}

/// A 200 to `/auth` may return fields for Talkdesk to store: nothing, or a JSON object.
pub fn auth_answer(v: &Value) -> Result<(), String> {
    match v {
        Value::Null | Value::Object(_) => Ok(()),
        _ => Err("answer: must be empty or a JSON object (the fields Talkdesk stores)".into()),
    }
}

/// Absent on the last page; otherwise a string or a non-negative integer, sent back verbatim.
fn next_offset(obj: &Map<String, Value>) -> Result<Option<Value>, String> {
    match obj.get("next_offset") {
        None => Ok(None),
        Some(Value::Null) => {
            Err("next_offset: omit it on the last page (null is not absent)".into())
        }
        Some(Value::String(s)) if s.is_empty() => Err("next_offset: must not be empty".into()),
        Some(v @ Value::String(_)) => Ok(Some(v.clone())),
        Some(v @ Value::Number(n)) if n.is_u64() => Ok(Some(v.clone())),
        Some(_) => Err("next_offset: must be a string or a non-negative integer".into()),
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{at}: must be a JSON object"))
}

fn only_members(obj: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{at}: unknown member {k:?} (allowed: {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn array<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a Vec<Value>, String> {
    match v {
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{at}: must be an array")),
        None => Err(format!("{at}: required")),
    }
}

fn string<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a str, String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Null) => Err(format!(
            "{at}: must be a string (omit an absent member; null is not absent)"
        )),
        Some(_) => Err(format!("{at}: must be a string")),
        None => Err(format!("{at}: required")),
    }
}

fn non_empty_string<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a str, String> {
    let s = string(v, at)?;
    if s.is_empty() {
        return Err(format!("{at}: must not be empty"));
    }
    Ok(s)
}

fn strings(v: Option<&Value>, at: &str) -> Result<(), String> {
    for (i, s) in array(v, at)?.iter().enumerate() {
        if !s.is_string() {
            return Err(format!("{at}[{i}]: must be a string"));
        }
    }
    Ok(())
}

fn one_of(obj: &Map<String, Value>, key: &str, allowed: &[&str], at: &str) -> Result<(), String> {
    if !obj.contains_key(key) {
        return Ok(());
    }
    let s = string(obj.get(key), &format!("{at}.{key}"))?;
    if !allowed.contains(&s) {
        return Err(format!(
            "{at}.{key}: {s:?} is not one of {}",
            allowed.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good_contact() -> Value {
        json!({"id": "c1", "name": "Ada", "emails": ["ada@example.com"], "phones": []})
    }

    fn page(contacts: Value) -> Value {
        json!({"contacts": contacts, "synchronization_checkpoint": "17"})
    }

    fn rule(r: Result<impl std::fmt::Debug, String>) -> String {
        r.expect_err("should break a rule")
    }

    #[test]
    fn a_minimal_last_page_passes_and_carries_its_checkpoint() {
        let p = contacts_page(&page(json!([good_contact()]))).unwrap();
        assert_eq!(p.checkpoint, "17");
        assert_eq!(p.next_offset, None);
        assert_eq!(p.contacts.len(), 1);
    }

    #[test]
    fn a_page_that_is_not_an_object_is_refused() {
        assert_eq!(
            rule(contacts_page(&json!([]))),
            "answer: must be a JSON object"
        );
    }

    #[test]
    fn contacts_must_be_an_array() {
        let v = json!({"contacts": {}, "synchronization_checkpoint": "1"});
        assert_eq!(rule(contacts_page(&v)), "contacts: must be an array");
        let v = json!({"synchronization_checkpoint": "1"});
        assert_eq!(rule(contacts_page(&v)), "contacts: required");
    }

    #[test]
    fn every_page_needs_a_string_checkpoint() {
        let v = json!({"contacts": []});
        assert!(rule(contacts_page(&v)).starts_with("synchronization_checkpoint: required"));
        let v = json!({"contacts": [], "synchronization_checkpoint": 17});
        assert_eq!(
            rule(contacts_page(&v)),
            "synchronization_checkpoint: must be a string"
        );
        let v = json!({"contacts": [], "synchronization_checkpoint": ""});
        assert_eq!(
            rule(contacts_page(&v)),
            "synchronization_checkpoint: must not be empty"
        );
    }

    #[test]
    fn only_the_last_page_may_be_empty() {
        let mut v = page(json!([]));
        assert!(contacts_page(&v).is_ok());
        v["next_offset"] = json!(2);
        assert!(rule(contacts_page(&v)).starts_with("contacts: empty page with a next_offset"));
    }

    #[test]
    fn next_offset_is_a_string_or_integer_and_never_null() {
        for ok in [json!("abc"), json!(0), json!(100)] {
            let mut v = page(json!([good_contact()]));
            v["next_offset"] = ok.clone();
            assert_eq!(contacts_page(&v).unwrap().next_offset, Some(ok));
        }
        for (bad, text) in [
            (
                Value::Null,
                "next_offset: omit it on the last page (null is not absent)",
            ),
            (json!(""), "next_offset: must not be empty"),
            (
                json!(-1),
                "next_offset: must be a string or a non-negative integer",
            ),
            (
                json!({}),
                "next_offset: must be a string or a non-negative integer",
            ),
        ] {
            let mut v = page(json!([good_contact()]));
            v["next_offset"] = bad;
            assert_eq!(rule(contacts_page(&v)), text);
        }
    }

    #[test]
    fn context_is_kept_to_be_echoed() {
        let mut v = page(json!([]));
        v["context"] = json!({"cursor": [1, 2]});
        assert_eq!(
            contacts_page(&v).unwrap().context,
            Some(json!({"cursor": [1, 2]}))
        );
    }

    #[test]
    fn a_contact_needs_id_name_emails_and_phones() {
        for (key, text) in [
            ("id", "contacts[0].id: required"),
            ("name", "contacts[0].name: required"),
            ("emails", "contacts[0].emails: required"),
            ("phones", "contacts[0].phones: required"),
        ] {
            let mut c = good_contact();
            c.as_object_mut().unwrap().remove(key);
            assert_eq!(rule(contacts_page(&page(json!([c])))), text);
        }
    }

    #[test]
    fn contact_members_must_have_their_types() {
        for (key, value, text) in [
            ("id", json!(7), "c.id: must be a string"),
            ("id", json!(""), "c.id: must not be empty"),
            ("emails", json!("a@b"), "c.emails: must be an array"),
            ("phones", json!([5]), "c.phones[0]: must be a string"),
            ("company", json!(1), "c.company: must be a string"),
            (
                "title",
                Value::Null,
                "c.title: must be a string (omit an absent member; null is not absent)",
            ),
            (
                "websites",
                json!("https://x"),
                "c.websites: must be an array",
            ),
            ("url", json!(["u"]), "c.url: must be a string"),
        ] {
            let mut c = good_contact();
            c[key] = value;
            assert_eq!(rule(contact(&c, "c")), text);
        }
    }

    #[test]
    fn every_optional_contact_member_passes_when_well_typed() {
        let mut c = good_contact();
        for key in CONTACT_STRINGS {
            c[key] = json!("x");
        }
        c["websites"] = json!(["https://ada.example"]);
        assert!(contact(&c, "c").is_ok());
    }

    #[test]
    fn an_unknown_member_is_refused_as_a_likely_misspelling() {
        let mut c = good_contact();
        c["job_title"] = json!("CTO");
        assert!(rule(contact(&c, "c")).starts_with("c: unknown member \"job_title\""));
        let mut v = page(json!([]));
        v["nextOffset"] = json!(1);
        assert!(rule(contacts_page(&v)).starts_with("answer: unknown member \"nextOffset\""));
    }

    #[test]
    fn agents_need_id_name_and_an_email_address() {
        let ok = json!({"agents": [{"id": "a1", "name": "Al", "email": "al@x.io"}]});
        assert_eq!(agents_page(&ok).unwrap().agents.len(), 1);
        for (agent, text) in [
            (
                json!({"id": "a1", "name": "Al"}),
                "agents[0].email: required",
            ),
            (
                json!({"id": "a1", "name": "Al", "email": "al"}),
                "agents[0].email: \"al\" is not an email address",
            ),
            (
                json!({"id": 1, "name": "Al", "email": "a@x"}),
                "agents[0].id: must be a string",
            ),
        ] {
            assert_eq!(rule(agents_page(&json!({"agents": [agent]}))), text);
        }
        let empty_not_last = json!({"agents": [], "next_offset": 1});
        assert!(rule(agents_page(&empty_not_last)).starts_with("agents: empty page"));
    }

    fn interaction() -> Value {
        json!({"id": "i1", "subject": "Call", "date": "2024-05-01T10:00:00Z", "type": "ticket"})
    }

    #[test]
    fn interactions_are_a_bare_array() {
        assert_eq!(
            rule(interactions(&json!({"items": []}), &[])),
            "answer: must be a bare JSON array of interactions"
        );
        assert_eq!(interactions(&json!([interaction()]), &[]).unwrap().len(), 1);
    }

    #[test]
    fn an_interaction_date_must_be_rfc_3339() {
        let mut i = interaction();
        i["date"] = json!("2024-05-01 10:00");
        assert_eq!(
            rule(interactions(&json!([i]), &[])),
            "[0].date: \"2024-05-01 10:00\" is not an RFC 3339 date-time"
        );
    }

    #[test]
    fn an_interaction_must_be_of_a_type_asked_for() {
        assert!(interactions(&json!([interaction()]), &["ticket"]).is_ok());
        assert_eq!(
            rule(interactions(&json!([interaction()]), &["call", "email"])),
            "[0].type: \"ticket\" was not asked for (interaction_types: call, email)"
        );
    }

    #[test]
    fn priority_and_status_are_from_the_documented_lists() {
        let mut i = interaction();
        i["priority"] = json!("urgent");
        i["status"] = json!("solved");
        assert!(interactions(&json!([i.clone()]), &[]).is_ok());
        i["priority"] = json!("medium");
        assert_eq!(
            rule(interactions(&json!([i.clone()]), &[])),
            "[0].priority: \"medium\" is not one of none, low, normal, high, urgent"
        );
        i["priority"] = json!("low");
        i["status"] = json!("in_progress");
        assert!(rule(interactions(&json!([i]), &[])).starts_with("[0].status: \"in_progress\""));
    }

    #[test]
    fn an_interaction_id_appears_once() {
        let v = json!([interaction(), interaction()]);
        assert_eq!(rule(interactions(&v, &[])), "[1].id: \"i1\" repeated");
    }

    #[test]
    fn an_action_answer_names_the_record_and_its_url() {
        let ok = json!({"external_id": "t1", "contact_external_url": "https://crm/t1"});
        assert!(action_answer(&ok).is_ok());
        assert_eq!(
            rule(action_answer(&json!({"external_id": "t1"}))),
            "contact_external_url: required"
        );
        assert!(rule(action_answer(&json!({"id": "t1"}))).starts_with("answer: unknown member"));
    }

    #[test]
    fn an_auth_answer_is_empty_or_an_object() {
        assert!(auth_answer(&Value::Null).is_ok());
        assert!(auth_answer(&json!({"token": "t"})).is_ok());
        assert!(auth_answer(&json!("ok")).is_err());
    }
}
