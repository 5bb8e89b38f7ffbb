//! The built-in source: what the operator imported into D1 (`POST /admin/accounts/{id}/…`).
//! An action becomes an interaction of the contact (a note, a logged call), so Talkdesk sees it
//! in the contact's history.

use serde_json::Value;

use super::model::{Agent, Contact, Interaction, Stored};
use super::source::{
    ActionRequest, ActionResult, BridgeSource, ContactPage, ContactRef, SourceError,
};
use crate::crypto::random_text;
use crate::json::read_bytes;
use crate::ports::{Database, PortError};
use crate::store::bridge::{BridgeStore, ImportRow, Kind};

pub struct D1Source<'a, D> {
    pub store: BridgeStore<'a, D>,
    /// Where a contact without its own URL is shown (the app's page).
    pub app_url: String,
    /// RFC 3339 now, for the interactions actions make.
    pub now_rfc3339: String,
    /// The configured interaction types (an action's interaction takes one of them).
    pub types: Vec<String>,
}

fn unavailable(e: PortError) -> SourceError {
    SourceError::Unavailable(format!("D1: {}", e.0))
}

fn parse<T: Stored>(record: &str) -> Result<T, SourceError> {
    read_bytes(record.as_bytes(), None, T::read)
        .map_err(|e| SourceError::Unavailable(format!("a stored record does not parse: {e}")))
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("strings serialise")
}

impl<D: Database> BridgeSource for D1Source<'_, D> {
    async fn high_water(&self, account_id: &str) -> Result<u64, SourceError> {
        self.store
            .contacts_high_water(account_id)
            .await
            .map_err(unavailable)
    }

    async fn contacts(
        &self,
        account_id: &str,
        since: u64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ContactPage, SourceError> {
        let rows = self
            .store
            .contacts(account_id, since, after.unwrap_or(""), limit)
            .await
            .map_err(unavailable)?;
        let more = rows.len() == limit as usize;
        let last_id = rows.last().map(|r| r.external_id.clone());
        let mut contacts = Vec::new();
        for r in rows.iter().filter(|r| r.deleted == 0) {
            contacts.push(parse::<Contact>(&r.record)?);
        }
        Ok(ContactPage {
            contacts,
            last_id,
            more,
        })
    }

    async fn agents(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Agent>, bool), SourceError> {
        let rows = self
            .store
            .agents(account_id, after.unwrap_or(""), limit)
            .await
            .map_err(unavailable)?;
        let more = rows.len() == limit as usize;
        let mut agents = Vec::new();
        for r in &rows {
            agents.push(parse::<Agent>(&r.record)?);
        }
        Ok((agents, more))
    }

    async fn interactions(
        &self,
        account_id: &str,
        contact: &ContactRef,
        types: &[String],
        limit: u32,
    ) -> Result<Vec<Interaction>, SourceError> {
        let rows = self
            .store
            .interactions(
                account_id,
                contact.external_id.as_deref(),
                &json_list(&contact.emails),
                &json_list(&contact.phones),
                &json_list(types),
                limit,
            )
            .await
            .map_err(unavailable)?;
        let mut interactions = Vec::with_capacity(rows.len());
        for r in &rows {
            interactions.push(parse::<Interaction>(&r.record)?);
        }
        Ok(interactions)
    }

    async fn act(
        &self,
        account_id: &str,
        req: &ActionRequest,
    ) -> Result<ActionResult, SourceError> {
        let contact: Contact = match self
            .store
            .contact(account_id, &req.contact_external_id)
            .await
            .map_err(unavailable)?
        {
            Some(record) => parse(&record)?,
            None => return Err(SourceError::UnknownContact),
        };
        let kind = match req.action.as_str() {
            "log_call" if self.types.iter().any(|t| t == "call") => "call".to_owned(),
            _ if self.types.iter().any(|t| t == "note") => "note".to_owned(),
            _ => self.types.first().cloned().unwrap_or_else(|| "note".into()),
        };
        let text_input = |k: &str| req.inputs.get(k).and_then(Value::as_str).map(str::to_owned);
        let interaction = Interaction {
            id: format!("act-{}", random_text::<12>()),
            subject: text_input("subject").unwrap_or_else(|| req.action.replace('_', " ")),
            description: text_input("body")
                .or_else(|| Some(Value::Object(req.inputs.clone()).to_string())),
            date: self.now_rfc3339.clone(),
            url: None,
            kind: kind.clone(),
            priority: None,
            status: None,
        };
        let row = ImportRow {
            id: interaction.id.clone(),
            record: serde_json::to_string(&interaction).expect("serialises"),
            emails: "[]".into(),
            phones: "[]".into(),
            contact: req.contact_external_id.clone(),
            occurred_at: super::model::rfc3339_ms(&interaction.date)
                .map(super::model::sortable_utc)
                .unwrap_or_default(),
            kind,
            deleted: 0,
        };
        self.store
            .import(Kind::Interactions, account_id, &[row])
            .await
            .map_err(unavailable)?;
        Ok(ActionResult {
            external_id: interaction.id,
            contact_external_url: contact.url.unwrap_or_else(|| self.app_url.clone()),
            message: Some(format!("{} recorded", req.action.replace('_', " "))),
        })
    }
}
