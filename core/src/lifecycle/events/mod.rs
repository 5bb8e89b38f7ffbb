//! One file per event kind, each with one `apply(cx, installation)`: what a confirmed event of
//! that kind does. The outbox runner ([`super::outbox`]) picks the file by the job's kind after
//! the checks every kind shares (the installation exists, is not closed, its install is done).

pub mod decision;
pub mod install;
pub mod logout;
pub mod rotate;
pub mod trial;
pub mod uninstall;
pub mod update;

use super::budget::{Cost, PAGE_COST};
use super::confirm::{confirm, Confirmation, ConfirmedEvent};
use super::hooks::{HookCall, Hooks, UsersChange};
use super::outcome::{done, forged, Step};
use super::session::Session;
use super::{JobContext, Ports};
use crate::ports::{Clock, Log};
use crate::store::records::{EventRecord, EventStatus, Installation, User};
use crate::store::SyncCursor;
use crate::talkdesk::api;

/// The job's event as recorded.
pub(super) async fn recorded<P: Ports>(cx: &JobContext<'_, P>) -> Step<EventRecord> {
    // Read with the job's lease, in the same transaction; asked again, it is read afresh.
    if let Some(event) = cx.event.borrow_mut().take() {
        return Ok(event);
    }
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
/// With `changes`, the partner's `on_users_changed` hook sees who came and went before the
/// new set is stored, and the change is returned.
pub(super) async fn provision_users_and_plan<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &mut Installation,
    changes: bool,
) -> Step<Option<UsersChange>> {
    let (count, change) = reread_users(cx, sess, inst, changes).await?;
    inst.users_count = count;
    let sub = read_plan(cx.p, sess, inst).await?;
    set_plan(inst, sub);
    Ok(change)
}

/// Talkdesk's copy of the installation's subscription.
pub(super) async fn read_plan<P: Ports>(
    p: &P,
    sess: &Session,
    inst: &Installation,
) -> Step<api::Subscription> {
    sess.fetch(
        p,
        inst,
        "reading the subscription",
        sess.api.subscription(),
        api::parse_subscription,
    )
    .await
}

pub(super) fn set_plan(inst: &mut Installation, sub: api::Subscription) {
    inst.plan.name = sub.name;
    inst.plan.kind = sub.kind;
    inst.plan.total_licenses = sub.total_licenses;
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

/// One page of the installation's licensed users, within the invocation's budget.
pub async fn read_users_page<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &Installation,
    page: u32,
) -> Step<api::UsersPage> {
    cx.checkpoint(PAGE_COST).await?;
    fetch_users_page(cx.p, sess, inst, page).await
}

/// One page of the installation's licensed users (the caller has checked the budget).
pub async fn fetch_users_page<P: Ports>(
    p: &P,
    sess: &Session,
    inst: &Installation,
    page: u32,
) -> Step<api::UsersPage> {
    let req = sess.api.users(page, api::USERS_PER_PAGE);
    sess.fetch(p, inst, "reading users", req, api::parse_users)
        .await
}

/// Talkdesk's users as the rows we keep.
pub fn stored_users(users: Vec<api::TalkdeskUser>) -> Vec<User> {
    users
        .into_iter()
        .map(|u| User {
            user_id: u.id,
            email: u.email,
            name: u.name,
            active: u.active,
        })
        .collect()
}

/// The swap (one batch of six statements and a count; a one-page install's adds a person's
/// decision) plus the rest of a job after it (subscription, account, saves, approval, records).
pub(super) const SWAP_COST: Cost = Cost {
    queries: 20,
    subrequests: 14,
};

/// Reads the installation's licensed users from Talkdesk, each page staged with the cursor
/// after it, stopping cleanly between pages when the invocation's budget runs low, then swaps
/// the staged set in (ending the sessions of users who lost their licence). Returns how many
/// users are stored.
pub async fn reread_users<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &Installation,
    changes: bool,
) -> Step<(u64, Option<UsersChange>)> {
    let cursor = cx.sync_cursor().await?;
    reread_users_from(cx, sess, inst, changes, cursor, None).await
}

/// [`reread_users`], with the job's sync cursor already read, and page 1 when it was read
/// already ([`first_users_page`]).
pub async fn reread_users_from<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &Installation,
    changes: bool,
    cursor: Option<SyncCursor>,
    mut page_one: Option<api::UsersPage>,
) -> Step<(u64, Option<UsersChange>)> {
    let p = cx.p;
    let mut cursor = match cursor {
        // Swapped in by an earlier attempt of this job (it paused or failed after the swap).
        Some(cursor) if cursor.swapped() => {
            return Ok((p.store().users_count(&inst.installation_id).await?, None));
        }
        Some(cursor) => cursor,
        // Started below, once the first page says whether there is more than one.
        None => SyncCursor {
            next_page: 0,
            fetched: 0,
        },
    };
    let fresh = cursor.next_page == 0;
    if fresh {
        cursor.next_page = 1;
    }
    while cursor.next_page <= api::MAX_USER_PAGES {
        let got = match page_one.take().filter(|_| cursor.next_page == 1) {
            Some(got) => got,
            None => read_users_page(cx, sess, inst, cursor.next_page).await?,
        };
        let users = stored_users(got.users);
        if got.has_next && cursor.next_page == api::MAX_USER_PAGES {
            p.log().error(
                "users_truncated",
                &format!(
                    "{}: Talkdesk has more than {} pages of users; the rest are not stored",
                    inst.installation_id,
                    api::MAX_USER_PAGES
                ),
            );
        }
        let now = p.clock().now_ms();
        if fresh && cursor.next_page == 1 {
            if !got.has_next && !changes {
                // One page, no one to tell of the change: the set is replaced in one
                // transaction, with no staging (most accounts; the install's common case).
                cx.checkpoint(SWAP_COST).await?;
                let count = p
                    .store()
                    .replace_users(cx.lease(), &inst.installation_id, &users)
                    .await?;
                return Ok((count, None));
            }
            p.store()
                .start_sync(cx.lease(), &inst.installation_id, now)
                .await?;
        }
        cursor = SyncCursor {
            next_page: if got.has_next {
                cursor.next_page + 1
            } else {
                api::MAX_USER_PAGES + 1
            },
            fetched: cursor.fetched + users.len() as u64,
        };
        p.store()
            .stage_page(cx.lease(), &users, cursor, now)
            .await?;
    }
    // The swap and what follows it in the job, so a pause right after it is rare (and costs
    // no re-read: the cursor stays, marked swapped).
    cx.checkpoint(SWAP_COST).await?;
    // The partner hears of the change before it is stored: if its hook fails, the job retries
    // with the staged set still there, and the hook sees the same change again.
    let change = if changes {
        let (added, removed) = p
            .store()
            .staged_change(cx.job.job_id, &inst.installation_id)
            .await?;
        let change = UsersChange { added, removed };
        if !change.added.is_empty() || !change.removed.is_empty() {
            let call = HookCall::new(p, cx.s, inst, &cx.job.event_id, "on_users_changed");
            p.hooks().on_users_changed(&call, &change).await?;
        }
        Some(change)
    } else {
        None
    };
    let count = p
        .store()
        .swap_users(cx.lease(), &inst.installation_id)
        .await?;
    Ok((count, change))
}
