//! Reading the settings from the Worker environment (vars and secrets alike).

use worker::Env;

use appconnect_core::config::{Config, ConfigError};

/// Reads and validates every setting. Vars and secrets are both plain strings to the runtime.
pub fn load_config(env: &Env) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()))
}
