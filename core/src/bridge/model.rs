//! The bridge's records in Talkdesk's shapes (contract §6), checked and normalised at the
//! boundary: phones in E.164, emails lower-case. Every refusal names the field.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::json::{quoted_list, Object, Reader};

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// A record as the bridge stores it (its `Serialize` form), read back field by field; fields
/// it does not name are ignored.
pub trait Stored: Sized {
    fn read(r: &mut Reader, o: &Object) -> Self;
}

fn texts(r: &mut Reader, v: &Value, path: &str) -> String {
    r.as_text(v, path)
}

impl Stored for Contact {
    fn read(r: &mut Reader, o: &Object) -> Contact {
        Contact {
            id: r.text(o, "id"),
            name: r.text(o, "name"),
            company: r.opt_text(o, "company"),
            title: r.opt_text(o, "title"),
            emails: r.list(o, "emails", texts),
            phones: r.list(o, "phones", texts),
            photo_url: r.opt_text(o, "photo_url"),
            address: r.opt_text(o, "address"),
            websites: r.opt_list(o, "websites", texts),
            url: r.opt_text(o, "url"),
        }
    }
}

impl Stored for Agent {
    fn read(r: &mut Reader, o: &Object) -> Agent {
        Agent {
            id: r.text(o, "id"),
            name: r.text(o, "name"),
            email: r.text(o, "email"),
        }
    }
}

impl Stored for Interaction {
    fn read(r: &mut Reader, o: &Object) -> Interaction {
        Interaction {
            id: r.text(o, "id"),
            subject: r.text(o, "subject"),
            description: r.opt_text(o, "description"),
            date: r.text(o, "date"),
            url: r.opt_text(o, "url"),
            kind: r.text(o, "type"),
            priority: r.opt_text(o, "priority"),
            status: r.opt_text(o, "status"),
        }
    }
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
        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
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
        Value::Array(items) => {
            let mut texts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                texts.push(text(item, &format!("{path}[{i}]"), true)?.unwrap_or_default());
            }
            Ok(texts)
        }
        _ => field_error(path, "must be an array of strings"),
    }
}

/// An email, trimmed, its ASCII letters lower-cased: one `@` with text on both sides, no
/// spaces. Other letters stay as written: Unicode case mapping would carry its tables (about
/// 7 KB of the wasm's gzip), and an internationalised address's local part has no case rule.
pub fn email(raw: &str, path: &str) -> Result<String, FieldError> {
    let e = raw.trim().to_ascii_lowercase();
    let ok = e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split('@').count() == 2
        && e.split('@').all(|p| !p.is_empty())
        && e.rsplit('@')
            .next()
            .is_some_and(|d| d.contains('.') && d.split('.').all(|l| !l.is_empty()));
    if ok {
        Ok(e)
    } else {
        field_error(path, "is not an email address")
    }
}

