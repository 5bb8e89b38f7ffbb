//! The partner's code the worker is built with: which [`Hooks`] run (`PARTNER_HOOKS`), and the
//! example a partner copies to write its own (`example.rs`). To plug in your product, add a
//! variant here with your implementation, or replace the example's body.

pub mod example;

use crate::config::HooksChoice;
use crate::lifecycle::hooks::{
    Decision, Facts, HookCall, HookError, Hooks, PlanChange, UsersChange,
};
use crate::lifecycle::Ports;

/// The hooks chosen by `PARTNER_HOOKS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PartnerHooks {
    /// Approve every installation; nothing else happens.
    #[default]
    None,
    Example,
}

impl PartnerHooks {
    pub fn from_choice(choice: HooksChoice) -> PartnerHooks {
        match choice {
            HooksChoice::None => PartnerHooks::None,
            HooksChoice::Example => PartnerHooks::Example,
        }
    }
}

impl Hooks for PartnerHooks {
    async fn on_install<P: Ports>(&self, call: &HookCall<'_, P>) -> Result<Decision, HookError> {
        match self {
            PartnerHooks::None => Ok(Decision::Approve),
            PartnerHooks::Example => example::ExampleHooks.on_install(call).await,
        }
    }

    async fn on_users_changed<P: Ports>(
        &self,
        call: &HookCall<'_, P>,
        change: &UsersChange,
    ) -> Result<(), HookError> {
        match self {
            PartnerHooks::None => Ok(()),
            PartnerHooks::Example => example::ExampleHooks.on_users_changed(call, change).await,
        }
    }

    async fn on_plan_changed<P: Ports>(
        &self,
        call: &HookCall<'_, P>,
        change: &PlanChange,
    ) -> Result<(), HookError> {
        match self {
            PartnerHooks::None => Ok(()),
            PartnerHooks::Example => example::ExampleHooks.on_plan_changed(call, change).await,
        }
    }

    async fn on_trial_changed<P: Ports>(&self, call: &HookCall<'_, P>) -> Result<(), HookError> {
        match self {
            PartnerHooks::None => Ok(()),
            PartnerHooks::Example => example::ExampleHooks.on_trial_changed(call).await,
        }
    }

    async fn on_uninstall<P: Ports>(&self, call: &HookCall<'_, P>) -> Result<(), HookError> {
        match self {
            PartnerHooks::None => Ok(()),
            PartnerHooks::Example => example::ExampleHooks.on_uninstall(call).await,
        }
    }

    async fn home_summary<P: Ports>(&self, p: &P, facts: &Facts) -> Option<String> {
        match self {
            PartnerHooks::None => None,
            PartnerHooks::Example => example::ExampleHooks.home_summary(p, facts).await,
        }
    }
}
