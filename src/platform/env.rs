//! Reading the settings from the Worker environment (vars and secrets alike).

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use appconnect_core::config::{Config, ConfigError};

/// Reads and validates every setting. Vars and secrets are both plain strings to the runtime;
/// a binding of another kind under a setting's name reads as unset.
pub fn load_config(env: &Env) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| super::js::property(env, name)?.as_string())
}

thread_local! {
    /// The settings, parsed and checked once per isolate: a deployment's vars and secrets do
    /// not change under a running isolate (a new version gets new isolates).
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// The isolate's settings, parsed on first use. A broken configuration is not kept: every
/// request says what is wrong until a deploy fixes it.
pub fn config(env: &Env) -> Result<Rc<Config>, ConfigError> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let config = Rc::new(load_config(env)?);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}
