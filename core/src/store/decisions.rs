//! Manual provisioning (migration 0011): an install waiting for a person, the decision made
//! through the operator API or the partner's signed call, and the ids of signed calls used.

use super::lifecycle::Store;
use super::row_codec::{decode_first, Cols, FromRow};
use crate::ports::{Database, PortError, Row, Statement};

/// A manual decision as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManualDecision {
    /// `waiting`, `approved`, `rejected` or `expired`.
    pub state: String,
    pub why_waiting: String,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub deadline_at: u64,
    pub warned_at: Option<u64>,
    pub requested_at: u64,
    pub decided_at: Option<u64>,
}

pub const WAITING: &str = "waiting";
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";
pub const EXPIRED: &str = "expired";

/// What a decision request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Recorded now.
    Now,
    /// The same decision was already recorded (a repeated request).
    Already,
    /// Another decision stands, or the window passed: its state.
    Conflict(String),
    /// No install of this installation is waiting for a person.
    NotWaiting,
}

/// Reads an installation's manual decision (no row: none was ever asked for), alone or as
/// part of a batch (see [`manual_decision_from`]).
pub fn manual_decision_statement(installation_id: &str) -> Statement {
    Statement::new(
        "manual decision",
        "SELECT state, why_waiting, reason, decided_by, deadline_at, warned_at, \
           requested_at, decided_at FROM manual_decisions WHERE installation_id = ?1",
        vec![installation_id.into()],
    )
}

/// The decision in the rows [`manual_decision_statement`] read.
pub fn manual_decision_from(rows: Vec<Row>) -> Result<Option<ManualDecision>, PortError> {
    decode_first("manual decision", rows)
}

impl FromRow for ManualDecision {
    fn from_row(c: &mut Cols) -> Self {
        ManualDecision {
            state: c.text("state"),
            why_waiting: c.text("why_waiting"),
            reason: c.opt_text("reason"),
            decided_by: c.opt_text("decided_by"),
            deadline_at: c.uint("deadline_at"),
            warned_at: c.opt_uint("warned_at"),
            requested_at: c.uint("requested_at"),
            decided_at: c.opt_uint("decided_at"),
        }
    }
}

impl<D: Database> Store<'_, D> {
    pub async fn manual_decision(
        &self,
        installation_id: &str,
    ) -> Result<Option<ManualDecision>, PortError> {
        self.one_row(manual_decision_statement(installation_id))
            .await
    }

    /// Opens the wait for a person (once; a repeat keeps the first).
    pub async fn await_decision(
        &self,
        installation_id: &str,
        why: &str,
        deadline_at: u64,
        now_ms: u64,
    ) -> Result<(), PortError> {
        self.db()
            .execute(&Statement::new(
                "await decision",
                "INSERT OR IGNORE INTO manual_decisions \
                 (installation_id, state, why_waiting, deadline_at, requested_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                vec![
                    installation_id.into(),
                    WAITING.into(),
                    why.into(),
                    deadline_at.into(),
                    now_ms.into(),
                ],
            ))
            .await
            .map(|_| ())
    }

    /// Records the decision if the install is still waiting for one.
    pub async fn decide(
        &self,
        installation_id: &str,
        state: &str,
        reason: Option<&str>,
        by: &str,
        now_ms: u64,
    ) -> Result<Decided, PortError> {
        let n = self
            .db()
            .execute(&Statement::new(
                "decide",
                "UPDATE manual_decisions SET state = ?2, reason = ?3, decided_by = ?4, \
                 decided_at = ?5 WHERE installation_id = ?1 AND state = ?6 AND deadline_at > ?5",
                vec![
                    installation_id.into(),
                    state.into(),
                    reason.into(),
                    by.into(),
                    now_ms.into(),
                    WAITING.into(),
                ],
            ))
            .await?;
        if n == 1 {
            return Ok(Decided::Now);
        }
        Ok(match self.manual_decision(installation_id).await? {
            None => Decided::NotWaiting,
            Some(d) if d.state == state => Decided::Already,
            Some(d) if d.state == WAITING => Decided::Conflict(EXPIRED.into()),
            Some(d) => Decided::Conflict(d.state),
        })
    }

    /// Marks the warning a day before the deadline as sent; `false` when it already was.
    pub async fn mark_warned(&self, installation_id: &str, now_ms: u64) -> Result<bool, PortError> {
        let n = self
            .db()
            .execute(&Statement::new(
                "warn of deadline",
                "UPDATE manual_decisions SET warned_at = ?2 \
                 WHERE installation_id = ?1 AND warned_at IS NULL",
                vec![installation_id.into(), now_ms.into()],
            ))
            .await?;
        Ok(n == 1)
    }

    /// The wait ended with the window: no one decided in time.
    pub async fn expire_decision(&self, installation_id: &str) -> Result<(), PortError> {
        self.db()
            .execute(&Statement::new(
                "expire decision",
                "UPDATE manual_decisions SET state = ?2 WHERE installation_id = ?1 AND state = ?3",
                vec![installation_id.into(), EXPIRED.into(), WAITING.into()],
            ))
            .await
            .map(|_| ())
    }

    /// Records a signed call's id; `false` when it was used before (a replayed call).
    pub async fn use_call_id(&self, call_id: &str, now_ms: u64) -> Result<bool, PortError> {
        let n = self
            .db()
            .execute(&Statement::new(
                "use call id",
                "INSERT OR IGNORE INTO partner_calls (call_id, created_at) VALUES (?1, ?2)",
                vec![call_id.into(), now_ms.into()],
            ))
            .await?;
        Ok(n == 1)
    }

    /// Forgets call ids older than `before_ms` (the signed calls' timestamps are only accepted
    /// for minutes, so older ids cannot be replayed anyway).
    pub async fn purge_call_ids(&self, before_ms: u64) -> Result<(), PortError> {
        self.db()
            .execute(&Statement::new(
                "purge call ids",
                "DELETE FROM partner_calls WHERE call_id IN \
                 (SELECT call_id FROM partner_calls WHERE created_at < ?1 LIMIT 500)",
                vec![before_ms.into()],
            ))
            .await
            .map(|_| ())
    }
}
