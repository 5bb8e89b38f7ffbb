//! End-to-end tier: the release wasm in workerd (`wrangler dev`) with local D1 and KV, driven
//! over HTTP. `make test` builds first; run alone with `cargo test --test e2e` after `make build`.
//!
//! Add tests as modules beside this file; use [`harness::shared`] unless a test needs its own
//! settings or state.

mod bench;
mod bridge;
mod browser;
mod console;
mod credentials;
mod deploy;
mod floor;
mod foundation;
mod genuine;
mod harness;
mod hostile;
mod inspect;
mod lifecycle;
mod limits;
mod partner;
mod peers;
mod profile;
mod scale;
mod sso;
