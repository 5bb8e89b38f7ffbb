//! `POST /events`, before the answer: an unverified event becomes an [`Intake`] (what to store,
//! with secrets sealed) or a 400 naming the bad field, then [`receive`] stores it in one
//! transaction. Nothing here talks to Talkdesk.

use super::outbox::Head;
use super::sealing::{seal_set, CURRENT, INCOMING};
use super::Ports;
use crate::config::AppId;
use crate::crypto::keyring::SealingKeys;
use crate::ports::Clock;
use crate::ports::PortError;
use crate::store::records::{
    EventRecord, EventStatus, Installation, InstallationState, Intake, Job, JobKind, JobState,
    PlanRecord, TrialRecord,
};
use crate::store::{Take, KEEP_EVENTS_MS};
use crate::talkdesk::assertion::new_jti;
use crate::talkdesk::events::{EventData, EventError, UnverifiedEvent};
use crate::talkdesk::hosts::{resolve_endpoints, Allowlist, EventLinks, HostError};

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
        status: EventStatus::Received,
        detail: None,
        incoming: None,
        self_href: event.links.self_link.clone(),
        candidate: None,
        app_version: event.app_version_name.clone(),
    };
    let job = |kind: JobKind, installation_id: &str| Job {
        job_id: 0,
        installation_id: installation_id.to_owned(),
        event_id: event.id.clone(),
        kind,
        state: JobState::Pending,
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
            installation = Some(Installation {
                installation_id: installation_id.clone(),
                account_id: account_id.clone(),
                account_name: account_name.as_str().to_owned(),
                state: InstallationState::Received,
                api_root: endpoints.api_root.as_str().to_owned(),
                token_url: endpoints.token_url.as_str().to_owned(),
                authorize_url: endpoints.authorize_url.as_str().to_owned(),
                // The header script is cosmetic: one that is not on the allowlist is dropped,
                // never a reason to refuse the install.
                widget_url: event
                    .links
                    .widget_url
                    .as_deref()
                    .and_then(|href| allowlist.check(href).ok())
                    .map(|url| url.as_str().to_owned()),
                credentials: Some(seal_set(keys, installation_id, CURRENT, credentials)),
                previous: None,
                credentials_event_at: Some(event.created_at.clone()),
                company_name: None,
                timezone: None,
                plan: PlanRecord::default(),
                trial: TrialRecord::default(),
                users_count: 0,
                last_error: None,
                install_event_id: event.id.clone(),
                created_at: now_ms,
                updated_at: now_ms,
                approved_at: None,
                uninstalled_at: None,
                version: 0,
            });
            Some(JobKind::Install)
        }
        EventData::CredentialsRotated { credentials, .. } => {
            record.incoming = Some(seal_set(keys, &event.id, INCOMING, credentials));
            Some(JobKind::Rotate)
        }
        EventData::Updated { .. } => Some(JobKind::Update),
        EventData::Uninstalled { .. } => Some(JobKind::Uninstall),
        EventData::Trial { .. } => Some(JobKind::Trial),
        EventData::UserLogout { .. } => Some(JobKind::Logout),
        EventData::Unknown { .. } => None,
    };
    if kind.is_none() {
        record.status = EventStatus::Ignored;
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

/// Jobs one installation may have waiting. Past this, a new event is still stored (Talkdesk
/// sends credentials once, and a refusal could lose a genuine event) but parked unconfirmed at
/// once, calling nobody: a flood costs rows, not calls, and the operator sees it.
pub const MAX_PENDING_PER_INSTALLATION: u64 = 100;
/// Install events waiting to be proven for one account label (one Talkdesk ID host), whatever
/// their installation ids, past which new ones are parked the same way: a cap on the token
/// requests a flood of forged installs can aim at one customer's Talkdesk ID.
pub const MAX_PENDING_INSTALLS_PER_ACCOUNT: u64 = 100;

/// What storing an event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Stored; the installation whose jobs should run now, if the event made work.
    New { run: Option<String> },
    /// This event id was already stored: nothing more is done.
    Duplicate,
}

/// Stores an intake durably. Every `app.installed` keeps its candidate on its event; the first
/// one for an installation id also makes the installation row. A later one while the
/// installation is still unproven (or was proven forged) is another candidate, proven on its
/// own: a forgery that came first cannot pre-empt the genuine event. Once an installation is
/// proven, a further install event is recorded and ignored.
///
/// `lease_ms`: when the run follows in this request (its ports have a [`super::outbox::Handoff`]), the
/// installation's head job is leased for this long in the same transaction and handed to it.
pub async fn receive<P: Ports>(
    p: &P,
    mut intake: Intake,
    lease_ms: Option<u64>,
) -> Result<Received, PortError> {
    // Both reads in one round trip, before the answer.
    let (known, counts) = p
        .store()
        .intake_reads(
            intake
                .installation
                .as_ref()
                .map(|i| i.installation_id.as_str()),
            intake.job.as_ref().map(|j| j.installation_id.as_str()),
            intake
                .installation
                .as_ref()
                .map(|i| i.account_name.as_str()),
        )
        .await?;
    if let Some(inst) = intake.installation.take() {
        match known {
            None => {
                intake.event.candidate = Some(Box::new(inst.clone()));
                intake.installation = Some(inst);
            }
            Some(known)
                if matches!(
                    known.state,
                    InstallationState::Received | InstallationState::Forged
                ) =>
            {
                intake.event.candidate = Some(Box::new(inst));
            }
            Some(_) => {
                intake.job = None;
                intake.event.status = EventStatus::Ignored;
                intake.event.detail =
                    Some("installation already proven; its credentials are kept".into());
            }
        }
    }
    let mut run = intake.job.as_ref().map(|j| j.installation_id.clone());
    if run.is_some() {
        // Counted for the candidate's account: an install whose candidate is not kept (its
        // installation is proven already) made no job, so it never gets here.
        let (queued, installs) = counts;
        let full = if queued >= MAX_PENDING_PER_INSTALLATION {
            Some(format!(
                "{queued} events already wait for this installation"
            ))
        } else if installs >= MAX_PENDING_INSTALLS_PER_ACCOUNT {
            Some(format!(
                "{installs} install events already wait for this account"
            ))
        } else {
            None
        };
        if let (Some(why), Some(job)) = (full, intake.job.as_mut()) {
            let why = format!("parked on arrival: {why}");
            job.state = JobState::Unconfirmed;
            job.last_error = Some(why.clone());
            intake.event.status = EventStatus::Unconfirmed;
            intake.event.detail = Some(why);
            run = None;
        }
    }
    let (Some(installation_id), Some(handoff), Some(lease_ms)) =
        (run.as_deref(), p.handoff(), lease_ms)
    else {
        return Ok(match p.store().intake(&intake).await? {
            true => Received::New { run },
            false => Received::Duplicate,
        });
    };
    // The run follows the answer in this request: its first job is leased in the same
    // transaction as the event, one round trip fewer before the work starts.
    let holder = new_jti();
    let now = p.clock().now_ms();
    let lease_until = now + lease_ms;
    let take = Take {
        installation_id,
        holder: &holder,
        now_ms: now,
        until_ms: lease_until,
    };
    match p.store().intake_and_take(&intake, take).await? {
        None => Ok(Received::Duplicate),
        Some(taken) => {
            if let Some(taken) = taken {
                handoff.put(Head {
                    installation_id: installation_id.to_owned(),
                    holder,
                    lease_until,
                    taken,
                });
            }
            Ok(Received::New { run })
        }
    }
}
