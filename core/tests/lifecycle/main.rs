//! The native integration tier: every lifecycle use case and its failure paths, run through the
//! real handlers, outbox runner, statements and schema (SQLite from `migrations/`) against the
//! strict Talkdesk simulator. The end-to-end tier (`tests/e2e` of the worker) proves the same
//! code in the real runtime; this tier proves the rules, in seconds.

mod app;
mod backlog;
mod bridge;
mod budget;
mod console;
mod crashes;
mod events;
mod handoff;
mod install;
mod intake;
mod limits;
mod operator;
mod partner;
mod rotation;
mod signin;
mod sso;
