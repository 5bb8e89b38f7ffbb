//! `app.uninstalled`: confirm with Talkdesk, approve, destroy the credentials, cached tokens and
//! users; the account and its settings stay for a reinstall.

use serde_json::json;

use super::update::approve;
use super::{confirmed, recorded};
use crate::lifecycle::hooks::{Facts, HookCall, Hooks};
use crate::lifecycle::notify;
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::{forget_tokens, Session};
use crate::lifecycle::{JobContext, Ports};
use crate::ports::Clock;
use crate::store::records::{EventStatus, Installation, InstallationState};
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s) = (cx.p, cx.s);
    let event = recorded(cx).await?;
    // Confirmed by an earlier attempt that stopped before it finished: Talkdesk may have
    // taken the approval and revoked the credentials since, so a refused token then means
    // the uninstall is through.
    let already = event.status == EventStatus::Confirmed;
    let sess = match Session::open(p, s, &inst, DEFAULT_SCOPES).await {
        Ok(sess) => Some(sess),
        Err(Outcome::Refused { .. }) if already => None,
        Err(other) => return Err(other),
    };
    let refused = match sess {
        None => None,
        Some(sess) => {
            if !already {
                confirmed(cx, &sess, &inst, &event).await?;
                p.store().mark_confirmed(&event.event_id).await?;
            }
            // Confirmed: the credentials go whatever Talkdesk answers to the approval (it
            // deprovisions uninstalls anyway); only a transient failure keeps them, to
            // approve again.
            cx.checkpoint(crate::lifecycle::FINISH_COST).await?;
            match approve(p, &sess, &inst, "uninstalled").await {
                Ok(()) => None,
                Err(Outcome::Fail(why)) => Some(why),
                Err(other) => return Err(other),
            }
        }
    };
    // The partner archives its side before the credentials go (a failing hook retries the
    // step with them kept).
    let call = HookCall::new(p, s, &inst, &cx.job.event_id, "on_uninstall");
    p.hooks().on_uninstall(&call).await?;
    // Queued before the installation closes (a crash in between runs the job again; the
    // webhook's id is the same).
    notify::queue(cx, notify::UNINSTALLED, &Facts::of(&inst), json!({})).await?;
    // A decision still awaited for its install (manual provisioning) will never be taken.
    p.store().expire_decision(&inst.installation_id).await?;
    inst.state = InstallationState::Uninstalled;
    inst.last_error = refused.clone();
    destroy_credentials(cx, &mut inst).await?;
    Ok(done(
        EventStatus::Done,
        match refused {
            None => "uninstall confirmed; credentials destroyed".to_owned(),
            Some(why) => format!("credentials destroyed; the confirmation failed: {why}"),
        },
    ))
}

/// Destroys an installation's credentials, cached tokens and users; keeps the account.
pub async fn destroy_credentials<P: Ports>(
    cx: &JobContext<'_, P>,
    inst: &mut Installation,
) -> Step<()> {
    let p = cx.p;
    let now = p.clock().now_ms();
    forget_tokens(p, inst).await;
    // Users first: saving the installation closes it, and a crash after that would leave
    // the users behind, since work on a closed installation is ignored.
    p.store()
        .delete_users(&inst.installation_id, cx.lease())
        .await?;
    inst.destroy_secrets();
    inst.uninstalled_at = Some(now);
    inst.updated_at = now;
    cx.save(inst).await
}
