//! D1, the durable store.

use worker::Env;

use super::{bindings, log};
use crate::health::SchemaState;

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
