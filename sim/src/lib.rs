//! A strict Talkdesk simulator: Talkdesk ID (`POST /oauth/token`), the Apps/Accounts API and the
//! Events sender, on one loopback HTTP server. It verifies every client assertion with OpenSSL
//! (not the worker's crypto), rejects wrong scopes and foreign tokens, and can be told to fail,
//! stall, answer garbage or drop the connection per endpoint.
//!
//! # Layout
//! Lowest layer first: each module uses only modules listed before it, so imports form no cycle.
//! - `error`: [`SimError`], the one error type, and [`SimResult`]
//! - `clock`, `random`: time in the contract's units; random ids, secrets and tokens
//! - `jose`: key generation, JWS sign/verify on OpenSSL, JWT parsing
//! - `model`: configuration, scripting inputs, inspection views (plain serde data)
//! - `state`: installations, credentials, tokens, events, faults, the request log, and the shared
//!   `Core` that holds them
//! - `delivery`: sending events with Talkdesk's retry schedule; holding and releasing them
//! - `scripts`: the lifecycle (install, update, rotate, uninstall, trial, logout, forge)
//! - `http`: the `Reply` handlers answer with; media type and JSON body checks
//! - `oauth`: the token endpoint and its verification rules
//! - `flood`: the token endpoint's per-account rate limit (429 `slow_down`)
//! - `api`: the Apps and Accounts API
//! - `control`: the `/_sim/…` JSON control API the CLI uses
//! - `server`: the hyper server, fault injection, the request log; routes to the three above
//! - `simulator`: the [`Simulator`] handle tests and the CLI hold
//!
//! # Use from tests
//! ```no_run
//! # async fn demo() {
//! use talkdesk_sim::{Alg, InstallSpec, SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig {
//!     callback_url: Some("http://127.0.0.1:8787/events/dev-only-callback-token-0123456789".into()),
//!     time_scale: 0.001,
//!     ..Default::default()
//! });
//! let installed = sim.install(InstallSpec::new("acme", Alg::ES256)).await.unwrap();
//! sim.wait_for_state(&installed.installation_id, "approved", std::time::Duration::from_secs(10))
//!     .await
//!     .unwrap();
//! # }
//! ```
//! The simulator owns its runtime (a background thread), so it works from any test runtime and
//! from sync code; dropping the handle stops the server.

// Handlers return `Result<_, Reply>` to short-circuit with an HTTP answer; a reply is built once per
// request, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod api;
mod clock;
mod control;
mod delivery;
mod error;
mod flood;
mod http;
pub mod jose;
mod model;
mod oauth;
mod random;
mod scripts;
mod server;
mod simulator;
mod state;

pub use error::{SimError, SimResult};
pub use jose::{sign_jwt, Alg, KeyPair};
pub use model::*;
pub use oauth::JWT_BEARER;
pub use simulator::Simulator;
