//! The five bridge endpoints over any [`BridgeSource`], with contract §6's shapes. The account is
//! the one the request's integration key belongs to (the caller names nothing else), so no
//! request can reach another account's data.
//!
//! **Contact sync.** Every page is in external-id order, whatever changes meanwhile: an edit does
//! not move a contact, so no contact is skipped or repeated across the pages of one sync. A sync
//! answers with the checkpoint taken when it started (the account's change counter), so a change
//! made during it is seen by the next incremental sync. The offset carries the sync's start
//! checkpoint, the checkpoint it syncs from, and the last external id served. Deleted contacts
//! are not sent (§6 defines no way to say a contact was deleted; see the README).

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::json::{read_bytes, Object, Reader};

use super::config::{Action, IntegrationConfig, KEY_FIELD};
use super::model::{self, FieldError};
use super::source::{ActionRequest, BridgeSource, ContactRef, SourceError};
use crate::crypto::{b64url, b64url_decode, sha256};

/// Interactions answered per look-up, newest first.
pub const MAX_INTERACTIONS: u32 = 50;
/// Source pages read to fill one answer when a page held only deleted contacts.
const MAX_READS_PER_PAGE: usize = 10;

/// Why a bridge request was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeError {
    /// 400, naming the field.
    BadRequest(FieldError),
    /// 401: the integration key is missing, malformed, unknown or replaced.
    Unauthorized,
    /// 404: no such action.
    NoSuchAction(String),
    /// 409 (the first request with this key is still running) or 422 (the key was used for
    /// another request).
    KeyConflict { status: u16, message: &'static str },
    /// 502: the source failed (logged by the caller).
    Unavailable(String),
}

impl From<FieldError> for BridgeError {
    fn from(e: FieldError) -> Self {
        BridgeError::BadRequest(e)
    }
}

impl From<SourceError> for BridgeError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Unavailable(why) => BridgeError::Unavailable(why),
            SourceError::UnknownContact => BridgeError::BadRequest(FieldError {
                path: "meta.contact_external_id".into(),
                problem: "is not a contact of this account".into(),
            }),
        }
    }
}

fn bad<T>(path: &str, problem: &str) -> Result<T, BridgeError> {
    Err(BridgeError::BadRequest(FieldError {
        path: path.to_owned(),
        problem: problem.to_owned(),
    }))
}

/// A bridge body: a JSON object. Its `auth` is checked first by [`integration_key`].
pub fn body(raw: &[u8]) -> Result<Map<String, Value>, BridgeError> {
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => bad("$", "must be a JSON object"),
        Err(_) => bad("$", "is not valid JSON"),
    }
}

/// The integration key of `auth`; a missing one is Talkdesk's "credentials invalid" (401).
pub fn integration_key(body: &Map<String, Value>) -> Result<&str, BridgeError> {
    body.get("auth")
        .and_then(Value::as_object)
        .and_then(|a| a.get(KEY_FIELD))
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or(BridgeError::Unauthorized)
}

fn object<'a>(
    body: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, BridgeError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => bad(key, "must be an object"),
    }
}

/// What a contact-sync offset remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Cursor {
    /// The checkpoint the sync is from (0: initial).
    c: u64,
    /// The checkpoint the sync answers with (the change counter when it started).
    h: u64,
    /// The last external id served.
    a: String,
}

fn encode<T: Serialize>(v: &T) -> String {
    b64url(serde_json::to_string(v).expect("serialises").as_bytes())
}

/// An offset [`encode`] wrote, read back by `read` (which sees an open object: the fields it
/// does not read are ignored, as serde would).
fn decode<T>(
    raw: &Value,
    path: &str,
    read: impl FnOnce(&mut Reader, &Object) -> T,
) -> Result<T, BridgeError> {
    raw.as_str()
        .filter(|s| s.len() <= 1024)
        .and_then(b64url_decode)
        .and_then(|b| read_bytes(&b, None, read).ok())
        .map_or_else(|| bad(path, "is not an offset this bridge gave"), Ok)
}

fn checkpoint(raw: &Value, path: &str) -> Result<u64, BridgeError> {
    match raw {
        Value::String(s) => s
            .parse::<u64>()
            .map_or_else(|_| bad(path, "is not a checkpoint this bridge gave"), Ok),
        Value::Number(n) => n
            .as_u64()
            .map_or_else(|| bad(path, "is not a checkpoint this bridge gave"), Ok),
        _ => bad(path, "must be a string"),
    }
}

