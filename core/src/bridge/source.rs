//! Where the bridge's data comes from: one port, two adapters. [`super::d1`] serves what the
//! operator imported into D1; [`super::rest`] reads the partner's own REST backend, described by
//! configuration. The sync rules (ordering, cursors, checkpoints) are the bridge's, so both
//! adapters only answer these questions.

use serde_json::{Map, Value};

use super::model::{Agent, Contact, Interaction};

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// Our storage or the partner's backend failed (logged; Talkdesk gets a 502 and retries).
    Unavailable(String),
    /// The action names a contact the source does not have (Talkdesk gets a 400).
    UnknownContact,
}

/// One page of the contacts that changed after `since`, in external-id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPage {
    /// Live contacts of the page (tombstones are not sent to Talkdesk).
    pub contacts: Vec<Contact>,
    /// The last external id the page covered, tombstones included: where the next page starts.
    pub last_id: Option<String>,
    /// Whether records may follow `last_id`.
    pub more: bool,
}

/// Whom interactions are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRef {
    pub external_id: Option<String>,
    pub emails: Vec<String>,
    /// E.164.
    pub phones: Vec<String>,
}

/// An action Talkdesk asked for, its inputs checked against the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    pub action: String,
    pub request_key: String,
    pub contact_external_id: String,
    pub agent_external_id: Option<String>,
    pub inputs: Map<String, Value>,
}

/// What an action made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    pub external_id: String,
    pub contact_external_url: String,
    pub message: Option<String>,
}

/// The data behind one account's bridge.
#[allow(async_fn_in_trait)]
pub trait BridgeSource {
    /// The account's change counter now: a checkpoint taken at the start of a sync.
    async fn high_water(&self, account_id: &str) -> Result<u64, SourceError>;
    /// Up to `limit` records changed after `since` with external ids after `after`, in
    /// external-id order.
    async fn contacts(
        &self,
        account_id: &str,
        since: u64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ContactPage, SourceError>;
    /// Up to `limit` live agents after `after`, in external-id order; and whether more follow.
    async fn agents(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Agent>, bool), SourceError>;
    /// The contact's interactions of `types`, newest first, at most `limit`.
    async fn interactions(
        &self,
        account_id: &str,
        contact: &ContactRef,
        types: &[String],
        limit: u32,
    ) -> Result<Vec<Interaction>, SourceError>;
    /// Performs an action (the bridge makes it idempotent by its request key).
    async fn act(&self, account_id: &str, req: &ActionRequest)
        -> Result<ActionResult, SourceError>;
}
