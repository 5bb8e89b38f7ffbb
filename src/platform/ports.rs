//! The runtime's adapters bundled as the lifecycle's [`Ports`].

use worker::Env;

use super::clock::WorkerClock;
use super::d1::D1Tokens;
use super::d1_lifecycle::D1Lifecycle;
use super::fetch::WorkerFetch;
use super::kv::KvCache;
use super::webcrypto::WebCryptoSigner;
use appconnect_core::lifecycle::Ports;
use appconnect_core::ports::PortError;

pub struct WorkerPorts {
    store: D1Lifecycle,
    cache: KvCache,
    tokens: D1Tokens,
}

impl WorkerPorts {
    pub fn from_env(env: &Env) -> Result<WorkerPorts, PortError> {
        Ok(WorkerPorts {
            store: D1Lifecycle::from_env(env)?,
            cache: KvCache::from_env(env)?,
            tokens: D1Tokens::from_env(env)?,
        })
    }
}

impl Ports for WorkerPorts {
    type Store = D1Lifecycle;
    type Cache = KvCache;
    type Tokens = D1Tokens;
    type Http = WorkerFetch;
    type Clock = WorkerClock;
    type Signer = WebCryptoSigner;

    fn store(&self) -> &D1Lifecycle {
        &self.store
    }
    fn cache(&self) -> &KvCache {
        &self.cache
    }
    fn tokens(&self) -> &D1Tokens {
        &self.tokens
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
}
