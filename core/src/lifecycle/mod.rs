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

pub mod budget;
pub mod capture;
pub mod confirm;
pub mod events;
pub mod hooks;
pub mod intake;
pub mod notify;
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
    /// The partner's code ([`hooks::Hooks`]).
    type Hooks: hooks::Hooks;
    fn db(&self) -> &Self::Db;
    fn cache(&self) -> &Self::Cache;
    fn http(&self) -> &Self::Http;
    fn clock(&self) -> &Self::Clock;
    fn signer(&self) -> &Self::Signer;
    fn log(&self) -> &Self::Log;
    fn hooks(&self) -> &Self::Hooks;

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

    /// The invocation's budget meter, when the calls are metered ([`budget::Metered`]).
    fn meter(&self) -> Option<&budget::Meter> {
        None
    }

    /// Where the intake leaves a job it leased for the run that follows its answer
    /// ([`outbox::Handoff`]); `None`: the intake leases nothing, the run takes its own.
    fn handoff(&self) -> Option<&outbox::Handoff> {
        None
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
    /// Webhooks and manual provisioning.
    pub partner: &'a crate::config::PartnerSettings,
}

impl<'a> Settings<'a> {
    pub fn from_config(config: &'a crate::config::Config) -> Settings<'a> {
        Settings {
            app_id: &config.app_id,
            keys: &config.sealing_keys,
            allowlist: &config.allowlist,
            time_scale: config.time_scale,
            partner: &config.partner,
        }
    }

    /// A duration of the lifecycle, scaled for tests (never below 1 ms).
    pub fn scaled(&self, ms: u64) -> u64 {
        ((ms as f64 * self.time_scale) as u64).max(1)
    }
}

/// One job being worked on: the ports, the settings, the job and the runner's lease on it.
pub struct JobContext<'a, P> {
    pub p: &'a P,
    pub s: &'a Settings<'a>,
    pub job: &'a crate::store::records::Job,
    /// The runner's lease holder id: every write the job owns is conditional on it.
    pub holder: &'a str,
    /// Set once Talkdesk confirmed the job's event in this attempt: until then a failure is a
    /// failure to prove the event, which is bounded.
    pub confirmed: std::cell::Cell<bool>,
    /// Until when this runner's lease runs, as last taken or renewed.
    pub lease_until: std::cell::Cell<u64>,
    /// The job's event as read when the job was taken, until the job first asks for it.
    pub event: std::cell::RefCell<Option<crate::store::records::EventRecord>>,
    /// The job's users-sync cursor as read when the job was taken (`Some(None)`: none yet),
    /// until the job first asks for it.
    pub sync_cursor: std::cell::Cell<Option<Option<crate::store::SyncCursor>>>,
    /// The installation's save that ends the job, written with the job's close when the job
    /// is done ([`JobContext::save_at_close`]); dropped with any other outcome.
    pub closing: std::cell::RefCell<Option<crate::store::Closing>>,
}

/// What recording a job's outcome needs (the job, its event, a wake-up, a flag), kept back
/// from every step so a paused job can always say where it stopped.
pub const FINISH_COST: budget::Cost = budget::Cost {
    queries: 8,
    subrequests: 8,
};

/// A close that also takes the installation's next job: its writes, an installation's save and
/// the take's lease and reads, 9 statements in one batch (`Store::finish_job`).
pub const CLOSE_AND_TAKE_COST: budget::Cost = budget::Cost {
    queries: 9,
    subrequests: 1,
};

impl<P: Ports> JobContext<'_, P> {
    /// The lease this job's writes are conditional on.
    pub fn lease(&self) -> crate::store::Lease<'_> {
        crate::store::Lease {
            job_id: self.job.job_id,
            holder: self.holder,
        }
    }

    /// Saves the installation if no one wrote it since it was read and the lease is still
    /// this runner's; otherwise the attempt stops, and the job runs again from fresh copies.
    pub async fn save(&self, inst: &mut crate::store::records::Installation) -> outcome::Step<()> {
        if self.p.store().save_installation(inst, self.lease()).await? {
            inst.version += 1;
            Ok(())
        } else {
            Err(outcome::Outcome::Pause(
                "the installation changed while this job ran; running it again".into(),
            ))
        }
    }

    /// Saves the installation with the job's close, in its transaction, as the job's last
    /// write: the job must end `Done` right after. If someone wrote the installation first,
    /// nothing of the close lands and the job runs again, as after [`JobContext::save`].
    pub fn save_at_close(&self, inst: &mut crate::store::records::Installation) {
        *self.closing.borrow_mut() = Some(crate::store::Closing {
            installation: inst.clone(),
        });
        inst.version += 1;
    }

    /// The job's users-sync cursor: as read with the lease, the first time; from D1 after.
    pub async fn sync_cursor(&self) -> outcome::Step<Option<crate::store::SyncCursor>> {
        match self.sync_cursor.take() {
            Some(cursor) => Ok(cursor),
            None => Ok(self.p.store().sync_cursor(self.job.job_id).await?),
        }
    }

    /// Between two steps: stops cleanly (to resume in the next invocation) when the step
    /// would not fit in what is left of the invocation's budget, and renews the lease, so a
    /// long job keeps it and a runner that lost it stops before its next call.
    pub async fn checkpoint(&self, step: budget::Cost) -> outcome::Step<()> {
        let now = self.p.clock().now_ms();
        if let Some(meter) = self.p.meter() {
            if !meter.affords(step, FINISH_COST, now) {
                return Err(outcome::Outcome::Pause(
                    "this invocation's budget is spent; resuming in the next".into(),
                ));
            }
        }
        let lease = self.s.scaled(outbox::JOB_LEASE_MS);
        // More than half the lease left: no other runner can have taken it (it must lapse
        // first), so the renewal (a D1 write) waits for a later step.
        if self.lease_until.get() > now + lease / 2 {
            return Ok(());
        }
        let until = now + lease;
        if self.p.store().renew_lease(self.lease(), until).await? {
            self.lease_until.set(until);
            Ok(())
        } else {
            Err(outcome::Outcome::Pause(
                "another runner took this job over".into(),
            ))
        }
    }
}
