//! D1 as the [`LifecycleStore`]: the lifecycle tables of migration 0003.
//!
//! Rows travel as the model's plain structs: writes are generated from their serde fields (so a
//! new column is one field in `lifecycle::model` plus a migration), reads deserialise by column
//! name.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use super::bindings;
use super::d1::num;
use appconnect_core::ports::{LifecycleStore, PortError};
use appconnect_core::store::records::{
    AccountRecord, EventRecord, Installation, Intake, Job, User,
};

pub struct D1Lifecycle(D1Database);

impl D1Lifecycle {
    pub fn from_env(env: &Env) -> Result<D1Lifecycle, PortError> {
        env.d1(bindings::DB)
            .map(D1Lifecycle)
            .map_err(|e| PortError(format!("D1 binding {}: {e}", bindings::DB)))
    }

    fn stmt(&self, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement, PortError> {
        self.0
            .prepare(sql)
            .bind(args)
            .map_err(|e| PortError(format!("D1 bind: {e}")))
    }

    async fn run(&self, what: &str, sql: &str, args: &[JsValue]) -> Result<(), PortError> {
        self.stmt(sql, args)?
            .run()
            .await
            .map(|_| ())
            .map_err(|e| PortError(format!("D1 {what}: {e}")))
    }

    async fn first<T: DeserializeOwned>(
        &self,
        what: &str,
        sql: &str,
        args: &[JsValue],
    ) -> Result<Option<T>, PortError> {
        self.stmt(sql, args)?
            .first::<T>(None)
            .await
            .map_err(|e| PortError(format!("D1 {what}: {e}")))
    }

    async fn all<T: DeserializeOwned>(
        &self,
        what: &str,
        sql: &str,
        args: &[JsValue],
    ) -> Result<Vec<T>, PortError> {
        self.stmt(sql, args)?
            .all()
            .await
            .and_then(|r| r.results::<T>())
            .map_err(|e| PortError(format!("D1 {what}: {e}")))
    }
}

fn js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        // Our integers (ms, counts) stay below 2^53.
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JsValue::from_str(s),
        other => JsValue::from_str(&other.to_string()),
    }
}

/// The row's columns and values, from its serde fields (minus `skip`).
fn columns<T: Serialize>(row: &T, skip: &[&str]) -> (Vec<String>, Vec<JsValue>) {
    let Ok(Value::Object(map)) = serde_json::to_value(row) else {
        return (Vec::new(), Vec::new());
    };
    map.into_iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k, js(&v)))
        .unzip()
}

fn insert_sql(table: &str, cols: &[String]) -> String {
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        marks.join(", ")
    )
}

impl D1Lifecycle {
    fn insert<T: Serialize>(
        &self,
        table: &str,
        row: &T,
        skip: &[&str],
    ) -> Result<D1PreparedStatement, PortError> {
        let (cols, vals) = columns(row, skip);
        self.stmt(&insert_sql(table, &cols), &vals)
    }
}

impl LifecycleStore for D1Lifecycle {
    async fn intake(&self, intake: &Intake) -> Result<bool, PortError> {
        let mut batch = vec![self.insert("events", &intake.event, &[])?];
        if let Some(inst) = &intake.installation {
            batch.push(self.insert("installations", inst, &[])?);
        }
        if let Some(job) = &intake.job {
            batch.push(self.insert("jobs", job, &["job_id"])?);
        }
        // One batch: D1 runs it as one transaction, so the event, installation and job land
        // together or not at all. A redelivery fails on the event's primary key: only then is
        // a second round trip spent, to tell a duplicate from a real failure.
        match self.0.batch(batch).await {
            Ok(_) => Ok(true),
            Err(e) => {
                let seen: Option<Value> = self
                    .first(
                        "event lookup",
                        "SELECT event_id FROM events WHERE event_id = ?1",
                        &[intake.event.event_id.as_str().into()],
                    )
                    .await?;
                match seen {
                    Some(_) => Ok(false),
                    None => Err(PortError(format!("D1 intake: {e}"))),
                }
            }
        }
    }