/// A phone number in E.164 (`+` and 8 to 15 digits). Spaces, dashes, dots and parentheses are
/// dropped; `00` is read as `+`; a number without a country code takes `default_cc`.
pub fn phone(raw: &str, default_cc: &str, path: &str) -> Result<String, FieldError> {
    // `+44 (0)20 …`: the national trunk prefix written beside the country code is not dialled.
    let cleaned = raw.trim().replace("(0)", "");
    let t = cleaned.as_str();
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
    } else if default_cc == "1" && digits.len() == 11 && digits.starts_with('1') {
        // North America writes its country code without the `+`: 1-415-555-0123.
        digits
    } else if default_cc == "39" {
        // Italy keeps the leading 0 of its numbers in E.164.
        format!("{default_cc}{digits}")
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
    let deleted = deleted_flag(o, &at("deleted"))?;
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
    // Loops rather than collects into a Result: each such collect is an adapter of its own.
    let mut emails = Vec::new();
    for (i, e) in list(get(o, "emails"), &at("emails"))?.iter().enumerate() {
        emails.push(email(e, &format!("{}[{i}]", at("emails")))?);
    }
    let mut phones = Vec::new();
    for (i, p) in list(get(o, "phones"), &at("phones"))?.iter().enumerate() {
        phones.push(phone(p, default_cc, &format!("{}[{i}]", at("phones")))?);
    }
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

/// The `deleted` member: absent, `true` or `false`.
fn deleted_flag(o: &Map<String, Value>, path: &str) -> Result<bool, FieldError> {
    match get(o, "deleted") {
        Value::Null | Value::Bool(false) => Ok(false),
        Value::Bool(true) => Ok(true),
        _ => field_error(path, "must be true or false"),
    }
}

/// One imported agent (and whether it marks a deletion).
pub fn agent(v: &Value, path: &str) -> Result<(Agent, bool), FieldError> {
    let Value::Object(o) = v else {
        return field_error(path, "must be an object");
    };
    let at = |k: &str| format!("{path}.{k}");
    let id = external_id(get(o, "id"), &at("id"))?;
    if deleted_flag(o, &at("deleted"))? {
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
    let deleted = deleted_flag(o, &at("deleted"))?;
    let kind = text(get(o, "type"), &at("type"), !deleted)?.unwrap_or_default();
    if !deleted && !types.contains(&kind) {
        return field_error(at("type"), format!("must be one of {}", quoted_list(types)));
    }
    let date = text(get(o, "date"), &at("date"), !deleted)?.unwrap_or_default();
    if !deleted && !is_rfc3339(&date) {
        return field_error(at("date"), "must be an RFC 3339 date-time");
    }
    let one_of = |k: &str, allowed: &[&str]| -> Result<Option<String>, FieldError> {
        match text(get(o, k), &at(k), false)? {
            Some(v) if !allowed.contains(&v.as_str()) => {
                field_error(at(k), format!("must be one of {}", quoted_list(allowed)))
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

/// Milliseconds since 1970 of an RFC 3339 date-time (`2026-11-27T10:00:00Z`, a fraction and a
/// `±hh:mm` offset allowed), checked field by field; `None` for anything else.
pub fn rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        ms = f
            .chars()
            .chain("000".chars())
            .take(3)
            .collect::<String>()
            .parse()
            .ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = crate::calendar::days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec.min(59) * 1000 + ms)
}

/// Whether `s` is an RFC 3339 date-time.
pub fn is_rfc3339(s: &str) -> bool {
    rfc3339_ms(s).is_some()
}

/// A UTC stamp that sorts as text in time order (`occurred_at` of stored interactions).
pub fn sortable_utc(ms: i64) -> String {
    format!("{ms:015}")
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
        assert_eq!(phone("1-415-555-0123", "1", "p").unwrap(), "+14155550123");
        assert_eq!(
            phone("+44 (0)20 7946 0000", "1", "p").unwrap(),
            "+442079460000"
        );
        assert_eq!(phone("06 1234 5678", "39", "p").unwrap(), "+390612345678");
        for bad in ["12", "call me", "+0123456789", "++1415"] {
            assert!(phone(bad, "1", "p").is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(email(" Ann@Example.COM ", "e").unwrap(), "ann@example.com");
        assert_eq!(email("Ünal@Example.de", "e").unwrap(), "Ünal@example.de");
        for bad in [
            "ann", "a@b", "a b@c.d", "@c.d", "a@@c.d", "a@.com", "a@b..c",
        ] {
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
    fn dates_are_rfc3339_checked_field_by_field_and_compared_in_utc() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00.5Z"), Some(500));
        assert!(rfc3339_ms("2026-11-27T10:00:00+02:00") < rfc3339_ms("2026-11-27T09:00:00Z"));
        for bad in [
            "2026-99-99T99:99:99Z",
            "2026-02-30T00:00:00Z",
            "2026-11-27T10:00:00",
            "2026-11-27T10:00:00 nonsense -",
            "2026-11-27 10:00:00Z",
        ] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
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
