//! The Apps, Accounts and Users API calls (contract §4) as plain data: one builder per request,
//! one parser per answer, and one classification of failures, [`ApiError`], shared by all.
//!
//! Every URL is built with [`TalkdeskUrl::join_path`] from the installation's API root, so an id
//! that arrives in an event (`../x`, `a/b`, `?q=1`) stays one percent-encoded path segment and
//! the request stays on the allowlisted host; `.`, `..` and empty ids are refused with a
//! [`HostError`].
//!
//! The parsers accept what the simulator sends and are lenient about what Talkdesk may add or
//! leave out: unknown members are ignored, optional members may be missing, `null` or of an
//! unexpected type (they then read as absent). Only the members a caller decides on are
//! required; a 2xx answer without them is [`ApiError::Transient`], never a made-up default.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::hosts::{HostError, TalkdeskUrl};
use super::http::{HttpRequest, HttpResponse};
use crate::secret::SecretString;

/// Users asked for per page when paging through an installation's users. 100 is the largest
/// page the simulator serves (a common cap for paged APIs); Talkdesk does not document one.
pub const USERS_PER_PAGE: u32 = 100;

/// The most user pages a caller fetches for one installation (50,000 users at
/// [`USERS_PER_PAGE`]). A `_links.next` that never ends, by bug or by malice, must not keep a
/// worker paging forever.
pub const MAX_USER_PAGES: u32 = 500;

/// Longest text taken from an answer into an error: enough to tell what went wrong in a log
/// line or on the operator's page, not enough to flood either.
pub const MAX_ERROR_TEXT: usize = 200;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// `POST /apps/{app_id}/installations/{installation_id}/state` with
/// `{"state":"approve","reason":…}`: confirms an install, update or uninstall (contract §4).
pub fn approve(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    token: &SecretString,
    reason: &str,
) -> Result<HttpRequest, HostError> {
    set_state(api_root, app_id, installation_id, token, "approve", reason)
}

/// `POST /apps/{app_id}/installations/{installation_id}/state` with
/// `{"state":"reject","reason":…}`: refuses an installation (e.g. it could not be verified).
pub fn reject(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    token: &SecretString,
    reason: &str,
) -> Result<HttpRequest, HostError> {
    set_state(api_root, app_id, installation_id, token, "reject", reason)
}

fn set_state(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    token: &SecretString,
    action: &str,
    reason: &str,
) -> Result<HttpRequest, HostError> {
    let url = installation_url(api_root, app_id, installation_id, &["state"])?;
    // Members in the documented order; `Value`'s `Display` writes each string JSON-escaped.
    let body = format!(
        "{{\"state\":{},\"reason\":{}}}",
        Value::from(action),
        Value::from(reason)
    );
    Ok(request("POST", &url, token, Some(body)))
}

/// `GET /apps/{app_id}/installations/{installation_id}`: the installation as Talkdesk has it,
/// to check an event's claims (app, account) before acting on them.
pub fn get_installation(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    token: &SecretString,
) -> Result<HttpRequest, HostError> {
    let url = installation_url(api_root, app_id, installation_id, &[])?;
    Ok(request("GET", &url, token, None))
}

/// `GET /apps/{app_id}/installations/{installation_id}/users?page={page}&per_page={per_page}`.
/// Pages count from 1; see [`USERS_PER_PAGE`] and [`MAX_USER_PAGES`].
pub fn get_users(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    token: &SecretString,
    page: u32,
    per_page: u32,
) -> Result<HttpRequest, HostError> {
    let url = installation_url(api_root, app_id, installation_id, &["users"])?.with_query(&[
        ("page", &page.to_string()),
        ("per_page", &per_page.to_string()),
    ]);
    Ok(request("GET", &url, token, None))
}

/// `GET /apps/{app_id}/installations/{installation_id}/subscription`: the plan and licences.
pub fn get_subscription(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    token: &SecretString,
) -> Result<HttpRequest, HostError> {
    let url = installation_url(api_root, app_id, installation_id, &["subscription"])?;
    Ok(request("GET", &url, token, None))
}

/// `GET /account`: the account the token was minted for (scope `account:read`).
pub fn get_account(api_root: &TalkdeskUrl, token: &SecretString) -> Result<HttpRequest, HostError> {
    let url = api_root.join_path(&["account"])?;
    Ok(request("GET", &url, token, None))
}

