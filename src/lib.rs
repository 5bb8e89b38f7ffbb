//! # appconnect-worker
//!
//! The backend of a Talkdesk AppConnect partner app, as one Cloudflare Worker compiled to
//! WebAssembly. Talkdesk calls it (lifecycle events, single sign-on, the CRM bridge); it calls
//! Talkdesk back on the customer's own region. Everything Talkdesk-specific we rely on is written
//! down in the contract (`shared/talkdesk-contract.md`).
//!
//! ## Layout
//!
//! | module | what it holds | touches `worker`? |
//! |---|---|---|
//! | [`entry`] | `#[event(fetch)]`: reads the environment once, routes, maps errors to answers | yes |
//! | [`config`] | the settings (`TALKDESK_APP_ID`, `SEALING_KEY`, …), parsed and validated | no |
//! | [`http`] | the route table, the [`http::Reply`] value and the one error → status mapping | no |
//! | [`health`] | what `GET /healthz` reports, built from the probes' outcomes | no |
//! | [`secret`] | types that hold secrets and never print them | no |
//! | [`talkdesk`] | the Talkdesk contract: hosts and regions (more to come) | no |
//! | [`platform`] | the adapters to the Workers runtime: D1, KV, the environment, responses | yes |
//!
//! Only `entry` and `platform` import `worker`: everything else compiles and is tested natively
//! with `cargo test`, and the end-to-end tier (`tests/e2e.rs`) drives the release wasm in workerd.

pub mod config;
pub mod crypto;
pub mod entry;
#[cfg(test)]
pub(crate) mod fakes;
pub mod health;
pub mod http;
pub mod lifecycle;
pub mod platform;
pub mod ports;
pub mod secret;
pub mod talkdesk;
pub mod tokens;

/// The version reported by `GET /healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
