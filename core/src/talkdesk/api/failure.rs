//! How a Talkdesk API answer failed, sorted by what the caller should do next.

use std::fmt;

use serde_json::Value;

use super::answers::plain;
use super::MAX_ERROR_TEXT;
use crate::talkdesk::http::HttpResponse;

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
    /// 404: no such app, installation, credentials or event. For an event read back this proves
    /// nothing (where Talkdesk serves events is a known unknown): the event stays unconfirmed.
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
pub(super) fn classify(resp: &HttpResponse) -> Result<(), ApiError> {
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
