//! The records the lifecycle keeps (migrations 0001 to 0004), as typed values. States are enums
//! whose text is what the SQL stores and compares (statements bind `as_str()`, never a literal);
//! a credential set is one value, whether it is the installation's current set, the one a
//! rotation replaced, or the one a rotation delivered. Rows are mapped to these in
//! [`super::rows`].

use serde::{Deserialize, Serialize};

use crate::crypto::keys::KeyAlgorithm;

/// Text enums stored in a `TEXT` column: `as_str` is the stored form, `ALL` every value (the
/// schema's comments list the same, a test checks).
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where an installation is in its life.
    InstallationState {
        /// Stored from `app.installed`, not yet verified with Talkdesk.
        Received = "received",
        /// Verified and provisioned; waiting for a person to approve or reject it (manual
        /// provisioning), within Talkdesk's 7-day window.
        Installing = "installing",
        /// Verified, provisioned and approved.
        Active = "active",
        /// We told Talkdesk no (e.g. it lacks the scopes the app needs).
        Rejected = "rejected",
        /// Talkdesk does not know these credentials or this installation: never acted on.
        Forged = "forged",
        /// Uninstalled and confirmed; credentials destroyed.
        Uninstalled = "uninstalled",
        /// A permanent failure or the 7-day window passed: an operator must look.
        Attention = "attention",
    }
}

impl InstallationState {
    /// States in which the installation takes no more work: later events are recorded and
    /// ignored.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            InstallationState::Forged
                | InstallationState::Rejected
                | InstallationState::Uninstalled
        )
    }
}

text_enum! {
    /// Where an outbox job is.
    JobState {
        /// Still to run (now, or at `next_attempt_at`).
        Pending = "pending",
        /// Finished: the event's outcome is on the event.
        Done = "done",
        /// Stopped on a permanent failure; the installation needs attention.
        Failed = "failed",
        /// Talkdesk's 7-day window passed before it could finish.
        Expired = "expired",
        /// Its event could be proven neither genuine nor forged: parked, its data kept, for the
        /// operator. It blocks no other job.
        Unconfirmed = "unconfirmed",
    }
}

text_enum! {
    /// What came of an event.
    EventStatus {
        /// Stored; its job (if any) has not finished.
        Received = "received",
        /// Talkdesk's copy matched; its job has not finished yet (an uninstall remembers this
        /// before it approves, since Talkdesk revokes the credentials once it has).
        Confirmed = "confirmed",
        /// Confirmed and applied.
        Done = "done",
        /// Recorded, not acted on (unknown type, a second install, a closed installation, …).
        Ignored = "ignored",
        /// Talkdesk does not know it: nothing changed.
        Forged = "forged",
        /// Its job failed or expired.
        Failed = "failed",
        /// Talkdesk's copy could not be read to prove it either way; its data is kept.
        Unconfirmed = "unconfirmed",
    }
}

text_enum! {
    /// Job kinds, one per event type that needs work.
    JobKind {
        Install = "install",
        Update = "update",
        Uninstall = "uninstall",
        Rotate = "rotate",
        Trial = "trial",
        Logout = "logout",
    }
}

/// A credential set's secrets, sealed (`crypto::seal`) for the record and field they sit in.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecrets {
    pub secret: String,
    pub key: String,
}

impl std::fmt::Debug for SealedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sealed is not secret, but it is noise in every Debug of a record.
        f.write_str("SealedSecrets")
    }
}

/// One OAuth client of an installation as stored: who it is, and while it may be used, its
/// secrets sealed. After an uninstall or a forgery the identity stays (the operator sees which
/// client it was) and `sealed` is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    pub client_id: String,
    pub key_id: String,
    pub algorithm: KeyAlgorithm,
    pub sealed: Option<SealedSecrets>,
}

/// The trial, as the last applied `app.trial_*` event (read back from Talkdesk) left it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrialRecord {
    /// `started`, `extended` or `ended`.
    pub state: Option<String>,
    pub expires_at: Option<String>,
    pub ended_at: Option<String>,
    pub ended_reason: Option<String>,
    /// Talkdesk's `created_at` of the trial event applied, so an older one never undoes it.
    pub event_at: Option<String>,
}