    async fn installation(&self, installation_id: &str) -> Result<Option<Installation>, PortError> {
        self.first(
            "read installation",
            "SELECT * FROM installations WHERE installation_id = ?1",
            &[installation_id.into()],
        )
        .await
    }

    async fn save_installation(&self, inst: &Installation) -> Result<(), PortError> {
        let (cols, mut vals) = columns(inst, &["installation_id"]);
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE installations SET {} WHERE installation_id = ?{}",
            sets.join(", "),
            cols.len() + 1
        );
        vals.push(inst.installation_id.as_str().into());
        self.run("save installation", &sql, &vals).await
    }

    async fn replace_users(&self, installation_id: &str, users: &[User]) -> Result<(), PortError> {
        let mut batch = vec![self.stmt(
            "DELETE FROM installation_users WHERE installation_id = ?1",
            &[installation_id.into()],
        )?];
        for u in users {
            batch.push(self.stmt(
                "INSERT OR REPLACE INTO installation_users (installation_id, user_id, email, name, active) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    installation_id.into(),
                    u.user_id.as_str().into(),
                    u.email.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                    u.name.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                    num(u64::from(u.active)),
                ],
            )?);
        }
        batch.push(self.stmt(
            "UPDATE installations SET users_count = (SELECT COUNT(*) FROM installation_users WHERE installation_id = ?1) WHERE installation_id = ?1",
            &[installation_id.into()],
        )?);
        self.0
            .batch(batch)
            .await
            .map(|_| ())
            .map_err(|e| PortError(format!("D1 replace users: {e}")))
    }

    async fn delete_users(&self, installation_id: &str) -> Result<(), PortError> {
        self.run(
            "delete users",
            "DELETE FROM installation_users WHERE installation_id = ?1",
            &[installation_id.into()],
        )
        .await
    }

    async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, PortError> {
        self.first(
            "read event",
            "SELECT * FROM events WHERE event_id = ?1",
            &[event_id.into()],
        )
        .await
    }

    async fn finish_event(
        &self,
        event_id: &str,
        status: &str,
        detail: Option<&str>,
    ) -> Result<(), PortError> {
        self.run(
            "finish event",
            // A failed event keeps its sealed credentials (they are sent only once) for the
            // operator; they go with the row when it is purged.
            "UPDATE events SET status = ?2, detail = ?3, \
             sealed_new_secret = CASE WHEN ?2 = 'failed' THEN sealed_new_secret END, \
             sealed_new_key = CASE WHEN ?2 = 'failed' THEN sealed_new_key END \
             WHERE event_id = ?1",
            &[
                event_id.into(),
                status.into(),
                detail.map_or(JsValue::NULL, JsValue::from_str),
            ],
        )
        .await
    }

    async fn head_job(&self, installation_id: &str) -> Result<Option<Job>, PortError> {
        self.first(
            "head job",
            "SELECT * FROM jobs WHERE installation_id = ?1 AND state = 'pending' \
             ORDER BY (kind = 'install') DESC, job_id LIMIT 1",
            &[installation_id.into()],
        )
        .await
    }

    async fn due_installations(&self, now_ms: u64, limit: u32) -> Result<Vec<String>, PortError> {
        #[derive(serde::Deserialize)]
        struct Row {
            installation_id: String,
        }
        // Installations whose *next* job (the one `head_job` picks) is due: a job queued behind
        // a head in backoff must not make its installation look due every minute.
        let rows: Vec<Row> = self
            .all(
                "due installations",
                "SELECT j.installation_id FROM jobs j \
                 WHERE j.state = 'pending' AND j.next_attempt_at <= ?1 AND j.job_id = ( \
                   SELECT h.job_id FROM jobs h \
                   WHERE h.installation_id = j.installation_id AND h.state = 'pending' \
                   ORDER BY (h.kind = 'install') DESC, h.job_id LIMIT 1) \
                 ORDER BY j.next_attempt_at LIMIT ?2",
                &[num(now_ms), num(u64::from(limit))],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.installation_id).collect())
    }

    async fn lease_job(
        &self,
        job_id: i64,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Option<Job>, PortError> {
        // Taken only when due and free (or lapsed), and the row comes back as it is now, so a
        // runner never works from a copy another runner has since changed.
        self.first(
            "lease job",
            "UPDATE jobs SET lease_holder = ?2, lease_until = ?4 \
             WHERE job_id = ?1 AND state = 'pending' AND next_attempt_at <= ?3 \
               AND (lease_until <= ?3 OR lease_holder = ?2) \
             RETURNING *",
            &[
                JsValue::from_f64(job_id as f64),
                holder.into(),
                num(now_ms),
                num(until_ms),
            ],
        )
        .await
    }

    async fn save_job(&self, job: &Job) -> Result<(), PortError> {
        self.run(
            "save job",
            "UPDATE jobs SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5, \
             updated_at = ?6, lease_holder = NULL, lease_until = 0 WHERE job_id = ?1",
            &[
                JsValue::from_f64(job.job_id as f64),
                job.state.as_str().into(),
                num(job.attempts),
                num(job.next_attempt_at),
                job.last_error
                    .as_deref()
                    .map_or(JsValue::NULL, JsValue::from_str),
                num(job.updated_at),
            ],
        )
        .await
    }

    async fn jobs_of(&self, installation_id: &str) -> Result<Vec<Job>, PortError> {
        self.all(
            "jobs of",
            "SELECT * FROM jobs WHERE installation_id = ?1 ORDER BY job_id",
            &[installation_id.into()],
        )
        .await
    }

    async fn wake_jobs(&self, installation_id: &str, now_ms: u64) -> Result<(), PortError> {
        self.run(
            "wake jobs",
            "UPDATE jobs SET next_attempt_at = ?2 WHERE installation_id = ?1 AND state = 'pending' AND next_attempt_at > ?2",
            &[installation_id.into(), num(now_ms)],
        )
        .await
    }

    async fn list_installations(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Installation>, PortError> {
        self.all(
            "list installations",
            "SELECT * FROM installations WHERE installation_id > ?1 ORDER BY installation_id LIMIT ?2",
            &[after.unwrap_or("").into(), num(u64::from(limit))],
        )
        .await
    }

    async fn upsert_account(
        &self,
        account_id: &str,
        account_name: &str,
        now_ms: u64,
    ) -> Result<(), PortError> {
        self.run(
            "upsert account",
            "INSERT INTO accounts (account_id, account_name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (account_id) DO UPDATE SET account_name = ?2, updated_at = ?3",
            // The accounts table (migration 0001) keeps its times as text.
            &[account_id.into(), account_name.into(), now_ms.to_string().into()],
        )
        .await
    }

    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, PortError> {
        self.first(
            "read account",
            "SELECT account_id, account_name, settings FROM accounts WHERE account_id = ?1",
            &[account_id.into()],
        )
        .await
    }

    async fn set_account_settings(
        &self,
        account_id: &str,
        settings: &str,
        now_ms: u64,
    ) -> Result<bool, PortError> {
        let result = self
            .stmt(
                "UPDATE accounts SET settings = ?2, updated_at = ?3 WHERE account_id = ?1",
                &[
                    account_id.into(),
                    settings.into(),
                    now_ms.to_string().into(),
                ],
            )?
            .run()
            .await
            .map_err(|e| PortError(format!("D1 account settings: {e}")))?;
        Ok(result
            .meta()
            .map_err(|e| PortError(format!("D1 account settings: {e}")))?
            .and_then(|m| m.changes)
            .unwrap_or(0)
            == 1)
    }

    async fn purge_events(&self, now_ms: u64) -> Result<(), PortError> {
        self.run(
            "purge events",
            "DELETE FROM events WHERE keep_until < ?1 AND status != 'received'",
            &[num(now_ms)],
        )
        .await?;
        // Finished jobs go with their events (same keep time); pending ones never.
        self.run(
            "purge jobs",
            "DELETE FROM jobs WHERE state != 'pending' AND updated_at < ?1",
            &[num(now_ms.saturating_sub(
                appconnect_core::lifecycle::intake::KEEP_EVENTS_MS,
            ))],
        )
        .await
    }
}