/// `POST /bridge/contacts`.
pub async fn contacts<S: BridgeSource>(
    src: &S,
    page_size: u32,
    account_id: &str,
    body: &Map<String, Value>,
) -> Result<Value, BridgeError> {
    let meta = object(body, "meta")?;
    let field = |k: &str| meta.and_then(|m| m.get(k)).filter(|v| !v.is_null());
    let cursor = match (field("offset"), field("synchronization_checkpoint")) {
        // The offset says where the sync is; it also carries the sync's checkpoints.
        (Some(offset), _) => decode(offset, "meta.offset", |r, o| Cursor {
            c: r.number(o, "c", u64::MAX),
            h: r.number(o, "h", u64::MAX),
            a: r.text(o, "a"),
        })?,
        (None, Some(c)) => Cursor {
            c: checkpoint(c, "meta.synchronization_checkpoint")?,
            h: src.high_water(account_id).await?,
            a: String::new(),
        },
        (None, None) => Cursor {
            c: 0,
            h: src.high_water(account_id).await?,
            a: String::new(),
        },
    };
    let mut contacts = Vec::new();
    let mut after = cursor.a.clone();
    let mut more = true;
    for _ in 0..MAX_READS_PER_PAGE {
        let page = src
            .contacts(
                account_id,
                cursor.c,
                Some(&after).filter(|a| !a.is_empty()).map(String::as_str),
                page_size,
            )
            .await?;
        contacts.extend(page.contacts);
        more = page.more;
        if let Some(last) = page.last_id {
            after = last;
        }
        if !contacts.is_empty() || !more {
            break;
        }
    }
    let mut answer = json!({
        "contacts": contacts,
        "synchronization_checkpoint": cursor.h.to_string(),
    });
    if more {
        answer["next_offset"] = json!(encode(&Cursor { a: after, ..cursor }));
    }
    if let Some(context) = field("context") {
        answer["context"] = context.clone();
    }
    Ok(answer)
}

#[derive(Serialize)]
struct AgentCursor {
    a: String,
}

/// `POST /bridge/agents`.
pub async fn agents<S: BridgeSource>(
    src: &S,
    page_size: u32,
    account_id: &str,
    body: &Map<String, Value>,
) -> Result<Value, BridgeError> {
    let meta = object(body, "meta")?;
    let after = match meta.and_then(|m| m.get("offset")).filter(|v| !v.is_null()) {
        Some(o) => decode(o, "meta.offset", |r, o| r.text(o, "a"))?,
        None => String::new(),
    };
    let (agents, more) = src
        .agents(
            account_id,
            Some(&after).filter(|a| !a.is_empty()).map(String::as_str),
            page_size,
        )
        .await?;
    let mut answer = json!({ "agents": agents });
    if more {
        if let Some(last) = agents.last() {
            answer["next_offset"] = json!(encode(&AgentCursor { a: last.id.clone() }));
        }
    }
    Ok(answer)
}

fn strings(v: Option<&Value>, path: &str) -> Result<Vec<String>, BridgeError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= model::MAX_LIST => {
            let mut texts = Vec::with_capacity(items.len());
            for (i, s) in items.iter().enumerate() {
                match s.as_str() {
                    Some(s) if s.len() <= model::MAX_TEXT => texts.push(s.to_owned()),
                    _ => return bad(&format!("{path}[{i}]"), "must be a string"),
                }
            }
            Ok(texts)
        }
        Some(_) => bad(
            path,
            &format!("must be an array of at most {} strings", model::MAX_LIST),
        ),
    }
}

/// `POST /bridge/interactions`: a bare array, newest first.
pub async fn interactions<S: BridgeSource>(
    src: &S,
    cfg: &IntegrationConfig,
    account_id: &str,
    body: &Map<String, Value>,
) -> Result<Value, BridgeError> {
    let meta = object(body, "meta")?;
    let types = strings(
        meta.and_then(|m| m.get("interaction_types")),
        "meta.interaction_types",
    )?;
    for (i, t) in types.iter().enumerate() {
        if !cfg.interaction_types.contains(t) {
            return bad(
                &format!("meta.interaction_types[{i}]"),
                "is not an interaction type of this integration",
            );
        }
    }
    // None asked for: every type this integration declares.
    let types = if types.is_empty() {
        cfg.interaction_types.clone()
    } else {
        types
    };
    let data = object(body, "data")?.ok_or(BridgeError::BadRequest(FieldError {
        path: "data".into(),
        problem: "is missing".into(),
    }))?;
    let external_id = match data.get("contact_external_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(model::external_id(v, "data.contact_external_id")?),
    };
    let mut emails = Vec::new();
    for (i, e) in strings(data.get("contact_emails"), "data.contact_emails")?
        .iter()
        .enumerate()
    {
        emails.push(model::email(e, &format!("data.contact_emails[{i}]"))?);
    }
    let mut phones = Vec::new();
    for (i, p) in strings(data.get("contact_phones"), "data.contact_phones")?
        .iter()
        .enumerate()
    {
        let at = format!("data.contact_phones[{i}]");
        phones.push(model::phone(p, &cfg.default_country_code, &at)?);
    }
    if external_id.is_none() && emails.is_empty() && phones.is_empty() {
        return bad(
            "data",
            "needs contact_external_id, contact_emails or contact_phones",
        );
    }
    let found = src
        .interactions(
            account_id,
            &ContactRef {
                external_id,
                emails,
                phones,
            },
            &types,
            MAX_INTERACTIONS,
        )
        .await?;
    Ok(json!(found))
}

