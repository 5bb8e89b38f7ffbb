//! Talkdesk's lifecycle events (contract §2), parsed into typed values at the boundary.
//!
//! Nothing here is trusted: the result is an [`UnverifiedEvent`]. Every rejection names the
//! JSON path of the bad field (`data.private_key`, `_links.root`, …) and never echoes a secret.

use serde_json::Value;

use super::hosts::AccountName;
use crate::crypto::keys::{KeyAlgorithm, PrivateKey};
use crate::secret::SecretString;

/// The largest event body accepted (Talkdesk's are a few KB).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The most user ids one `app.updated` may add or remove.
pub const MAX_USER_CHANGES: usize = 10_000;

/// A field that is missing, of the wrong type, or breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

fn fail<T>(path: &str, problem: impl Into<String>) -> Result<T, EventError> {
    Err(EventError {
        path: path.to_owned(),
        problem: problem.into(),
    })
}

/// An event as received, not yet confirmed with Talkdesk.
#[derive(Debug, Clone)]
pub struct UnverifiedEvent {
    pub id: String,
    pub created_at: String,
    /// The app version the installation runs (`app_version_name`), when sent.
    pub app_version_name: Option<String>,
    pub event_type: String,
    pub app_id: String,
    pub links: Links,
    pub data: EventData,
}

/// The `_links` hrefs, raw: the host allowlist judges them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub root: String,
    pub self_link: Option<String>,
    pub tokens: Option<String>,
    pub authorization: Option<String>,
    /// Talkdesk's header script for the app's pages (`app.installed`).
    pub widget_url: Option<String>,
}

/// A complete credential set (`app.installed`, `app.credentials_rotated`).
#[derive(Debug, Clone)]
pub struct CredentialSet {
    pub client_id: String,
    pub client_secret: SecretString,
    pub key_id: String,
    pub private_key: PrivateKey,
}

#[derive(Debug, Clone)]
pub enum EventData {
    Installed {
        installation_id: String,
        account_id: String,
        account_name: AccountName,
        credentials: CredentialSet,
    },
    Updated {
        installation_id: String,
        account_id: String,
        users_adding: Vec<String>,
        users_removing: Vec<String>,
        plan: Option<PlanChange>,
    },
    Uninstalled {
        installation_id: String,
        account_id: String,
        reason_type: Option<String>,
        reason_message: Option<String>,
    },
    CredentialsRotated {
        installation_id: String,
        account_id: String,
        credentials: CredentialSet,
    },
    Trial {
        kind: TrialKind,
        installation_id: String,
        account_id: String,
        expires_at: Option<String>,
        ended_at: Option<String>,
        ended_reason: Option<String>,
        ended_by: Option<String>,
    },
    UserLogout {
        installation_id: String,
        account_id: String,
        user_id: String,
    },
    /// A type we do not know: recorded and acknowledged, never acted on.
    Unknown { installation_id: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialKind {
    Started,
    Extended,
    Ended,
}

impl TrialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrialKind::Started => "started",
            TrialKind::Extended => "extended",
            TrialKind::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanChange {
    pub name: String,
    pub licenses: Option<u64>,
}

impl EventData {
    /// The installation the event is about (every known type has one).
    pub fn installation_id(&self) -> Option<&str> {
        match self {
            EventData::Installed {
                installation_id, ..
            }
            | EventData::Updated {
                installation_id, ..
            }
            | EventData::Uninstalled {
                installation_id, ..
            }
            | EventData::CredentialsRotated {
                installation_id, ..
            }
            | EventData::Trial {
                installation_id, ..
            }
            | EventData::UserLogout {
                installation_id, ..
            } => Some(installation_id),
            EventData::Unknown { installation_id } => installation_id.as_deref(),
        }
    }

    pub fn account_id(&self) -> Option<&str> {
        match self {
            EventData::Installed { account_id, .. }
            | EventData::Updated { account_id, .. }
            | EventData::Uninstalled { account_id, .. }
            | EventData::CredentialsRotated { account_id, .. }
            | EventData::Trial { account_id, .. }
            | EventData::UserLogout { account_id, .. } => Some(account_id),
            EventData::Unknown { .. } => None,
        }
    }
}

/// The JSON object at `path`, or an error naming it.
fn object<'a>(v: &'a Value, path: &str) -> Result<&'a serde_json::Map<String, Value>, EventError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => fail(path, "is missing"),
        _ => fail(path, "must be an object"),
    }
}

