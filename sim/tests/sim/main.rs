//! The simulator's own tests: one binary, one module per area.

mod api;
mod control;
mod events;
mod faults;
mod flood;
mod helpers;
mod inspection;
mod partner_backend;
mod reads;
mod sso_authorize;
mod sso_helpers;
mod sso_token;
mod sso_users;
mod token;
