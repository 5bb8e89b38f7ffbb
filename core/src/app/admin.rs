//! The operator API's views: every installation and what is pending, never a secret.

use serde_json::{json, Value};

use crate::secret::constant_time_eq;
use crate::store::records::{AccountRecord, Installation, Job, JobState};

/// Largest page of `GET /admin/installations`.
pub const MAX_PAGE: u32 = 100;
pub const DEFAULT_PAGE: u32 = 50;

/// Whether `authorization` is `Bearer <admin token>` (compared in constant time).
pub fn authorized(authorization: Option<&str>, admin_token: &str) -> bool {
    match authorization.and_then(|h| h.strip_prefix("Bearer ")) {
        Some(given) => constant_time_eq(given.as_bytes(), admin_token.as_bytes()),
        None => false,
    }
}

fn millis_to_iso(ms: Option<u64>) -> Value {
    // Milliseconds are what we store; the operator reads them with the ISO form beside.
    match ms {
        None => Value::Null,
        Some(ms) => json!(ms),
    }
}

/// One installation, as the operator sees it.
pub fn installation_view(inst: &Installation, jobs: Option<&[Job]>) -> Value {
    let mut v = json!({
        "installation_id": inst.installation_id,
        "account": {
            "id": inst.account_id,
            "name": inst.account_name,
            "company_name": inst.company_name,
            "timezone": inst.timezone,
        },
        "state": inst.state,
        "region_api_root": inst.api_root,
        "credentials": {
            "client_id": inst.credentials.as_ref().map(|c| &c.client_id),
            "key_id": inst.credentials.as_ref().map(|c| &c.key_id),
            "key_algorithm": inst.credentials.as_ref().map(|c| c.algorithm.as_str()),
            "stored": inst.has_secrets(),
            "rotation_pending": inst.previous.is_some(),
        },
        "users_count": inst.users_count,
        "plan": {
            "name": inst.plan.name,
            "type": inst.plan.kind,
            "total_licenses": inst.plan.total_licenses,
        },
        "trial": {
            "state": inst.trial.state,
            "expires_at": inst.trial.expires_at,
            "ended_at": inst.trial.ended_at,
            "ended_reason": inst.trial.ended_reason,
        },
        "last_error": inst.last_error,
        "created_at_ms": inst.created_at,
        "updated_at_ms": inst.updated_at,
        "approved_at_ms": millis_to_iso(inst.approved_at),
        "uninstalled_at_ms": millis_to_iso(inst.uninstalled_at),
    });
    if let Some(jobs) = jobs {
        v["pending"] = jobs
            .iter()
            .filter(|j| j.state == JobState::Pending)
            .map(job_view)
            .collect();
        // Parked: the event could be proven neither genuine nor forged; it waits for the
        // operator, its data kept, and blocks nothing.
        v["unconfirmed"] = jobs
            .iter()
            .filter(|j| j.state == JobState::Unconfirmed)
            .map(job_view)
            .collect();
        v["history"] = jobs
            .iter()
            .filter(|j| !matches!(j.state, JobState::Pending | JobState::Unconfirmed))
            .map(job_view)
            .collect();
    }
    v
}

fn job_view(j: &Job) -> Value {
    json!({
        "event_id": j.event_id,
        "kind": j.kind.as_str(),
        "state": j.state,
        "attempts": j.attempts,
        "next_attempt_at_ms": j.next_attempt_at,
        "deadline_at_ms": j.deadline_at,
        "last_error": j.last_error,
    })
}

/// A page of installations, with the cursor of the next page when there may be one.
pub fn list_view(page: &[Installation], limit: u32) -> Value {
    let next = (page.len() as u32 == limit)
        .then(|| page.last().map(|i| i.installation_id.clone()))
        .flatten();
    json!({
        "installations": page.iter().map(|i| installation_view(i, None)).collect::<Vec<_>>(),
        "next_cursor": next,
    })
}

/// The largest settings object accepted.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;

/// Settings must be a JSON object of at most [`MAX_SETTINGS_BYTES`]; returned re-serialised.
pub fn parse_settings(body: &[u8]) -> Result<String, String> {
    if body.len() > MAX_SETTINGS_BYTES {
        return Err(format!(
            "settings are larger than {MAX_SETTINGS_BYTES} bytes"
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v.to_string()),
        Ok(_) => Err("settings must be a JSON object".into()),
        Err(_) => Err("settings are not valid JSON".into()),
    }
}

/// An account's settings as JSON (`{}` when unknown or unreadable).
pub fn settings_value(account: Option<&AccountRecord>) -> Value {
    account
        .and_then(|a| crate::json::parse(&a.settings).ok())
        .unwrap_or_else(|| json!({}))
}

pub fn account_view(account: &AccountRecord) -> Value {
    json!({
        "account_id": account.account_id,
        "account_name": account.account_name,
        "settings": settings_value(Some(account)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_must_be_a_json_object() {
        assert_eq!(parse_settings(br#"{"a": 1}"#), Ok(r#"{"a":1}"#.into()));
        for bad in [&b"[1]"[..], b"1", b"{", b"", b"\"x\""] {
            assert!(parse_settings(bad).is_err());
        }
        assert!(parse_settings(&vec![b' '; MAX_SETTINGS_BYTES + 1]).is_err());
    }

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        let t = "an-admin-token-of-enough-length";
        assert!(authorized(
            Some("Bearer an-admin-token-of-enough-length"),
            t
        ));
        for bad in [
            None,
            Some(""),
            Some("an-admin-token-of-enough-length"),
            Some("Bearer an-admin-token-of-enough-lengtH"),
            Some("Bearer an-admin-token-of-enough-length "),
            Some("Basic an-admin-token-of-enough-length"),
            Some("bearer an-admin-token-of-enough-length"),
        ] {
            assert!(!authorized(bad, t), "{bad:?}");
        }
    }
}
