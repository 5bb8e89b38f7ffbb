//! A strict Talkdesk simulator: Talkdesk ID (`POST /oauth/token`, single sign-on at
//! `/oauth/authorize`), the Apps/Accounts/Users API, the header widget and the Events sender, on
//! one loopback HTTP server. It verifies every client assertion with OpenSSL (not the worker's
//! crypto), rejects wrong scopes and foreign tokens, and can be told to fail, stall, answer garbage
//! or drop the connection per endpoint.
//!
//! # Endpoints
//! | endpoint | what |
//! |---|---|
//! | `POST /oauth/token` | `client_credentials` (app token) and `authorization_code` (user token, `refresh_token`, `id_token`) |
//! | `GET /oauth/authorize` | validates, then the sign-in page "Sign in to Talkdesk" (or an at-once redirect for a remembered sign-in, `prompt=none`, auto sign-in) |
//! | `POST /oauth/authorize` | the sign-in form: `user_id` or `cancel=1`; 302 to `redirect_uri?code=…&state=…` |
//! | `GET /oauth/jwks` | the JWK Set that verifies `id_token`s (RS256) |
//! | `GET /users/me` | `{id, sub, name, email}` for a user token with `openid` |
//! | `GET /account`, `/apps/{app_id}/…` | the Accounts and Apps API |
//! | `GET /widget/header.js` | the header widget script |
//! | `/_sim/…` | the control API (`control`) |
//!
//! # Layout
//! Lowest layer first: each module uses only modules listed before it, so imports form no cycle.
//! - `error`: [`SimError`], the one error type, and [`SimResult`]
//! - `clock`, `random`: time in the contract's units; random ids, secrets and tokens
//! - `jose`: key generation, JWS sign/verify on OpenSSL, JWT parsing
//! - `model`: configuration, scripting inputs, inspection views (plain serde data)
//! - `sso_model`: the single sign-on vocabulary (modes, `id_token` faults, user tokens, launch URL)
//! - `sso_state`: authorization codes, sign-in sessions, user tokens
//! - `id_token`: the simulator's signing key and the `id_token` it signs
//! - `state`: installations, credentials, tokens, events, faults, the request log, and the shared
//!   `Core` that holds them
//! - `sso_core`: the single sign-on knobs and inspection on `Core`
//! - `delivery`: sending events with Talkdesk's retry schedule; holding and releasing them
//! - `scripts`: the lifecycle (install, update, rotate, uninstall, trial, logout, forge)
//! - `webhook_receiver`: the partner backend's webhook receiver (verifies with `standardwebhooks`)
//! - `http`: the `Reply` handlers answer with; media type and JSON body checks
//! - `client_auth`: client authentication (assertion or Basic) and the shared OAuth form rules
//! - `code_grant`: the `authorization_code` grant (code, redirect URI, PKCE, `id_token`)
//! - `oauth`: the token endpoint: form, grant type, then one of the grants
//! - `pages`: the HTML sign-in and error pages
//! - `authorize_request`: what makes an authorize request valid (shown on a page or redirected)
//! - `authorize`: the authorization endpoint (sign-in page, sessions, codes, modes)
//! - `widget`: the header widget script
//! - `flood`: the token endpoint's per-account rate limit (429 `slow_down`)
//! - `api`: the Apps and Accounts API, and `/users/me`
//! - `control`: the `/_sim/…` JSON control API the CLI uses
//! - `server`: the hyper server, fault injection, the request log; routes to the handlers above
//! - `simulator`: the [`Simulator`] handle tests and the CLI hold
//!
//! The CRM bridge side (contract §6) stands apart from the server above:
//! - `bridge_rules`: what Talkdesk Integrations accepts from a bridge, one pure check per answer
//! - `integrations`: [`IntegrationsClient`], Talkdesk Integrations as a strict client of a bridge
//! - `partner_data`: the records of a fake partner CRM and the queries its API answers
//! - `partner_http`: that CRM's REST API (auth, strict query parameters, actions)
//! - `partner_backend`: [`PartnerBackend`], the running fake CRM and its seeding handle
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
mod authorize;
mod authorize_request;
mod bridge_rules;
mod client_auth;
mod clock;
mod code_grant;
mod control;
mod delivery;
mod error;
mod flood;
mod http;
mod id_token;
mod integrations;
pub mod jose;
mod model;
mod oauth;
mod pages;
mod partner_backend;
mod partner_data;
mod partner_http;
mod random;
mod scripts;
mod server;
mod simulator;
mod sso_core;
mod sso_model;
mod sso_state;
mod state;
mod webhook_receiver;
mod widget;

pub use bridge_rules::{PRIORITIES, STATUSES};
pub use client_auth::JWT_BEARER;
pub use error::{SimError, SimResult};
pub use integrations::{
    BridgeError, IntegrationsClient, InteractionQuery, SyncReport, BRIDGE_TIMEOUT, MAX_SYNC_PAGES,
};
pub use jose::{sign_jwt, Alg, KeyPair};
pub use model::*;
pub use partner_backend::PartnerBackend;
pub use partner_http::{RecordedRequest, MAX_LIMIT};
pub use simulator::Simulator;
pub use sso_model::*;
pub use webhook_receiver::{Delivery, WebhookReceiver};
pub use widget::HEADER_SCRIPT;
