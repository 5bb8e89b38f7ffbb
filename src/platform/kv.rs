//! KV, the cache.

use worker::Env;

use super::{bindings, log};
use crate::health::Probe;

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
