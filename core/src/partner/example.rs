//! An example of the partner's code: a "tenant" per Talkdesk account in the partner's own table
//! (`example_tenants`, migration 0011), created on install, its seats following the licensed
//! users, its plan and trial following Talkdesk's, archived on uninstall. Big accounts (more
//! than [`SEATS_NEEDING_A_PERSON`] licensed users) wait for a person's decision, as a partner
//! whose sales team signs off large tenants would.
//!
//! Every write is an upsert keyed by the account, so a repeated call (hooks may be called more
//! than once for the same event) changes nothing more; `created_by` keeps the idempotency key
//! of the call that created the tenant.

use crate::lifecycle::hooks::{
    Decision, Facts, HookCall, HookError, Hooks, PlanChange, UsersChange,
};
use crate::lifecycle::Ports;
use crate::ports::{Database, Statement};
use crate::store::row_codec::{decode_first, Cols, FromRow};

/// Accounts with more licensed users than this need a person's approval.
pub const SEATS_NEEDING_A_PERSON: u64 = 100;

#[derive(Debug, Default, Clone, Copy)]
pub struct ExampleHooks;

/// An example tenant, as the first page and the tests read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub account_id: String,
    pub installation_id: String,
    pub workspace: String,
    pub seats: u64,
    pub plan: Option<String>,
    pub trial_state: Option<String>,
    pub state: String,
    pub created_by: String,
}

/// Read by column name, as the store reads its own rows (`store::row_codec`): a few bytes of
/// the wasm per column, where a serde derive is a visitor of its own. (`store::rows::decode`
/// reads a serde type too, at that cost.)
impl FromRow for Tenant {
    fn from_row(c: &mut Cols) -> Self {
        Tenant {
            account_id: c.text("account_id"),
            installation_id: c.text("installation_id"),
            workspace: c.text("workspace"),
            seats: c.uint("seats"),
            plan: c.opt_text("plan"),
            trial_state: c.opt_text("trial_state"),
            state: c.text("state"),
            created_by: c.text("created_by"),
        }
    }
}

fn storage(e: crate::ports::PortError) -> HookError {
    HookError::Retry(format!("tenant storage: {e}"))
}

/// The tenant of an account, if the example created one.
pub async fn tenant<D: Database>(db: &D, account_id: &str) -> Result<Option<Tenant>, HookError> {
    let rows = db
        .query(&Statement::new(
            "example tenant",
            "SELECT account_id, installation_id, workspace, seats, plan, trial_state, state, \
               created_by FROM example_tenants WHERE account_id = ?1",
            vec![account_id.into()],
        ))
        .await
        .map_err(storage)?;
    decode_first("example tenant", rows).map_err(storage)
}

async fn set<P: Ports>(
    call: &HookCall<'_, P>,
    name: &'static str,
    sql: &'static str,
    extra: Vec<crate::ports::SqlValue>,
) -> Result<(), HookError> {
    let mut params = vec![call.facts.account_id.as_str().into()];
    params.extend(extra);
    call.db
        .execute(&Statement::new(name, sql, params))
        .await
        .map(|_| ())
        .map_err(storage)
}

impl Hooks for ExampleHooks {
    async fn on_install<P: Ports>(&self, call: &HookCall<'_, P>) -> Result<Decision, HookError> {
        // Talkdesk's data through the installation's client: the account's own name for the
        // workspace (the first page shows it).
        let account = call.talkdesk.get(&["account"], &[]).await?;
        let workspace = account["company_name"]
            .as_str()
            .or(account["name"].as_str())
            .unwrap_or(&call.facts.account_name)
            .to_owned();
        let now = call.now_ms();
        set(
            call,
            "create example tenant",
            "INSERT INTO example_tenants (account_id, installation_id, workspace, seats, plan, \
               trial_state, state, created_by, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8) \
             ON CONFLICT (account_id) DO UPDATE SET installation_id = ?2, workspace = ?3, \
               seats = ?4, plan = ?5, trial_state = ?6, state = 'active', updated_at = ?8, \
               created_by = CASE WHEN installation_id = ?2 THEN created_by ELSE ?7 END",
            vec![
                call.facts.installation_id.as_str().into(),
                workspace.as_str().into(),
                call.facts.users_count.into(),
                call.facts.plan.as_deref().into(),
                call.facts.trial_state.as_deref().into(),
                call.idempotency_key.as_str().into(),
                now.into(),
            ],
        )
        .await?;
        if call.facts.users_count > SEATS_NEEDING_A_PERSON {
            return Ok(Decision::Wait(format!(
                "{} seats: more than {SEATS_NEEDING_A_PERSON} need a person's approval",
                call.facts.users_count
            )));
        }
        Ok(Decision::Approve)
    }

    async fn on_users_changed<P: Ports>(
        &self,
        call: &HookCall<'_, P>,
        change: &UsersChange,
    ) -> Result<(), HookError> {
        // The facts are from before the change: seats = old count + added - removed.
        let seats = (call.facts.users_count + change.added.len() as u64)
            .saturating_sub(change.removed.len() as u64);
        set(
            call,
            "example tenant seats",
            "UPDATE example_tenants SET seats = ?2, updated_at = ?3 WHERE account_id = ?1",
            vec![seats.into(), call.now_ms().into()],
        )
        .await
    }

    async fn on_plan_changed<P: Ports>(
        &self,
        call: &HookCall<'_, P>,
        change: &PlanChange,
    ) -> Result<(), HookError> {
        set(
            call,
            "example tenant plan",
            "UPDATE example_tenants SET plan = ?2, updated_at = ?3 WHERE account_id = ?1",
            vec![change.after.as_deref().into(), call.now_ms().into()],
        )
        .await
    }

    async fn on_trial_changed<P: Ports>(&self, call: &HookCall<'_, P>) -> Result<(), HookError> {
        set(
            call,
            "example tenant trial",
            "UPDATE example_tenants SET trial_state = ?2, updated_at = ?3 WHERE account_id = ?1",
            vec![
                call.facts.trial_state.as_deref().into(),
                call.now_ms().into(),
            ],
        )
        .await
    }

    async fn on_uninstall<P: Ports>(&self, call: &HookCall<'_, P>) -> Result<(), HookError> {
        set(
            call,
            "archive example tenant",
            "UPDATE example_tenants SET state = 'archived', updated_at = ?2 \
             WHERE account_id = ?1 AND installation_id = ?3",
            vec![
                call.now_ms().into(),
                call.facts.installation_id.as_str().into(),
            ],
        )
        .await
    }

    async fn home_summary<P: Ports>(&self, p: &P, facts: &Facts) -> Option<String> {
        let t = tenant(p.db(), &facts.account_id).await.ok()??;
        Some(format!(
            "Workspace {}: {} seats, plan {}",
            t.workspace,
            t.seats,
            t.plan.as_deref().unwrap_or("unknown")
        ))
    }
}
