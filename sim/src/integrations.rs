//! Talkdesk Integrations as a strict client of an app's CRM bridge (contract §6): it activates the
//! integration, runs the initial and incremental contact syncs and the agent sync page by page,
//! retrieves interactions and executes actions, and checks every answer with `bridge_rules`.
//!
//! It plays Talkdesk's side only: it never retries, refreshes or repairs, so what a test sees is
//! exactly what the bridge answered.

use crate::bridge_rules::{self, AgentsPage, ContactsPage};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// Pages one sync may take before the client calls it a loop (a bridge whose `next_offset` never
/// ends would otherwise keep a test running forever).
pub const MAX_SYNC_PAGES: usize = 100_000;
/// How long Talkdesk waits for one answer (not documented; long enough for a cold worker).
pub const BRIDGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a bridge call failed: the bridge said no, broke the contract, or could not be reached.
#[derive(Debug, Clone, PartialEq)]
pub enum BridgeError {
    /// An HTTP status other than the one the call succeeds with (200, or 201 for actions), and
    /// the body (JSON, or the text as a JSON string; `null` when empty).
    Status {
        endpoint: String,
        status: u16,
        body: Value,
    },
    /// The expected status with an answer that breaks a rule; `rule` starts with what it concerns
    /// (`page 2: contacts[0].id: required`).
    Contract { endpoint: String, rule: String },
    /// No answer: connection refused or dropped, or the timeout passed.
    Transport { endpoint: String, error: String },
}

impl BridgeError {
    /// The status of a [`BridgeError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            BridgeError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// The rule a [`BridgeError::Contract`] names.
    pub fn rule(&self) -> Option<&str> {
        match self {
            BridgeError::Contract { rule, .. } => Some(rule),
            _ => None,
        }
    }
    /// `{"kind": "status" | "contract" | "transport", "endpoint", …}` (what the CLI prints).
    pub fn to_json(&self) -> Value {
        match self {
            BridgeError::Status {
                endpoint,
                status,
                body,
            } => json!({"kind": "status", "endpoint": endpoint, "status": status, "body": body}),
            BridgeError::Contract { endpoint, rule } => {
                json!({"kind": "contract", "endpoint": endpoint, "rule": rule})
            }
            BridgeError::Transport { endpoint, error } => {
                json!({"kind": "transport", "endpoint": endpoint, "error": error})
            }
        }
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::Status {
                endpoint,
                status,
                body,
            } => write!(f, "{endpoint}: answered {status}: {body}"),
            BridgeError::Contract { endpoint, rule } => write!(f, "{endpoint}: {rule}"),
            BridgeError::Transport { endpoint, error } => {
                write!(f, "{endpoint}: no answer: {error}")
            }
        }
    }
}

impl std::error::Error for BridgeError {}

/// What one contact sync brought.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    /// Every contact of every page, in arrival order (repeats included).
    pub contacts: Vec<Value>,
    pub pages: usize,
    /// The `synchronization_checkpoint` of the last page: where the next incremental sync starts.
    pub checkpoint: String,
    /// Ids that arrived more than once in this sync, each listed once, in order of first repeat.
    /// Not an error by itself (a record edited mid-sync may legitimately move), so tests decide.
    pub repeated_ids: Vec<String>,
}

/// What Talkdesk sends to retrieve a contact's interactions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InteractionQuery {
    /// `None` for a contact that did not come from the CRM (sent as `null`).
    pub contact_external_id: Option<String>,
    /// `None` is sent as `null`.
    pub contact_name: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// `meta.interaction_types`: the answer may hold only these (when any are named).
    pub types: Vec<String>,
}

/// Talkdesk Integrations for one account, talking to one bridge.
#[derive(Debug, Clone)]
pub struct IntegrationsClient {
    base: String,
    key: String,
    http: reqwest::Client,
    max_pages: usize,
}

impl IntegrationsClient {
    /// `bridge_base` without a trailing slash, e.g. `http://127.0.0.1:8787/bridge`;
    /// `integration_key` is the value of the integration's one authentication field.
    pub fn new(bridge_base: &str, integration_key: &str) -> IntegrationsClient {
        IntegrationsClient {
            base: bridge_base.trim_end_matches('/').to_string(),
            key: integration_key.to_string(),
            http: http_client(BRIDGE_TIMEOUT),
            max_pages: MAX_SYNC_PAGES,
        }
    }

