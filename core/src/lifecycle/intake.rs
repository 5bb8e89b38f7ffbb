//! `POST /events`, before the answer: an unverified event becomes an [`Intake`] (what to store,
//! with secrets sealed) or a 400 naming the bad field. Nothing here talks to Talkdesk.

use crate::config::AppId;
use crate::crypto::keyring::SealingKeys;
use crate::crypto::seal::{seal, seal_secret, SealContext};
use crate::store::records::{state, EventRecord, Installation, Intake, Job, JobKind};
use crate::talkdesk::events::{CredentialSet, EventData, EventError, UnverifiedEvent};
use crate::talkdesk::hosts::{resolve_endpoints, Allowlist, EventLinks, HostError};

/// Event ids are kept this long after receipt, past Talkdesk's retry schedule (15 minutes)
/// and its 7-day confirmation window, so a redelivery is always recognised.
pub const KEEP_EVENTS_MS: u64 = 8 * 24 * 3600 * 1000;
/// Talkdesk's window to confirm an install, update or uninstall.
pub const CONFIRM_WINDOW_MS: u64 = 7 * 24 * 3600 * 1000;

/// Why an event is refused before anything is stored (→ 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeError {
    /// A field is malformed (path and problem).
    Invalid(EventError),
    /// The event is for another app.
    WrongApp,
}

impl From<EventError> for IntakeError {
    fn from(e: EventError) -> Self {
        IntakeError::Invalid(e)
    }
}

fn invalid(path: &str, problem: impl std::fmt::Display) -> IntakeError {
    IntakeError::Invalid(EventError {
        path: path.to_owned(),
        problem: problem.to_string(),
    })
}

/// Seal contexts: each sealed value is bound to its record and field.
pub mod fields {
    pub const CLIENT_SECRET: &str = "client_secret";
    pub const PRIVATE_KEY: &str = "private_key";
    pub const OLD_CLIENT_SECRET: &str = "old_client_secret";
    pub const OLD_PRIVATE_KEY: &str = "old_private_key";
    pub const NEW_CLIENT_SECRET: &str = "new_client_secret";
    pub const NEW_PRIVATE_KEY: &str = "new_private_key";
}

/// A credential set sealed for `record` under the given field names.
pub struct SealedSet {
    pub secret: String,
    pub key: String,
}

pub fn seal_set(
    keys: &SealingKeys,
    record: &str,
    (secret_field, key_field): (&str, &str),
    set: &CredentialSet,
) -> SealedSet {
    SealedSet {
        secret: seal_secret(
            keys,
            SealContext {
                record,
                field: secret_field,
            },
            &set.client_secret,
        ),
        key: seal(
            keys,
            SealContext {
                record,
                field: key_field,
            },
            set.private_key.pkcs8_der(),
        ),
    }
}