fn get<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> &'a Value {
    m.get(key).unwrap_or(&Value::Null)
}

/// A required string of 1..=max printable characters.
fn text(v: &Value, path: &str, max: usize) -> Result<String, EventError> {
    match v {
        Value::String(s) if s.is_empty() => fail(path, "must not be empty"),
        Value::String(s) if s.chars().count() > max => {
            fail(path, format!("is longer than {max} characters"))
        }
        Value::String(s) if s.chars().any(char::is_control) => {
            fail(path, "contains control characters")
        }
        Value::String(s) => Ok(s.clone()),
        Value::Null => fail(path, "is missing"),
        _ => fail(path, "must be a string"),
    }
}

fn optional_text(v: &Value, path: &str, max: usize) -> Result<Option<String>, EventError> {
    match v {
        Value::Null => Ok(None),
        _ => text(v, path, max).map(Some),
    }
}

/// An identifier: 1..=128 of letters, digits, `.`, `_`, `:`, `-`, with at least one letter or
/// digit (it ends up in URL path segments, where `.` and `..` would mean something else).
fn id(v: &Value, path: &str) -> Result<String, EventError> {
    let s = text(v, path, 128)?;
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        fail(path, "may hold only letters, digits, '.', '_', ':' and '-'")
    } else if !s.bytes().any(|b| b.is_ascii_alphanumeric()) {
        fail(path, "must contain a letter or digit")
    } else {
        Ok(s)
    }
}

fn secret(v: &Value, path: &str, max: usize) -> Result<SecretString, EventError> {
    // `text` would echo nothing anyway; the value goes straight into a secret.
    text(v, path, max).map(SecretString::new)
}

fn credentials(d: &serde_json::Map<String, Value>) -> Result<CredentialSet, EventError> {
    let algorithm = match get(d, "key_algorithm") {
        Value::String(s) => KeyAlgorithm::parse(s).map_or_else(
            || {
                fail(
                    "data.key_algorithm",
                    "must be one of ES256 ES384 ES512 PS256 PS384 PS512",
                )
            },
            Ok,
        )?,
        Value::Null => return fail("data.key_algorithm", "is missing"),
        _ => return fail("data.key_algorithm", "must be a string"),
    };
    let key_text = match get(d, "private_key") {
        Value::String(s) => s.as_str(),
        Value::Null => return fail("data.private_key", "is missing"),
        _ => return fail("data.private_key", "must be a string"),
    };
    let private_key = PrivateKey::import(algorithm, key_text)
        .or_else(|e| fail("data.private_key", e.to_string()))?;
    Ok(CredentialSet {
        client_id: id(get(d, "client_id"), "data.client_id")?,
        client_secret: secret(get(d, "client_secret"), "data.client_secret", 1024)?,
        key_id: id(get(d, "key_id"), "data.key_id")?,
        private_key,
    })
}

fn user_ids(v: &Value, path: &str) -> Result<Vec<String>, EventError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) if items.len() > MAX_USER_CHANGES => {
            fail(path, format!("lists more than {MAX_USER_CHANGES} users"))
        }
        Value::Array(items) => {
            let mut ids = Vec::with_capacity(items.len());
            for (i, u) in items.iter().enumerate() {
                ids.push(id(u, &format!("{path}[{i}]"))?);
            }
            Ok(ids)
        }
        _ => fail(path, "must be an array of user ids"),
    }
}

fn licenses(v: &Value, path: &str) -> Result<Option<u64>, EventError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .map(Some)
            .map_or_else(|| fail(path, "must be a whole number"), Ok),
        // The documented example sends it as a string.
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .or_else(|_| fail(path, "must be a whole number (or a string of one)")),
        _ => fail(path, "must be a whole number"),
    }
}

fn link(links: &serde_json::Map<String, Value>, name: &str) -> Result<Option<String>, EventError> {
    let path = format!("_links.{name}");
    match get(links, name) {
        Value::Null => Ok(None),
        v => {
            let o = object(v, &path)?;
            text(get(o, "href"), &format!("{path}.href"), 2048).map(Some)
        }
    }
}