/// Checks an action's inputs against its declaration; the error names the field.
fn inputs(action: &Action, data: &Map<String, Value>) -> Result<Map<String, Value>, BridgeError> {
    for key in data.keys() {
        if !action.inputs.iter().any(|i| &i.key == key) {
            return bad(&format!("data.{key}"), "is not an input of this action");
        }
    }
    let mut out = Map::new();
    for input in &action.inputs {
        let path = format!("data.{}", input.key);
        let v = match data.get(&input.key) {
            None | Some(Value::Null) if input.mandatory => return bad(&path, "is missing"),
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let ok = match input.kind.as_str() {
            "string" | "text" => v.as_str().is_some_and(|s| {
                s.chars().count() <= input.max_length.unwrap_or(model::MAX_TEXT)
                    && (input.kind == "text" || !s.contains(['\n', '\r']))
                    && !s
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            }),
            "number" => v.as_f64().is_some_and(f64::is_finite),
            "boolean" => v.is_boolean(),
            "date" => v.as_str().is_some_and(|s| {
                model::is_rfc3339(s) || model::is_rfc3339(&format!("{s}T00:00:00Z"))
            }),
            "choice" => v
                .as_str()
                .is_some_and(|s| input.choices.iter().any(|c| c == s)),
            _ => false,
        };
        if !ok {
            return bad(&path, &format!("must be a valid {}", input.kind));
        }
        out.insert(input.key.clone(), v.clone());
    }
    Ok(out)
}

/// A checked action request. The request key is the `Idempotency-Key` header, or else the hash
/// of what was asked, so a retried request does nothing twice either way.
/// Without an `Idempotency-Key`, identical requests within this window (ms) are one action:
/// Talkdesk's retries come within it; the same note written again later is a new one.
pub const HASH_KEY_WINDOW_MS: u64 = 10 * 60 * 1000;

pub fn action_request(
    cfg: &IntegrationConfig,
    name: &str,
    idempotency_key: Option<&str>,
    body: &Map<String, Value>,
    now_ms: u64,
) -> Result<ActionRequest, BridgeError> {
    let action = cfg
        .action(name)
        .ok_or_else(|| BridgeError::NoSuchAction(name.chars().take(64).collect()))?;
    let meta = object(body, "meta")?.ok_or(BridgeError::BadRequest(FieldError {
        path: "meta".into(),
        problem: "is missing".into(),
    }))?;
    let contact = model::external_id(
        meta.get("contact_external_id").unwrap_or(&Value::Null),
        "meta.contact_external_id",
    )?;
    // Talkdesk names the agent acting (§6); the partner's backend records who did it.
    let agent = Some(model::external_id(
        meta.get("agent_external_id").unwrap_or(&Value::Null),
        "meta.agent_external_id",
    )?);
    let empty = Map::new();
    let data = object(body, "data")?.unwrap_or(&empty);
    let inputs = inputs(action, data)?;
    let request_key = match idempotency_key {
        Some(k) if (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            format!("key:{k}")
        }
        Some(_) => return bad("Idempotency-Key", "must be 1 to 200 printable characters"),
        None => {
            let asked = json!({"action": name, "contact": contact, "agent": agent,
                               "inputs": inputs, "window": now_ms / HASH_KEY_WINDOW_MS});
            format!("hash:{}", b64url(&sha256(asked.to_string().as_bytes())))
        }
    };
    Ok(ActionRequest {
        action: name.to_owned(),
        request_key,
        contact_external_id: contact,
        agent_external_id: agent,
        inputs,
    })
}

/// The 201 answer of an action.
pub fn action_answer(req: &ActionRequest, result: &super::source::ActionResult) -> Value {
    let mut v = json!({
        "external_id": result.external_id,
        "contact_external_id": req.contact_external_id,
        "contact_external_type": "contact",
        "contact_external_url": result.contact_external_url,
    });
    if let Some(m) = &result.message {
        v["message"] = json!(m);
    }
    v
}