/// `GET /apps/{app_id}/events/{event_id}`: the event as Talkdesk sent it. Events carry no
/// signature (contract §2), so reading one back with the installation's own token is how a
/// delivered event is told from a forged one.
pub fn get_event(
    api_root: &TalkdeskUrl,
    app_id: &str,
    event_id: &str,
    token: &SecretString,
) -> Result<HttpRequest, HostError> {
    let url = api_root.join_path(&["apps", app_id, "events", event_id])?;
    Ok(request("GET", &url, token, None))
}

/// `POST /apps/{app_id}/installations/{installation_id}/credentials/{client_id}/state` with
/// `{"state":"acknowledged"}`: tells Talkdesk the rotated credentials `client_id` are in use.
pub fn acknowledge_credentials(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    client_id: &str,
    token: &SecretString,
) -> Result<HttpRequest, HostError> {
    let url = installation_url(
        api_root,
        app_id,
        installation_id,
        &["credentials", client_id, "state"],
    )?;
    let body = r#"{"state":"acknowledged"}"#.to_owned();
    Ok(request("POST", &url, token, Some(body)))
}

fn installation_url(
    api_root: &TalkdeskUrl,
    app_id: &str,
    installation_id: &str,
    rest: &[&str],
) -> Result<TalkdeskUrl, HostError> {
    let mut segments = vec!["apps", app_id, "installations", installation_id];
    segments.extend_from_slice(rest);
    api_root.join_path(&segments)
}

