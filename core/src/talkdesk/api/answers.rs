//! One parser per answer. Lenient about what Talkdesk may add or leave out; strict about the
//! members a caller decides on.

use serde::Serialize;
use serde_json::{Map, Value};

use super::failure::{classify, ApiError};
use crate::talkdesk::http::HttpResponse;

/// A 2xx answer's body as a JSON object.
fn json_object(resp: &HttpResponse) -> Result<Map<String, Value>, ApiError> {
    classify(resp)?;
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Transient(format!(
            "{} with a body that is not a JSON object",
            resp.status
        ))),
        // Position only: serde's message could repeat a piece of the body (names, emails).
        Err(e) => Err(ApiError::Transient(format!(
            "{} with a malformed JSON body (line {}, column {})",
            resp.status,
            e.line(),
            e.column()
        ))),
    }
}

/// Any JSON object answer (the partner's own calls through the hooks' Talkdesk client).
pub fn parse_json(resp: &HttpResponse) -> Result<Value, ApiError> {
    json_object(resp).map(Value::Object)
}

fn missing(resp: &HttpResponse, what: &str) -> ApiError {
    ApiError::Transient(format!("{} without {what}", resp.status))
}

/// A member that is a string with something in it.
pub(super) fn plain(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// An identifier: a non-blank string, or an integer as its decimal text (other Talkdesk APIs
/// have numeric ids; the text is what we compare and store).
fn ident(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => plain(map, key),
    }
}

/// A count: a non-negative integer, a number with no fraction, or the same as a string
/// (`app.updated` sends `licenses` as a string, so the API may too).
fn count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The installation's state after an approve or reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateAnswer {
    /// `approved`, `rejected`, or whatever Talkdesk reports (e.g. `uninstalled`).
    pub state: String,
    pub reason: Option<String>,
}

/// Parses the answer to [`InstallationApi::approve`](super::InstallationApi::approve) or [`InstallationApi::reject`](super::InstallationApi::reject): `{state, reason, updated_at, _links}`.
pub fn parse_state(resp: &HttpResponse) -> Result<StateAnswer, ApiError> {
    let map = json_object(resp)?;
    Ok(StateAnswer {
        state: plain(&map, "state").ok_or_else(|| missing(resp, "a state"))?,
        reason: plain(&map, "reason"),
    })
}

/// What Talkdesk says about an installation: the facts an event's claims are checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallationInfo {
    pub id: String,
    pub app_id: String,
    pub account_id: String,
    /// The scopes granted; empty when Talkdesk does not list them.
    pub scopes: Vec<String>,
    /// From `_embedded.state.state` (`pending`, `approved`, …).
    pub state: Option<String>,
}

/// Parses the answer to [`InstallationApi::installation`](super::InstallationApi::installation). `id`, `app_id` and `account_id` are required:
/// they are what the caller compares. `scopes` may be an array or a space-separated string.
pub fn parse_installation(resp: &HttpResponse) -> Result<InstallationInfo, ApiError> {
    let map = json_object(resp)?;
    let scopes = match map.get("scopes") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let state = map
        .get("_embedded")
        .and_then(|e| e.get("state"))
        .and_then(Value::as_object)
        .and_then(|s| plain(s, "state"));
    Ok(InstallationInfo {
        id: ident(&map, "id").ok_or_else(|| missing(resp, "an id"))?,
        app_id: ident(&map, "app_id").ok_or_else(|| missing(resp, "an app_id"))?,
        account_id: ident(&map, "account_id").ok_or_else(|| missing(resp, "an account_id"))?,
        scopes,
        state,
    })
}

/// One user of an installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TalkdeskUser {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// `true` when Talkdesk leaves it out; `false` when it is there but not a boolean (or
    /// `"true"`/`"false"`), so a value we cannot read never counts as an active user.
    pub active: bool,
}

/// One page of an installation's users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsersPage {
    pub total: Option<u64>,
    /// The page Talkdesk says this is; 0 when it does not say.
    pub page: u32,
    pub users: Vec<TalkdeskUser>,
    /// Whether `_links.next` is there: the only sign that another page follows.
    pub has_next: bool,
}

