//! Where the partner's product plugs into the lifecycle: a [`Hooks`] implementation the worker
//! is built with (`src/partner/`), called with confirmed, typed facts (never a secret) at each
//! step of an installation's life.
//!
//! - A hook runs only after Talkdesk confirmed the event: a forged, unconfirmed or duplicate
//!   event never reaches one.
//! - A hook may be called more than once for the same event (its job is retried after a crash,
//!   a Talkdesk outage or the hook's own failure): [`HookCall::idempotency_key`] is the same
//!   every time, so the partner's side can make repeats harmless.
//! - `Err(HookError::Retry)` retries the job with the usual backoff until Talkdesk's 7-day
//!   window ends; `Err(HookError::Fail)` parks it for the operator. The event is never lost.

use super::outcome::Outcome;
use super::session::{forget_tokens, Session};
use super::{Ports, Settings};
use crate::store::records::{Installation, User};
use crate::talkdesk::api::ApiError;
use crate::talkdesk::token::DEFAULT_SCOPES;

/// What a hook says about a new installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approve it at Talkdesk now.
    Approve,
    /// Reject it at Talkdesk with this reason (the customer sees it).
    Reject(String),
    /// A person decides (manual provisioning): the installation stays `installing` until the
    /// operator API or the partner's signed call approves or rejects it, within Talkdesk's
    /// 7-day window.
    Wait(String),
}

/// A hook's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// Try again later (the partner's system is down, Talkdesk answered 5xx, …).
    Retry(String),
    /// It will not work by trying again: the job stops and the operator is told.
    Fail(String),
}

impl From<HookError> for Outcome {
    fn from(e: HookError) -> Outcome {
        match e {
            HookError::Retry(why) => Outcome::Retry(format!("hook: {why}")),
            HookError::Fail(why) => Outcome::Fail(format!("hook: {why}")),
        }
    }
}

/// The confirmed facts of an installation a hook sees (no credential, no token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Facts {
    pub installation_id: String,
    pub account_id: String,
    pub account_name: String,
    pub company_name: Option<String>,
    pub timezone: Option<String>,
    pub users_count: u64,
    pub plan: Option<String>,
    /// `trial` or `paid`.
    pub subscription_type: Option<String>,
    pub total_licenses: Option<u64>,
    pub trial_state: Option<String>,
    pub trial_expires_at: Option<String>,
}

impl Facts {
    pub fn of(inst: &Installation) -> Facts {
        Facts {
            installation_id: inst.installation_id.clone(),
            account_id: inst.account_id.clone(),
            account_name: inst.account_name.clone(),
            company_name: inst.company_name.clone(),
            timezone: inst.timezone.clone(),
            users_count: inst.users_count,
            plan: inst.plan.name.clone(),
            subscription_type: inst.plan.kind.clone(),
            total_licenses: inst.plan.total_licenses,
            trial_state: inst.trial.state.clone(),
            trial_expires_at: inst.trial.expires_at.clone(),
        }
    }
}

/// Licensed users who came and went with an update (Talkdesk's list, confirmed).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UsersChange {
    pub added: Vec<User>,
    /// Ids of users who no longer hold a licence.
    pub removed: Vec<String>,
}

/// The plan before and after an update.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanChange {
    pub before: Option<String>,
    pub after: Option<String>,
    pub total_licenses: Option<u64>,
}

/// One hook call: who, for which event, and a client for the installation's Talkdesk data.
pub struct HookCall<'a, P: Ports> {
    /// `{event id}:{hook}`: the same on every repeat of this call.
    pub idempotency_key: String,
    pub facts: Facts,
    pub talkdesk: TalkdeskClient<'a, P>,
    /// The worker's D1, for the partner's own tables.
    pub db: &'a P::Db,
}

impl<P: Ports> HookCall<'_, P> {
    /// Now, by the worker's clock (ms).
    pub fn now_ms(&self) -> u64 {
        crate::ports::Clock::now_ms(self.talkdesk.p.clock())
    }
}

