//! `app.installed`: prove this event's candidate (its delivered credentials must mint a token at
//! the account's Talkdesk ID host, and the installation read back with that token must be ours
//! and the account's), make it the installation, provision the account, its users and plan, then
//! approve. Competing install events for one installation id each prove their own candidate,
//! so a forgery's refusals never hold up the genuine one; the first proven wins.

use futures_util::future::join4;
use serde_json::json;

use crate::lifecycle::hooks::{Decision, Facts};
use crate::lifecycle::notify;
use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{JobContext, Ports};
use crate::ports::{Clock, Database};
use crate::store::decisions::{manual_decision_from, manual_decision_statement, ManualDecision};
use crate::store::lifecycle::{fenced_upsert_account_statement, save_installation_statement};
use crate::store::records::{EventStatus, Installation, InstallationState};
use crate::store::SyncCursor;
use crate::talkdesk::api;
use crate::talkdesk::token::DEFAULT_SCOPES;

/// Token refusals (`invalid_client`, …) taken before new credentials are judged not
/// Talkdesk's: a refusal can be a propagation delay, and the credentials come only once. With
/// the backoff this is about a quarter of an hour.
pub const REFUSALS_BEFORE_FORGED: u64 = 6;

/// Attempts at minting with a candidate's credentials, whatever the error (an unreachable or
/// erroring Talkdesk ID), before the candidate is parked unconfirmed with its credentials kept
/// for the operator: with the backoff about three hours. This bounds what a forged
/// install costs: at most this many token requests.
pub const UNPROVEN_TOKEN_ATTEMPTS: u64 = 10;

/// The reads after the proof, at once: the account, the plan, a users page and (on a later
/// attempt) a person's decision.
const PROVISION_READS_COST: crate::lifecycle::budget::Cost = crate::lifecycle::budget::Cost {
    queries: 1 + crate::lifecycle::budget::PAGE_COST.queries,
    subrequests: 3 + crate::lifecycle::budget::PAGE_COST.subrequests,
};

