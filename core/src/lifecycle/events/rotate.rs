//! `app.credentials_rotated`: prove the new set as an install is proven (it must mint a token,
//! and Talkdesk's copy of the event, read with that token, must name it), switch to it keeping
//! the old set as the previous one, forget the old set's tokens, acknowledge with the new set,
//! then destroy the old set. A rotation older (by Talkdesk's stamp) than the set in use is
//! ignored. A new set Talkdesk keeps refusing is parked unconfirmed, still sealed on its event:
//! it is sent only once, and a slow Talkdesk ID must not lose it.

use super::install::REFUSALS_BEFORE_FORGED;
use super::{confirmed, recorded};
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::sealing::{open_set, seal_set, CURRENT, INCOMING, PREVIOUS};
use crate::lifecycle::session::{forget_set_tokens, mint, Session};
use crate::lifecycle::{JobContext, Ports};
use crate::ports::Clock;
use crate::store::records::{stamped_before, EventStatus, Installation};
use crate::talkdesk::api;
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s, job) = (cx.p, cx.s, cx.job);
    let event = recorded(cx).await?;
    let Some(incoming) = event.incoming.as_ref() else {
        return Ok(done(
            EventStatus::Failed,
            "the rotation carries no credentials",
        ));
    };
    let new_client_id = incoming.client_id.clone();
    let switched = inst
        .credentials
        .as_ref()
        .is_some_and(|c| c.client_id == new_client_id);
    let current_from = inst.credentials_event_at.as_deref().unwrap_or_default();
    if !switched && stamped_before(&event.created_at, current_from) {
        // A late delivery of an older rotation: nothing to prove, since ignoring it changes
        // nothing (its set may be revoked already). Talkdesk's own stamp is checked again below.
        return Ok(done(
            EventStatus::Ignored,
            "an older rotation than the credentials in use",
        ));
    }
    let sess = if switched {
        // Switched by an earlier attempt (or a delivery that names the set in use): the event
        // must still be Talkdesk's before anything is acknowledged.
        let sess = Session::open(p, s, &inst, DEFAULT_SCOPES).await?;
        confirmed(cx, &sess, &inst, &event).await?;
        sess
    } else {
        // After a compromise the old set may already be dead: only the new set proves it.
        let new_set = open_set(s.keys, &job.event_id, INCOMING, Some(incoming))?;
        let token = match mint(p, s, &inst, &new_set, DEFAULT_SCOPES, Some(&job.event_id)).await {
            Ok(token) => token,
            Err(Outcome::Refused { error, description }) => {
                let why =
                    format!("Talkdesk ID refuses the new credentials: {error}: {description}");
                return Err(if job.attempts < REFUSALS_BEFORE_FORGED {
                    Outcome::Retry(why)
                } else {
                    Outcome::Unconfirmed(why)
                });
            }
            Err(other) => return Err(other),
        };
        let sess = Session::with_token(s, &inst, token)?;
        let copy = confirmed(cx, &sess, &inst, &event).await?;
        // Ordered by Talkdesk's stamp, from its copy.
        let stamp = copy.created_at().unwrap_or(&event.created_at).to_owned();
        if stamped_before(&stamp, current_from) {
            return Ok(done(
                EventStatus::Ignored,
                "an older rotation than the credentials in use",
            ));
        }
        // The old set moves to the previous slot: opened and sealed again, since a sealed
        // value opens only in the field it was sealed for. Its tokens are forgotten.
        let old = inst.credentials.take();
        if let Some(old) = &old {
            forget_set_tokens(p, &inst.installation_id, &old.client_id).await;
        }
        inst.previous = match old {
            Some(old) if old.sealed.is_some() => {
                let opened = open_set(s.keys, &inst.installation_id, CURRENT, Some(&old))?;
                Some(seal_set(s.keys, &inst.installation_id, PREVIOUS, &opened))
            }
            other => other,
        };
        inst.credentials = Some(seal_set(s.keys, &inst.installation_id, CURRENT, &new_set));
        inst.credentials_event_at = Some(stamp);
        inst.updated_at = p.clock().now_ms();
        cx.save(&mut inst).await?;
        sess
    };
    // Switched: acknowledge with the new set, then destroy the old one.
    sess.fetch(
        p,
        &inst,
        "acknowledging the new credentials",
        sess.api.acknowledge_credentials(&new_client_id),
        api::parse_acknowledged,
    )
    .await?;
    inst.previous = None;
    inst.updated_at = p.clock().now_ms();
    cx.save(&mut inst).await?;
    Ok(done(
        EventStatus::Done,
        "switched to the new credentials and acknowledged",
    ))
}