/// Parses the answer to [`InstallationApi::users`](super::InstallationApi::users): `{total, page, per_page, _embedded.users[…], _links}`.
///
/// A user without an id is skipped (there is nothing to key it by); the rest of the page still
/// counts. A page without `_embedded.users` is accepted as empty only when it says `total: 0`
/// and has no next page: read as "no users", a malformed answer would take every licence away.
pub fn parse_users(resp: &HttpResponse) -> Result<UsersPage, ApiError> {
    let map = json_object(resp)?;
    let total = map.get("total").and_then(count);
    let page = map
        .get("page")
        .and_then(count)
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0);
    let has_next = map
        .get("_links")
        .and_then(|links| links.get("next"))
        .is_some_and(|next| !next.is_null());
    let users = match map.get("_embedded").and_then(|e| e.get("users")) {
        Some(Value::Array(items)) => items.iter().filter_map(user).collect(),
        None | Some(Value::Null) if total == Some(0) && !has_next => Vec::new(),
        _ => return Err(missing(resp, "a list of users")),
    };
    Ok(UsersPage {
        total,
        page,
        users,
        has_next,
    })
}

fn user(value: &Value) -> Option<TalkdeskUser> {
    let map = value.as_object()?;
    let active = match map.get("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(_) => false,
    };
    Some(TalkdeskUser {
        id: ident(map, "id")?,
        email: plain(map, "email"),
        name: plain(map, "name"),
        active,
    })
}

/// An installation's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    /// Talkdesk's `type`: `trial` or `paid`.
    pub kind: Option<String>,
    pub license_type: Option<String>,
    pub name: Option<String>,
    /// `None` when absent or not a count (e.g. `"unlimited"`).
    pub total_licenses: Option<u64>,
}

/// Parses the answer to [`InstallationApi::subscription`](super::InstallationApi::subscription): `{type, license_type, name, total_licenses, …}`.
/// Every member is optional; the body must still be a JSON object.
pub fn parse_subscription(resp: &HttpResponse) -> Result<Subscription, ApiError> {
    let map = json_object(resp)?;
    Ok(Subscription {
        kind: plain(&map, "type"),
        license_type: plain(&map, "license_type"),
        name: plain(&map, "name"),
        total_licenses: map.get("total_licenses").and_then(count),
    })
}

/// The account a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: String,
    /// The account name (the Talkdesk ID host label), unvalidated: parse it with
    /// [`AccountName::parse`](crate::talkdesk::hosts::AccountName::parse) before building a host from it.
    pub name: String,
    pub company_name: Option<String>,
    pub timezone: Option<String>,
}

/// Parses the answer to [`InstallationApi::account`](super::InstallationApi::account): `{id, name, company_name, timezone, created_at}`;
/// `id` and `name` are required.
pub fn parse_account(resp: &HttpResponse) -> Result<Account, ApiError> {
    let map = json_object(resp)?;
    Ok(Account {
        id: ident(&map, "id").ok_or_else(|| missing(resp, "an id"))?,
        name: plain(&map, "name").ok_or_else(|| missing(resp, "a name"))?,
        company_name: plain(&map, "company_name"),
        timezone: plain(&map, "timezone"),
    })
}

/// Parses the answer to [`InstallationApi::event`](super::InstallationApi::event): the event object as Talkdesk has it, for the caller to
/// compare with what was delivered. 404 is [`ApiError::NotFound`]: the event was never sent.
pub fn parse_event(resp: &HttpResponse) -> Result<Value, ApiError> {
    json_object(resp).map(Value::Object)
}

/// Parses the answer to [`InstallationApi::acknowledge_credentials`](super::InstallationApi::acknowledge_credentials): 202 (documented) or any 2xx; the body,
/// if any, is ignored.
pub fn parse_acknowledged(resp: &HttpResponse) -> Result<(), ApiError> {
    classify(resp)
}
