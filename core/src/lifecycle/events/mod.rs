//! One file per event kind, each with one `apply(cx, installation)`: what a confirmed event of
//! that kind does. The outbox runner ([`super::outbox`]) picks the file by the job's kind after
//! the checks every kind shares (the installation exists, is not closed, its install is done).

pub mod install;
pub mod logout;
pub mod rotate;
pub mod trial;
pub mod uninstall;
pub mod update;

use super::confirm::{confirm, Confirmation, ConfirmedEvent};
use super::outcome::{done, forged, Step};
use super::session::Session;
use super::{JobContext, Ports};
use crate::store::records::{EventRecord, EventStatus, Installation, User};
use crate::talkdesk::api;

/// The job's event as recorded.
pub(super) async fn recorded<P: Ports>(cx: &JobContext<'_, P>) -> Step<EventRecord> {
    match cx.p.store().event(&cx.job.event_id).await? {
        Some(event) => Ok(event),
        None => Err(done(EventStatus::Failed, "the event record is gone")),
    }
}

/// Talkdesk's copy of `event`; a contradicting copy ends the job as forged.
pub(super) async fn confirmed<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &Installation,
    event: &EventRecord,
) -> Step<ConfirmedEvent> {
    match confirm(cx.p, cx.s, sess, inst, event).await? {
        Confirmation::Confirmed(copy) => {
            cx.confirmed.set(true);
            Ok(copy)
        }
        Confirmation::Contradicted(why) => Err(forged(why)),
    }
}

/// Re-reads users (every page) and the subscription: Talkdesk is the source of truth.
pub(super) async fn provision_users_and_plan<P: Ports>(
    p: &P,
    sess: &Session,
    inst: &mut Installation,
) -> Step<()> {
    inst.users_count = reread_users(p, sess, inst).await?.len() as u64;
    let sub = sess
        .fetch(
            p,
            inst,
            "reading the subscription",
            sess.api.subscription(),
            api::parse_subscription,
        )
        .await?;
    inst.plan.name = sub.name;
    inst.plan.kind = sub.kind;
    inst.plan.total_licenses = sub.total_licenses;
    Ok(())
}

/// Looks for one user among the installation's licensed users at Talkdesk, page by page,
/// stopping at them, and stores what it found for that user alone (the rest of the list is the
/// update jobs' to replace, in event order).
pub async fn find_user<P: Ports>(
    p: &P,
    sess: &Session,
    inst: &Installation,
    user_id: &str,
) -> Step<Option<User>> {
    for page in 1..=api::MAX_USER_PAGES {
        let req = sess.api.users(page, api::USERS_PER_PAGE);
        let got = sess
            .fetch(p, inst, "reading users", req, api::parse_users)
            .await?;
        if let Some(u) = got.users.into_iter().find(|u| u.id == user_id) {
            let user = User {
                user_id: u.id,
                email: u.email,
                name: u.name,
                active: u.active,
            };
            p.store().upsert_user(&inst.installation_id, &user).await?;
            return Ok(Some(user));
        }
        if !got.has_next {
            break;
        }
    }
    Ok(None)
}

/// Reads the installation's licensed users from Talkdesk (every page) and stores them in
/// place of the old list, ending the sessions of users who lost their licence.
pub async fn reread_users<P: Ports>(p: &P, sess: &Session, inst: &Installation) -> Step<Vec<User>> {
    let mut users: Vec<User> = Vec::new();
    for page in 1..=api::MAX_USER_PAGES {
        let req = sess.api.users(page, api::USERS_PER_PAGE);
        let got = sess
            .fetch(p, inst, "reading users", req, api::parse_users)
            .await?;
        users.extend(got.users.into_iter().map(|u| User {
            user_id: u.id,
            email: u.email,
            name: u.name,
            active: u.active,
        }));
        if !got.has_next {
            break;
        }
    }
    p.store()
        .replace_users(&inst.installation_id, &users)
        .await?;
    Ok(users)
}
