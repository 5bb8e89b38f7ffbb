//! Whether a provisioned installation is approved: a person's decision already made (manual
//! provisioning), `MANUAL_PROVISIONING`, or the partner's `on_install` hook; and what waiting
//! for a person and rejecting do.

use serde_json::json;

use crate::lifecycle::hooks::{Decision, Facts, HookCall, Hooks};
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{notify, JobContext, Ports};
use crate::ports::{Clock, Log};
use crate::store::decisions::{APPROVED, REJECTED};
use crate::store::records::{EventStatus, Installation, InstallationState};
use crate::talkdesk::api;
use crate::talkdesk::token::DEFAULT_SCOPES;

/// The warning goes out this long before Talkdesk's window closes on an undecided install.
pub const WARN_BEFORE_MS: u64 = 24 * 3600 * 1000;

/// What to do with the installation now.
pub async fn decide<P: Ports>(cx: &JobContext<'_, P>, inst: &Installation) -> Step<Decision> {
    let made = cx.p.store().manual_decision(&inst.installation_id).await?;
    decide_with(cx, inst, made).await
}

/// [`decide`], with the person's decision (if any) already read.
pub async fn decide_with<P: Ports>(
    cx: &JobContext<'_, P>,
    inst: &Installation,
    made: Option<crate::store::decisions::ManualDecision>,
) -> Step<Decision> {
    let p = cx.p;
    if let Some(d) = made {
        match d.state.as_str() {
            APPROVED => return Ok(Decision::Approve),
            REJECTED => return Ok(Decision::Reject(d.reason.unwrap_or_default())),
            _ => {}
        }
    }
    if cx.s.partner.manual_provisioning {
        return Ok(Decision::Wait(
            "manual provisioning: the partner's backend or the operator decides".into(),
        ));
    }
    let call = HookCall::new(p, cx.s, inst, &cx.job.event_id, "on_install");
    Ok(p.hooks().on_install(&call).await?)
}

/// Leaves the installation `installing` until a person decides: the job sleeps until the
/// warning a day before the deadline, then until the deadline (where it expires), unless a
/// decision wakes it first.
pub async fn wait_for_person<P: Ports>(
    cx: &JobContext<'_, P>,
    inst: &mut Installation,
    why: &str,
) -> Step<Outcome> {
    let p = cx.p;
    let now = p.clock().now_ms();
    let deadline = cx.job.deadline_at;
    inst.state = InstallationState::Installing;
    inst.updated_at = now;
    cx.save(inst).await?;
    p.store()
        .await_decision(&inst.installation_id, why, deadline, now)
        .await?;
    let facts = Facts::of(inst);
    let deadline_text = crate::calendar::rfc3339_of_ms(deadline);
    notify::queue(
        cx,
        notify::AWAITING_DECISION,
        &facts,
        json!({"why": why, "deadline_at": deadline_text}),
    )
    .await?;
    // Not scaled: the deadline it counts back from is Talkdesk's real window.
    let warn_at = deadline.saturating_sub(WARN_BEFORE_MS);
    if now < warn_at {
        return Ok(Outcome::Hold {
            until: warn_at,
            why: format!("waiting for a person's decision: {why}"),
        });
    }
    if p.store().mark_warned(&inst.installation_id, now).await? {
        p.log().warn(
            "decision_deadline_approaching",
            &format!(
                "{}: no decision yet; Talkdesk's window closes at {deadline_text}",
                inst.installation_id
            ),
        );
    }
    notify::queue(
        cx,
        notify::DEADLINE_APPROACHING,
        &facts,
        json!({"why": why, "deadline_at": deadline_text}),
    )
    .await?;
    Ok(Outcome::Hold {
        until: deadline,
        why: format!("waiting for a person's decision (the window closes at {deadline_text})"),
    })
}

