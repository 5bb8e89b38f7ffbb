//! D1, the durable store.

use worker::Env;

use super::{bindings, log};
use appconnect_core::app::health::SchemaState;

/// The newest migration applied by `wrangler d1 migrations apply` (its `d1_migrations` table).
pub async fn schema_state(env: &Env) -> SchemaState {
    let db = match env.d1(bindings::DB) {
        Ok(db) => db,
        Err(e) => {
            log::error("d1_binding_missing", &e.to_string());
            return SchemaState::Unreachable;
        }
    };
    let newest = db
        .prepare("SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1")
        .first::<String>(Some("name"))
        .await;
    match newest {
        Ok(name) => SchemaState::Applied(name),
        // No migration table at all: nothing was ever applied.
        Err(e) if e.to_string().contains("no such table") => SchemaState::Applied(None),
        Err(e) => {
            log::error("d1_schema_query_failed", &e.to_string());
            SchemaState::Unreachable
        }
    }
}

use serde::Deserialize;
use wasm_bindgen::JsValue;

use appconnect_core::ports::{PortError, StoredToken, TokenStore};

fn d1_error(what: &str) -> impl Fn(worker::Error) -> PortError + '_ {
    move |e| PortError(format!("D1 {what}: {e}"))
}

pub(super) fn num(n: u64) -> JsValue {
    // D1 integers travel as JS numbers; ours (seconds, milliseconds) stay below 2^53.
    JsValue::from_f64(n as f64)
}

/// The `DB` database as the [`TokenStore`] port (table `access_tokens`, migration 0002).
pub struct D1Tokens(worker::D1Database);

impl D1Tokens {
    pub fn from_env(env: &Env) -> Result<D1Tokens, PortError> {
        env.d1(bindings::DB)
            .map(D1Tokens)
            .map_err(|e| PortError(format!("D1 binding {}: {e}", bindings::DB)))
    }
}

#[derive(Deserialize)]
struct TokenRow {
    sealed_token: Option<String>,
    expires_at: Option<u64>,
}

impl TokenStore for D1Tokens {
    async fn read(&self, key: &str) -> Result<Option<StoredToken>, PortError> {
        let row = self
            .0
            .prepare("SELECT sealed_token, expires_at FROM access_tokens WHERE token_key = ?1")
            .bind(&[key.into()])
            .map_err(d1_error("bind"))?
            .first::<TokenRow>(None)
            .await
            .map_err(d1_error("read token"))?;
        Ok(row.and_then(|r| {
            Some(StoredToken {
                sealed: r.sealed_token?,
                expires_at: r.expires_at?,
            })
        }))
    }

    async fn try_lease(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<bool, PortError> {
        // One statement, so D1's single writer decides: the lease is taken only when free,
        // lapsed, or already ours.
        let result = self
            .0
            .prepare(
                "INSERT INTO access_tokens (token_key, lease_holder, lease_until_ms) \
                 VALUES (?1, ?2, ?4) \
                 ON CONFLICT (token_key) DO UPDATE SET lease_holder = ?2, lease_until_ms = ?4 \
                 WHERE access_tokens.lease_holder IS NULL \
                    OR access_tokens.lease_holder = ?2 \
                    OR access_tokens.lease_until_ms <= ?3",
            )
            .bind(&[key.into(), holder.into(), num(now_ms), num(until_ms)])
            .map_err(d1_error("bind"))?
            .run()
            .await
            .map_err(d1_error("take lease"))?;
        let changes = result
            .meta()
            .map_err(d1_error("lease result"))?
            .and_then(|m| m.changes)
            .unwrap_or(0);
        Ok(changes == 1)
    }

    async fn store(&self, key: &str, holder: &str, token: &StoredToken) -> Result<(), PortError> {
        self.0
            .prepare(
                "UPDATE access_tokens SET sealed_token = ?3, expires_at = ?4, \
                 lease_holder = CASE WHEN lease_holder = ?2 THEN NULL ELSE lease_holder END \
                 WHERE token_key = ?1",
            )
            .bind(&[
                key.into(),
                holder.into(),
                token.sealed.as_str().into(),
                num(token.expires_at),
            ])
            .map_err(d1_error("bind"))?
            .run()
            .await
            .map_err(d1_error("store token"))?;
        Ok(())
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), PortError> {
        self.0
            .prepare(
                "UPDATE access_tokens SET lease_holder = NULL, lease_until_ms = 0 \
                 WHERE token_key = ?1 AND lease_holder = ?2",
            )
            .bind(&[key.into(), holder.into()])
            .map_err(d1_error("bind"))?
            .run()
            .await
            .map_err(d1_error("release lease"))?;
        Ok(())
    }

    async fn forget_installation(&self, installation_id: &str) -> Result<(), PortError> {
        // A prefix compare, not LIKE: installation ids are not ours to trust with wildcards.
        let prefix = format!("token:{installation_id}:");
        self.0
            .prepare("DELETE FROM access_tokens WHERE substr(token_key, 1, length(?1)) = ?1")
            .bind(&[prefix.into()])
            .map_err(d1_error("bind"))?
            .run()
            .await
            .map_err(d1_error("forget tokens"))?;
        Ok(())
    }
}
