//! The bridge's records in Talkdesk's shapes (contract §6), checked and normalised at the
//! boundary: phones in E.164, emails lower-case. Every refusal names the field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest text accepted in a record's field.
pub const MAX_TEXT: usize = 1000;
/// Most emails, phones or websites on one contact.
pub const MAX_LIST: usize = 20;

/// A field that breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

pub fn field_error<T>(
    path: impl Into<String>,
    problem: impl Into<String>,
) -> Result<T, FieldError> {
    Err(FieldError {
        path: path.into(),
        problem: problem.into(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub websites: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339.
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

pub const PRIORITIES: &[&str] = &["none", "low", "normal", "high", "urgent"];
pub const STATUSES: &[&str] = &["new", "open", "pending", "solved", "closed"];

/// An external id: 1 to 200 printable ASCII characters.
pub fn external_id(v: &Value, path: &str) -> Result<String, FieldError> {
    match v {
        Value::String(s)
            if (1..=200).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(s.clone())
        }
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => field_error(path, "is missing"),
        _ => field_error(path, "must be 1 to 200 printable ASCII characters"),
    }
}

/// Text of at most [`MAX_TEXT`] characters; `None` for absent or null.
pub fn text(v: &Value, path: &str, required: bool) -> Result<Option<String>, FieldError> {
    match v {
        Value::Null if required => field_error(path, "is missing"),
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() && required => field_error(path, "is empty"),
        Value::String(s) if s.chars().count() > MAX_TEXT => {
            field_error(path, format!("is longer than {MAX_TEXT} characters"))
        }
        Value::String(s) if s.chars().any(|c| c.is_control() && c != '\n') => {
            field_error(path, "holds control characters")
        }
        Value::String(s) => Ok((!s.trim().is_empty()).then(|| s.trim().to_owned())),
        _ => field_error(path, "must be a string"),
    }
}

fn list(v: &Value, path: &str) -> Result<Vec<String>, FieldError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) if items.len() > MAX_LIST => {
            field_error(path, format!("has more than {MAX_LIST} entries"))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                text(item, &format!("{path}[{i}]"), true).map(|t| t.unwrap_or_default())
            })
            .collect(),
        _ => field_error(path, "must be an array of strings"),
    }
}

/// An email, trimmed and lower-cased: one `@` with text on both sides, no spaces.
pub fn email(raw: &str, path: &str) -> Result<String, FieldError> {
    let e = raw.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split('@').count() == 2
        && e.split('@').all(|p| !p.is_empty())
        && e.rsplit('@').next().is_some_and(|d| d.contains('.'));
    if ok {
        Ok(e)
    } else {
        field_error(path, "is not an email address")
    }
}

/// A phone number in E.164 (`+` and 8 to 15 digits). Spaces, dashes, dots and parentheses are
/// dropped; `00` is read as `+`; a number without a country code takes `default_cc`.
pub fn phone(raw: &str, default_cc: &str, path: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    let (plus, rest) = match t.strip_prefix('+') {
        Some(r) => (true, r),
        None => match t.strip_prefix("00") {
            Some(r) => (true, r),
            None => (false, t),
        },
    };
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return field_error(path, "is not a phone number"),
        }
    }
    let full = if plus {
        digits
    } else {
        // A national number: its trunk prefix 0 (as in 020 …) is not part of E.164.
        format!("{default_cc}{}", digits.trim_start_matches('0'))
    };
    if (8..=15).contains(&full.len()) && !full.starts_with('0') {
        Ok(format!("+{full}"))
    } else {
        field_error(path, "is not a phone number (E.164 has 8 to 15 digits)")
    }
}

fn url_field(v: &Value, path: &str) -> Result<Option<String>, FieldError> {
    match text(v, path, false)? {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(Some(u)),
        Some(_) => field_error(path, "must be an http(s) URL"),
        None => Ok(None),
    }
}

fn get<'a>(o: &'a Map<String, Value>, k: &str) -> &'a Value {
    o.get(k).unwrap_or(&Value::Null)
}

