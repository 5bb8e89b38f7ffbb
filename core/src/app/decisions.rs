//! Manual provisioning's decisions (the operator API and the partner's signed call) and the
//! operator's view of the webhooks queued for the partner.

use serde_json::json;

use super::{Handled, Head};
use crate::config::Config;
use crate::http::{ApiError, Reply};
use crate::json::read_bytes;
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log, PortError};
use crate::store::decisions::{Decided, APPROVED, REJECTED};

/// The longest rejection reason (Talkdesk shows it to the customer).
pub const MAX_REASON: usize = 500;

fn internal<P: Ports>(p: &P, e: PortError) -> Handled {
    p.log().error("decision_failed", &e.0);
    ApiError::Internal.reply().into()
}

fn bad(error: &'static str, path: &str, message: impl Into<String>) -> Handled {
    ApiError::BadRequest {
        error,
        path: Some(path.into()),
        message: message.into(),
    }
    .reply()
    .into()
}

/// `{"reason": …}`, nothing else.
fn reason_body(body: &[u8]) -> Result<Option<String>, String> {
    read_bytes(body, Some(&["reason"]), |r, o| r.opt_text(o, "reason"))
}

#[derive(Debug)]
struct DecisionBody {
    /// Signed with the rest, so a signature cannot be moved to another installation's path.
    installation_id: String,
    decision: String,
    reason: Option<String>,
}

impl DecisionBody {
    /// `{"installation_id": …, "decision": …, "reason": …}`, nothing else.
    fn read(body: &[u8]) -> Result<DecisionBody, String> {
        let known = ["installation_id", "decision", "reason"];
        read_bytes(body, Some(&known), |r, o| DecisionBody {
            installation_id: r.text(o, "installation_id"),
            decision: r.text(o, "decision"),
            reason: r.opt_text(o, "reason"),
        })
    }
}

/// A reason: present for a rejection, plain text, at most [`MAX_REASON`] characters.
fn check_reason(approve: bool, reason: Option<String>) -> Result<Option<String>, Handled> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    match &reason {
        None if !approve => Err(bad(
            "invalid_decision",
            "$.reason",
            "a rejection needs a reason (the customer sees it)",
        )),
        Some(r) if r.chars().count() > MAX_REASON || r.chars().any(char::is_control) => Err(bad(
            "invalid_decision",
            "$.reason",
            format!("the reason must be plain text of at most {MAX_REASON} characters"),
        )),
        _ => Ok(reason),
    }
}

/// `POST /admin/installations/{id}/approve` and `…/reject` (`{"reason":…}`).
pub async fn by_operator<P: Ports>(p: &P, id: &str, approve: bool, body: &[u8]) -> Handled {
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match reason_body(body) {
            Ok(reason) => reason,
            Err(e) => {
                return bad(
                    "invalid_json",
                    "$",
                    format!("the body is not {{\"reason\": …}}: {e}"),
                )
            }
        }
    };
    let reason = match check_reason(approve, reason) {
        Ok(r) => r,
        Err(h) => return h,
    };
    decide(p, id, approve, reason.as_deref(), "operator").await
}

/// `POST /partner/installations/{id}/decision`:
/// `{"installation_id":…,"decision":"approve"|"reject","reason":…}`,
/// signed by the partner's backend as a Standard Webhook with `PARTNER_WEBHOOK_SECRET`; each
/// `webhook-id` is accepted once.
pub async fn by_partner<P: Ports>(
    p: &P,
    config: &Config,
    id: &str,
    head: &Head,
    body: &[u8],
) -> Handled {
    let Some(webhooks) = config.partner.webhooks.as_ref() else {
        return ApiError::NotFound {
            path: head.path.clone(),
        }
        .reply()
        .into();
    };
    if let Err(refusal) = crate::webhooks::verify(
        &webhooks.secrets,
        head.webhook_id.as_deref(),
        head.webhook_timestamp.as_deref(),
        head.webhook_signature.as_deref(),
        body,
        p.clock().now_secs(),
    ) {
        return Reply::json(
            401,
            &json!({"error": "invalid_signature", "message": refusal.message()}),
        )
        .into();
    }
    let parsed = match DecisionBody::read(body) {
        Ok(b) => b,
        Err(e) => {
            return bad(
                "invalid_json",
                "$",
                format!("the body is not {{\"decision\": …, \"reason\": …}}: {e}"),
            )
        }
    };
    if parsed.installation_id != id {
        return bad(
            "invalid_decision",
            "$.installation_id",
            "must be the installation in the path",
        );
    }
    let approve = match parsed.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return bad(
                "invalid_decision",
                "$.decision",
                "must be approve or reject",
            )
        }
    };
    let reason = match check_reason(approve, parsed.reason) {
        Ok(r) => r,
        Err(h) => return h,
    };
    let call_id = head.webhook_id.as_deref().unwrap_or_default();
    match p.store().use_call_id(call_id, p.clock().now_ms()).await {
        Ok(true) => {}
        Ok(false) => {
            return Reply::json(
                409,
                &json!({"error": "replayed_call", "message": "this webhook-id was already used"}),
            )
            .into()
        }
        Err(e) => return internal(p, e),
    }
    decide(p, id, approve, reason.as_deref(), "partner").await
}

