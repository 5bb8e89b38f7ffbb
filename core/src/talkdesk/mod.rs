//! The Talkdesk contract, pure: hosts and regions, event types, assertion claims, API request
//! builders and response parsers. No I/O here; see `docs/talkdesk-contract.md`.

#[cfg(test)]
mod against_sim;
pub mod api;
pub mod assertion;
pub mod events;
pub mod hosts;
pub mod http;
pub mod oidc;
pub mod token;