    /// Per-answer timeout instead of [`BRIDGE_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> IntegrationsClient {
        self.http = http_client(timeout);
        self
    }

    /// Page guard instead of [`MAX_SYNC_PAGES`] (tests of a looping bridge).
    pub fn with_max_pages(mut self, pages: usize) -> IntegrationsClient {
        self.max_pages = pages;
        self
    }

    /// The `auth` member every request carries: `{"integration_key": KEY}`.
    pub fn auth(&self) -> Value {
        json!({"integration_key": self.key})
    }

    /// Authorization validation: `POST /auth {auth}`; 200 (empty or an object) is valid, any other
    /// status (401: invalid) is [`BridgeError::Status`].
    pub async fn activate(&self) -> Result<(), BridgeError> {
        let v = self
            .call("/auth", json!({"auth": self.auth()}), 200, None)
            .await?;
        bridge_rules::auth_answer(&v).map_err(|rule| contract("/auth", rule))
    }

    /// The initial full sync: `meta {}`, then `meta {offset, synchronization_checkpoint (of the
    /// page before), context (echoed)}` while the answer has a `next_offset`.
    pub async fn full_sync(&self) -> Result<SyncReport, BridgeError> {
        self.sync(None).await
    }

    /// An incremental sync since `checkpoint`: `meta {synchronization_checkpoint}`, then the same
    /// checkpoint with each `offset` (and `context` echoed).
    pub async fn incremental_sync(&self, checkpoint: &str) -> Result<SyncReport, BridgeError> {
        self.sync(Some(checkpoint)).await
    }

    async fn sync(&self, since: Option<&str>) -> Result<SyncReport, BridgeError> {
        let mut meta = Map::new();
        if let Some(cp) = since {
            meta.insert("synchronization_checkpoint".into(), json!(cp));
        }
        let mut report = SyncReport {
            contacts: vec![],
            pages: 0,
            checkpoint: String::new(),
            repeated_ids: vec![],
        };
        let mut seen = HashSet::new();
        loop {
            let body = json!({"auth": self.auth(), "meta": meta});
            let v = self.call("/contacts", body, 200, None).await?;
            report.pages += 1;
            let page: ContactsPage = bridge_rules::contacts_page(&v)
                .map_err(|r| contract("/contacts", format!("page {}: {r}", report.pages)))?;
            for c in &page.contacts {
                let id = c["id"].as_str().unwrap_or_default().to_string();
                if !seen.insert(id.clone()) && !report.repeated_ids.contains(&id) {
                    report.repeated_ids.push(id);
                }
            }
            report.contacts.extend(page.contacts);
            report.checkpoint = page.checkpoint.clone();
            let Some(offset) = page.next_offset else {
                return Ok(report);
            };
            meta = next_meta(&meta, offset, report.pages, self.max_pages)
                .map_err(|r| contract("/contacts", r))?;
            let cp = since.map_or(page.checkpoint, str::to_string);
            meta.insert("synchronization_checkpoint".into(), json!(cp));
            if let Some(ctx) = page.context {
                meta.insert("context".into(), ctx);
            }
        }
    }

    /// Agent sync: `meta {}`, then `meta {offset}` while the answer has a `next_offset`; no agent
    /// id twice.
    pub async fn agents(&self) -> Result<Vec<Value>, BridgeError> {
        let mut meta = Map::new();
        let (mut agents, mut pages, mut seen) = (vec![], 0, HashSet::new());
        loop {
            let body = json!({"auth": self.auth(), "meta": meta});
            let v = self.call("/agents", body, 200, None).await?;
            pages += 1;
            let page: AgentsPage = bridge_rules::agents_page(&v)
                .map_err(|r| contract("/agents", format!("page {pages}: {r}")))?;
            for a in &page.agents {
                let id = a["id"].as_str().unwrap_or_default().to_string();
                if !seen.insert(id.clone()) {
                    return Err(contract(
                        "/agents",
                        format!("page {pages}: agent id {id:?} repeated"),
                    ));
                }
            }
            agents.extend(page.agents);
            let Some(offset) = page.next_offset else {
                return Ok(agents);
            };
            meta = next_meta(&meta, offset, pages, self.max_pages)
                .map_err(|r| contract("/agents", r))?;
        }
    }

    /// Interaction retrieval for a contact known by external id (or not), emails and phones,
    /// asking for `types` (`contact_name` sent as `null`; see [`Self::interactions_for`]).
    pub async fn interactions(
        &self,
        contact_external_id: Option<&str>,
        emails: &[&str],
        phones: &[&str],
        types: &[&str],
    ) -> Result<Vec<Value>, BridgeError> {
        let owned = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        self.interactions_for(&InteractionQuery {
            contact_external_id: contact_external_id.map(str::to_string),
            contact_name: None,
            emails: owned(emails),
            phones: owned(phones),
            types: owned(types),
        })
        .await
    }

    /// `POST /interactions {auth, meta {interaction_types}, data {contact_external_id,
    /// contact_name, contact_emails, contact_phones}}`; the answer is a bare array.
    pub async fn interactions_for(&self, q: &InteractionQuery) -> Result<Vec<Value>, BridgeError> {
        let body = json!({
            "auth": self.auth(),
            "meta": {"interaction_types": q.types},
            "data": {
                "contact_external_id": q.contact_external_id,
                "contact_name": q.contact_name,
                "contact_emails": q.emails,
                "contact_phones": q.phones,
            },
        });
        let v = self.call("/interactions", body, 200, None).await?;
        let types: Vec<&str> = q.types.iter().map(String::as_str).collect();
        bridge_rules::interactions(&v, &types).map_err(|r| contract("/interactions", r))
    }

    /// Action execution: `POST /actions/{name} {auth, meta {contact_external_id,
    /// agent_external_id}, data}` with `Idempotency-Key` when given. Success is 201 with
    /// `external_id` and `contact_external_url`; returns the status and the answer.
    pub async fn action(
        &self,
        name: &str,
        contact_external_id: &str,
        agent_external_id: &str,
        data: Value,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Value), BridgeError> {
        let path = format!("/actions/{name}");
        let body = json!({
            "auth": self.auth(),
            "meta": {
                "contact_external_id": contact_external_id,
                "agent_external_id": agent_external_id,
            },
            "data": data,
        });
        let v = self.call(&path, body, 201, idempotency_key).await?;
        bridge_rules::action_answer(&v).map_err(|r| contract(&path, r))?;
        Ok((201, v))
    }

    /// `POST {base}{path}` with `body` exactly as given (no `auth` added), for hostile tests. The
    /// answer as JSON, or its text as a JSON string; status 0 and the error text when there was
    /// no answer.
    pub async fn raw(&self, path: &str, body: Value) -> (u16, Value) {
        match self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
        {
            Err(e) => (0, Value::String(crate::delivery::chain(&e))),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                (status, parse_or_text(&text))
            }
        }
    }

    /// POSTs and returns the JSON answer when the status is `expected` (`null` for an empty
    /// body); a JSON answer must say so in its `Content-Type`.
    async fn call(
        &self,
        path: &str,
        body: Value,
        expected: u16,
        idempotency_key: Option<&str>,
    ) -> Result<Value, BridgeError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let transport = |e: reqwest::Error| BridgeError::Transport {
            endpoint: path.to_string(),
            error: crate::delivery::chain(&e),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.map_err(transport)?;
        if status != expected {
            return Err(BridgeError::Status {
                endpoint: path.to_string(),
                status,
                body: parse_or_text(&text),
            });
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        if crate::http::media_type(content_type.as_deref()).as_deref() != Some("application/json") {
            let shown = content_type.map_or("absent".into(), |c| format!("{c:?}"));
            return Err(contract(
                path,
                format!("content-type: {shown} is not application/json"),
            ));
        }
        serde_json::from_str(&text).map_err(|e| contract(path, format!("answer: not JSON ({e})")))
    }
}

/// The `meta` of the page after one that named `offset`: refuses an offset that would ask for the
/// same page again, and a sync past the page guard.
fn next_meta(
    meta: &Map<String, Value>,
    offset: Value,
    pages: usize,
    max_pages: usize,
) -> Result<Map<String, Value>, String> {
    if meta.get("offset") == Some(&offset) {
        return Err(format!(
            "page {pages}: next_offset {offset} is the offset just asked for (the sync would never end)"
        ));
    }
    if pages >= max_pages {
        return Err(format!(
            "page {pages}: still a next_offset after {max_pages} pages (a paging loop?)"
        ));
    }
    let mut next = Map::new();
    next.insert("offset".into(), offset);
    Ok(next)
}

fn contract(endpoint: &str, rule: String) -> BridgeError {
    BridgeError::Contract {
        endpoint: endpoint.to_string(),
        rule,
    }
}

fn parse_or_text(text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("http client")
}

#[cfg(test)]
#[path = "integrations_tests.rs"]
mod tests;
