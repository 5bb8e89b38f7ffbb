//! `app.trial_started`, `app.trial_extended`, `app.trial_ended`: confirm, then record the
//! trial's state and dates from Talkdesk's copy. An older trial event (by Talkdesk's stamp)
//! never undoes a newer one.

use serde_json::json;

use super::{confirmed, recorded};
use crate::lifecycle::hooks::{Facts, HookCall, Hooks};
use crate::lifecycle::notify;
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{JobContext, Ports};
use crate::ports::Clock;
use crate::store::records::{stamped_before, EventStatus, Installation};
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s) = (cx.p, cx.s);
    let event = recorded(cx).await?;
    let sess = Session::open(p, s, &inst, DEFAULT_SCOPES).await?;
    let genuine = confirmed(cx, &sess, &inst, &event).await?;
    // Talkdesk's own stamp, from its copy of the event.
    let stamp = genuine.created_at().unwrap_or(&event.created_at).to_owned();
    if stamped_before(&stamp, inst.trial.event_at.as_deref().unwrap_or_default()) {
        return Ok(done(
            EventStatus::Ignored,
            "an older trial event than the one applied",
        ));
    }
    inst.trial.event_at = Some(stamp);
    inst.trial.state = Some(
        genuine
            .event_type()
            .trim_start_matches("app.trial_")
            .to_owned(),
    );
    inst.trial.expires_at = genuine.text("expires_at").or(inst.trial.expires_at.take());
    if genuine.event_type() == "app.trial_ended" {
        inst.trial.ended_at = genuine.text("ended_at");
        inst.trial.ended_reason = genuine.text("ended_reason");
    }
    inst.updated_at = p.clock().now_ms();
    // The partner hears of it before it is stored, so a failing hook retries the whole step.
    let call = HookCall::new(p, s, &inst, &cx.job.event_id, "on_trial_changed");
    p.hooks().on_trial_changed(&call).await?;
    cx.save(&mut inst).await?;
    notify::queue(
        cx,
        notify::TRIAL_CHANGED,
        &Facts::of(&inst),
        json!({"trial_event": genuine.event_type()}),
    )
    .await?;
    Ok(done(EventStatus::Done, "trial recorded"))
}
