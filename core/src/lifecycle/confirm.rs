//! Confirmation: an event is acted on only once Talkdesk has said it sent it. Events carry no
//! signature (docs/talkdesk-contract.md §2), so every event after the install is read back from
//! Talkdesk with the installation's own token, through the event's own `_links.self` (Talkdesk's
//! event resource may have an id of its own), or, for an event that has none, at the path built
//! from its envelope id. How an event is read back is a known unknown of the contract: it is all
//! in [`read_request`].
//!
//! Only an answer that contradicts the event proves it forged. An answer that proves nothing
//! (404, 403, 405, any other refusal) leaves it unconfirmed: retried, then parked for the
//! operator with its data kept. [`ConfirmedEvent`] can only be made here, so an event kind's
//! `apply` acts on Talkdesk's copy, never on the delivered body's word.

use serde_json::{Map, Value};

use super::outcome::{Outcome, Step};
use super::session::{api_failure, Session};
use super::{Ports, Settings};
use crate::store::records::{stamped_before, EventRecord, Installation};
use crate::talkdesk::api::{self, ApiError};
use crate::talkdesk::hosts::HostError;
use crate::talkdesk::http::HttpRequest;

/// Longest text kept from one of Talkdesk's fields.
const MAX_FIELD: usize = 64;

/// An event as Talkdesk has it, after it has confirmed sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedEvent {
    event_type: String,
    created_at: Option<String>,
    data: Map<String, Value>,
}

impl ConfirmedEvent {
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Talkdesk's own `created_at` stamp.
    pub fn created_at(&self) -> Option<&str> {
        self.created_at.as_deref()
    }

    /// A text field of `data`, as Talkdesk has it (cut to a sane length).
    pub fn text(&self, key: &str) -> Option<String> {
        self.data
            .get(key)
            .and_then(Value::as_str)
            .map(|v| v.chars().take(MAX_FIELD).collect())
    }
}

/// What Talkdesk's answer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed(ConfirmedEvent),
    /// Talkdesk's copy says otherwise: the delivered event is forged.
    Contradicted(String),
}

/// The request that reads `event` back: its own link when that is one to follow, else the
/// path built from its envelope id when it has no link. `Err` when its link is not one to
/// follow (off the installation's API root or the app's event path): that proves nothing.
pub fn read_request(
    s: &Settings<'_>,
    sess: &Session,
    event: &EventRecord,
) -> Result<Result<HttpRequest, HostError>, String> {
    match &event.self_href {
        None => Ok(sess.api.event(&event.event_id)),
        Some(href) => s
            .allowlist
            .check(href)
            .ok()
            .and_then(|url| sess.api.event_link(&url))
            .map(|link| Ok(sess.api.event_at(&link)))
            .ok_or_else(|| {
                "its _links.self is not the app's event path on the installation's API root"
                    .to_owned()
            }),
    }
}

/// Reads the job's event back from Talkdesk and judges it by what Talkdesk returns: the type,
/// the installation and account, the stamp, and for a rotation the new client and key ids.
/// `Err` ends the attempt: a transient failure retries, and an answer that proves nothing is
/// [`Outcome::Unconfirmed`].
pub async fn confirm<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    sess: &Session,
    inst: &Installation,
    event: &EventRecord,
) -> Step<Confirmation> {
    let request = read_request(s, sess, event).map_err(Outcome::Unconfirmed)?;
    let resp = sess.send(p, request).await?;
    let copy = match api::parse_event(&resp) {
        Ok(Value::Object(copy)) => copy,
        Ok(_) => return Err(Outcome::Retry("Talkdesk's copy is not an object".into())),
        Err(ApiError::NotFound) => {
            return Err(Outcome::Unconfirmed(
                "Talkdesk does not serve this event where it should (404)".into(),
            ))
        }
        Err(e @ (ApiError::Forbidden(_) | ApiError::Rejected { .. } | ApiError::Conflict(_))) => {
            return Err(Outcome::Unconfirmed(format!("reading the event back: {e}")))
        }
        Err(e) => return Err(api_failure(p, inst, "reading the event back", e).await),
    };
    judge(inst, event, copy).map_err(Outcome::Unconfirmed)
}

/// Talkdesk's copy against the delivered event. A field present in both and different is a
/// contradiction; one the copy leaves out proves nothing either way (`Err`: unconfirmed).
fn judge(
    inst: &Installation,
    event: &EventRecord,
    mut copy: Map<String, Value>,
) -> Result<Confirmation, String> {
    let data = match copy.remove("data") {
        Some(Value::Object(data)) => data,
        _ => Map::new(),
    };
    let text =
        |map: &Map<String, Value>, k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut expected: Vec<(&str, Option<String>, &str)> = vec![
        ("type", text(&copy, "type"), event.event_type.as_str()),
        (
            "installation_id",
            text(&data, "installation_id"),
            inst.installation_id.as_str(),
        ),
    ];
    if let Some(new) = &event.incoming {
        expected.push((
            "client_id",
            text(&data, "client_id"),
            new.client_id.as_str(),
        ));
        expected.push(("key_id", text(&data, "key_id"), new.key_id.as_str()));
    }
    let missing: Vec<&str> = expected
        .iter()
        .filter(|(_, got, _)| got.is_none())
        .map(|(name, _, _)| *name)
        .collect();
    let mut differs: Vec<&str> = expected
        .iter()
        .filter(|(_, got, want)| got.as_deref().is_some_and(|g| g != *want))
        .map(|(name, _, _)| *name)
        .collect();
    // Optional in a copy, but a copy that names another account is not this event.
    if text(&data, "account_id").is_some_and(|a| a != inst.account_id) {
        differs.push("account_id");
    }
    // Stamps are compared only when both are written the same way (`…Z`, same precision):
    // another rendering of the same instant is not a contradiction.
    if let Some(stamp) = text(&copy, "created_at") {
        if stamped_before(&stamp, &event.created_at) || stamped_before(&event.created_at, &stamp) {
            differs.push("created_at");
        }
    }
    if !differs.is_empty() {
        return Ok(Confirmation::Contradicted(format!(
            "Talkdesk's copy of the event differs in {}",
            differs.join(", ")
        )));
    }
    if !missing.is_empty() {
        return Err(format!(
            "Talkdesk's copy of the event leaves out {}",
            missing.join(", ")
        ));
    }
    Ok(Confirmation::Confirmed(ConfirmedEvent {
        event_type: event.event_type.clone(),
        created_at: text(&copy, "created_at"),
        data,
    }))
}
