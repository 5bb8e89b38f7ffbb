//! D1, the durable store: executes the core's statements ([`Database`]) and probes the schema
//! for `/healthz`. No SQL is written here except the probe's.

use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

use super::{bindings, log};
use appconnect_core::app::health::SchemaState;
use appconnect_core::ports::{Database, PortError, Row, SqlValue, Statement};

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

/// The `DB` binding as the core's [`Database`].
pub struct D1(D1Database);

impl D1 {
    pub fn from_env(env: &Env) -> Result<D1, PortError> {
        env.d1(bindings::DB)
            .map(D1)
            .map_err(|e| PortError(format!("D1 binding {}: {e}", bindings::DB)))
    }

    fn prepare(&self, s: &Statement) -> Result<D1PreparedStatement, PortError> {
        let params: Vec<JsValue> = s.params.iter().map(js).collect();
        self.0
            .prepare(s.sql.as_ref())
            .bind(&params)
            .map_err(|e| PortError(format!("D1 {}: bind: {e}", s.name)))
    }
}

impl D1 {
    /// Runs the statements as one D1 batch (one transaction, one round trip).
    async fn send_batch(&self, statements: &[Statement]) -> Result<Vec<D1Result>, PortError> {
        let prepared = statements
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>, _>>()?;
        // Names once each: a batch of thousands of user rows is one name, not thousands.
        let mut names: Vec<&str> = statements.iter().map(|s| s.name).collect();
        names.dedup();
        self.0
            .batch(prepared)
            .await
            .map_err(|e| PortError(format!("D1 batch ({}): {e}", names.join(", "))))
    }
}

fn object(row: Value) -> Option<Row> {
    match row {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn js(v: &SqlValue) -> JsValue {
    match v {
        SqlValue::Null => JsValue::NULL,
        // D1 integers travel as JS numbers; ours (ids, counts, milliseconds) stay below 2^53.
        SqlValue::Integer(n) => JsValue::from_f64(*n as f64),
        SqlValue::Text(s) => JsValue::from_str(s),
    }
}

impl Database for D1 {
    async fn query(&self, s: &Statement) -> Result<Vec<Row>, PortError> {
        let rows: Vec<Value> = self
            .prepare(s)?
            .all()
            .await
            .and_then(|r| r.results::<Value>())
            .map_err(|e| PortError(format!("D1 {}: {e}", s.name)))?;
        Ok(rows.into_iter().filter_map(object).collect())
    }

    async fn execute(&self, s: &Statement) -> Result<u64, PortError> {
        let result = self
            .prepare(s)?
            .run()
            .await
            .map_err(|e| PortError(format!("D1 {}: {e}", s.name)))?;
        Ok(result
            .meta()
            .map_err(|e| PortError(format!("D1 {}: result: {e}", s.name)))?
            .and_then(|m| m.changes)
            .unwrap_or(0) as u64)
    }

    async fn batch(&self, statements: &[Statement]) -> Result<(), PortError> {
        self.send_batch(statements).await.map(|_| ())
    }

    async fn batch_query(&self, statements: &[Statement]) -> Result<Vec<Vec<Row>>, PortError> {
        let results = self.send_batch(statements).await?;
        results
            .into_iter()
            .zip(statements)
            .map(|(r, s)| {
                r.results::<Value>()
                    .map(|rows| rows.into_iter().filter_map(object).collect())
                    .map_err(|e| PortError(format!("D1 {}: {e}", s.name)))
            })
            .collect()
    }
}
