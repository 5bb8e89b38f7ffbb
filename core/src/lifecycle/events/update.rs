//! `app.updated`: confirm with Talkdesk, re-read users and plan (Talkdesk's copy, not the
//! delivered lists), then confirm the update to Talkdesk.

use super::provision_users_and_plan;
use super::{confirmed, recorded};
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
    provision_users_and_plan(cx, &sess, &mut inst).await?;
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
