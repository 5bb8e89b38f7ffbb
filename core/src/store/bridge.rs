//! The bridge's statements (migration 0008): integration keys, the built-in contacts, agents and
//! interactions, and the actions' record. Imports bind a whole chunk as one JSON parameter and
//! expand it with `json_each`, so a chunk of hundreds of records is one statement (D1 caps bound
//! parameters per statement and queries per invocation).

use super::row_codec::{decode_all, Cols, FromRow};
use crate::ports::{Database, PortError, Statement};

/// Most records per import statement (the import also bounds a chunk's bytes).
pub const IMPORT_CHUNK: usize = 200;

/// One record to import: its external id, the JSON the bridge answers with, and look-up keys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportRow {
    pub id: String,
    /// JSON text.
    pub record: String,
    /// JSON array text (contacts: emails).
    pub emails: String,
    /// JSON array text (contacts: phones).
    pub phones: String,
    /// Interactions: their contact, time and type.
    pub contact: String,
    pub occurred_at: String,
    pub kind: String,
    pub deleted: i64,
}

/// Which table an import goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contacts,
    Agents,
    Interactions,
}

/// A stored record with its tombstone flag.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub external_id: String,
    pub record: String,
    pub deleted: i64,
}

impl FromRow for StoredRecord {
    fn from_row(c: &mut Cols) -> Self {
        StoredRecord {
            external_id: c.text("external_id"),
            record: c.text("record"),
            deleted: c.int("deleted"),
        }
    }
}

/// A recorded action.
struct ActionRow {
    action: String,
    request: String,
    answer: String,
    created_at: u64,
}

impl FromRow for ActionRow {
    fn from_row(c: &mut Cols) -> Self {
        ActionRow {
            action: c.text("action"),
            request: c.text("request"),
            answer: c.text("answer"),
            created_at: c.uint("created_at"),
        }
    }
}

pub struct BridgeStore<'a, D> {
    db: &'a D,
}

fn one_number(rows: &[crate::ports::Row], key: &str) -> u64 {
    rows.first()
        .and_then(|r| r.get(key))
        .and_then(serde_json::Value::as_f64)
        .map_or(0, |n| n as u64)
}

impl<'a, D: Database> BridgeStore<'a, D> {
    pub fn new(db: &'a D) -> BridgeStore<'a, D> {
        BridgeStore { db }
    }

    async fn all_rows<T: FromRow>(&self, s: Statement) -> Result<Vec<T>, PortError> {
        decode_all(s.name, self.db.query(&s).await?)
    }

    /// Replaces the account's integration key (only its hash is kept).
    pub async fn put_key(
        &self,
        account_id: &str,
        key_id: &str,
        key_hash: &str,
        now: u64,
    ) -> Result<(), PortError> {
        self.db
            .batch(&[
                Statement::new(
                    "replace integration key",
                    "DELETE FROM integration_keys WHERE account_id = ?1",
                    vec![account_id.into()],
                ),
                Statement::new(
                    "replace integration key",
                    "INSERT INTO integration_keys (key_id, account_id, key_hash, created_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                    vec![
                        key_id.into(),
                        account_id.into(),
                        key_hash.into(),
                        now.into(),
                    ],
                ),
            ])
            .await
    }

    /// The account and stored hash of a key id.
    pub async fn key(&self, key_id: &str) -> Result<Option<(String, String)>, PortError> {
        struct KeyRow {
            account_id: String,
            key_hash: String,
        }
        impl FromRow for KeyRow {
            fn from_row(c: &mut Cols) -> Self {
                KeyRow {
                    account_id: c.text("account_id"),
                    key_hash: c.text("key_hash"),
                }
            }
        }
        let rows: Vec<KeyRow> = self
            .all_rows(Statement::new(
                "read integration key",
                "SELECT account_id, key_hash FROM integration_keys WHERE key_id = ?1",
                vec![key_id.into()],
            ))
            .await?;
        Ok(rows.into_iter().next().map(|r| (r.account_id, r.key_hash)))
    }

