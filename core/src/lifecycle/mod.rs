//! The installation lifecycle: what each Talkdesk event does, after it has been stored.
//!
//! `POST /events` stores the event (and, for an install, the installation with its sealed
//! credentials) and a job in one D1 batch ([`intake`]), answers, then runs the installation's
//! jobs ([`outbox`]); the cron sweep runs whatever is still due, so a crash at any point only
//! delays the work. Jobs of one installation run one at a time under a lease, installs first,
//! then in arrival order.
//!
//! Each event kind is one file under [`events`] with one `apply`. They talk to Talkdesk through
//! a [`session::Session`] (credentials → token → calls) and act only on a
//! [`confirm::ConfirmedEvent`], which only the confirmation step can make: an install is proven
//! by minting a token with the delivered credentials and reading the installation back; every
//! later event by reading it back from Talkdesk, which answers 404 for a forgery.

pub mod capture;
pub mod confirm;
pub mod events;
pub mod intake;
pub mod outbox;
pub mod outcome;
pub mod reseal;
pub mod sealing;
pub mod session;
pub mod verify;

pub use intake::{receive, Received};
pub use outbox::{run_installation, sweep, SweepReport};
pub use verify::verify;

use crate::config::AppId;
use crate::crypto::keyring::SealingKeys;
use crate::ports::{Cache, Clock, Database, Log, Signer, TalkdeskHttp};
use crate::store::{SqlTokens, Store};
use crate::talkdesk::hosts::Allowlist;

/// Everything the lifecycle talks to: the runtime's adapters in the worker, SQLite and fakes
/// natively.
pub trait Ports {
    type Db: Database;
    type Cache: Cache;
    type Http: TalkdeskHttp;
    type Clock: Clock;
    type Signer: Signer;
    type Log: Log;
    fn db(&self) -> &Self::Db;
    fn cache(&self) -> &Self::Cache;
    fn http(&self) -> &Self::Http;
    fn clock(&self) -> &Self::Clock;
    fn signer(&self) -> &Self::Signer;
    fn log(&self) -> &Self::Log;

    /// The lifecycle's tables.
    fn store(&self) -> Store<'_, Self::Db> {
        Store::new(self.db())
    }

    /// Agents' sessions and used sign-in states.
    fn sessions(&self) -> crate::store::Sessions<'_, Self::Db> {
        crate::store::Sessions::new(self.db())
    }

    /// The access-token table.
    fn tokens(&self) -> SqlTokens<'_, Self::Db> {
        SqlTokens::new(self.db())
    }
}

/// The settings the lifecycle needs.
#[derive(Clone, Copy)]
pub struct Settings<'a> {
    pub app_id: &'a AppId,
    pub keys: &'a SealingKeys,
    pub allowlist: &'a Allowlist,
    /// `LIFECYCLE_TIME_SCALE`: 1 in production.
    pub time_scale: f64,
}

impl<'a> Settings<'a> {
    pub fn from_config(config: &'a crate::config::Config) -> Settings<'a> {
        Settings {
            app_id: &config.app_id,
            keys: &config.sealing_keys,
            allowlist: &config.allowlist,
            time_scale: config.time_scale,
        }
    }

    /// A duration of the lifecycle, scaled for tests (never below 1 ms).
    pub fn scaled(&self, ms: u64) -> u64 {
        ((ms as f64 * self.time_scale) as u64).max(1)
    }
}

/// One job being worked on: the ports, the settings and the job.
pub struct JobContext<'a, P> {
    pub p: &'a P,
    pub s: &'a Settings<'a>,
    pub job: &'a crate::store::records::Job,
    /// Set once Talkdesk confirmed the job's event in this attempt: until then a failure is a
    /// failure to prove the event, which is bounded.
    pub confirmed: std::cell::Cell<bool>,
}
