//! `user.logout`: once Talkdesk confirms it, every session of that user in this installation
//! ends (a forged logout ends nothing).

use super::{confirmed, recorded};
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{JobContext, Ports};
use crate::store::records::{EventStatus, Installation};
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, inst: Installation) -> Step<Outcome> {
    let event = recorded(cx).await?;
    let sess = Session::open(cx.p, cx.s, &inst, DEFAULT_SCOPES).await?;
    let copy = confirmed(cx, &sess, &inst, &event).await?;
    let Some(user_id) = copy.text("user_id") else {
        return Ok(done(EventStatus::Done, "confirmed; it names no user"));
    };
    let ended =
        cx.p.sessions()
            .end_user(&inst.installation_id, &user_id)
            .await?;
    Ok(done(
        EventStatus::Done,
        format!("confirmed; {ended} session(s) of the user ended"),
    ))
}