/// One imported contact: the record and whether it marks a deletion.
pub fn contact(v: &Value, path: &str, default_cc: &str) -> Result<(Contact, bool), FieldError> {
    let Value::Object(o) = v else {
        return field_error(path, "must be an object");
    };
    let at = |k: &str| format!("{path}.{k}");
    let id = external_id(get(o, "id"), &at("id"))?;
    let deleted = match get(o, "deleted") {
        Value::Null | Value::Bool(false) => false,
        Value::Bool(true) => true,
        _ => return field_error(at("deleted"), "must be true or false"),
    };
    if deleted {
        return Ok((
            Contact {
                id,
                name: String::new(),
                company: None,
                title: None,
                emails: vec![],
                phones: vec![],
                photo_url: None,
                address: None,
                websites: vec![],
                url: None,
            },
            true,
        ));
    }
    let emails = list(get(o, "emails"), &at("emails"))?
        .iter()
        .enumerate()
        .map(|(i, e)| email(e, &format!("{}[{i}]", at("emails"))))
        .collect::<Result<Vec<_>, _>>()?;
    let phones = list(get(o, "phones"), &at("phones"))?
        .iter()
        .enumerate()
        .map(|(i, p)| phone(p, default_cc, &format!("{}[{i}]", at("phones"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        Contact {
            id,
            name: text(get(o, "name"), &at("name"), true)?.unwrap_or_default(),
            company: text(get(o, "company"), &at("company"), false)?,
            title: text(get(o, "title"), &at("title"), false)?,
            emails,
            phones,
            photo_url: url_field(get(o, "photo_url"), &at("photo_url"))?,
            address: text(get(o, "address"), &at("address"), false)?,
            websites: list(get(o, "websites"), &at("websites"))?,
            url: url_field(get(o, "url"), &at("url"))?,
        },
        false,
    ))
}

/// One imported agent (and whether it marks a deletion).
pub fn agent(v: &Value, path: &str) -> Result<(Agent, bool), FieldError> {
    let Value::Object(o) = v else {
        return field_error(path, "must be an object");
    };
    let at = |k: &str| format!("{path}.{k}");
    let id = external_id(get(o, "id"), &at("id"))?;
    if get(o, "deleted") == &Value::Bool(true) {
        return Ok((
            Agent {
                id,
                name: String::new(),
                email: String::new(),
            },
            true,
        ));
    }
    let raw = text(get(o, "email"), &at("email"), true)?.unwrap_or_default();
    Ok((
        Agent {
            id,
            name: text(get(o, "name"), &at("name"), true)?.unwrap_or_default(),
            email: email(&raw, &at("email"))?,
        },
        false,
    ))
}

/// One imported interaction, with the contact it belongs to (and whether it marks a deletion).
pub fn interaction(
    v: &Value,
    path: &str,
    types: &[String],
) -> Result<(Interaction, String, bool), FieldError> {
    let Value::Object(o) = v else {
        return field_error(path, "must be an object");
    };
    let at = |k: &str| format!("{path}.{k}");
    let id = external_id(get(o, "id"), &at("id"))?;
    let contact = external_id(get(o, "contact_external_id"), &at("contact_external_id"))?;
    let deleted = get(o, "deleted") == &Value::Bool(true);
    let kind = text(get(o, "type"), &at("type"), !deleted)?.unwrap_or_default();
    if !deleted && !types.contains(&kind) {
        return field_error(at("type"), format!("must be one of {types:?}"));
    }
    let date = text(get(o, "date"), &at("date"), !deleted)?.unwrap_or_default();
    if !deleted && !is_rfc3339(&date) {
        return field_error(at("date"), "must be an RFC 3339 date-time");
    }
    let one_of = |k: &str, allowed: &[&str]| -> Result<Option<String>, FieldError> {
        match text(get(o, k), &at(k), false)? {
            Some(v) if !allowed.contains(&v.as_str()) => {
                field_error(at(k), format!("must be one of {allowed:?}"))
            }
            other => Ok(other),
        }
    };
    Ok((
        Interaction {
            id,
            subject: if deleted {
                String::new()
            } else {
                text(get(o, "subject"), &at("subject"), true)?.unwrap_or_default()
            },
            description: text(get(o, "description"), &at("description"), false)?,
            date,
            url: url_field(get(o, "url"), &at("url"))?,
            kind,
            priority: one_of("priority", PRIORITIES)?,
            status: one_of("status", STATUSES)?,
        },
        contact,
        deleted,
    ))
}

/// `YYYY-MM-DDTHH:MM:SS` followed by an optional fraction and `Z` or an offset.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (s.ends_with('Z') || s.ends_with('z') || s[19..].contains(['+', '-']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones_become_e164() {
        for (raw, want) in [
            ("(415) 555-0123", "+14155550123"),
            ("+44 20 7946 0000", "+442079460000"),
            ("0044 20 7946 0000", "+442079460000"),
            ("415.555.0123", "+14155550123"),
        ] {
            assert_eq!(phone(raw, "1", "p").unwrap(), want, "{raw}");
        }
        assert_eq!(phone("020 7946 0000", "44", "p").unwrap(), "+442079460000");
        for bad in ["12", "call me", "+0123456789", "++1415"] {
            assert!(phone(bad, "1", "p").is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(email(" Ann@Example.COM ", "e").unwrap(), "ann@example.com");
        for bad in ["ann", "a@b", "a b@c.d", "@c.d", "a@@c.d"] {
            assert!(email(bad, "e").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_contact_names_its_bad_field() {
        let err = contact(
            &json!({"id": "c1", "name": "A", "phones": ["x"]}),
            "$[3]",
            "1",
        )
        .unwrap_err();
        assert_eq!(err.path, "$[3].phones[0]");
        let err = contact(&json!({"name": "A"}), "$[0]", "1").unwrap_err();
        assert_eq!(err.to_string(), "$[0].id: is missing");
        let (c, deleted) = contact(&json!({"id": "c1", "deleted": true}), "$", "1").unwrap();
        assert!(deleted && c.id == "c1");
    }

    #[test]
    fn interactions_take_only_known_types_priorities_and_statuses() {
        let types = vec!["call".to_owned()];
        let ok = json!({"id": "i1", "contact_external_id": "c1", "subject": "S",
                        "date": "2026-11-27T10:00:00Z", "type": "call", "priority": "high"});
        assert!(interaction(&ok, "$", &types).is_ok());
        let mut bad = ok.clone();
        bad["priority"] = json!("meh");
        assert_eq!(
            interaction(&bad, "$", &types).unwrap_err().path,
            "$.priority"
        );
        let mut bad = ok.clone();
        bad["date"] = json!("yesterday");
        assert_eq!(interaction(&bad, "$", &types).unwrap_err().path, "$.date");
    }
}
