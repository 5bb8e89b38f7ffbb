//! Confirmation: an event is acted on only once Talkdesk has said it sent it. Events carry no
//! signature (docs/talkdesk-contract.md §2), so every event after the install is read back from
//! Talkdesk with the installation's own token. [`ConfirmedEvent`] can only be made here, so an
//! event kind's `apply` that takes one cannot act on a delivered body's word: it reads
//! Talkdesk's copy of the fields it uses.

use serde_json::{Map, Value};

use super::outcome::Step;
use super::session::{api_failure, Session};
use super::Ports;
use crate::store::records::{Installation, Job};
use crate::talkdesk::api::{self, ApiError};

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

/// Reads the job's event back from Talkdesk: `None` when Talkdesk never sent it (a forgery) or
/// its copy is of another type or installation.
pub async fn confirm<P: Ports>(
    p: &P,
    sess: &Session,
    inst: &Installation,
    job: &Job,
    expected_type: &str,
) -> Step<Option<ConfirmedEvent>> {
    let resp = sess.send(p, sess.api.event(&job.event_id)).await?;
    match api::parse_event(&resp) {
        Ok(Value::Object(mut copy)) => {
            let same = copy.get("type").and_then(Value::as_str) == Some(expected_type)
                && copy
                    .get("data")
                    .and_then(|d| d.get("installation_id"))
                    .and_then(Value::as_str)
                    == Some(inst.installation_id.as_str());
            if !same {
                return Ok(None);
            }
            let data = match copy.remove("data") {
                Some(Value::Object(data)) => data,
                _ => Map::new(),
            };
            Ok(Some(ConfirmedEvent {
                event_type: expected_type.to_owned(),
                created_at: copy
                    .get("created_at")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                data,
            }))
        }
        // `parse_event` answers objects only; anything else reads as not confirmed.
        Ok(_) => Ok(None),
        Err(ApiError::NotFound) => Ok(None),
        Err(e) => Err(api_failure(p, inst, "reading the event back", e).await),
    }
}
