//! KV, the cache.

use worker::Env;

use super::{bindings, log};
use appconnect_core::app::health::Probe;

/// Whether the KV namespace answers a read. A read, not a write: `/healthz` is polled, and
/// KV writes are metered (1,000 a day on the free plan).
pub async fn probe(env: &Env) -> Probe {
    let kv = match env.kv(bindings::CACHE) {
        Ok(kv) => kv,
        Err(e) => {
            log::error("kv_binding_missing", &e.to_string());
            return Probe::Failed("binding missing");
        }
    };
    match kv.get("healthz:probe").text().await {
        Ok(_) => Probe::Ok,
        Err(e) => {
            log::error("kv_read_failed", &e.to_string());
            Probe::Failed("read failed")
        }
    }
}

/// The `CACHE` namespace as the [`Cache`](appconnect_core::ports::Cache) port.
pub struct KvCache(worker::kv::KvStore);

impl KvCache {
    pub fn from_env(env: &Env) -> Result<KvCache, appconnect_core::ports::PortError> {
        env.kv(bindings::CACHE).map(KvCache).map_err(|e| {
            appconnect_core::ports::PortError(format!("KV binding {}: {e}", bindings::CACHE))
        })
    }
}

impl appconnect_core::ports::Cache for KvCache {
    async fn get(&self, key: &str) -> Result<Option<String>, appconnect_core::ports::PortError> {
        self.0
            .get(key)
            .text()
            .await
            .map_err(|e| appconnect_core::ports::PortError(format!("KV get: {e}")))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), appconnect_core::ports::PortError> {
        let ttl = ttl_secs.max(appconnect_core::ports::KV_MIN_TTL_SECS);
        self.0
            .put(key, value)
            .map_err(|e| appconnect_core::ports::PortError(format!("KV put: {e}")))?
            .expiration_ttl(ttl)
            .execute()
            .await
            .map_err(|e| appconnect_core::ports::PortError(format!("KV put: {e}")))
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<String>, appconnect_core::ports::PortError> {
        self.0
            .list()
            .prefix(prefix.to_owned())
            .limit(u64::from(limit))
            .execute()
            .await
            .map(|r| r.keys.into_iter().map(|k| k.name).collect())
            .map_err(|e| appconnect_core::ports::PortError(format!("KV list: {e}")))
    }

    async fn delete(&self, key: &str) -> Result<(), appconnect_core::ports::PortError> {
        self.0
            .delete(key)
            .await
            .map_err(|e| appconnect_core::ports::PortError(format!("KV delete: {e}")))
    }
}