/// Parses an event body. Size is the caller's to check first ([`MAX_EVENT_BYTES`]).
pub fn parse_event(body: &[u8]) -> Result<UnverifiedEvent, EventError> {
    let v: Value = serde_json::from_slice(body).or_else(|e| {
        fail(
            "$",
            format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let top = object(&v, "$")?;
    let event_type = text(get(top, "type"), "type", 64)?;
    let links_obj = object(get(top, "_links"), "_links")?;
    let links = Links {
        root: link(links_obj, "root")?.map_or_else(|| fail("_links.root", "is missing"), Ok)?,
        self_link: link(links_obj, "self")?,
        tokens: link(links_obj, "tokens")?,
        authorization: link(links_obj, "authorization")?,
        widget_url: link(links_obj, "widget_url")?,
    };
    let d = object(get(top, "data"), "data")?;
    let inst = || id(get(d, "installation_id"), "data.installation_id");
    let account = || id(get(d, "account_id"), "data.account_id");
    let data = match event_type.as_str() {
        "app.installed" => EventData::Installed {
            installation_id: inst()?,
            account_id: account()?,
            account_name: match get(d, "account_name") {
                Value::String(s) => {
                    AccountName::parse(s).or_else(|e| fail("data.account_name", e.to_string()))?
                }
                Value::Null => return fail("data.account_name", "is missing"),
                _ => return fail("data.account_name", "must be a string"),
            },
            credentials: credentials(d)?,
        },
        "app.updated" => {
            let users = match get(d, "users") {
                Value::Null => None,
                u => Some(object(u, "data.users")?),
            };
            let plan = match get(d, "subscription") {
                Value::Null => None,
                s => {
                    let s = object(s, "data.subscription")?;
                    match get(s, "adding") {
                        Value::Null => None,
                        a => {
                            let a = object(a, "data.subscription.adding")?;
                            Some(PlanChange {
                                name: text(get(a, "name"), "data.subscription.adding.name", 200)?,
                                licenses: licenses(
                                    get(a, "licenses"),
                                    "data.subscription.adding.licenses",
                                )?,
                            })
                        }
                    }
                }
            };
            EventData::Updated {
                installation_id: inst()?,
                account_id: account()?,
                users_adding: users.map_or(Ok(Vec::new()), |u| {
                    user_ids(get(u, "adding"), "data.users.adding")
                })?,
                users_removing: users.map_or(Ok(Vec::new()), |u| {
                    user_ids(get(u, "removing"), "data.users.removing")
                })?,
                plan,
            }
        }
        "app.uninstalled" => {
            let reason = match get(d, "reason") {
                Value::Null => None,
                r => Some(object(r, "data.reason")?),
            };
            EventData::Uninstalled {
                installation_id: inst()?,
                account_id: account()?,
                reason_type: match reason {
                    Some(r) => optional_text(get(r, "type"), "data.reason.type", 100)?,
                    None => None,
                },
                reason_message: match reason {
                    Some(r) => optional_text(get(r, "message"), "data.reason.message", 1000)?,
                    None => None,
                },
            }
        }
        "app.credentials_rotated" => EventData::CredentialsRotated {
            installation_id: inst()?,
            account_id: account()?,
            credentials: credentials(d)?,
        },
        "app.trial_started" | "app.trial_extended" | "app.trial_ended" => EventData::Trial {
            kind: match event_type.as_str() {
                "app.trial_started" => TrialKind::Started,
                "app.trial_extended" => TrialKind::Extended,
                _ => TrialKind::Ended,
            },
            installation_id: inst()?,
            account_id: account()?,
            expires_at: optional_text(get(d, "expires_at"), "data.expires_at", 64)?,
            ended_at: optional_text(get(d, "ended_at"), "data.ended_at", 64)?,
            ended_reason: optional_text(get(d, "ended_reason"), "data.ended_reason", 64)?,
            ended_by: optional_text(get(d, "ended_by"), "data.ended_by", 64)?,
        },
        "user.logout" => EventData::UserLogout {
            installation_id: inst()?,
            account_id: account()?,
            user_id: id(get(d, "user_id"), "data.user_id")?,
        },
        _ => EventData::Unknown {
            installation_id: match get(d, "installation_id") {
                Value::Null => None,
                v => Some(id(v, "data.installation_id")?),
            },
        },
    };
    Ok(UnverifiedEvent {
        id: id(get(top, "id"), "id")?,
        created_at: text(get(top, "created_at"), "created_at", 64)?,
        app_version_name: optional_text(get(top, "app_version_name"), "app_version_name", 128)?,
        app_id: text(get(top, "app_id"), "app_id", 128)?,
        event_type,
        links,
        data,
    })
}

#[cfg(test)]
mod tests;
