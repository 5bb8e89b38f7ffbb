//! `app.updated`: confirm with Talkdesk, re-read users and plan (Talkdesk's copy, not the
//! delivered lists), then confirm the update to Talkdesk.

use serde_json::json;

use super::provision_users_and_plan;
use super::{confirmed, recorded};
use crate::lifecycle::hooks::{Facts, HookCall, Hooks, PlanChange};
use crate::lifecycle::notify;
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{JobContext, Ports};
use crate::ports::Clock;
use crate::store::records::{EventStatus, Installation};
use crate::talkdesk::api::{self, ApiError};
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s) = (cx.p, cx.s);
    let event = recorded(cx).await?;
    let sess = Session::open(p, s, &inst, DEFAULT_SCOPES).await?;
    confirmed(cx, &sess, &inst, &event).await?;
    let plan_before = inst.plan.clone();
    let users = provision_users_and_plan(cx, &sess, &mut inst, true).await?;
    let plan_changed = plan_before != inst.plan;
    if plan_changed {
        let change = PlanChange {
            before: plan_before.name.clone(),
            after: inst.plan.name.clone(),
            total_licenses: inst.plan.total_licenses,
        };
        let call = HookCall::new(p, s, &inst, &cx.job.event_id, "on_plan_changed");
        p.hooks().on_plan_changed(&call, &change).await?;
    }
    let (added, removed) = users.map_or((vec![], vec![]), |c| {
        (
            c.added.into_iter().map(|u| u.user_id).collect::<Vec<_>>(),
            c.removed,
        )
    });
    // Queued with the change in hand, before anything can make this attempt retry (a retry
    // after the swap no longer knows who came and went; the webhook's id stays the same).
    notify::queue(
        cx,
        notify::UPDATED,
        &Facts::of(&inst),
        json!({
            "users_added": added,
            "users_removed": removed,
            "plan_before": plan_before.name,
            "plan_changed": plan_changed,
        }),
    )
    .await?;
    inst.updated_at = p.clock().now_ms();
    cx.save(&mut inst).await?;
    cx.checkpoint(crate::lifecycle::FINISH_COST).await?;
    approve(p, &sess, &inst, "update applied").await?;
    Ok(done(
        EventStatus::Done,
        "users and plan re-read and confirmed",
    ))
}

/// Confirms an update or uninstall to Talkdesk. 409 means Talkdesk is already past that step:
/// approving twice is harmless.
pub(super) async fn approve<P: Ports>(
    p: &P,
    sess: &Session,
    inst: &Installation,
    reason: &str,
) -> Step<()> {
    let resp = sess.send(p, sess.api.approve(reason)).await?;
    match api::parse_state(&resp) {
        Ok(_) | Err(ApiError::Conflict(_)) => Ok(()),
        Err(e) => Err(crate::lifecycle::session::api_failure(p, inst, "confirming", e).await),
    }
}
