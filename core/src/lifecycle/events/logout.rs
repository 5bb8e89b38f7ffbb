//! `user.logout`: confirmed and recorded. (Ending the user's sessions comes with single
//! sign-on.)

use crate::lifecycle::confirm::confirm;
use crate::lifecycle::outcome::{done, forged, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{JobContext, Ports};
use crate::store::records::{EventStatus, Installation};
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, inst: Installation) -> Step<Outcome> {
    let sess = Session::open(cx.p, cx.s, &inst, DEFAULT_SCOPES).await?;
    match confirm(cx.p, &sess, &inst, cx.job, "user.logout").await? {
        Some(_) => Ok(done(EventStatus::Done, "confirmed and recorded")),
        None => Ok(forged()),
    }
}
