//! D1, the durable store: executes the core's statements ([`Database`]) and probes the schema
//! for `/healthz`. No SQL is written here except the probe's.

use js_sys::{Array, Reflect};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::{D1Database, D1PreparedStatement, D1Result};
use worker::Env;

use super::js::{self, settled, storage_error_text as error_text};
use super::{bindings, log};
use appconnect_core::app::health::SchemaState;
use appconnect_core::ports::{Database, PortError, Row, SqlValue, Statement};

/// The newest migration applied by `wrangler d1 migrations apply` (its `d1_migrations` table).
pub async fn schema_state(env: &Env) -> SchemaState {
    let db = match D1::from_env(env) {
        Ok(db) => db,
        Err(e) => {
            log::error("d1_binding_missing", &e.0);
            return SchemaState::Unreachable;
        }
    };
    let probe = Statement {
        name: "schema_probe",
        sql: "SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1".into(),
        params: Vec::new(),
    };
    match db.query(&probe).await {
        Ok(rows) => SchemaState::Applied(
            rows.first()
                .and_then(|row| row.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        // No migration table at all: nothing was ever applied.
        Err(e) if e.0.contains("no such table") => SchemaState::Applied(None),
        Err(e) => {
            log::error("d1_schema_query_failed", &e.0);
            SchemaState::Unreachable
        }
    }
}

/// The `DB` binding as the core's [`Database`], called through the runtime's own D1 API.
pub struct D1(D1Database);

impl D1 {
    pub fn from_env(env: &Env) -> Result<D1, PortError> {
        js::binding(env, bindings::DB)
            .map(|db| D1(db.unchecked_into()))
            .map_err(|e| PortError(format!("D1 {e}")))
    }

    fn prepare(&self, s: &Statement) -> Result<D1PreparedStatement, PortError> {
        let params: Array = s.params.iter().map(js_param).collect();
        self.0
            .prepare(s.sql.as_ref())
            .and_then(|p| p.bind(params))
            .map_err(|e| PortError(format!("D1 {}: bind: {}", s.name, error_text(&e))))
    }

    /// Runs the statements as one D1 batch (one transaction, one round trip).
    async fn send_batch(&self, statements: &[Statement]) -> Result<Vec<D1Result>, PortError> {
        let prepared = Array::new();
        for s in statements {
            prepared.push(&JsValue::from(self.prepare(s)?));
        }
        let failed = |e: &JsValue| {
            // Names once each: a batch of thousands of user rows is one name, not thousands.
            let mut names: Vec<&str> = statements.iter().map(|s| s.name).collect();
            names.dedup();
            PortError(format!(
                "D1 batch ({}): {}",
                names.join(", "),
                error_text(e)
            ))
        };
        let answers = settled(self.0.batch(prepared))
            .await
            .map_err(|e| failed(&e))?;
        Ok(answers
            .unchecked_into::<Array>()
            .iter()
            .map(JsCast::unchecked_into)
            .collect())
    }
}

/// The rows of one statement's answer (none for a write).
fn rows(answer: &D1Result) -> Result<Vec<Row>, JsValue> {
    Ok(answer
        .results()?
        .map(|rows| {
            rows.iter()
                .filter_map(|row| match js::to_json(&row) {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

fn js_param(v: &SqlValue) -> JsValue {
    match v {
        SqlValue::Null => JsValue::NULL,
        // D1 integers travel as JS numbers; ours (ids, counts, milliseconds) stay below 2^53.
        SqlValue::Integer(n) => JsValue::from_f64(*n as f64),
        SqlValue::Text(s) => JsValue::from_str(s),
    }
}

impl Database for D1 {
    async fn query(&self, s: &Statement) -> Result<Vec<Row>, PortError> {
        let failed = |e: JsValue| failed(s, &e);
        let answer = settled(self.prepare(s)?.all()).await.map_err(failed)?;
        rows(answer.unchecked_ref()).map_err(failed)
    }

    async fn execute(&self, s: &Statement) -> Result<u64, PortError> {
        let failed = |e: JsValue| failed(s, &e);
        let answer = settled(self.prepare(s)?.run()).await.map_err(failed)?;
        // `meta.changes`: the rows the statement wrote (none said, none counted).
        let changes = answer
            .unchecked_ref::<D1Result>()
            .meta()
            .and_then(|meta| Reflect::get(&meta, &JsValue::from_str("changes")))
            .ok()
            .and_then(|n| n.as_f64());
        Ok(changes.unwrap_or(0.0) as u64)
    }

    async fn batch(&self, statements: &[Statement]) -> Result<(), PortError> {
        self.send_batch(statements).await.map(|_| ())
    }

    async fn batch_query(&self, statements: &[Statement]) -> Result<Vec<Vec<Row>>, PortError> {
        let answers = self.send_batch(statements).await?;
        let mut all = Vec::with_capacity(answers.len());
        for (answer, s) in answers.iter().zip(statements) {
            all.push(rows(answer).map_err(|e| failed(s, &e))?);
        }
        Ok(all)
    }
}

/// A statement's failure, named by the statement.
fn failed(s: &Statement, e: &JsValue) -> PortError {
    PortError(format!("D1 {}: {}", s.name, error_text(e)))
}
