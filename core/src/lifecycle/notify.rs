//! Signed webhooks to the partner's backend: queued by a job step once Talkdesk confirmed what
//! happened (never before, so a forged, unconfirmed or duplicate event sends nothing), then
//! delivered from their own outbox in order per installation, retried with backoff on any
//! non-2xx or no answer, and replayable by the operator.

use serde_json::{json, Value};

use super::budget::Cost;
use super::hooks::Facts;
use super::{JobContext, Ports, Settings};
use crate::ports::{Clock, Log, PortError, TalkdeskHttp};
use crate::secret::SecretString;
use crate::store::webhooks::{DELIVERED, FAILED, PENDING};
use crate::talkdesk::assertion::new_jti;
use crate::talkdesk::http::HttpRequest;
use crate::webhooks::{signature, webhook_id};

/// The webhooks the partner's backend gets (`type` of the payload).
pub const CREATED: &str = "installation.created";
pub const AWAITING_DECISION: &str = "installation.awaiting_decision";
pub const DEADLINE_APPROACHING: &str = "installation.deadline_approaching";
pub const APPROVED: &str = "installation.approved";
pub const REJECTED: &str = "installation.rejected";
pub const UPDATED: &str = "installation.updated";
pub const TRIAL_CHANGED: &str = "installation.trial_changed";
pub const UNINSTALLED: &str = "installation.uninstalled";

/// A webhook undelivered this long after it was queued is marked failed (the operator can
/// replay it) and the installation's later webhooks go on.
pub const GIVE_UP_MS: u64 = 3 * 24 * 3600 * 1000;
/// How long one delivery holds its webhook.
pub const LEASE_MS: u64 = 60_000;
/// Webhooks one run delivers for an installation.
pub const MAX_PER_RUN: usize = 50;
/// One delivery: lease, POST, record.
const DELIVERY_COST: Cost = Cost {
    queries: 2,
    subrequests: 3,
};

/// Queues a webhook for the job's event, if webhooks are configured. The id depends only on
/// the event and the type, so a repeated step queues nothing new.
pub async fn queue<P: Ports>(
    cx: &JobContext<'_, P>,
    event_type: &str,
    facts: &Facts,
    extra: Value,
) -> Result<(), PortError> {
    if cx.s.partner.webhooks.is_none() {
        return Ok(());
    }
    let now = cx.p.clock().now_ms();
    let id = webhook_id(&cx.job.event_id, event_type);
    let mut data = serde_json::to_value(facts).unwrap_or(Value::Null);
    if let (Value::Object(d), Value::Object(e)) = (&mut data, extra) {
        d.extend(e);
        d.insert("event_id".into(), cx.job.event_id.clone().into());
    }
    let payload = json!({
        "type": event_type,
        "timestamp": crate::calendar::rfc3339_of_ms(now),
        "data": data,
    });
    cx.p.store()
        .enqueue_webhook(
            &id,
            &facts.installation_id,
            event_type,
            &payload.to_string(),
            now,
        )
        .await
        .map(|_| ())
}

/// The delay before delivery retry number `attempts`.
pub fn backoff_ms(attempts: u64) -> u64 {
    // The outbox's schedule (30 s doubling to an hour), at the middle of its jitter.
    super::outbox::backoff_ms(attempts, 500)
}

/// Delivers the installation's due webhooks, oldest first, stopping at the first one that
/// fails (the order per installation is kept) or when the invocation's budget runs low.
pub async fn deliver<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    installation_id: &str,
) -> Result<usize, PortError> {
    let Some(config) = s.partner.webhooks.as_ref() else {
        return Ok(0);
    };
    let holder = new_jti();
    let mut delivered = 0;
    for _ in 0..MAX_PER_RUN {
        let now = p.clock().now_ms();
        if p.meter()
            .is_some_and(|m| !m.affords(DELIVERY_COST, DELIVERY_COST, now))
        {
            break;
        }
        let Some(w) = p
            .store()
            .lease_webhook(installation_id, &holder, now, now + s.scaled(LEASE_MS))
            .await?
        else {
            break;
        };
        let timestamp = p.clock().now_secs();
        let body = w.payload.as_bytes();
        let request = HttpRequest {
            method: "POST",
            url: config.url.clone(),
            headers: vec![
                ("content-type", "application/json".into()),
                ("webhook-id", w.webhook_id.clone()),
                ("webhook-timestamp", timestamp.to_string()),
                (
                    "webhook-signature",
                    signature(&config.secrets, &w.webhook_id, timestamp, body),
                ),
            ],
            body: SecretString::new(w.payload.clone()),
        };
        let (status, error) = match p.http().send(&request).await {
            Ok(resp) if (200..300).contains(&resp.status) => (Some(resp.status), None),
            Ok(resp) => (Some(resp.status), Some(format!("answered {}", resp.status))),
            Err(e) => (None, Some(format!("no answer: {e}"))),
        };
        let now = p.clock().now_ms();
        match error {
            None => {
                p.store()
                    .finish_webhook(w.seq, &holder, DELIVERED, now, status, None, now)
                    .await?;
                p.log().record(
                    crate::ports::Level::Info,
                    "webhook_delivered",
                    &[
                        ("installation_id", installation_id),
                        ("webhook_id", w.webhook_id.as_str()),
                        ("type", w.event_type.as_str()),
                    ],
                );
                delivered += 1;
            }
            Some(why) if now.saturating_sub(w.created_at) >= s.scaled(GIVE_UP_MS) => {
                let attempts = w.attempts.to_string();
                p.log().record(
                    crate::ports::Level::Error,
                    "webhook_failed",
                    &[
                        ("installation_id", installation_id),
                        ("webhook_id", w.webhook_id.as_str()),
                        ("type", w.event_type.as_str()),
                        ("attempts", attempts.as_str()),
                        ("detail", why.as_str()),
                    ],
                );
                p.store()
                    .finish_webhook(w.seq, &holder, FAILED, now, status, Some(&why), now)
                    .await?;
            }
            Some(why) => {
                let next = now + s.scaled(backoff_ms(w.attempts));
                p.store()
                    .finish_webhook(w.seq, &holder, PENDING, next, status, Some(&why), now)
                    .await?;
                break;
            }
        }
    }
    Ok(delivered)
}

/// The sweep's part: delivers for every installation with a webhook due.
pub async fn sweep<P: Ports>(p: &P, s: &Settings<'_>, limit: u32) -> Result<(), PortError> {
    if s.partner.webhooks.is_none() {
        return Ok(());
    }
    let now = p.clock().now_ms();
    for id in p
        .store()
        .installations_with_due_webhooks(now, limit)
        .await?
    {
        deliver(p, s, &id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_backoff_doubles_to_an_hour() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(30), super::super::outbox::MAX_BACKOFF_MS);
    }
}
