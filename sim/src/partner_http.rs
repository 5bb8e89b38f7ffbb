//! The fake partner CRM's REST API over `partner_data`: bearer auth, strict query parameters,
//! injected faults and the request log. Exactly four routes:
//! `GET /crm/contacts`, `GET /crm/agents`, `GET /crm/interactions`, `POST /crm/actions/{name}`.
//! Every refusal is `{"error": "…"}` starting with what was wrong.

use crate::http::{media_type, Reply};
use crate::partner_data::{e164, PartnerData};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The largest page a list call may ask for.
pub const MAX_LIMIT: usize = 1000;

/// One request the backend received, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Whether it carried `Authorization: Bearer {token}`.
    pub authorized: bool,
    pub status: u16,
}

/// What the next `times` requests whose path and query start with `prefix` meet before the API.
#[derive(Debug, Clone)]
pub(crate) struct FaultRule {
    pub prefix: String,
    pub kind: FaultKind,
    pub times: usize,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum FaultKind {
    /// Answer this status with `{"error"}` (429 also says `Retry-After: 1`).
    Status(u16),
    /// Wait, then answer normally.
    Stall(Duration),
}

/// Everything one backend holds, shared by its server and its handle.
pub(crate) struct Shared {
    pub token: String,
    pub data: Mutex<PartnerData>,
    pub log: Mutex<Vec<RecordedRequest>>,
    pub faults: Mutex<Vec<FaultRule>>,
}

impl Shared {
    pub fn data(&self) -> MutexGuard<'_, PartnerData> {
        self.data.lock().unwrap()
    }

    /// The fault for this request, if one is armed (using it up).
    pub fn take_fault(&self, path_and_query: &str) -> Option<FaultKind> {
        let mut faults = self.faults.lock().unwrap();
        let i = faults
            .iter()
            .position(|f| f.times > 0 && path_and_query.starts_with(&f.prefix))?;
        faults[i].times -= 1;
        let kind = faults[i].kind;
        faults.retain(|f| f.times > 0);
        Some(kind)
    }
}

/// What the API needs of a request.
pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

fn error(status: u16, text: impl Into<String>) -> Reply {
    let text = text.into();
    let mut r = Reply::json(status, json!({"error": text}));
    r.error = Some(text);
    r
}

/// A route's handler: the answer, or a refusal.
type Route = fn(&Shared, &Incoming) -> Result<Reply, Reply>;
/// Which contacts an interaction lookup is about.
type ContactFilter = Box<dyn Fn(&Map<String, Value>) -> bool>;

/// Whether the request carries exactly the backend's token (the scheme is case-insensitive, RFC
/// 7235 §2.1).
pub(crate) fn authorized(token: &str, authorization: Option<&str>) -> bool {
    authorization
        .and_then(|h| h.split_once(' '))
        .is_some_and(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && t == token)
}

/// Answers a request that got past the faults.
pub(crate) fn handle(shared: &Shared, req: &Incoming) -> Reply {
    if !authorized(&shared.token, req.authorization) {
        let mut r = error(401, "authorization: a valid Bearer token is required");
        r.headers.push(("www-authenticate", "Bearer".into()));
        return r;
    }
    let segs: Vec<&str> = req.path.split('/').skip(1).collect();
    let (allowed, answer): (&str, Route) = match segs.as_slice() {
        ["crm", "contacts"] => ("GET", contacts),
        ["crm", "agents"] => ("GET", agents),
        ["crm", "interactions"] => ("GET", interactions),
        ["crm", "actions", name] if valid_action_name(name) => ("POST", action),
        _ => return error(404, format!("no such resource: {}", req.path)),
    };
    if req.method != allowed {
        let mut r = error(
            405,
            format!("method: {} not allowed (use {allowed})", req.method),
        );
        r.headers.push(("allow", allowed.into()));
        return r;
    }
    answer(shared, req).unwrap_or_else(|refusal| refusal)
}

fn valid_action_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The query's parameters: only `allowed` ones, each at most once.
fn params(query: &str, allowed: &[&str]) -> Result<HashMap<String, String>, Reply> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if !allowed.contains(&k.as_ref()) {
            return Err(error(
                400,
                format!(
                    "query: unknown parameter {k:?} (allowed: {})",
                    allowed.join(", ")
                ),
            ));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(error(400, format!("query: parameter {k:?} repeated")));
        }
    }
    Ok(out)
}

/// A required unsigned decimal (digits only: no sign, space or exponent).
fn number(p: &HashMap<String, String>, name: &str) -> Result<u64, Reply> {
    let v = p
        .get(name)
        .ok_or_else(|| error(400, format!("{name}: required")))?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(
            400,
            format!("{name}: {v:?} is not an unsigned integer"),
        ));
    }
    v.parse()
        .map_err(|_| error(400, format!("{name}: {v:?} is out of range")))
}

fn limit(p: &HashMap<String, String>) -> Result<usize, Reply> {
    match number(p, "limit")? {
        n @ 1..=1000 => Ok(n as usize),
        n => Err(error(400, format!("limit: {n} is not in 1..={MAX_LIMIT}"))),
    }
}

/// An optional cursor; present means non-empty.
fn after(p: &HashMap<String, String>) -> Result<Option<&str>, Reply> {
    match p.get("after").map(String::as_str) {
        Some("") => Err(error(400, "after: must not be empty")),
        other => Ok(other),
    }
}

fn contacts(shared: &Shared, req: &Incoming) -> Result<Reply, Reply> {
    let p = params(req.query, &["since", "after", "limit"])?;
    let since = number(&p, "since")?;
    let (after, limit) = (after(&p)?, limit(&p)?);
    Ok(Reply::json(
        200,
        shared.data().contacts_page(since, after, limit),
    ))
}