    /// Upserts a chunk of at most [`IMPORT_CHUNK`] records; each changed record takes a new
    /// change number. A record identical to the stored one changes nothing (an import is
    /// idempotent). Returns how many records changed.
    pub async fn import(
        &self,
        kind: Kind,
        account_id: &str,
        rows: &[ImportRow],
    ) -> Result<u64, PortError> {
        self.db
            .execute(&import_statement(kind, account_id, rows))
            .await
    }

    /// Upserts several chunks in one transaction.
    pub async fn import_all(
        &self,
        kind: Kind,
        account_id: &str,
        chunks: &[&[ImportRow]],
    ) -> Result<(), PortError> {
        let statements: Vec<Statement> = chunks
            .iter()
            .map(|c| import_statement(kind, account_id, c))
            .collect();
        if statements.is_empty() {
            return Ok(());
        }
        self.db.batch(&statements).await
    }

    /// How many of the account's records of `kind` changed after change number `since`, and the
    /// counter now (an import's "changed" count is measured around its batch).
    pub async fn changed_since(
        &self,
        kind: Kind,
        account_id: &str,
        since: u64,
    ) -> Result<(u64, u64), PortError> {
        let table = match kind {
            Kind::Contacts => "SELECT COALESCE(SUM(seq > ?2), 0) AS n, COALESCE(MAX(seq), 0) AS h FROM bridge_contacts WHERE account_id = ?1",
            Kind::Agents => "SELECT COALESCE(SUM(seq > ?2), 0) AS n, COALESCE(MAX(seq), 0) AS h FROM bridge_agents WHERE account_id = ?1",
            Kind::Interactions => "SELECT COALESCE(SUM(seq > ?2), 0) AS n, COALESCE(MAX(seq), 0) AS h FROM bridge_interactions WHERE account_id = ?1",
        };
        let rows = self
            .db
            .query(&Statement::new(
                "count changes",
                table,
                vec![account_id.into(), since.into()],
            ))
            .await?;
        Ok((one_number(&rows, "n"), one_number(&rows, "h")))
    }

    /// The account's contact change counter.
    pub async fn contacts_high_water(&self, account_id: &str) -> Result<u64, PortError> {
        let rows = self
            .db
            .query(&Statement::new(
                "contacts high water",
                "SELECT COALESCE(MAX(seq), 0) AS n FROM bridge_contacts WHERE account_id = ?1",
                vec![account_id.into()],
            ))
            .await?;
        Ok(one_number(&rows, "n"))
    }

