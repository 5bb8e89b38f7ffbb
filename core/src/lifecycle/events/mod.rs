//! One file per event kind, each with one `apply(cx, installation)`: what a confirmed event of
//! that kind does. The outbox runner ([`super::outbox`]) picks the file by the job's kind after
//! the checks every kind shares (the installation exists, is not closed, its install is done).

pub mod install;
pub mod logout;
pub mod rotate;
pub mod trial;
pub mod uninstall;
pub mod update;

use super::budget::PAGE_COST;
use super::confirm::{confirm, Confirmation, ConfirmedEvent};
use super::outcome::{done, forged, Step};
use super::session::Session;
use super::FINISH_COST;
use super::{JobContext, Ports};
use crate::ports::Clock;
use crate::store::records::{EventRecord, EventStatus, Installation, User};
use crate::store::SyncCursor;
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

/// Re-reads users (every page) and the subscription: Talkdesk is the source of truth. The
/// users are read page by page from where this job stopped last (a big account takes several
/// invocations), and become the installation's only once the last page is in.
pub(super) async fn provision_users_and_plan<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &mut Installation,
) -> Step<()> {
    let p = cx.p;
    inst.users_count = reread_users(cx, sess, inst).await?;
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

/// Reads the installation's licensed users from Talkdesk, each page staged with the cursor
/// after it, stopping cleanly between pages when the invocation's budget runs low, then swaps
/// the staged set in (ending the sessions of users who lost their licence). Returns how many
/// users are stored.
pub async fn reread_users<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &Installation,
) -> Step<u64> {
    let p = cx.p;
    let mut cursor = match p.store().sync_cursor(cx.job.job_id).await? {
        Some(cursor) => cursor,
        None => {
            let now = p.clock().now_ms();
            p.store()
                .start_sync(cx.lease(), &inst.installation_id, now)
                .await?;
            SyncCursor {
                next_page: 1,
                fetched: 0,
            }
        }
    };
    while cursor.next_page <= api::MAX_USER_PAGES {
        cx.checkpoint(PAGE_COST).await?;
        let req = sess.api.users(cursor.next_page, api::USERS_PER_PAGE);
        let got = sess
            .fetch(p, inst, "reading users", req, api::parse_users)
            .await?;
        let users: Vec<User> = got
            .users
            .into_iter()
            .map(|u| User {
                user_id: u.id,
                email: u.email,
                name: u.name,
                active: u.active,
            })
            .collect();
        cursor = SyncCursor {
            next_page: if got.has_next {
                cursor.next_page + 1
            } else {
                api::MAX_USER_PAGES + 1
            },
            fetched: cursor.fetched + users.len() as u64,
        };
        let now = p.clock().now_ms();
        p.store()
            .stage_page(cx.lease(), &users, cursor, now)
            .await?;
    }
    cx.checkpoint(FINISH_COST).await?;
    Ok(p.store()
        .swap_users(cx.lease(), &inst.installation_id)
        .await?)
}