/// What to store for `event`, or why it is refused.
pub fn build(
    event: &UnverifiedEvent,
    app_id: &AppId,
    allowlist: &Allowlist,
    keys: &SealingKeys,
    now_ms: u64,
) -> Result<Intake, IntakeError> {
    if event.app_id != app_id.as_str() {
        return Err(IntakeError::WrongApp);
    }
    // Every link must be a Talkdesk host, whatever the event: a hostile link is refused here.
    allowlist
        .check(&event.links.root)
        .map_err(|e| invalid("_links.root.href", e))?;
    for (path, link) in [
        ("_links.self.href", &event.links.self_link),
        ("_links.tokens.href", &event.links.tokens),
        ("_links.authorization.href", &event.links.authorization),
    ] {
        if let Some(href) = link {
            allowlist.check(href).map_err(|e| invalid(path, e))?;
        }
    }
    let mut record = EventRecord {
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        installation_id: event.data.installation_id().map(str::to_owned),
        account_id: event.data.account_id().map(str::to_owned),
        created_at: event.created_at.clone(),
        received_at: now_ms,
        keep_until: now_ms + KEEP_EVENTS_MS,
        status: "received".into(),
        detail: None,
        new_client_id: None,
        new_key_id: None,
        new_key_algorithm: None,
        sealed_new_secret: None,
        sealed_new_key: None,
    };
    let job = |kind: JobKind, installation_id: &str| Job {
        job_id: 0,
        installation_id: installation_id.to_owned(),
        event_id: event.id.clone(),
        kind,
        state: "pending".into(),
        attempts: 0,
        next_attempt_at: now_ms,
        deadline_at: now_ms + CONFIRM_WINDOW_MS,
        last_error: None,
        created_at: now_ms,
        updated_at: now_ms,
    };
    let mut installation = None;
    let kind = match &event.data {
        EventData::Installed {
            installation_id,
            account_id,
            account_name,
            credentials,
        } => {
            let endpoints = resolve_endpoints(
                allowlist,
                account_name,
                &EventLinks {
                    root: &event.links.root,
                    tokens: event.links.tokens.as_deref(),
                    authorization: event.links.authorization.as_deref(),
                },
            )
            .map_err(|e| match &e {
                // Name the link that broke the rule (`_links.tokens.href`, …).
                HostError::Link { link, cause } => invalid(&format!("{link}.href"), cause),
                _ => invalid("_links", e),
            })?;
            let sealed = seal_set(
                keys,
                installation_id,
                (fields::CLIENT_SECRET, fields::PRIVATE_KEY),
                credentials,
            );
            installation = Some(Installation {
                installation_id: installation_id.clone(),
                account_id: account_id.clone(),
                account_name: account_name.as_str().to_owned(),
                state: state::RECEIVED.into(),
                api_root: endpoints.api_root.as_str().to_owned(),
                token_url: endpoints.token_url.as_str().to_owned(),
                authorize_url: endpoints.authorize_url.as_str().to_owned(),
                client_id: Some(credentials.client_id.clone()),
                key_id: Some(credentials.key_id.clone()),
                key_algorithm: Some(credentials.private_key.algorithm().as_str().to_owned()),
                sealed_secret: Some(sealed.secret),
                sealed_key: Some(sealed.key),
                old_client_id: None,
                old_key_id: None,
                old_key_algorithm: None,
                sealed_old_secret: None,
                sealed_old_key: None,
                company_name: None,
                timezone: None,
                plan: None,
                subscription_type: None,
                total_licenses: None,
                trial_state: None,
                trial_expires_at: None,
                trial_ended_at: None,
                trial_ended_reason: None,
                users_count: 0,
                last_error: None,
                install_event_id: event.id.clone(),
                created_at: now_ms,
                updated_at: now_ms,
                approved_at: None,
                uninstalled_at: None,
                trial_event_at: None,
                credentials_event_at: Some(event.created_at.clone()),
            });
            Some(JobKind::Install)
        }
        EventData::CredentialsRotated { credentials, .. } => {
            let sealed = seal_set(
                keys,
                &event.id,
                (fields::NEW_CLIENT_SECRET, fields::NEW_PRIVATE_KEY),
                credentials,
            );
            record.new_client_id = Some(credentials.client_id.clone());
            record.new_key_id = Some(credentials.key_id.clone());
            record.new_key_algorithm =
                Some(credentials.private_key.algorithm().as_str().to_owned());
            record.sealed_new_secret = Some(sealed.secret);
            record.sealed_new_key = Some(sealed.key);
            Some(JobKind::Rotate)
        }
        EventData::Updated { .. } => Some(JobKind::Update),
        EventData::Uninstalled { .. } => Some(JobKind::Uninstall),
        EventData::Trial { .. } => Some(JobKind::Trial),
        EventData::UserLogout { .. } => Some(JobKind::Logout),
        EventData::Unknown { .. } => None,
    };
    if kind.is_none() {
        record.status = "ignored".into();
        record.detail = Some("unknown event type: recorded, not acted on".into());
    }
    let job = kind
        .zip(event.data.installation_id())
        .map(|(k, id)| job(k, id));
    Ok(Intake {
        event: record,
        installation,
        job,
    })
}