/// A person's decision read on its own (when the users took more than one page).
const DECISION_READ_COST: crate::lifecycle::budget::Cost = crate::lifecycle::budget::Cost {
    queries: 1,
    subrequests: 1,
};

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s, job) = (cx.p, cx.s, cx.job);
    let event = super::recorded(cx).await?;
    let mine = inst.install_event_id == job.event_id;
    match inst.state {
        InstallationState::Received => {}
        InstallationState::Forged if !mine => {}
        // This event already made the installation and then stopped before it was recorded
        // (a crash): run it again; approving twice is harmless.
        // Or it waits for a person's decision (manual provisioning) and was woken to look again.
        InstallationState::Active
        | InstallationState::Attention
        | InstallationState::Installing
            if mine => {}
        _ if mine => {
            return Ok(done(
                EventStatus::Ignored,
                format!("the installation is {}", inst.state),
            ))
        }
        _ => {
            return Ok(done(
                EventStatus::Ignored,
                "another install event for this installation was proven first",
            ))
        }
    }
    // Proven and provisioned already, waiting for a person: only the decision is left.
    if mine && inst.state == InstallationState::Installing {
        return super::decision::resume(cx, inst).await;
    }
    // This event's own candidate (events stored before candidates were kept: the row).
    let mut candidate = event.candidate.map(|c| *c).unwrap_or_else(|| inst.clone());
    candidate.install_event_id = job.event_id.clone();
    candidate.created_at = inst.created_at;
    candidate.version = inst.version;

    // 1. The delivered credentials must mint a token at the account's Talkdesk ID host.
    let sess = match Session::open_unproven(p, s, &candidate, &job.event_id, DEFAULT_SCOPES).await {
        Ok(sess) => sess,
        Err(Outcome::Refused { error, description }) if error == "invalid_scope" => {
            // Real credentials without the scopes we need: say no, with the reason.
            let sess = Session::open_unproven(p, s, &candidate, &job.event_id, &[]).await?;
            let reason = "the installation lacks the scopes the app needs";
            sess.fetch(
                p,
                &candidate,
                "rejecting",
                sess.api.reject(reason),
                api::parse_state,
            )
            .await?;
            candidate.state = InstallationState::Rejected;
            candidate.last_error = Some(Outcome::Refused { error, description }.reason());
            candidate.updated_at = p.clock().now_ms();
            cx.save(&mut candidate).await?;
            return Ok(done(EventStatus::Done, "rejected: missing scopes"));
        }
        Err(Outcome::Refused { error, .. }) if job.attempts < REFUSALS_BEFORE_FORGED => {
            return Err(Outcome::Retry(format!(
                "the delivered credentials were refused ({error}); trying again"
            )));
        }
        Err(refused @ Outcome::Refused { .. }) => {
            // Talkdesk does not know these credentials: a forged install costs only a record.
            return forged(cx, &mut inst, mine, refused.reason()).await;
        }
        Err(Outcome::Retry(why)) if job.attempts >= UNPROVEN_TOKEN_ATTEMPTS => {
            return Err(Outcome::Unconfirmed(format!(
                "no token could be minted with the delivered credentials: {why}"
            )));
        }
        Err(other) => return Err(other),
    };
    // 2. The installation read back must be ours and the account's.
    let info = sess
        .fetch(
            p,
            &candidate,
            "reading the installation",
            sess.api.installation(),
            api::parse_installation,
        )
        .await?;
    if info.app_id != s.app_id.as_str() || info.account_id != candidate.account_id {
        return forged(
            cx,
            &mut inst,
            mine,
            "the installation read back belongs to another app or account".into(),
        )
        .await;
    }
    // Proven: this candidate is the installation.
    let mut inst = candidate;
    inst.state = InstallationState::Received;
    inst.last_error = None;
    inst.updated_at = p.clock().now_ms();
    // 3. Provision: account, plan, users. The reads do not depend on each other, so they go
    // at once (the job waits for the slowest, not their sum): the account and the plan from
    // Talkdesk, and page 1 of the users when the job has not started reading them (no
    // users-sync cursor). A person's decision (if any) is read with them on a later attempt;
    // on the first, it rides on the batch that stores a one-page account (one round trip
    // fewer), or is read after the users of a larger one.
    let shown = inst.clone();
    let cursor = cx.sync_cursor().await?;
    let first_attempt = cursor.is_none();
    // The budget for all of them at once, before any is charged.
    cx.checkpoint(PROVISION_READS_COST).await?;
    let (account, sub, page_one, made) = join4(
        sess.fetch(
            p,
            &shown,
            "reading the account",
            sess.api.account(),
            api::parse_account,
        ),
        super::read_plan(p, &sess, &shown),
        async {
            match first_attempt {
                true => super::fetch_users_page(p, &sess, &shown, 1).await.map(Some),
                false => Ok(None),
            }
        },
        async {
            match first_attempt {
                true => Ok(None),
                false => p
                    .store()
                    .manual_decision(&inst.installation_id)
                    .await
                    .map(Some),
            }
        },
    )
    .await;
    let (account, sub, page_one, made) = (account?, sub?, page_one?, made?);
    inst.company_name = account.company_name.clone();
    inst.timezone = account.timezone.clone();
    super::set_plan(&mut inst, sub);
    let (count, read_with_users) =
        store_provisioning(cx, &sess, &mut inst, cursor, page_one).await?;
    inst.users_count = count;
    let made = match made.or(read_with_users) {
        Some(made) => made,
        None => {
            cx.checkpoint(DECISION_READ_COST).await?;
            p.store().manual_decision(&inst.installation_id).await?
        }
    };
    // 4. The partner's side: its webhook, then its decision (its hook, manual provisioning, or
    // a person's decision already made).
    notify::queue(cx, notify::CREATED, &Facts::of(&inst), json!({})).await?;
    match super::decision::decide_with(cx, &inst, made).await? {
        Decision::Approve => {}
        Decision::Reject(reason) => {
            return super::decision::reject(cx, &sess, &mut inst, &reason).await;
        }
        Decision::Wait(why) => return super::decision::wait_for_person(cx, &mut inst, &why).await,
    }
    // 5. Approve.
    super::decision::approve_install(cx, &sess, &mut inst).await
}

