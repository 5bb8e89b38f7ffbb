//! # appconnect-core
//!
//! Everything of appconnect-worker that is not Workers runtime glue: the Talkdesk contract, the
//! installation lifecycle, storage as SQL statements, request handling and the operator views.
//! It depends on neither `worker` nor `wasm-bindgen`, so the compiler keeps the runtime out; the
//! `appconnect-worker` crate holds only the entry points and the adapters that implement
//! [`ports`]. What we rely on from Talkdesk is written down in `docs/talkdesk-contract.md`.
//!
//! ## Layers, lowest first
//!
//! A module uses only modules above it in this table, never one below: the unit test in
//! `layering.rs` (run by `make check`) reads every `crate::…` path in production code and fails
//! on one that points down the table.
//!
//! | module | what it holds |
//! |---|---|
//! | [`calendar`] | dates (days ↔ civil dates, RFC 3339 in UTC), pure arithmetic |
//! | [`json`] | strict reading of JSON objects field by field (the configuration's shapes) |
//! | [`weburl`] | absolute `http(s)` URLs read strictly, in their WHATWG form; form-urlencoding |
//! | [`secret`] | types that hold secrets and never print them; constant-time comparison |
//! | [`crypto`] | sealing secrets (AES-256-GCM) and its keyring, key import and structural checks |
//! | [`talkdesk`] | the contract as data: hosts and regions, events, assertions, token and API calls |
//! | [`config`] | the settings (`TALKDESK_APP_ID`, `SEALING_KEY`, …), parsed and validated |
//! | [`http`] | the route table, the [`http::Reply`] value and the one error → status mapping |
//! | [`ports`] | the I/O seams the rest is generic over (database, cache, HTTP, signer, clock) |
//! | [`store`] | the schema's records and every SQL statement, executed through [`ports::Database`] |
//! | [`tokens`] | access tokens: sealed cache, one mint per installation (D1 lease) |
//! | [`webhooks`] | Standard Webhooks signatures for the partner's backend, both ways |
//! | [`lifecycle`] | what each event does: intake, the outbox runner, the Talkdesk session, one file per event kind |
//! | [`partner`] | the partner's hooks the worker runs, and the example to copy |
//! | [`signin`] | single sign-on from Talkdesk: launch, callback, sessions and their cookies |
//! | [`bridge`] | the Talkdesk Integrations CRM bridge: configuration, manifest, records, data sources, keys, the endpoints' rules |
//! | [`app`] | request handling: `/healthz`, `/events`, the operator API, from route to reply |
//! | `testing` | (feature `testing`) fakes, the SQLite database built from `migrations/`, a test signer |

pub mod calendar;

pub mod json;

pub mod weburl;

pub mod secret;

pub mod crypto;

pub mod talkdesk;

pub mod config;

pub mod http;

pub mod ports;

pub mod store;

pub mod tokens;

pub mod webhooks;

pub mod lifecycle;

pub mod partner;

pub mod signin;

pub mod bridge;

pub mod app;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod layering;

/// The version reported by `GET /healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