/// An install waiting for a person, woken (a decision, the warning time, the deadline): the
/// installation was proven and provisioned before it started waiting, so only the decision is
/// left.
pub async fn resume<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s) = (cx.p, cx.s);
    match decide(cx, &inst).await? {
        Decision::Wait(why) => wait_for_person(cx, &mut inst, &why).await,
        Decision::Reject(reason) => {
            let sess = Session::open(p, s, &inst, DEFAULT_SCOPES).await?;
            reject(cx, &sess, &mut inst, &reason).await
        }
        Decision::Approve => {
            let sess = Session::open(p, s, &inst, DEFAULT_SCOPES).await?;
            approve_install(cx, &sess, &mut inst).await
        }
    }
}

/// Approves the install at Talkdesk, while this runner still holds the job (a runner that
/// stalled past its lease stops here instead of approving a second time), and makes the
/// installation active.
pub async fn approve_install<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &mut Installation,
) -> Step<Outcome> {
    let p = cx.p;
    cx.checkpoint(crate::lifecycle::FINISH_COST).await?;
    // A 409 says Talkdesk is past this step already (an earlier attempt's approval went
    // through before the run died): approving again is harmless.
    let resp = sess
        .send(p, sess.api.approve("installed and provisioned"))
        .await?;
    match api::parse_state(&resp) {
        Ok(_) => {}
        Err(api::ApiError::Conflict(_)) => {
            // Talkdesk is past this step: an earlier approval went through, or its window
            // closed (a late manual decision). Only the first makes the installation active.
            let info = sess
                .fetch(
                    p,
                    inst,
                    "reading the installation",
                    sess.api.installation(),
                    api::parse_installation,
                )
                .await?;
            match info.state.as_deref() {
                Some("approved") => {}
                // Still waiting for us: the conflict was passing; approve again later.
                None | Some("pending") => {
                    return Err(Outcome::Retry(
                        "Talkdesk answered 409 but still shows the installation pending".into(),
                    ))
                }
                Some(other) => {
                    return Err(Outcome::Fail(format!(
                        "Talkdesk no longer takes an approval: the installation is {other}"
                    )))
                }
            }
        }
        Err(e) => {
            return Err(crate::lifecycle::session::api_failure(p, inst, "approving", e).await)
        }
    }
    let now = p.clock().now_ms();
    inst.state = InstallationState::Active;
    inst.last_error = None;
    inst.approved_at = Some(now);
    inst.updated_at = now;
    if cx.s.partner.webhooks.is_some() {
        // The webhook says approved only once the installation is active here.
        cx.save(inst).await?;
        notify::queue(cx, notify::APPROVED, &Facts::of(inst), json!({})).await?;
    } else {
        // Active from the transaction that closes the job (one round trip for both).
        cx.save_at_close(inst);
    }
    Ok(done(
        EventStatus::Done,
        "verified, provisioned and approved",
    ))
}

/// Tells Talkdesk no, with the reason the customer will see.
pub async fn reject<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &mut Installation,
    reason: &str,
) -> Step<Outcome> {
    let p = cx.p;
    cx.checkpoint(crate::lifecycle::FINISH_COST).await?;
    let resp = sess.send(p, sess.api.reject(reason)).await?;
    match api::parse_state(&resp) {
        // 409: an earlier attempt's rejection went through.
        Ok(_) | Err(api::ApiError::Conflict(_)) => {}
        Err(e) => {
            return Err(crate::lifecycle::session::api_failure(p, inst, "rejecting", e).await)
        }
    }
    // Queued before the installation closes: a crash in between leaves a job that runs again
    // (the webhook's id is the same), not a closed installation with nothing sent.
    notify::queue(
        cx,
        notify::REJECTED,
        &Facts::of(inst),
        json!({"reason": reason}),
    )
    .await?;
    inst.state = InstallationState::Rejected;
    inst.last_error = Some(format!("rejected: {reason}"));
    inst.updated_at = p.clock().now_ms();
    cx.save(inst).await?;
    Ok(done(EventStatus::Done, format!("rejected: {reason}")))
}