async fn decide<P: Ports>(
    p: &P,
    id: &str,
    approve: bool,
    reason: Option<&str>,
    by: &str,
) -> Handled {
    let now = p.clock().now_ms();
    let state = if approve { APPROVED } else { REJECTED };
    let answer = |status: u16, what: &str| {
        Reply::json(
            status,
            &json!({"installation_id": id, "decision": state, "status": what}),
        )
    };
    match p.store().decide(id, state, reason, by, now).await {
        Ok(Decided::Now) => {
            let detail = match reason {
                Some(r) => format!("{state} by the {by}: {r}"),
                None => format!("{state} by the {by}"),
            };
            let recorded = p
                .store()
                .record_action(id, &format!("decision_{state}"), &detail, now)
                .await;
            if let Err(e) = recorded.and(p.store().wake_jobs(id, now).await) {
                return internal(p, e);
            }
            p.log().info("manual_decision", &format!("{id}: {detail}"));
            Handled {
                reply: answer(202, "deciding"),
                run_installation: Some(id.to_owned()),
            }
        }
        Ok(Decided::Already) => answer(200, "already decided").into(),
        Ok(Decided::Conflict(current)) => ApiError::Conflict {
            error: "already_decided",
            message: format!("the installation's decision is {current}"),
        }
        .reply()
        .into(),
        Ok(Decided::NotWaiting) => ApiError::Conflict {
            error: "not_waiting",
            message: "no install of this installation is waiting for a person's decision".into(),
        }
        .reply()
        .into(),
        Err(e) => internal(p, e),
    }
}

/// Webhooks the operator API shows per installation.
pub const WEBHOOKS_SHOWN: u32 = 100;

/// `GET /admin/installations/{id}/webhooks`: newest first, with state and attempts.
pub async fn webhooks<P: Ports>(p: &P, id: &str) -> Reply {
    match p.store().webhooks_of(id, WEBHOOKS_SHOWN).await {
        Ok(rows) => Reply::json(200, &json!({ "webhooks": rows })),
        Err(e) => internal(p, e).reply,
    }
}

/// `POST /admin/webhooks/{webhook id}/replay`: pending again, due now, delivered after the
/// answer; recorded in the installation's history.
pub async fn replay_webhook<P: Ports>(p: &P, webhook_id: &str) -> Handled {
    let now = p.clock().now_ms();
    match p.store().replay_webhook(webhook_id, now).await {
        Ok(Some(id)) => {
            let detail = format!("webhook {webhook_id} replayed");
            if let Err(e) = p
                .store()
                .record_action(&id, "replay_webhook", &detail, now)
                .await
            {
                return internal(p, e);
            }
            Handled {
                reply: Reply::json(202, &json!({"webhook_id": webhook_id, "status": "pending"})),
                run_installation: Some(id),
            }
        }
        Ok(None) => ApiError::NoSuch { what: "webhook" }.reply().into(),
        Err(e) => internal(p, e),
    }
}

#[cfg(test)]
mod tests {
    use super::{reason_body, DecisionBody};

    #[test]
    fn an_operators_body_is_a_reason_or_nothing_else() {
        assert_eq!(
            reason_body(br#"{"reason": "why"}"#).unwrap().as_deref(),
            Some("why")
        );
        assert_eq!(reason_body(br#"{"reason": null}"#).unwrap(), None);
        assert_eq!(reason_body(b"{}").unwrap(), None);
        let err = reason_body(br#"{"reason": 5}"#).unwrap_err();
        assert_eq!(err, "reason: must be a string");
        let err = reason_body(br#"{"reason": "x", "extra": 1}"#).unwrap_err();
        assert!(err.starts_with("unknown field `extra`"), "{err}");
        assert!(reason_body(b"[1]").is_err());
        assert!(reason_body(b"{").is_err());
    }

    #[test]
    fn a_partners_decision_body_names_what_is_missing_or_unknown() {
        let d = DecisionBody::read(br#"{"installation_id": "i1", "decision": "approve"}"#).unwrap();
        assert_eq!(
            (d.installation_id.as_str(), d.decision.as_str()),
            ("i1", "approve")
        );
        assert_eq!(d.reason, None);
        let err = DecisionBody::read(br#"{"decision": "approve"}"#).unwrap_err();
        assert_eq!(err, "missing field `installation_id`");
        let err = DecisionBody::read(br#"{"installation_id": "i1", "decision": true}"#);
        assert_eq!(err.unwrap_err(), "decision: must be a string");
        let body = br#"{"installation_id": "i1", "decision": "approve", "by": "me"}"#;
        assert!(DecisionBody::read(body)
            .unwrap_err()
            .starts_with("unknown field `by`"));
    }
}
