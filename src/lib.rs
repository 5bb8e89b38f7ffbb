//! # appconnect-worker
//!
//! The Cloudflare Worker: the entry points and the adapters to the Workers runtime, and nothing
//! else. Everything that decides something lives in `appconnect-core` (`core/`), which cannot
//! import `worker`; this crate implements the core's ports on D1, KV, fetch, WebCrypto and the
//! runtime clock, and hands each request to the core.
//!
//! | module | what it holds |
//! |---|---|
//! | [`platform`] | the adapters: D1, KV, fetch, WebCrypto signer, clock, env, logging, the benchmark route |
//! | [`entry`] | the `fetch` export, `#[event(scheduled)]`: settings → route → handler → answer |

pub mod platform;

pub mod entry;