/// Stores the proven installation, its account and its users. One page of users (most
/// accounts): all of it in one transaction, which also reads a person's decision. More (or a
/// later attempt): the installation and the account first, then the users page by page from
/// the job's cursor, since users are only ever stored for a saved installation. Returns how
/// many users are stored, and the decision when it was read.
async fn store_provisioning<P: Ports>(
    cx: &JobContext<'_, P>,
    sess: &Session,
    inst: &mut Installation,
    cursor: Option<SyncCursor>,
    page_one: Option<api::UsersPage>,
) -> Step<(u64, Option<Option<ManualDecision>>)> {
    let p = cx.p;
    let now = p.clock().now_ms();
    match page_one {
        Some(page) if !page.has_next => {
            cx.checkpoint(super::SWAP_COST).await?;
            let users = super::stored_users(page.users);
            // Every write is conditional on the installation still being at the version this
            // job read (and on the lease): all of them land, or none does. The save is the last
            // write (it moves the version on), with the count the users replace leaves; a
            // person's decision is read after it, in the same transaction.
            let at = Some(inst.version);
            inst.users_count = distinct_ids(&users);
            let account = fenced_upsert_account_statement(inst, now, cx.lease(), at);
            let mut save = save_installation_statement(inst, cx.lease());
            // The new version comes back when the save wrote: no row, someone wrote first.
            save.sql = format!("{} RETURNING version", save.sql).into();
            let decision = manual_decision_statement(&inst.installation_id);
            let (mut written, count) = p
                .store()
                .replace_users_around(
                    cx.lease(),
                    &inst.installation_id,
                    &users,
                    at,
                    vec![account],
                    vec![save, decision],
                )
                .await?;
            if written.first().is_none_or(|rows| rows.is_empty()) {
                return Err(Outcome::Pause(
                    "the installation changed while this job ran; running it again".into(),
                ));
            }
            inst.version += 1;
            let made = manual_decision_from(written.pop().unwrap_or_default())?;
            Ok((count, Some(made)))
        }
        page_one => {
            cx.save(inst).await?;
            let account = fenced_upsert_account_statement(inst, now, cx.lease(), None);
            p.db().execute(&account).await?;
            let (count, _) =
                super::reread_users_from(cx, sess, inst, false, cursor, page_one).await?;
            Ok((count, None))
        }
    }
}

/// This candidate is not Talkdesk's. When the installation row is this candidate's, it is
/// marked forged and its secrets go; another candidate's row is left alone.
async fn forged<P: Ports>(
    cx: &JobContext<'_, P>,
    inst: &mut Installation,
    mine: bool,
    why: String,
) -> Step<Outcome> {
    if mine && inst.state == InstallationState::Received {
        inst.state = InstallationState::Forged;
        inst.last_error = Some(why.clone());
        inst.destroy_secrets();
        inst.updated_at = cx.p.clock().now_ms();
        cx.save(inst).await?;
    }
    Ok(done(EventStatus::Forged, why))
}

/// How many distinct user ids a page holds. Kept sorted as inserted (a page is at most a
/// thousand ids): collecting into a set sorts first, which is code of its own in the wasm.
fn distinct_ids(users: &[crate::store::records::User]) -> u64 {
    let mut ids: Vec<&str> = Vec::with_capacity(users.len());
    for u in users {
        if let Err(at) = ids.binary_search(&u.user_id.as_str()) {
            ids.insert(at, &u.user_id);
        }
    }
    ids.len() as u64
}

#[cfg(test)]
mod tests {
    use super::distinct_ids;
    use crate::store::records::User;

    #[test]
    fn a_page_that_lists_a_user_twice_counts_them_once() {
        let user = |id: &str| User {
            user_id: id.into(),
            email: None,
            name: None,
            active: true,
        };
        let page = ["u3", "u1", "u3", "u2", "u1"].map(user);
        assert_eq!(distinct_ids(&page), 3);
        assert_eq!(distinct_ids(&[]), 0);
    }
}
