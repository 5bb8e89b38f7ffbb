//! The runtime's adapters bundled as the core's [`Ports`].

use worker::Env;

use super::clock::WorkerClock;
use super::d1::D1;
use super::fetch::WorkerFetch;
use super::kv::KvCache;
use super::log::WorkerLog;
use super::webcrypto::WebCryptoSigner;
use appconnect_core::config::Config;
use appconnect_core::lifecycle::outbox::Handoff;
use appconnect_core::lifecycle::Ports;
use appconnect_core::partner::PartnerHooks;
use appconnect_core::ports::PortError;

pub struct WorkerPorts {
    db: D1,
    cache: KvCache,
    hooks: PartnerHooks,
    log: WorkerLog,
    /// The job this request's intake leased for the run after its answer.
    handoff: Handoff,
}

impl WorkerPorts {
    pub fn from_env(env: &Env, config: &Config) -> Result<WorkerPorts, PortError> {
        Ok(WorkerPorts {
            db: D1::from_env(env)?,
            cache: KvCache::from_env(env)?,
            hooks: PartnerHooks::from_choice(config.partner.hooks),
            log: WorkerLog {
                request_id: super::log::request_id(),
            },
            handoff: Handoff::default(),
        })
    }
}

impl Ports for WorkerPorts {
    type Db = D1;
    type Cache = KvCache;
    type Http = WorkerFetch;
    type Clock = WorkerClock;
    type Signer = WebCryptoSigner;
    type Log = WorkerLog;
    type Hooks = PartnerHooks;

    fn db(&self) -> &D1 {
        &self.db
    }
    fn cache(&self) -> &KvCache {
        &self.cache
    }
    fn http(&self) -> &WorkerFetch {
        &WorkerFetch
    }
    fn clock(&self) -> &WorkerClock {
        &WorkerClock
    }
    fn signer(&self) -> &WebCryptoSigner {
        &WebCryptoSigner
    }
    fn log(&self) -> &WorkerLog {
        &self.log
    }
    fn hooks(&self) -> &PartnerHooks {
        &self.hooks
    }
    fn handoff(&self) -> Option<&Handoff> {
        Some(&self.handoff)
    }
}
