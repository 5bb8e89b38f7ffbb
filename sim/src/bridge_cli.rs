//! `talkdesk-sim bridge`: play Talkdesk Integrations against a running worker's CRM bridge once
//! and print what came back as JSON (a report on success, `{"error": …}` and exit 1 otherwise).
//! A module of the binary only: the library's [`IntegrationsClient`] does the work.

use clap::Subcommand;
use serde_json::{json, Value};
use talkdesk_sim::{BridgeError, IntegrationsClient, InteractionQuery};

#[derive(Subcommand)]
pub enum BridgeCmd {
    /// Authorization validation (POST /auth).
    Activate,
    /// The initial full contact sync, every page.
    Sync,
    /// An incremental contact sync since a checkpoint.
    Incremental { checkpoint: String },
    /// The agent sync, every page.
    Agents,
    /// Interaction retrieval for a contact.
    Interactions {
        /// The contact's external id.
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// An email of the contact (repeatable).
        #[arg(long = "email")]
        emails: Vec<String>,
        /// A phone of the contact (repeatable).
        #[arg(long = "phone")]
        phones: Vec<String>,
        /// An interaction type asked for (repeatable).
        #[arg(long = "type")]
        types: Vec<String>,
    },
    /// Execute an action.
    Action {
        name: String,
        #[arg(long)]
        contact: String,
        #[arg(long)]
        agent: String,
        /// The action's inputs, a JSON object.
        #[arg(long, default_value = "{}")]
        data: String,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

/// The bridge's base URL: `{worker}/bridge`, unless `worker` already names it.
pub fn bridge_base(worker: &str) -> String {
    let worker = worker.trim_end_matches('/');
    if worker.ends_with("/bridge") {
        worker.to_string()
    } else {
        format!("{worker}/bridge")
    }
}

/// Runs one command; the report, or the error as JSON.
pub async fn run(worker: &str, key: &str, cmd: BridgeCmd) -> Result<Value, Value> {
    let client = IntegrationsClient::new(&bridge_base(worker), key);
    let err = |e: BridgeError| json!({"error": e.to_json()});
    match cmd {
        BridgeCmd::Activate => client.activate().await.map(|()| json!({"valid": true})),
        BridgeCmd::Sync => client.full_sync().await.map(|r| json!(r)),
        BridgeCmd::Incremental { checkpoint } => {
            client.incremental_sync(&checkpoint).await.map(|r| json!(r))
        }
        BridgeCmd::Agents => client
            .agents()
            .await
            .map(|a| json!({"count": a.len(), "agents": a})),
        BridgeCmd::Interactions {
            contact,
            name,
            emails,
            phones,
            types,
        } => client
            .interactions_for(&InteractionQuery {
                contact_external_id: contact,
                contact_name: name,
                emails,
                phones,
                types,
            })
            .await
            .map(|i| json!({"count": i.len(), "interactions": i})),
        BridgeCmd::Action {
            name,
            contact,
            agent,
            data,
            idempotency_key,
        } => {
            let data: Value = serde_json::from_str(&data)
                .map_err(|e| json!({"error": format!("--data: not JSON ({e})")}))?;
            client
                .action(&name, &contact, &agent, data, idempotency_key.as_deref())
                .await
                .map(|(status, answer)| json!({"status": status, "answer": answer}))
        }
    }
    .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_base_is_under_the_worker_origin_unless_given_whole() {
        assert_eq!(
            bridge_base("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787/bridge"
        );
        assert_eq!(
            bridge_base("http://127.0.0.1:8787/"),
            "http://127.0.0.1:8787/bridge"
        );
        assert_eq!(bridge_base("http://h/bridge/"), "http://h/bridge");
    }
}