    /// Contacts (tombstones included) changed after `since`, after `after`, by external id.
    pub async fn contacts(
        &self,
        account_id: &str,
        since: u64,
        after: &str,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, PortError> {
        self.all_rows(Statement::new(
            "contacts page",
            "SELECT external_id, record, deleted FROM bridge_contacts \
             WHERE account_id = ?1 AND seq > ?2 AND external_id > ?3 \
             ORDER BY external_id LIMIT ?4",
            vec![
                account_id.into(),
                since.into(),
                after.into(),
                u64::from(limit).into(),
            ],
        ))
        .await
    }

    /// Live agents after `after`, by external id.
    pub async fn agents(
        &self,
        account_id: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, PortError> {
        self.all_rows(Statement::new(
            "agents page",
            "SELECT external_id, record, deleted FROM bridge_agents \
             WHERE account_id = ?1 AND deleted = 0 AND external_id > ?2 \
             ORDER BY external_id LIMIT ?3",
            vec![account_id.into(), after.into(), u64::from(limit).into()],
        ))
        .await
    }

    /// Live interactions of the contact named by external id, or by any of its emails or
    /// phones (JSON array texts), of `kinds` (a JSON array text; `[]` for all), newest first.
    pub async fn interactions(
        &self,
        account_id: &str,
        external_id: Option<&str>,
        emails: &str,
        phones: &str,
        kinds: &str,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, PortError> {
        self.all_rows(Statement::new(
            "interactions of a contact",
            "SELECT i.external_id, i.record, i.deleted FROM bridge_interactions i \
             WHERE i.account_id = ?1 AND i.deleted = 0 \
               AND (?5 = '[]' OR i.kind IN (SELECT value FROM json_each(?5))) \
               AND i.contact_external_id IN ( \
                 SELECT ?2 WHERE ?2 IS NOT NULL \
                 UNION SELECT c.external_id FROM bridge_contacts c, json_each(c.emails) e \
                   WHERE c.account_id = ?1 AND c.deleted = 0 \
                     AND e.value IN (SELECT value FROM json_each(?3)) \
                 UNION SELECT c.external_id FROM bridge_contacts c, json_each(c.phones) p \
                   WHERE c.account_id = ?1 AND c.deleted = 0 \
                     AND p.value IN (SELECT value FROM json_each(?4))) \
             ORDER BY i.occurred_at DESC, i.external_id DESC LIMIT ?6",
            vec![
                account_id.into(),
                external_id.into(),
                emails.into(),
                phones.into(),
                kinds.into(),
                u64::from(limit).into(),
            ],
        ))
        .await
    }

    /// The contact's stored record (live only).
    pub async fn contact(
        &self,
        account_id: &str,
        external_id: &str,
    ) -> Result<Option<String>, PortError> {
        let rows: Vec<StoredRecord> = self
            .all_rows(Statement::new(
                "read contact",
                "SELECT external_id, record, deleted FROM bridge_contacts \
                 WHERE account_id = ?1 AND external_id = ?2 AND deleted = 0",
                vec![account_id.into(), external_id.into()],
            ))
            .await?;
        Ok(rows.into_iter().next().map(|r| r.record))
    }

    /// What is recorded for an action's request key: `(action, request, answer)`; the answer is
    /// empty while the first request runs.
    pub async fn action_record(
        &self,
        account_id: &str,
        request_key: &str,
    ) -> Result<Option<(String, String, String)>, PortError> {
        let rows: Vec<ActionRow> = self
            .all_rows(Statement::new(
                "read action",
                "SELECT action, request, answer, created_at FROM bridge_actions \
                 WHERE account_id = ?1 AND request_key = ?2",
                vec![account_id.into(), request_key.into()],
            ))
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .map(|a| (a.action, a.request, a.answer)))
    }

    /// Claims a request key before the action runs; `false` if it is claimed already (a repeat,
    /// or a concurrent one), so the action never runs twice.
    pub async fn claim_action(
        &self,
        account_id: &str,
        request_key: &str,
        action: &str,
        request: &str,
        now: u64,
    ) -> Result<bool, PortError> {
        let n = self
            .db
            .execute(&Statement::new(
                "claim action",
                "INSERT INTO bridge_actions (account_id, request_key, action, request, answer, created_at) \
                 VALUES (?1, ?2, ?3, ?4, '', ?5) ON CONFLICT (account_id, request_key) DO NOTHING",
                vec![account_id.into(), request_key.into(), action.into(), request.into(), now.into()],
            ))
            .await?;
        Ok(n == 1)
    }

    /// Records the answer of a claimed action.
    pub async fn finish_action(
        &self,
        account_id: &str,
        request_key: &str,
        answer: &str,
    ) -> Result<(), PortError> {
        self.db
            .execute(&Statement::new(
                "finish action",
                "UPDATE bridge_actions SET answer = ?3 WHERE account_id = ?1 AND request_key = ?2",
                vec![account_id.into(), request_key.into(), answer.into()],
            ))
            .await
            .map(|_| ())
    }

    /// Releases a claim whose action failed, so Talkdesk's retry can run it.
    pub async fn release_action(
        &self,
        account_id: &str,
        request_key: &str,
    ) -> Result<(), PortError> {
        self.db
            .execute(&Statement::new(
                "release action",
                "DELETE FROM bridge_actions WHERE account_id = ?1 AND request_key = ?2 AND answer = ''",
                vec![account_id.into(), request_key.into()],
            ))
            .await
            .map(|_| ())
    }

    /// The account's latest actions (operator view): `[{action, request, answer, created_at}]`.
    pub async fn recent_actions(
        &self,
        account_id: &str,
        limit: u32,
    ) -> Result<Vec<serde_json::Value>, PortError> {
        let rows: Vec<ActionRow> = self
            .all_rows(Statement::new(
                "recent actions",
                "SELECT action, request, answer, created_at FROM bridge_actions \
                 WHERE account_id = ?1 AND answer != '' ORDER BY created_at DESC LIMIT ?2",
                vec![account_id.into(), u64::from(limit).into()],
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|a| {
                serde_json::json!({
                    "action": a.action,
                    "request": crate::json::parse(&a.request).unwrap_or_default(),
                    "answer": crate::json::parse(&a.answer).unwrap_or_default(),
                    "created_at": a.created_at,
                })
            })
            .collect())
    }

    /// How many actions were recorded for the account (operator view).
    pub async fn action_count(&self, account_id: &str) -> Result<u64, PortError> {
        let rows = self
            .db
            .query(&Statement::new(
                "count actions",
                "SELECT COUNT(*) AS n FROM bridge_actions WHERE account_id = ?1 AND answer != ''",
                vec![account_id.into()],
            ))
            .await?;
        Ok(one_number(&rows, "n"))
    }
}

/// One chunk's upsert: the chunk is bound as a single JSON parameter.
fn import_statement(kind: Kind, account_id: &str, rows: &[ImportRow]) -> Statement {
    let json = serde_json::to_string(rows).expect("rows serialise");
    let sql = match kind {
        Kind::Contacts => {
            "INSERT INTO bridge_contacts (account_id, external_id, record, emails, phones, seq, deleted) \
             SELECT ?1, json_extract(j.value, '$.id'), json_extract(j.value, '$.record'), \
               json_extract(j.value, '$.emails'), json_extract(j.value, '$.phones'), \
               (SELECT COALESCE(MAX(seq), 0) FROM bridge_contacts WHERE account_id = ?1) + j.key + 1, \
               json_extract(j.value, '$.deleted') \
             FROM json_each(?2) j WHERE 1 \
             ON CONFLICT (account_id, external_id) DO UPDATE SET record = excluded.record, \
               emails = excluded.emails, phones = excluded.phones, seq = excluded.seq, \
               deleted = excluded.deleted \
             WHERE bridge_contacts.record IS NOT excluded.record \
               OR bridge_contacts.deleted IS NOT excluded.deleted"
        }
        Kind::Agents => {
            "INSERT INTO bridge_agents (account_id, external_id, record, seq, deleted) \
             SELECT ?1, json_extract(j.value, '$.id'), json_extract(j.value, '$.record'), \
               (SELECT COALESCE(MAX(seq), 0) FROM bridge_agents WHERE account_id = ?1) + j.key + 1, \
               json_extract(j.value, '$.deleted') \
             FROM json_each(?2) j WHERE 1 \
             ON CONFLICT (account_id, external_id) DO UPDATE SET record = excluded.record, \
               seq = excluded.seq, deleted = excluded.deleted \
             WHERE bridge_agents.record IS NOT excluded.record \
               OR bridge_agents.deleted IS NOT excluded.deleted"
        }
        Kind::Interactions => {
            "INSERT INTO bridge_interactions (account_id, external_id, contact_external_id, \
               occurred_at, kind, record, seq, deleted) \
             SELECT ?1, json_extract(j.value, '$.id'), json_extract(j.value, '$.contact'), \
               json_extract(j.value, '$.occurred_at'), json_extract(j.value, '$.kind'), \
               json_extract(j.value, '$.record'), \
               (SELECT COALESCE(MAX(seq), 0) FROM bridge_interactions WHERE account_id = ?1) + j.key + 1, \
               json_extract(j.value, '$.deleted') \
             FROM json_each(?2) j WHERE 1 \
             ON CONFLICT (account_id, external_id) DO UPDATE SET \
               contact_external_id = excluded.contact_external_id, \
               occurred_at = excluded.occurred_at, kind = excluded.kind, \
               record = excluded.record, seq = excluded.seq, deleted = excluded.deleted \
             WHERE bridge_interactions.record IS NOT excluded.record \
               OR bridge_interactions.deleted IS NOT excluded.deleted \
               OR bridge_interactions.contact_external_id IS NOT excluded.contact_external_id"
        }
    };
    Statement::new("import records", sql, vec![account_id.into(), json.into()])
}
