//! `app.credentials_rotated`: prove the new set as an install is proven (it must mint a token,
//! and the event read back with that token must be Talkdesk's), switch to it keeping the old set
//! as the previous one, acknowledge with the new set, then destroy the old set. An older
//! rotation (by Talkdesk's stamp) than the set in use is ignored.

use super::install::REFUSALS_BEFORE_FORGED;
use crate::lifecycle::confirm::confirm;
use crate::lifecycle::outcome::{done, forged, Outcome, Step};
use crate::lifecycle::sealing::{open_set, seal_set, CURRENT, INCOMING, PREVIOUS};
use crate::lifecycle::session::{mint, Session};
use crate::lifecycle::{JobContext, Ports};
use crate::ports::Clock;
use crate::store::records::{stamped_before, EventStatus, Installation};
use crate::talkdesk::api;
use crate::talkdesk::token::DEFAULT_SCOPES;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s, job) = (cx.p, cx.s, cx.job);
    let Some(event) = p.store().event(&job.event_id).await? else {
        return Ok(done(EventStatus::Failed, "the event record is gone"));
    };
    let new_client_id = event
        .incoming
        .as_ref()
        .map(|c| c.client_id.clone())
        .unwrap_or_default();
    let switched = inst
        .credentials
        .as_ref()
        .is_some_and(|c| c.client_id == new_client_id);
    let current_from = inst.credentials_event_at.as_deref().unwrap_or_default();
    if !switched && stamped_before(&event.created_at, current_from) {
        // A late delivery of an older rotation: the current set is newer.
        return Ok(done(
            EventStatus::Ignored,
            "an older rotation than the credentials in use",
        ));
    }
    if !switched {
        // After a compromise the old set may already be dead: only the new set proves it.
        let new_set = open_set(s.keys, &job.event_id, INCOMING, event.incoming.as_ref())?;
        let token = match mint(p, s, &inst, &new_set, DEFAULT_SCOPES).await {
            Ok(token) => token,
            Err(Outcome::Refused { error, description }) => {
                if job.attempts + 1 < REFUSALS_BEFORE_FORGED {
                    return Err(Outcome::Retry(format!(
                        "the new credentials were refused ({error}); trying again"
                    )));
                }
                return Ok(done(
                    EventStatus::Forged,
                    format!("the new credentials are not Talkdesk's: {error}: {description}"),
                ));
            }
            Err(other) => return Err(other),
        };
        let sess = Session::with_token(s, &inst, token)?;
        if confirm(p, &sess, &inst, job, "app.credentials_rotated")
            .await?
            .is_none()
        {
            return Ok(forged());
        }
        // The old set moves to the previous slot: opened and sealed again, since a sealed
        // value opens only in the field it was sealed for.
        inst.previous = match inst.credentials.take() {
            Some(old) if old.sealed.is_some() => {
                let opened = open_set(s.keys, &inst.installation_id, CURRENT, Some(&old))?;
                Some(seal_set(s.keys, &inst.installation_id, PREVIOUS, &opened))
            }
            other => other,
        };
        inst.credentials = Some(seal_set(s.keys, &inst.installation_id, CURRENT, &new_set));
        inst.credentials_event_at = Some(event.created_at.clone());
        inst.updated_at = p.clock().now_ms();
        p.store().save_installation(&inst).await?;
    }
    // Switched: acknowledge with the new set, then destroy the old one.
    let sess = Session::open(p, s, &inst, DEFAULT_SCOPES).await?;
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
    p.store().save_installation(&inst).await?;
    Ok(done(
        EventStatus::Done,
        "switched to the new credentials and acknowledged",
    ))
}