/// The plan, from the subscription API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanRecord {
    pub name: Option<String>,
    /// `trial` or `paid`.
    pub kind: Option<String>,
    pub total_licenses: Option<u64>,
}

/// An installation as stored. Nothing here prints a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Installation {
    pub installation_id: String,
    pub account_id: String,
    pub account_name: String,
    pub state: InstallationState,
    /// The region's API root, token URL and authorize URL, allowlisted when stored and checked
    /// again before each use.
    pub api_root: String,
    pub token_url: String,
    pub authorize_url: String,
    /// Talkdesk's header script for the app's pages (`_links.widget_url`), when an allowed one
    /// came with the install.
    pub widget_url: Option<String>,
    /// The set in use.
    pub credentials: Option<StoredCredentials>,
    /// The set a rotation replaced, kept until the new one is acknowledged.
    pub previous: Option<StoredCredentials>,
    /// Talkdesk's `created_at` of the event that delivered the current set.
    pub credentials_event_at: Option<String>,
    pub company_name: Option<String>,
    pub timezone: Option<String>,
    pub plan: PlanRecord,
    pub trial: TrialRecord,
    pub users_count: u64,
    pub last_error: Option<String>,
    pub install_event_id: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub approved_at: Option<u64>,
    pub uninstalled_at: Option<u64>,
    /// Bumped by every write: a write from an older copy changes nothing.
    pub version: u64,
}

impl Installation {
    /// The current client id ("" when none is stored).
    pub fn client_id(&self) -> &str {
        self.credentials
            .as_ref()
            .map_or("", |c| c.client_id.as_str())
    }

    /// Whether the current set's secrets are stored (the installation can call Talkdesk).
    pub fn has_secrets(&self) -> bool {
        self.credentials
            .as_ref()
            .is_some_and(|c| c.sealed.is_some())
    }

    /// Destroys the secrets of every set; the identities stay for the operator.
    pub fn destroy_secrets(&mut self) {
        if let Some(c) = self.credentials.as_mut() {
            c.sealed = None;
        }
        self.previous = None;
    }
}

/// Whether Talkdesk stamped `a` before `b`. Both are RFC 3339 UTC times of the same shape
/// (`…Z`, same precision), which then order as text; anything else is not judged (false), so an
/// event is never dropped on a stamp we cannot read.
pub fn stamped_before(a: &str, b: &str) -> bool {
    let shaped = |s: &str| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T';
    shaped(a) && shaped(b) && a.len() == b.len() && a < b
}

/// One event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub event_id: String,
    pub event_type: String,
    pub installation_id: Option<String>,
    pub account_id: Option<String>,
    /// As Talkdesk stamped it in the delivered envelope.
    pub created_at: String,
    pub received_at: u64,
    pub keep_until: u64,
    pub status: EventStatus,
    /// Why, for the operator; never a secret.
    pub detail: Option<String>,
    /// A rotation's new set, sealed, until the rotation is confirmed.
    pub incoming: Option<StoredCredentials>,
    /// `_links.self`: where Talkdesk serves its copy (allowlisted at intake).
    pub self_href: Option<String>,
    /// `app.installed`: the installation this event would make, credentials sealed, until the
    /// event is finished. Competing install events are proven each with its own.
    pub candidate: Option<Box<Installation>>,
    /// Talkdesk's `app_version_name` of the event.
    pub app_version: Option<String>,
}

/// A unit of outbox work.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: i64,
    pub installation_id: String,
    pub event_id: String,
    pub kind: JobKind,
    pub state: JobState,
    pub attempts: u64,
    pub next_attempt_at: u64,
    pub deadline_at: u64,
    pub last_error: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A licensed user of an installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRecord {
    pub account_id: String,
    pub account_name: String,
    /// The partner's settings for this account: a JSON object, never a secret.
    pub settings: String,
}

impl super::row_codec::FromRow for AccountRecord {
    fn from_row(c: &mut super::row_codec::Cols) -> Self {
        AccountRecord {
            account_id: c.text("account_id"),
            account_name: c.text("account_name"),
            settings: c.text("settings"),
        }
    }
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
