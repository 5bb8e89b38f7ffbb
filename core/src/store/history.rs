//! What the operator did to each installation (migration 0010's `operator_actions`), and the
//! replay of a stored event: its job pending again from scratch.

use super::lifecycle::Store;
use super::records::{EventStatus, InstallationState, JobKind, JobState};
use super::row_codec::{Cols, FromRow};
use crate::ports::{Database, PortError, Statement};

/// One operator action, as the installation's history shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorAction {
    pub action: String,
    pub detail: String,
    pub created_at: u64,
}

impl FromRow for OperatorAction {
    fn from_row(c: &mut Cols) -> Self {
        OperatorAction {
            action: c.text("action"),
            detail: c.text("detail"),
            created_at: c.uint("created_at"),
        }
    }
}

/// What a replay request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// The event's job is pending again, due now; its installation.
    Queued(String),
    /// Its job is still pending: nothing to do (the replay already happened, or never ended).
    AlreadyPending(String),
    /// The event is stored but has no work to replay (a type the worker ignores).
    NoWork,
    /// Replaying it would do harm or nothing: why.
    Refused(&'static str),
    NoSuchEvent,
}

impl<D: Database> Store<'_, D> {
    /// Adds an action to the installation's history.
    pub async fn record_action(
        &self,
        installation_id: &str,
        action: &str,
        detail: &str,
        now_ms: u64,
    ) -> Result<(), PortError> {
        self.db()
            .execute(&Statement::new(
                "record operator action",
                "INSERT INTO operator_actions (installation_id, action, detail, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                vec![
                    installation_id.into(),
                    action.into(),
                    detail.into(),
                    now_ms.into(),
                ],
            ))
            .await
            .map(|_| ())
    }

    /// The installation's latest operator actions, newest first.
    pub async fn actions_of(
        &self,
        installation_id: &str,
        limit: u32,
    ) -> Result<Vec<OperatorAction>, PortError> {
        self.all_rows(Statement::new(
            "operator actions",
            "SELECT action, detail, created_at FROM operator_actions \
             WHERE installation_id = ?1 ORDER BY action_id DESC LIMIT ?2",
            vec![installation_id.into(), u64::from(limit).into()],
        ))
        .await
    }

    /// Makes a finished event's job pending again, due now, with fresh attempts and a fresh
    /// confirmation window, and the event `received` again, in one transaction.
    pub async fn replay_event(
        &self,
        event_id: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<Replay, PortError> {
        struct Found {
            installation_id: Option<String>,
            state: Option<String>,
            kind: Option<String>,
            installation_state: Option<String>,
            has_new_set: i64,
        }
        impl FromRow for Found {
            fn from_row(c: &mut Cols) -> Self {
                Found {
                    installation_id: c.opt_text("installation_id"),
                    state: c.opt_text("state"),
                    kind: c.opt_text("kind"),
                    installation_state: c.opt_text("installation_state"),
                    has_new_set: c.int("has_new_set"),
                }
            }
        }
        let found: Option<Found> = self
            .one_row(Statement::new(
                "replay: find event",
                "SELECT j.installation_id, j.state, j.kind, i.state AS installation_state, \
                   (e.sealed_new_secret IS NOT NULL) AS has_new_set FROM events e \
                 LEFT JOIN jobs j ON j.event_id = e.event_id \
                 LEFT JOIN installations i ON i.installation_id = j.installation_id \
                 WHERE e.event_id = ?1",
                vec![event_id.into()],
            ))
            .await?;
        let Some(found) = found else {
            return Ok(Replay::NoSuchEvent);
        };
        let (Some(installation_id), Some(state)) = (found.installation_id, found.state) else {
            return Ok(Replay::NoWork);
        };
        if state == JobState::Pending.as_str() {
            return Ok(Replay::AlreadyPending(installation_id));
        }
        let kind = found.kind.as_deref().and_then(JobKind::parse);
        let inst_state = found
            .installation_state
            .as_deref()
            .and_then(InstallationState::parse);
        if kind == Some(JobKind::Install) && inst_state == Some(InstallationState::Active) {
            // Running it again would take the installation back through `received`.
            return Ok(Replay::Refused(
                "the installation is already installed; retry or replay its later events",
            ));
        }
        if kind == Some(JobKind::Rotate) && found.has_new_set == 0 {
            return Ok(Replay::Refused(
                "the rotation's new credentials were destroyed when it finished",
            ));
        }
        self.db()
            .batch(&[
                Statement::new(
                    "replay job",
                    "UPDATE jobs SET state = ?3, attempts = 0, next_attempt_at = ?2, \
                     deadline_at = ?2 + ?4, last_error = NULL, updated_at = ?2, \
                     lease_holder = NULL, lease_until = 0 WHERE event_id = ?1 AND state <> ?3",
                    vec![
                        event_id.into(),
                        now_ms.into(),
                        JobState::Pending.as_str().into(),
                        window_ms.into(),
                    ],
                ),
                Statement::new(
                    "replay event",
                    "UPDATE events SET status = ?2, detail = NULL WHERE event_id = ?1",
                    vec![event_id.into(), EventStatus::Received.as_str().into()],
                ),
                // The replay reads users afresh, not from an earlier attempt's cursor.
                Statement::new(
                    "replay: forget the users re-read",
                    "DELETE FROM user_staging WHERE job_id = \
                     (SELECT job_id FROM jobs WHERE event_id = ?1)",
                    vec![event_id.into()],
                ),
                Statement::new(
                    "replay: forget the users re-read",
                    "DELETE FROM user_syncs WHERE job_id = \
                     (SELECT job_id FROM jobs WHERE event_id = ?1)",
                    vec![event_id.into()],
                ),
            ])
            .await?;
        Ok(Replay::Queued(installation_id))
    }
}
