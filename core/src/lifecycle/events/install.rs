//! `app.installed`: prove the delivered credentials are Talkdesk's, check the installation read
//! back, provision the account, its users and plan, then approve.

use crate::lifecycle::outcome::{done, Outcome, Step};
use crate::lifecycle::session::Session;
use crate::lifecycle::{JobContext, Ports};
use crate::ports::Clock;
use crate::store::records::{EventStatus, Installation, InstallationState};
use crate::talkdesk::api;
use crate::talkdesk::token::DEFAULT_SCOPES;

/// Token refusals (`invalid_client`, …) taken before new credentials are judged not
/// Talkdesk's: a refusal can be a propagation delay, and the credentials come only once. With
/// the backoff this is about half an hour.
pub const REFUSALS_BEFORE_FORGED: u64 = 6;

pub async fn apply<P: Ports>(cx: &JobContext<'_, P>, mut inst: Installation) -> Step<Outcome> {
    let (p, s, job) = (cx.p, cx.s, cx.job);
    if inst.install_event_id != job.event_id {
        return Ok(done(
            EventStatus::Ignored,
            "a second install event for a known installation",
        ));
    }
    if inst.state.is_closed() {
        return Ok(done(
            EventStatus::Ignored,
            format!("the installation is {}", inst.state),
        ));
    }
    // 1. The delivered credentials must mint a token at the account's Talkdesk ID host.
    let sess = match Session::open(p, s, &inst, DEFAULT_SCOPES).await {
        Ok(sess) => sess,
        Err(Outcome::Refused { error, description }) if error == "invalid_scope" => {
            // Real credentials without the scopes we need: say no, with the reason.
            let sess = Session::open(p, s, &inst, &[]).await?;
            let reason = "the installation lacks the scopes the app needs";
            sess.fetch(
                p,
                &inst,
                "rejecting",
                sess.api.reject(reason),
                api::parse_state,
            )
            .await?;
            inst.state = InstallationState::Rejected;
            inst.last_error = Some(Outcome::Refused { error, description }.reason());
            inst.updated_at = p.clock().now_ms();
            p.store().save_installation(&inst).await?;
            return Ok(done(EventStatus::Done, "rejected: missing scopes"));
        }
        Err(Outcome::Refused { error, .. }) if job.attempts + 1 < REFUSALS_BEFORE_FORGED => {
            return Err(Outcome::Retry(format!(
                "the delivered credentials were refused ({error}); trying again"
            )));
        }
        Err(refused @ Outcome::Refused { .. }) => {
            // Talkdesk does not know these credentials: a forged install costs only a record.
            let why = refused.reason();
            inst.state = InstallationState::Forged;
            inst.last_error = Some(why.clone());
            inst.destroy_secrets();
            inst.updated_at = p.clock().now_ms();
            p.store().save_installation(&inst).await?;
            return Ok(done(EventStatus::Forged, why));
        }
        Err(other) => return Err(other),
    };
    // 2. The installation read back must be ours and the account's.
    let info = sess
        .fetch(
            p,
            &inst,
            "reading the installation",
            sess.api.installation(),
            api::parse_installation,
        )
        .await?;
    if info.app_id != s.app_id.as_str() || info.account_id != inst.account_id {
        inst.state = InstallationState::Forged;
        inst.last_error =
            Some("the installation read back belongs to another app or account".into());
        inst.updated_at = p.clock().now_ms();
        p.store().save_installation(&inst).await?;
        return Ok(done(
            EventStatus::Forged,
            "installation does not match the event",
        ));
    }
    // 3. Provision: account, users, subscription.
    let account = sess
        .fetch(
            p,
            &inst,
            "reading the account",
            sess.api.account(),
            api::parse_account,
        )
        .await?;
    inst.company_name = account.company_name.clone();
    inst.timezone = account.timezone.clone();
    super::provision_users_and_plan(p, &sess, &mut inst).await?;
    p.store()
        .upsert_account(&inst.account_id, &inst.account_name, p.clock().now_ms())
        .await?;
    // 4. Approve.
    sess.fetch(
        p,
        &inst,
        "approving",
        sess.api.approve("installed and provisioned"),
        api::parse_state,
    )
    .await?;
    let now = p.clock().now_ms();
    inst.state = InstallationState::Active;
    inst.last_error = None;
    inst.approved_at = Some(now);
    inst.updated_at = now;
    p.store().save_installation(&inst).await?;
    Ok(done(
        EventStatus::Done,
        "verified, provisioned and approved",
    ))
}
