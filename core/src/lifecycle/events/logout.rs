//! `user.logout`: confirmed and recorded. (Ending the user's sessions comes with single
//! sign-on.)

use super::{confirmed, recorded};
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{JobContext, Ports};
use crate::store::records::{EventStatus, Installation};
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, inst: Installation) -> Step<Outcome> {
    let event = recorded(cx).await?;
    let sess = Session::open(cx.p, cx.s, &inst, DEFAULT_SCOPES).await?;
    confirmed(cx, &sess, &inst, &event).await?;
    Ok(done(EventStatus::Done, "confirmed and recorded"))
}
