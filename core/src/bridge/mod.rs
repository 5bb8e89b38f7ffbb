//! The Talkdesk Integrations bridge (contract §6; README "CRM bridge"): Talkdesk reads the
//! partner's contacts, agents and interactions and runs its actions through five endpoints,
//! authenticated by the account's integration key.
//!
//! - [`config`]: the one configuration, `integration/integration.json`; [`manifest`] is made
//!   from it.
//! - [`model`]: the records in Talkdesk's shapes, checked and normalised (E.164, lower-case).
//! - [`source`]: the data port; [`d1`] (the built-in store, filled by [`import`]) and [`rest`]
//!   (the partner's own backend, described by [`connector`]).
//! - [`keys`]: integration keys (stored hashed).
//! - [`serve`]: the endpoints' rules: sync cursors and checkpoints, look-ups, action inputs.

pub mod config;
pub mod connector;
pub mod d1;
pub mod import;
pub mod keys;
pub mod manifest;
pub mod model;
pub mod rest;
pub mod serve;
pub mod source;