/// The request with the bearer token, `accept: application/json`, and `content-type` only when
/// there is a body (a GET has the empty body).
fn request(
    method: &'static str,
    url: &TalkdeskUrl,
    token: &SecretString,
    body: Option<String>,
) -> HttpRequest {
    let mut headers = vec![
        ("authorization", format!("Bearer {}", token.expose())),
        ("accept", "application/json".to_owned()),
    ];
    if body.is_some() {
        headers.push(("content-type", "application/json".to_owned()));
    }
    HttpRequest {
        method,
        url: url.as_str().to_owned(),
        headers,
        body: SecretString::new(body.unwrap_or_default()),
    }
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

/// Why a Talkdesk API call did not succeed, sorted by what the caller should do next. Text in a
/// variant comes from Talkdesk's answer, control characters replaced and cut to
/// [`MAX_ERROR_TEXT`] characters; the token is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 401: the access token was refused (expired early, revoked, or minted with credentials
    /// that were rotated away). Separate from 403 because it has a fix: drop the cached token,
    /// mint a new one, and retry once.
    Unauthorized,
    /// 403: the token is valid but may not do this (a missing scope, another installation's
    /// token). A new token with the same credentials gets the same answer: permanent until
    /// the app version or the installation changes.
    Forbidden(String),
    /// 404: no such app, installation, credentials or event. For [`get_event`] this means
    /// Talkdesk never sent the event: it was forged.
    NotFound,
    /// 409: the request conflicts with the installation's state (e.g. rejecting an uninstall).
    Conflict(String),
    /// Any other 4xx: the request itself is wrong; retrying it unchanged cannot help.
    Rejected { status: u16, error: String },
    /// 5xx, 408, 425, 429, a 1xx or 3xx, or a 2xx whose body is malformed or lacks what the
    /// caller needs: retry later with backoff.
    Transient(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthorized => f.write_str("Talkdesk refused the access token (401)"),
            ApiError::Forbidden(why) => write!(f, "Talkdesk forbade the call (403): {why}"),
            ApiError::NotFound => f.write_str("Talkdesk does not know it (404)"),
            ApiError::Conflict(why) => write!(f, "Talkdesk reported a conflict (409): {why}"),
            ApiError::Rejected { status, error } => {
                write!(f, "Talkdesk rejected the request ({status}): {error}")
            }
            ApiError::Transient(why) => write!(f, "Talkdesk call failed (transient): {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// Sorts the status; `Ok` for any 2xx.
fn classify(resp: &HttpResponse) -> Result<(), ApiError> {
    let status = resp.status;
    let described = || error_text(&resp.body).unwrap_or_else(|| "no error body".to_owned());
    match status {
        200..=299 => Ok(()),
        401 => Err(ApiError::Unauthorized),
        403 => Err(ApiError::Forbidden(described())),
        404 => Err(ApiError::NotFound),
        409 => Err(ApiError::Conflict(described())),
        // Timeouts, "too early" and throttling are about when, not what.
        408 | 425 | 429 => Err(ApiError::Transient(format!("status {status}"))),
        400..=499 => Err(ApiError::Rejected {
            status,
            error: described(),
        }),
        500..=599 => Err(ApiError::Transient(match error_text(&resp.body) {
            Some(text) => clip(&format!("status {status}: {text}")),
            None => format!("status {status}"),
        })),
        _ => Err(ApiError::Transient(format!("unexpected status {status}"))),
    }
}

/// The error text of a JSON error body: `error` (a string, or an object with `code` /
/// `message`), `error_description`, `message`, `description` or `code`, whichever are there.
/// `None` when the body is not a JSON object or has none of them (an HTML error page is not
/// repeated).
fn error_text(body: &[u8]) -> Option<String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let (code, detail) = match map.get("error") {
        Some(Value::Object(inner)) => (
            plain(inner, "code").or_else(|| plain(inner, "error")),
            plain(inner, "message").or_else(|| plain(inner, "description")),
        ),
        _ => (
            plain(&map, "error").or_else(|| plain(&map, "code")),
            ["error_description", "message", "description"]
                .into_iter()
                .find_map(|k| plain(&map, k)),
        ),
    };
    let text = match (code, detail) {
        (Some(c), Some(d)) => format!("{c}: {d}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return None,
    };
    Some(clip(&text))
}

/// At most [`MAX_ERROR_TEXT`] characters, control characters (new lines included) replaced by
/// spaces so the text stays on its log line.
fn clip(text: &str) -> String {
    text.chars()
        .take(MAX_ERROR_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

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

fn missing(resp: &HttpResponse, what: &str) -> ApiError {
    ApiError::Transient(format!("{} without {what}", resp.status))
}

/// A member that is a string with something in it.
fn plain(map: &Map<String, Value>, key: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// The installation's state after an approve or reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateAnswer {
    /// `approved`, `rejected`, or whatever Talkdesk reports (e.g. `uninstalled`).
    pub state: String,
    pub reason: Option<String>,
}

/// Parses the answer to [`approve`] or [`reject`]: `{state, reason, updated_at, _links}`.
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

/// Parses the answer to [`get_installation`]. `id`, `app_id` and `account_id` are required:
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

/// Parses the answer to [`get_users`]: `{total, page, per_page, _embedded.users[…], _links}`.
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

/// Parses the answer to [`get_subscription`]: `{type, license_type, name, total_licenses, …}`.
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
    /// [`super::hosts::AccountName::parse`] before building a host from it.
    pub name: String,
    pub company_name: Option<String>,
    pub timezone: Option<String>,
}

/// Parses the answer to [`get_account`]: `{id, name, company_name, timezone, created_at}`;
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

/// Parses the answer to [`get_event`]: the event object as Talkdesk has it, for the caller to
/// compare with what was delivered. 404 is [`ApiError::NotFound`]: the event was never sent.
pub fn parse_event(resp: &HttpResponse) -> Result<Value, ApiError> {
    json_object(resp).map(Value::Object)
}

/// Parses the answer to [`acknowledge_credentials`]: 202 (documented) or any 2xx; the body,
/// if any, is ignored.
pub fn parse_acknowledged(resp: &HttpResponse) -> Result<(), ApiError> {
    classify(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talkdesk::hosts::{Allowlist, Region};
    use serde_json::json;

    const TOKEN: &str = "tok-SECRET-123";

    fn root() -> TalkdeskUrl {
        Region::Us.api_root().unwrap()
    }

    fn token() -> SecretString {
        SecretString::new(TOKEN)
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    fn ok(body: Value) -> HttpResponse {
        resp(200, &body.to_string())
    }

    fn get_headers() -> Vec<(&'static str, String)> {
        vec![
            ("authorization", format!("Bearer {TOKEN}")),
            ("accept", "application/json".to_owned()),
        ]
    }

    fn post_headers() -> Vec<(&'static str, String)> {
        let mut h = get_headers();
        h.push(("content-type", "application/json".to_owned()));
        h
    }

    fn assert_get(r: &HttpRequest, url: &str) {
        assert_eq!(r.method, "GET");
        assert_eq!(r.url, url);
        assert_eq!(r.headers, get_headers());
        assert_eq!(r.body.expose(), "");
    }

    // --- requests ------------------------------------------------------------------------

    #[test]
    fn approve_posts_the_approve_state_with_its_reason() {
        let r = approve(&root(), "app-1", "inst-9", &token(), "provisioned").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/state"
        );
        assert_eq!(r.headers, post_headers());
        assert_eq!(
            r.body.expose(),
            r#"{"state":"approve","reason":"provisioned"}"#
        );
    }

    #[test]
    fn reject_posts_the_reject_state_with_its_reason() {
        let r = reject(&root(), "app-1", "inst-9", &token(), "account mismatch").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/state"
        );
        assert_eq!(r.headers, post_headers());
        assert_eq!(
            r.body.expose(),
            r#"{"state":"reject","reason":"account mismatch"}"#
        );
    }

    #[test]
    fn a_reason_is_json_escaped_and_cannot_add_members() {
        let reason = "a \"quote\", a \\ and\n\"state\":\"reject\"";
        let r = approve(&root(), "app", "i", &token(), reason).unwrap();
        let body: Value = serde_json::from_str(r.body.expose()).unwrap();
        assert_eq!(body, json!({"state": "approve", "reason": reason}));
    }

    #[test]
    fn get_installation_is_a_plain_get_of_the_installation() {
        let r = get_installation(&root(), "app-1", "inst-9", &token()).unwrap();
        assert_get(
            &r,
            "https://api.talkdeskapp.com/apps/app-1/installations/inst-9",
        );
    }

    #[test]
    fn get_users_asks_for_one_page() {
        let r = get_users(&root(), "app-1", "inst-9", &token(), 3, USERS_PER_PAGE).unwrap();
        assert_get(
            &r,
            "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/users?page=3&per_page=100",
        );
    }

    #[test]
    fn get_subscription_is_a_plain_get() {
        let r = get_subscription(&root(), "app-1", "inst-9", &token()).unwrap();
        assert_get(
            &r,
            "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/subscription",
        );
    }

    #[test]
    fn get_account_is_a_plain_get_of_the_account() {
        let r = get_account(&root(), &token()).unwrap();
        assert_get(&r, "https://api.talkdeskapp.com/account");
    }

    #[test]
    fn get_event_reads_the_event_under_the_app() {
        let r = get_event(&root(), "app-1", "evt-7", &token()).unwrap();
        assert_get(&r, "https://api.talkdeskapp.com/apps/app-1/events/evt-7");
    }

    #[test]
    fn acknowledge_credentials_posts_the_acknowledged_state() {
        let r = acknowledge_credentials(&root(), "app-1", "inst-9", "client-2", &token()).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/credentials/client-2/state"
        );
        assert_eq!(r.headers, post_headers());
        assert_eq!(r.body.expose(), r#"{"state":"acknowledged"}"#);
    }

    #[test]
    fn hostile_ids_are_encoded_and_stay_in_their_segment() {
        let t = token();
        let built = [
            approve(&root(), "../x", "a/b", &t, "r").unwrap(),
            get_installation(&root(), "../x", "a/b", &t).unwrap(),
            get_users(&root(), "../x", "a/b", &t, 1, 1).unwrap(),
            get_subscription(&root(), "../x", "a/b", &t).unwrap(),
            get_event(&root(), "../x", "a/b", &t).unwrap(),
            acknowledge_credentials(&root(), "../x", "a/b", "?q=1#f", &t).unwrap(),
        ];
        for r in &built {
            assert!(
                r.url
                    .starts_with("https://api.talkdeskapp.com/apps/..%2Fx/"),
                "{}",
                r.url
            );
            let url = url::Url::parse(&r.url).unwrap();
            assert_eq!(url.host_str(), Some("api.talkdeskapp.com"));
            assert_eq!(url.fragment(), None);
            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            assert_eq!(segments[..2], ["apps", "..%2Fx"], "{}", r.url);
            assert_eq!(segments[3], "a%2Fb", "{}", r.url);
        }
        assert_eq!(
            built[5].url,
            "https://api.talkdeskapp.com/apps/..%2Fx/installations/a%2Fb/credentials/%3Fq=1%23f/state"
        );
        assert_eq!(
            built[2].url,
            "https://api.talkdeskapp.com/apps/..%2Fx/installations/a%2Fb/users?page=1&per_page=1"
        );
    }

    #[test]
    fn ids_the_parser_would_resolve_away_are_refused() {
        let t = token();
        for bad in ["", ".", ".."] {
            assert!(matches!(
                get_installation(&root(), "app", bad, &t),
                Err(HostError::PathSegment { .. })
            ));
            assert!(matches!(
                get_event(&root(), bad, "evt", &t),
                Err(HostError::PathSegment { .. })
            ));
            assert!(matches!(
                acknowledge_credentials(&root(), "app", "i", bad, &t),
                Err(HostError::PathSegment { .. })
            ));
        }
    }

    #[test]
    fn paths_are_appended_to_a_root_with_a_base_path() {
        let base = Allowlist::default()
            .check("https://api.talkdeskapp.eu/v1/")
            .unwrap();
        assert_eq!(
            get_account(&base, &token()).unwrap().url,
            "https://api.talkdeskapp.eu/v1/account"
        );
        assert_eq!(
            approve(&base, "a", "i", &token(), "r").unwrap().url,
            "https://api.talkdeskapp.eu/v1/apps/a/installations/i/state"
        );
    }

    #[test]
    fn debug_of_a_request_never_shows_the_bearer_token() {
        let t = token();
        for r in [
            approve(&root(), "app", "i", &t, "r").unwrap(),
            get_users(&root(), "app", "i", &t, 1, 100).unwrap(),
            get_account(&root(), &t).unwrap(),
            acknowledge_credentials(&root(), "app", "i", "c", &t).unwrap(),
        ] {
            let shown = format!("{r:?}");
            assert!(!shown.contains(TOKEN), "{shown}");
            assert!(shown.contains(&r.url), "{shown}");
        }
    }

    // --- classification --------------------------------------------------------------------

    #[test]
    fn a_401_means_mint_a_new_token() {
        let sim = r#"{"error":"invalid_token","error_description":"access token expired"}"#;
        assert_eq!(
            parse_installation(&resp(401, sim)),
            Err(ApiError::Unauthorized)
        );
        assert_eq!(
            parse_acknowledged(&resp(401, "")),
            Err(ApiError::Unauthorized)
        );
    }

    #[test]
    fn a_403_is_forbidden_with_talkdesks_reason() {
        let e = parse_state(&resp(
            403,
            r#"{"error":"insufficient_scope","error_description":"this call needs scope apps:write"}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            ApiError::Forbidden("insufficient_scope: this call needs scope apps:write".into())
        );
        assert_eq!(
            parse_users(&resp(403, "<html>nope</html>")),
            Err(ApiError::Forbidden("no error body".into()))
        );
    }

    #[test]
    fn a_404_on_an_event_means_it_was_never_sent() {
        let e = parse_event(&resp(
            404,
            r#"{"error":"not_found","error_description":"unknown event"}"#,
        ))
        .unwrap_err();
        assert_eq!(e, ApiError::NotFound);
        assert_eq!(parse_account(&resp(404, "")), Err(ApiError::NotFound));
    }

    #[test]
    fn a_409_is_a_conflict() {
        assert_eq!(
            parse_state(&resp(
                409,
                r#"{"error":"conflict","error_description":"state: an uninstall can only be approved"}"#
            )),
            Err(ApiError::Conflict(
                "conflict: state: an uninstall can only be approved".into()
            ))
        );
    }

    #[test]
    fn other_client_errors_are_rejected_for_good() {
        assert_eq!(
            parse_state(&resp(
                400,
                r#"{"error":"invalid_request","error_description":"reason: must be a string"}"#
            )),
            Err(ApiError::Rejected {
                status: 400,
                error: "invalid_request: reason: must be a string".into()
            })
        );
        assert_eq!(
            parse_acknowledged(&resp(415, "")),
            Err(ApiError::Rejected {
                status: 415,
                error: "no error body".into()
            })
        );
    }

    #[test]
    fn other_error_shapes_are_read_too() {
        for (body, text) in [
            (
                r#"{"code":"1234","message":"Installation not active"}"#,
                "1234: Installation not active",
            ),
            (r#"{"message":"Bad page"}"#, "Bad page"),
            (
                r#"{"error":{"code":"E1","message":"nested"},"x":1}"#,
                "E1: nested",
            ),
            (r#"{"error":"only_code"}"#, "only_code"),
            (r#"{"error":7,"other":"x"}"#, "no error body"),
        ] {
            assert_eq!(
                parse_state(&resp(422, body)),
                Err(ApiError::Rejected {
                    status: 422,
                    error: text.into()
                }),
                "{body}"
            );
        }
    }

    #[test]
    fn throttling_server_errors_and_odd_statuses_are_transient() {
        for (status, body) in [
            (500, "{}"),
            (502, "<html>bad gateway</html>"),
            (503, ""),
            (429, r#"{"error":"slow_down"}"#),
            (408, ""),
            (302, ""),
            (100, ""),
        ] {
            for result in [
                parse_state(&resp(status, body)).map(|_| ()),
                parse_users(&resp(status, body)).map(|_| ()),
                parse_acknowledged(&resp(status, body)),
            ] {
                assert!(
                    matches!(result, Err(ApiError::Transient(_))),
                    "{status} {body}: {result:?}"
                );
            }
        }
        assert_eq!(
            parse_account(&resp(
                503,
                r#"{"error":"unavailable","message":"maintenance"}"#
            )),
            Err(ApiError::Transient(
                "status 503: unavailable: maintenance".into()
            ))
        );
    }

    #[test]
    fn text_from_the_body_is_clipped_and_kept_on_one_line() {
        let long = "x".repeat(1000);
        let body = json!({"error": "e", "error_description": format!("line1\nline2\r{long}")});
        let ApiError::Forbidden(text) = parse_state(&resp(403, &body.to_string())).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(text.chars().count(), MAX_ERROR_TEXT);
        assert!(text.starts_with("e: line1 line2 xxx"), "{text}");
        let ApiError::Transient(text) = parse_state(&resp(500, &body.to_string())).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(text.chars().count(), MAX_ERROR_TEXT);
    }

    #[test]
    fn garbage_on_a_2xx_is_transient_and_not_repeated() {
        let garbage = r#"{"state": "approved", "reason": "secret@example.com"#;
        for r in [
            parse_state(&resp(200, garbage)).map(|_| ()),
            parse_installation(&resp(200, garbage)).map(|_| ()),
            parse_users(&resp(200, garbage)).map(|_| ()),
            parse_subscription(&resp(200, garbage)).map(|_| ()),
            parse_account(&resp(200, garbage)).map(|_| ()),
            parse_event(&resp(200, garbage)).map(|_| ()),
        ] {
            let Err(ApiError::Transient(why)) = r else {
                panic!("{r:?}")
            };
            assert!(why.contains("malformed JSON"), "{why}");
            assert!(!why.contains("secret@"), "{why}");
        }
        for not_an_object in ["", "[]", "\"approved\"", "null", "42"] {
            assert!(
                matches!(
                    parse_event(&resp(200, not_an_object)),
                    Err(ApiError::Transient(_))
                ),
                "{not_an_object:?}"
            );
        }
    }

    #[test]
    fn errors_display_without_any_token() {
        let errors = [
            ApiError::Unauthorized,
            ApiError::Forbidden("insufficient_scope".into()),
            ApiError::NotFound,
            ApiError::Conflict("c".into()),
            ApiError::Rejected {
                status: 400,
                error: "bad".into(),
            },
            ApiError::Transient("status 503".into()),
        ];
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "Talkdesk refused the access token (401)",
                "Talkdesk forbade the call (403): insufficient_scope",
                "Talkdesk does not know it (404)",
                "Talkdesk reported a conflict (409): c",
                "Talkdesk rejected the request (400): bad",
                "Talkdesk call failed (transient): status 503",
            ]
        );
    }

    // --- parsers on the simulator's shapes and beyond ----------------------------------------

    #[test]
    fn the_state_answer_is_parsed() {
        let sim = json!({
            "state": "approved", "reason": "provisioned", "updated_at": "2026-01-01T00:00:00Z",
            "_links": {"self": {"href": "http://127.0.0.1:8790/apps/a/installations/i/state"},
                       "installation": {"href": "http://127.0.0.1:8790/apps/a/installations/i"}},
        });
        assert_eq!(
            parse_state(&ok(sim)).unwrap(),
            StateAnswer {
                state: "approved".into(),
                reason: Some("provisioned".into())
            }
        );
        assert_eq!(
            parse_state(&ok(
                json!({"state": "rejected", "reason": null, "extra": [1]})
            ))
            .unwrap(),
            StateAnswer {
                state: "rejected".into(),
                reason: None
            }
        );
        assert_eq!(
            parse_state(&ok(json!({"state": "uninstalled"})))
                .unwrap()
                .reason,
            None
        );
    }

    #[test]
    fn a_state_answer_without_a_state_is_transient() {
        for body in [json!({}), json!({"state": ""}), json!({"state": 1})] {
            assert!(
                matches!(parse_state(&ok(body.clone())), Err(ApiError::Transient(_))),
                "{body}"
            );
        }
        assert!(matches!(
            parse_state(&resp(204, "")),
            Err(ApiError::Transient(_))
        ));
    }

    #[test]
    fn the_installation_is_parsed() {
        let sim = json!({
            "id": "inst-9", "app_id": "app-1", "account_id": "acc-3",
            "scopes": ["apps:read", "apps:write"], "created_at": "2026-01-01T00:00:00Z",
            "_embedded": {"state": {"state": "pending", "reason": null, "updated_at": "x"}},
            "_links": {"self": {"href": "h"}, "users": {"href": "h/users"},
                       "subscription": {"href": "h/subscription"}},
        });
        assert_eq!(
            parse_installation(&ok(sim)).unwrap(),
            InstallationInfo {
                id: "inst-9".into(),
                app_id: "app-1".into(),
                account_id: "acc-3".into(),
                scopes: vec!["apps:read".into(), "apps:write".into()],
                state: Some("pending".into()),
            }
        );
    }

    #[test]
    fn an_installation_without_optional_members_is_parsed() {
        let bare = json!({"id": "i", "app_id": "a", "account_id": 42, "new_field": {"x": 1}});
        assert_eq!(
            parse_installation(&ok(bare)).unwrap(),
            InstallationInfo {
                id: "i".into(),
                app_id: "a".into(),
                account_id: "42".into(),
                scopes: vec![],
                state: None,
            }
        );
        let odd = json!({"id": "i", "app_id": "a", "account_id": "c",
                         "scopes": "apps:read  users:read", "_embedded": {"state": "approved"}});
        let info = parse_installation(&ok(odd)).unwrap();
        assert_eq!(info.scopes, ["apps:read", "users:read"]);
        assert_eq!(info.state, None);
    }

    #[test]
    fn an_installation_without_its_ids_is_transient() {
        for body in [
            json!({"app_id": "a", "account_id": "c"}),
            json!({"id": "i", "account_id": "c"}),
            json!({"id": "i", "app_id": "a", "account_id": ""}),
            json!({"id": "i", "app_id": null, "account_id": "c"}),
        ] {
            assert!(
                matches!(
                    parse_installation(&ok(body.clone())),
                    Err(ApiError::Transient(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn a_users_page_is_parsed() {
        let sim = json!({
            "total": 3, "page": 1, "per_page": 2,
            "_embedded": {"users": [
                {"id": "u1", "email": "a@acme.test", "name": "Ann", "active": true},
                {"id": "u2", "email": "b@acme.test", "name": "Bob", "active": false},
            ]},
            "_links": {"self": {"href": "h?page=1&per_page=2"},
                       "next": {"href": "h?page=2&per_page=2"}},
        });
        assert_eq!(
            parse_users(&ok(sim)).unwrap(),
            UsersPage {
                total: Some(3),
                page: 1,
                users: vec![
                    TalkdeskUser {
                        id: "u1".into(),
                        email: Some("a@acme.test".into()),
                        name: Some("Ann".into()),
                        active: true
                    },
                    TalkdeskUser {
                        id: "u2".into(),
                        email: Some("b@acme.test".into()),
                        name: Some("Bob".into()),
                        active: false
                    },
                ],
                has_next: true,
            }
        );
    }

    #[test]
    fn the_last_users_page_has_no_next() {
        let last = json!({
            "total": 3, "page": 2, "per_page": 2,
            "_embedded": {"users": [{"id": "u3", "email": "c@acme.test", "name": "Cy", "active": true}]},
            "_links": {"self": {"href": "h"}},
        });
        let page = parse_users(&ok(last)).unwrap();
        assert!(!page.has_next);
        assert_eq!(page.page, 2);
        assert_eq!(page.users.len(), 1);
        let null_next = json!({"_embedded": {"users": []}, "_links": {"next": null}});
        assert!(!parse_users(&ok(null_next)).unwrap().has_next);
    }

    #[test]
    fn users_without_an_id_are_skipped_and_missing_fields_default() {
        let body = json!({
            "total": "5", "page": "1",
            "_embedded": {"users": [
                {"email": "noid@acme.test"},
                {"id": "", "name": "empty"},
                "not an object",
                {"id": 77},
                {"id": "u1", "email": null, "active": null, "roles": ["agent"]},
                {"id": "u2", "active": "false"},
                {"id": "u3", "active": 1},
            ]},
        });
        let page = parse_users(&ok(body)).unwrap();
        assert_eq!(page.total, Some(5));
        assert_eq!(page.page, 1);
        assert!(!page.has_next);
        assert_eq!(
            page.users,
            vec![
                TalkdeskUser {
                    id: "77".into(),
                    email: None,
                    name: None,
                    active: true
                },
                TalkdeskUser {
                    id: "u1".into(),
                    email: None,
                    name: None,
                    active: true
                },
                TalkdeskUser {
                    id: "u2".into(),
                    email: None,
                    name: None,
                    active: false
                },
                TalkdeskUser {
                    id: "u3".into(),
                    email: None,
                    name: None,
                    active: false
                },
            ]
        );
    }

    #[test]
    fn a_users_page_without_a_list_is_empty_only_when_it_says_so() {
        let empty = parse_users(&ok(json!({"total": 0, "page": 1}))).unwrap();
        assert_eq!(
            empty,
            UsersPage {
                total: Some(0),
                page: 1,
                users: vec![],
                has_next: false
            }
        );
        for body in [
            json!({}),
            json!({"total": 4}),
            json!({"total": 0, "_links": {"next": {"href": "h"}}}),
            json!({"total": 0, "_embedded": {"users": {"id": "u1"}}}),
            json!({"data": [{"id": "u1"}]}),
        ] {
            assert!(
                matches!(parse_users(&ok(body.clone())), Err(ApiError::Transient(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn the_subscription_is_parsed() {
        let sim = json!({"type": "paid", "license_type": "per_user", "name": "Pro",
                         "total_licenses": 25});
        assert_eq!(
            parse_subscription(&ok(sim)).unwrap(),
            Subscription {
                kind: Some("paid".into()),
                license_type: Some("per_user".into()),
                name: Some("Pro".into()),
                total_licenses: Some(25),
            }
        );
    }

    #[test]
    fn total_licenses_may_be_a_number_or_a_numeric_string() {
        for (value, expected) in [
            (json!(10), Some(10)),
            (json!("10"), Some(10)),
            (json!(" 7 "), Some(7)),
            (json!(3.0), Some(3)),
            (json!(0), Some(0)),
            (json!(-1), None),
            (json!(2.5), None),
            (json!("unlimited"), None),
            (json!(null), None),
            (json!([1]), None),
        ] {
            let body = json!({"type": "trial", "total_licenses": value});
            assert_eq!(
                parse_subscription(&ok(body)).unwrap().total_licenses,
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn a_subscription_with_nothing_known_is_all_none() {
        assert_eq!(
            parse_subscription(&ok(json!({"plan_id": "x", "type": null}))).unwrap(),
            Subscription {
                kind: None,
                license_type: None,
                name: None,
                total_licenses: None
            }
        );
        assert!(matches!(
            parse_subscription(&resp(200, "[]")),
            Err(ApiError::Transient(_))
        ));
    }

    #[test]
    fn the_account_is_parsed() {
        let sim = json!({"id": "acc-3", "name": "acme", "company_name": "Acme Inc.",
                         "timezone": "UTC", "created_at": "2026-01-01T00:00:00Z"});
        assert_eq!(
            parse_account(&ok(sim)).unwrap(),
            Account {
                id: "acc-3".into(),
                name: "acme".into(),
                company_name: Some("Acme Inc.".into()),
                timezone: Some("UTC".into()),
            }
        );
        let bare = parse_account(&ok(json!({"id": "a", "name": "acme", "plan": {}}))).unwrap();
        assert_eq!((bare.company_name, bare.timezone), (None, None));
    }

    #[test]
    fn an_account_without_id_or_name_is_transient() {
        for body in [
            json!({"name": "acme"}),
            json!({"id": "a"}),
            json!({"id": "a", "name": ""}),
        ] {
            assert!(
                matches!(
                    parse_account(&ok(body.clone())),
                    Err(ApiError::Transient(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn the_event_comes_back_as_talkdesk_has_it() {
        let event = json!({
            "id": "evt-7", "type": "app.updated", "app_id": "app-1",
            "data": {"installation_id": "inst-9", "users": {"adding": ["u1"]}},
            "_links": {"self": {"href": "h/apps/app-1/events/evt-7"}},
        });
        assert_eq!(parse_event(&ok(event.clone())).unwrap(), event);
    }

    #[test]
    fn an_acknowledgement_is_any_2xx() {
        assert_eq!(parse_acknowledged(&resp(202, "")), Ok(()));
        assert_eq!(parse_acknowledged(&resp(200, "{\"x\":1}")), Ok(()));
        assert_eq!(parse_acknowledged(&resp(204, "not json")), Ok(()));
        assert_eq!(
            parse_acknowledged(&resp(404, r#"{"error":"not_found"}"#)),
            Err(ApiError::NotFound)
        );
    }
}