impl<'a, P: Ports> HookCall<'a, P> {
    pub fn new(
        p: &'a P,
        s: &'a Settings<'a>,
        inst: &'a Installation,
        event_id: &str,
        hook: &str,
    ) -> HookCall<'a, P> {
        HookCall {
            idempotency_key: format!("{event_id}:{hook}"),
            facts: Facts::of(inst),
            talkdesk: TalkdeskClient { p, s, inst },
            db: p.db(),
        }
    }
}

/// Talkdesk's API for one installation, for the partner's code: the token is minted with the
/// installation's credentials and cached as for the lifecycle's own calls; requests go only to
/// the installation's allowlisted API root; a refused token is forgotten and minted again once,
/// and transient failures come back as [`HookError::Retry`].
pub struct TalkdeskClient<'a, P: Ports> {
    p: &'a P,
    s: &'a Settings<'a>,
    inst: &'a Installation,
}

impl<'a, P: Ports> TalkdeskClient<'a, P> {
    pub fn new(p: &'a P, s: &'a Settings<'a>, inst: &'a Installation) -> TalkdeskClient<'a, P> {
        TalkdeskClient { p, s, inst }
    }

    /// `GET {api root}/{segments…}?{query}` as JSON. Segments are escaped, so a caller's value
    /// cannot leave the API root.
    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, HookError> {
        for attempt in 0..2 {
            let sess = Session::open(self.p, self.s, self.inst, DEFAULT_SCOPES)
                .await
                .map_err(outcome_error)?;
            let req = sess
                .api
                .get(segments, query)
                .map_err(|e| HookError::Fail(format!("request: {e}")))?;
            let resp = sess.send(self.p, Ok(req)).await.map_err(outcome_error)?;
            match crate::talkdesk::api::parse_json(&resp) {
                Ok(v) => return Ok(v),
                Err(ApiError::Unauthorized) if attempt == 0 => {
                    forget_tokens(self.p, self.inst).await;
                }
                Err(ApiError::Unauthorized) => {
                    return Err(HookError::Retry("Talkdesk refused the token".into()))
                }
                Err(ApiError::Transient(why)) => return Err(HookError::Retry(why)),
                Err(other) => return Err(HookError::Fail(other.to_string())),
            }
        }
        Err(HookError::Retry("Talkdesk refused the token".into()))
    }
}

fn outcome_error(o: Outcome) -> HookError {
    match o {
        Outcome::Retry(why) | Outcome::Pause(why) | Outcome::Wait(why) => HookError::Retry(why),
        other => HookError::Fail(other.reason()),
    }
}

/// The partner's code. Every method has a default that does nothing (and approves), so an
/// implementation overrides only what it needs.
#[allow(async_fn_in_trait)]
pub trait Hooks {
    /// A new installation, confirmed and provisioned (account, users, plan read), before it is
    /// approved at Talkdesk: create the tenant, then approve, reject or wait for a person.
    async fn on_install<P: Ports>(&self, _call: &HookCall<'_, P>) -> Result<Decision, HookError> {
        Ok(Decision::Approve)
    }

    /// Licences were granted or taken away (an `app.updated`): add or remove seats.
    async fn on_users_changed<P: Ports>(
        &self,
        _call: &HookCall<'_, P>,
        _change: &UsersChange,
    ) -> Result<(), HookError> {
        Ok(())
    }

    /// The plan changed (an `app.updated`): change limits.
    async fn on_plan_changed<P: Ports>(
        &self,
        _call: &HookCall<'_, P>,
        _change: &PlanChange,
    ) -> Result<(), HookError> {
        Ok(())
    }

    /// A trial started, is ending or ended (`call.facts` has the new trial state).
    async fn on_trial_changed<P: Ports>(&self, _call: &HookCall<'_, P>) -> Result<(), HookError> {
        Ok(())
    }

    /// The uninstall is confirmed, before the credentials are destroyed: archive the tenant.
    async fn on_uninstall<P: Ports>(&self, _call: &HookCall<'_, P>) -> Result<(), HookError> {
        Ok(())
    }

    /// A line for the signed-in agent's first page (plain text; escaped when shown).
    async fn home_summary<P: Ports>(&self, _p: &P, _facts: &Facts) -> Option<String> {
        None
    }
}

/// No partner code: every installation is approved, nothing else happens.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {}
