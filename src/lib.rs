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
//! | [`entry`] | `#[event(fetch)]`, `#[event(scheduled)]`: settings, route, use case, answer | yes |
//! | [`config`] | the settings (`TALKDESK_APP_ID`, `SEALING_KEY`, …), parsed and validated | no |
//! | [`http`] | the route table, the [`http::Reply`] value and the one error → status mapping | no |
//! | [`health`] | what `GET /healthz` reports, built from the probes' outcomes | no |
//! | [`talkdesk`] | the contract: hosts and regions, events, assertions, token and API calls as data | no |
//! | [`lifecycle`] | what each event does: intake, outbox jobs, operator views, stored records | no |
//! | [`tokens`] | access tokens: sealed cache, one mint per installation (D1 lease) | no |
//! | [`crypto`] | sealing secrets (AES-256-GCM), key import and checks | no |
//! | [`ports`] | the I/O seams the core is generic over | no |
//! | [`secret`] | types that hold secrets and never print them | no |
//! | [`platform`] | the adapters to the Workers runtime: D1, KV, fetch, WebCrypto, clock, env | yes |
//!
//! Only `entry` and `platform` import `worker`: everything else compiles and is tested natively
//! with `cargo test`, and the end-to-end tier (`tests/e2e/`) drives the release wasm in workerd.

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