fn agents(shared: &Shared, req: &Incoming) -> Result<Reply, Reply> {
    let p = params(req.query, &["after", "limit"])?;
    let (after, limit) = (after(&p)?, limit(&p)?);
    Ok(Reply::json(200, shared.data().agents_page(after, limit)))
}

/// One of `contact` (a live uid, 404 otherwise), `email` (compared ignoring ASCII case) or
/// `phone` (E.164, compared with each stored number in E.164), and optionally `kinds`.
fn interactions(shared: &Shared, req: &Incoming) -> Result<Reply, Reply> {
    let p = params(req.query, &["contact", "email", "phone", "kinds"])?;
    let kinds: Option<Vec<String>> = match p.get("kinds") {
        None => None,
        Some(k) if k.split(',').any(str::is_empty) => {
            return Err(error(400, format!("kinds: {k:?} has an empty kind")))
        }
        Some(k) => Some(k.split(',').map(str::to_string).collect()),
    };
    let by: Vec<&str> = ["contact", "email", "phone"]
        .into_iter()
        .filter(|k| p.contains_key(*k))
        .collect();
    let [by] = by.as_slice() else {
        return Err(error(
            400,
            "query: exactly one of contact, email, phone is required",
        ));
    };
    let value = p[*by].clone();
    let data = shared.data();
    let matches: ContactFilter = match *by {
        "contact" => {
            if !data.contact_is_live(&value) {
                return Err(error(404, format!("contact: no such contact {value:?}")));
            }
            Box::new(move |c| c["uid"].as_str() == Some(value.as_str()))
        }
        "email" => {
            if !value.contains('@') {
                return Err(error(
                    400,
                    format!("email: {value:?} is not an email address"),
                ));
            }
            Box::new(move |c| listed(c, "email_addresses", |e| e.eq_ignore_ascii_case(&value)))
        }
        _ => {
            let wanted = e164(&value)
                .filter(|_| {
                    value.starts_with('+') && value[1..].bytes().all(|b| b.is_ascii_digit())
                })
                .ok_or_else(|| {
                    error(400, format!("phone: {value:?} is not E.164 (+ and digits)"))
                })?;
            Box::new(move |c| listed(c, "phone_numbers", |n| e164(n).as_ref() == Some(&wanted)))
        }
    };
    Ok(Reply::json(
        200,
        data.interactions_of(matches, kinds.as_deref()),
    ))
}

/// Whether a string in the contact's list `key` satisfies `pred`.
fn listed(c: &Map<String, Value>, key: &str, pred: impl Fn(&str) -> bool) -> bool {
    c[key]
        .as_array()
        .is_some_and(|l| l.iter().filter_map(Value::as_str).any(&pred))
}

/// `{"contact", "agent", "inputs", "request_key"}`, all required: a live contact and a known
/// agent (404 otherwise), an object of inputs, a non-empty key.
fn action(shared: &Shared, req: &Incoming) -> Result<Reply, Reply> {
    if media_type(req.content_type).as_deref() != Some("application/json") {
        return Err(error(415, "content-type: must be application/json"));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(req.body) else {
        return Err(error(400, "body: must be a JSON object"));
    };
    let members = ["contact", "agent", "inputs", "request_key"];
    if let Some(k) = body.keys().find(|k| !members.contains(&k.as_str())) {
        return Err(error(
            400,
            format!(
                "body: unknown member {k:?} (allowed: {})",
                members.join(", ")
            ),
        ));
    }
    for key in ["contact", "agent", "request_key"] {
        match body.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => return Err(error(400, format!("{key}: must be a non-empty string"))),
            None => return Err(error(400, format!("{key}: required"))),
        }
    }
    if !body.get("inputs").is_some_and(Value::is_object) {
        return Err(error(400, "inputs: must be a JSON object"));
    }
    let mut data = shared.data();
    let (contact, agent) = (
        body["contact"].as_str().unwrap(),
        body["agent"].as_str().unwrap(),
    );
    if !data.contact_is_live(contact) {
        return Err(error(404, format!("contact: no such contact {contact:?}")));
    }
    if !data.has_agent(agent) {
        return Err(error(404, format!("agent: no such agent {agent:?}")));
    }
    let name = req.path.rsplit('/').next().unwrap_or_default();
    let mut request = Value::Object(body);
    request["name"] = json!(name);
    let (status, answer) = data.run_action(request);
    Ok(Reply::json(status, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_but_the_token_is_exact() {
        assert!(authorized("t0k", Some("Bearer t0k")));
        assert!(authorized("t0k", Some("bearer t0k")));
        assert!(!authorized("t0k", Some("Bearer T0K")));
        assert!(!authorized("t0k", Some("Basic t0k")));
        assert!(!authorized("t0k", Some("Bearer  t0k")));
        assert!(!authorized("t0k", None));
    }

    #[test]
    fn action_names_are_url_safe_words() {
        assert!(valid_action_name("create_ticket-2"));
        assert!(!valid_action_name(""));
        assert!(!valid_action_name("a.b"));
    }

    #[test]
    fn a_query_parameter_may_appear_once() {
        let err = params("limit=1&limit=2", &["limit"]).unwrap_err();
        assert_eq!(
            err.body.unwrap()["error"],
            "query: parameter \"limit\" repeated"
        );
    }

    #[test]
    fn numbers_are_plain_digits() {
        for bad in ["+5", "-1", " 5", "1e3", ""] {
            let p = HashMap::from([("since".to_string(), bad.to_string())]);
            assert!(number(&p, "since").is_err(), "{bad:?} accepted");
        }
        let p = HashMap::from([("since".to_string(), "99999999999999999999".to_string())]);
        let err = number(&p, "since").unwrap_err();
        assert!(err.body.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("out of range"));
    }
}
