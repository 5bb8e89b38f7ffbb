//! KV, the cache, called through the runtime's own KV API (`platform::js` says why).

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

use super::js::{self, settled, storage_error_text as error_text};
use super::{bindings, log};
use appconnect_core::app::health::Probe;
use appconnect_core::ports::{Cache, PortError, KV_MIN_TTL_SECS};

#[wasm_bindgen]
extern "C" {
    /// A KV namespace binding: the four calls the cache makes.
    type KvNamespace;

    /// Resolves to the value as text, or null.
    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &KvNamespace,
        key: &str,
        value: &str,
        options: &Object,
    ) -> Result<Promise, JsValue>;

    /// Resolves to `{ keys: [{ name }], list_complete, cursor }`.
    #[wasm_bindgen(method, catch)]
    fn list(this: &KvNamespace, options: &Object) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = delete)]
    fn remove(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;
}

/// Whether the KV namespace answers a read. A read, not a write: `/healthz` is polled, and
/// KV writes are metered (1,000 a day on the free plan).
pub async fn probe(env: &Env) -> Probe {
    let kv = match KvCache::from_env(env) {
        Ok(kv) => kv,
        Err(e) => {
            log::error("kv_binding_missing", &e.0);
            return Probe::Failed("binding missing");
        }
    };
    match kv.get("healthz:probe").await {
        Ok(_) => Probe::Ok,
        Err(e) => {
            log::error("kv_read_failed", &e.0);
            Probe::Failed("read failed")
        }
    }
}

/// The `CACHE` namespace as the [`Cache`] port.
pub struct KvCache(KvNamespace);

impl KvCache {
    pub fn from_env(env: &Env) -> Result<KvCache, PortError> {
        js::binding(env, bindings::CACHE)
            .map(|kv| KvCache(kv.unchecked_into()))
            .map_err(|e| PortError(format!("KV {e}")))
    }
}

/// An options object of whole-number fields (`{ expirationTtl: 60 }`) or text fields.
fn options(fields: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (name, value) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(name), value);
    }
    o
}

impl Cache for KvCache {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        settled(self.0.get(key))
            .await
            .map(|v| v.as_string())
            .map_err(|e| PortError(format!("KV get: {}", error_text(&e))))
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), PortError> {
        let ttl = ttl_secs.max(KV_MIN_TTL_SECS);
        let opts = options(&[("expirationTtl", JsValue::from_f64(ttl as f64))]);
        settled(self.0.put(key, value, &opts))
            .await
            .map(|_| ())
            .map_err(|e| PortError(format!("KV put: {}", error_text(&e))))
    }

    async fn list(&self, prefix: &str, limit: u32) -> Result<Vec<String>, PortError> {
        let opts = options(&[
            ("prefix", JsValue::from_str(prefix)),
            ("limit", JsValue::from_f64(limit.into())),
        ]);
        let failed = |e: JsValue| PortError(format!("KV list: {}", error_text(&e)));
        let answer = settled(self.0.list(&opts)).await.map_err(failed)?;
        let keys = Reflect::get(&answer, &JsValue::from_str("keys")).map_err(failed)?;
        let name = JsValue::from_str("name");
        Ok(keys
            .dyn_into::<Array>()
            .map_err(failed)?
            .iter()
            .filter_map(|k| Reflect::get(&k, &name).ok()?.as_string())
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        settled(self.0.remove(key))
            .await
            .map(|_| ())
            .map_err(|e| PortError(format!("KV delete: {}", error_text(&e))))
    }
}
