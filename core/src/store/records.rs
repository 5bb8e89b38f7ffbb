//! The records the lifecycle keeps in D1 (migration 0003), as plain values.

use serde::{Deserialize, Serialize};

/// An installation as stored. Secrets are sealed (`sealed_*`); nothing here prints one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Installation {
    pub installation_id: String,
    pub account_id: String,
    pub account_name: String,
    pub state: String,
    pub api_root: String,
    pub token_url: String,
    pub authorize_url: String,
    pub client_id: Option<String>,
    pub key_id: Option<String>,
    pub key_algorithm: Option<String>,
    pub sealed_secret: Option<String>,
    pub sealed_key: Option<String>,
    pub old_client_id: Option<String>,
    pub old_key_id: Option<String>,
    pub old_key_algorithm: Option<String>,
    pub sealed_old_secret: Option<String>,
    pub sealed_old_key: Option<String>,
    pub company_name: Option<String>,
    pub timezone: Option<String>,
    pub plan: Option<String>,
    pub subscription_type: Option<String>,
    pub total_licenses: Option<u64>,
    pub trial_state: Option<String>,
    pub trial_expires_at: Option<String>,
    pub trial_ended_at: Option<String>,
    pub trial_ended_reason: Option<String>,
    pub users_count: u64,
    pub last_error: Option<String>,
    pub install_event_id: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub approved_at: Option<u64>,
    pub uninstalled_at: Option<u64>,
    /// Talkdesk's `created_at` of the last trial event applied.
    pub trial_event_at: Option<String>,
    /// Talkdesk's `created_at` of the event that delivered the current credential set.
    pub credentials_event_at: Option<String>,
}

impl Installation {
    /// Forgets the credential set a rotation replaced.
    pub fn drop_old_credentials(&mut self) {
        self.old_client_id = None;
        self.old_key_id = None;
        self.old_key_algorithm = None;
        self.sealed_old_secret = None;
        self.sealed_old_key = None;
    }
}

/// Whether Talkdesk stamped `a` before `b`. Both are RFC 3339 UTC times of the same shape
/// (`…Z`, same precision), which then order as text; anything else is not judged (false), so an
/// event is never dropped on a stamp we cannot read.
pub fn stamped_before(a: &str, b: &str) -> bool {
    let shaped = |s: &str| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T';
    shaped(a) && shaped(b) && a.len() == b.len() && a < b
}

/// Installation states.
pub mod state {
    /// Stored from `app.installed`, not yet verified with Talkdesk.
    pub const RECEIVED: &str = "received";
    /// Verified, provisioned and approved.
    pub const ACTIVE: &str = "active";
    /// We told Talkdesk no (e.g. the key does not fit its algorithm).
    pub const REJECTED: &str = "rejected";
    /// Talkdesk does not know these credentials or this installation: never acted on.
    pub const FORGED: &str = "forged";
    /// Uninstalled and confirmed; credentials destroyed.
    pub const UNINSTALLED: &str = "uninstalled";
    /// A permanent failure or the 7-day window passed: an operator must look.
    pub const ATTENTION: &str = "attention";
}

/// One event as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub event_id: String,
    pub event_type: String,
    pub installation_id: Option<String>,
    pub account_id: Option<String>,
    pub created_at: String,
    pub received_at: u64,
    pub keep_until: u64,
    pub status: String,
    pub detail: Option<String>,
    pub new_client_id: Option<String>,
    pub new_key_id: Option<String>,
    pub new_key_algorithm: Option<String>,
    pub sealed_new_secret: Option<String>,
    pub sealed_new_key: Option<String>,
}

/// Job kinds, one per event type that needs work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Install,
    Update,
    Uninstall,
    Rotate,
    Trial,
    Logout,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Install => "install",
            JobKind::Update => "update",
            JobKind::Uninstall => "uninstall",
            JobKind::Rotate => "rotate",
            JobKind::Trial => "trial",
            JobKind::Logout => "logout",
        }
    }
}

/// A unit of outbox work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: i64,
    pub installation_id: String,
    pub event_id: String,
    pub kind: JobKind,
    /// pending | done | failed | expired
    pub state: String,
    pub attempts: u64,
    pub next_attempt_at: u64,
    pub deadline_at: u64,
    pub last_error: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A licensed user of an installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub active: bool,
}

/// What `POST /events` stores, atomically, before it answers.
#[derive(Debug, Clone)]
pub struct Intake {
    pub event: EventRecord,
    /// `app.installed`: the installation, credentials sealed.
    pub installation: Option<Installation>,
    /// The work the event needs, if any.
    pub job: Option<Job>,
}

/// A Talkdesk account that installed the app at least once (kept across uninstalls).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub account_id: String,
    pub account_name: String,
    /// The partner's settings for this account: a JSON object, never a secret.
    pub settings: String,
}

#[cfg(test)]
mod tests {
    use super::stamped_before;

    #[test]
    fn stamps_order_as_times_and_unreadable_ones_are_not_judged() {
        assert!(stamped_before(
            "2026-11-22T03:38:52.113Z",
            "2026-11-22T03:38:52.114Z"
        ));
        assert!(stamped_before(
            "2016-06-14T16:23:07Z",
            "2016-06-14T16:23:08Z"
        ));
        assert!(!stamped_before(
            "2016-06-14T16:23:08Z",
            "2016-06-14T16:23:07Z"
        ));
        assert!(!stamped_before(
            "2016-06-14T16:23:07Z",
            "2016-06-14T16:23:07Z"
        ));
        // Different precision, offsets, junk or nothing stored yet: never judged older.
        assert!(!stamped_before(
            "2016-06-14T16:23:07Z",
            "2016-06-14T16:23:08.000Z"
        ));
        assert!(!stamped_before(
            "2016-06-14T16:23:07+00:00",
            "2016-06-14T16:23:08+00:00"
        ));
        assert!(!stamped_before("yesterday", "today"));
        assert!(!stamped_before("2016-06-14T16:23:07Z", ""));
    }
}
