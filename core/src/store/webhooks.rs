//! The webhooks outbox (migration 0011): webhooks to the partner's backend, enqueued by the
//! lifecycle as it goes, delivered in `seq` order per installation under a lease, retried with
//! backoff, replayable by the operator.

use super::lifecycle::Store;
use super::row_codec::{Cols, FromRow};
use crate::ports::{Database, PortError, Statement};

/// One webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookRow {
    pub seq: i64,
    pub webhook_id: String,
    pub installation_id: String,
    pub event_type: String,
    pub payload: String,
    pub state: String,
    pub attempts: u64,
    pub next_attempt_at: u64,
    pub last_status: Option<u64>,
    pub last_error: Option<String>,
    pub created_at: u64,
    pub delivered_at: Option<u64>,
}

impl FromRow for WebhookRow {
    fn from_row(c: &mut Cols) -> Self {
        WebhookRow {
            seq: c.int("seq"),
            webhook_id: c.text("webhook_id"),
            installation_id: c.text("installation_id"),
            event_type: c.text("event_type"),
            payload: c.text("payload"),
            state: c.text("state"),
            attempts: c.uint("attempts"),
            next_attempt_at: c.uint("next_attempt_at"),
            last_status: c.opt_uint("last_status"),
            last_error: c.opt_text("last_error"),
            created_at: c.uint("created_at"),
            delivered_at: c.opt_uint("delivered_at"),
        }
    }
}

/// A row of one column, an installation id.
struct InstallationId(String);

impl FromRow for InstallationId {
    fn from_row(c: &mut Cols) -> Self {
        InstallationId(c.text("installation_id"))
    }
}

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

impl<D: Database> Store<'_, D> {
    /// Queues a webhook; `false` when one with this id is already queued (a repeated step).
    pub async fn enqueue_webhook(
        &self,
        webhook_id: &str,
        installation_id: &str,
        event_type: &str,
        payload: &str,
        now_ms: u64,
    ) -> Result<bool, PortError> {
        let n = self
            .db()
            .execute(&Statement::new(
                "enqueue webhook",
                "INSERT OR IGNORE INTO webhooks \
                 (webhook_id, installation_id, event_type, payload, state, next_attempt_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                vec![
                    webhook_id.into(),
                    installation_id.into(),
                    event_type.into(),
                    payload.into(),
                    PENDING.into(),
                    now_ms.into(),
                ],
            ))
            .await?;
        Ok(n == 1)
    }

    /// Takes the installation's first pending webhook if it is due and no one holds it: the
    /// order per installation is the order they were queued in.
    pub async fn lease_webhook(
        &self,
        installation_id: &str,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Option<WebhookRow>, PortError> {
        self.one_row(Statement::new(
            "lease webhook",
            "UPDATE webhooks SET lease_holder = ?2, lease_until = ?4, attempts = attempts + 1 \
             WHERE seq = (SELECT seq FROM webhooks WHERE installation_id = ?1 AND state = ?5 \
                          ORDER BY seq LIMIT 1) \
               AND next_attempt_at <= ?3 AND lease_until <= ?3 \
             RETURNING seq, webhook_id, installation_id, event_type, payload, state, attempts, \
               next_attempt_at, last_status, last_error, created_at, delivered_at",
            vec![
                installation_id.into(),
                holder.into(),
                now_ms.into(),
                until_ms.into(),
                PENDING.into(),
            ],
        ))
        .await
    }

    /// Records a delivery attempt's result, if `holder` still holds the webhook.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_webhook(
        &self,
        seq: i64,
        holder: &str,
        state: &str,
        next_attempt_at: u64,
        status: Option<u16>,
        error: Option<&str>,
        now_ms: u64,
    ) -> Result<(), PortError> {
        self.db()
            .execute(&Statement::new(
                "finish webhook",
                "UPDATE webhooks SET state = ?3, next_attempt_at = ?4, last_status = ?5, \
                 last_error = ?6, lease_holder = NULL, lease_until = 0, \
                 delivered_at = CASE WHEN ?3 = ?8 THEN ?7 ELSE delivered_at END \
                 WHERE seq = ?1 AND lease_holder = ?2",
                vec![
                    seq.into(),
                    holder.into(),
                    state.into(),
                    next_attempt_at.into(),
                    status.map(u64::from).into(),
                    error.into(),
                    now_ms.into(),
                    DELIVERED.into(),
                ],
            ))
            .await
            .map(|_| ())
    }

    /// Installations whose first pending webhook is due now (a later one cannot go before it).
    pub async fn installations_with_due_webhooks(
        &self,
        now_ms: u64,
        limit: u32,
    ) -> Result<Vec<String>, PortError> {
        let rows: Vec<InstallationId> = self
            .all_rows(Statement::new(
                "due webhooks",
                "SELECT w.installation_id FROM webhooks w \
                 WHERE w.state = ?1 AND w.next_attempt_at <= ?2 AND w.lease_until <= ?2 \
                   AND w.seq = (SELECT MIN(h.seq) FROM webhooks h \
                                WHERE h.installation_id = w.installation_id AND h.state = ?1) \
                 LIMIT ?3",
                vec![PENDING.into(), now_ms.into(), u64::from(limit).into()],
            ))
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The installation's webhooks, newest first, for the operator.
    pub async fn webhooks_of(
        &self,
        installation_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookRow>, PortError> {
        self.all_rows(Statement::new(
            "webhooks of",
            "SELECT seq, webhook_id, installation_id, event_type, payload, state, attempts, \
               next_attempt_at, last_status, last_error, created_at, delivered_at \
             FROM webhooks WHERE installation_id = ?1 ORDER BY seq DESC LIMIT ?2",
            vec![installation_id.into(), u64::from(limit).into()],
        ))
        .await
    }

    /// Makes a webhook pending again, due now (the operator's replay). Its installation, or
    /// `None` for an unknown id.
    pub async fn replay_webhook(
        &self,
        webhook_id: &str,
        now_ms: u64,
    ) -> Result<Option<String>, PortError> {
        let row: Option<InstallationId> = self
            .one_row(Statement::new(
                "replay webhook",
                "UPDATE webhooks SET state = ?2, attempts = 0, next_attempt_at = ?3, \
                 created_at = ?3, last_error = NULL, lease_holder = NULL, lease_until = 0 \
                 WHERE webhook_id = ?1 RETURNING installation_id",
                vec![webhook_id.into(), PENDING.into(), now_ms.into()],
            ))
            .await?;
        Ok(row.map(|r| r.0))
    }
}
