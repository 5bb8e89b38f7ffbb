//! The bridge's routes: Talkdesk Integrations' five endpoints (`POST /bridge/…`), the operator's
//! integration keys and imports, and the manifest. The rules are in [`crate::bridge`].

use serde_json::json;

use super::Head;
use crate::bridge::config::IntegrationConfig;
use crate::bridge::connector::ConnectorSettings;
use crate::bridge::d1::D1Source;
use crate::bridge::import;
use crate::bridge::keys;
use crate::bridge::rest::RestSource;
use crate::bridge::serve::{self, BridgeError};
use crate::bridge::source::BridgeSource;
use crate::config::{Config, ConfigError, PARTNER_API_BASE_URL, PUBLIC_BASE_URL};
use crate::http::{ApiError, Reply, Route};
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log};
use crate::secret::SecretString;
use crate::store::bridge::{BridgeStore, Kind};

fn error_reply(log: &impl Log, e: BridgeError) -> Reply {
    match e {
        BridgeError::BadRequest(f) => ApiError::BadRequest {
            error: "invalid_field",
            path: Some(f.path.clone()),
            message: f.to_string(),
        }
        .reply(),
        BridgeError::Unauthorized => Reply::json(
            401,
            &json!({
                "error": "invalid_credentials",
                "message": "auth.integration_key is not a valid integration key",
            }),
        ),
        BridgeError::KeyConflict { status, message } => Reply::json(
            status,
            &json!({"error": "idempotency_conflict", "message": message}),
        ),
        BridgeError::NoSuchAction(name) => Reply::json(
            404,
            &json!({"error": "not_found", "message": format!("no action named {}", crate::json::quoted(&name))}),
        ),
        BridgeError::Unavailable(why) => {
            log.error("bridge_source_failed", &why);
            Reply::json(
                502,
                &json!({"error": "unavailable", "message": "the data source did not answer; try again"}),
            )
        }
    }
}

/// `POST /bridge/{auth,contacts,agents,interactions,actions/{name}}`.
pub async fn call<P: Ports>(
    p: &P,
    config: &Config,
    route: Route,
    head: &Head,
    body: &[u8],
) -> Reply {
    let cfg = IntegrationConfig::load();
    let body = match serve::body(body) {
        Ok(b) => b,
        Err(e) => return error_reply(p.log(), e),
    };
    let key = match serve::integration_key(&body) {
        Ok(k) => k,
        Err(e) => return error_reply(p.log(), e),
    };
    let store = BridgeStore::new(p.db());
    let account_id = match keys::account_of(&store, key).await {
        Ok(Some(a)) => a,
        Ok(None) => return error_reply(p.log(), BridgeError::Unauthorized),
        Err(e) => return error_reply(p.log(), BridgeError::Unavailable(format!("keys: {}", e.0))),
    };
    if let Some(api) = config
        .partner_api
        .as_ref()
        .filter(|api| api.account_id == account_id)
    {
        let Some(connector) = cfg.connector.as_ref() else {
            return ApiError::Config(ConfigError {
                setting: PARTNER_API_BASE_URL,
                problem: "is set, but integration/integration.json has no connector".into(),
            })
            .reply();
        };
        let settings = match ConnectorSettings::new(&api.base_url, api.token.clone(), &api.hosts) {
            Ok(s) => s,
            Err(why) => {
                return ApiError::Config(ConfigError {
                    setting: PARTNER_API_BASE_URL,
                    problem: why,
                })
                .reply()
            }
        };
        let source = RestSource::new(p.http(), connector, &settings, &cfg.default_country_code);
        return serve_with(p, config, &cfg, &source, route, head, &account_id, &body).await;
    }
    let source = D1Source {
        store: BridgeStore::new(p.db()),
        app_url: config
            .public_base_url
            .as_ref()
            .map_or_else(|| "/app".to_owned(), |b| b.join("/app")),
        now_rfc3339: crate::calendar::rfc3339_of_ms(p.clock().now_ms()),
        types: cfg.interaction_types.clone(),
    };
    serve_with(p, config, &cfg, &source, route, head, &account_id, &body).await
}

/// Answers a bridge call from `source`.
#[allow(clippy::too_many_arguments)]
async fn serve_with<P: Ports, S: BridgeSource>(
    p: &P,
    config: &Config,
    cfg: &IntegrationConfig,
    source: &S,
    route: Route,
    head: &Head,
    account_id: &str,
    body: &serde_json::Map<String, serde_json::Value>,
) -> Reply {
    let page_size = config.bridge_page_size.unwrap_or(cfg.page_size);
    let answer = match route {
        Route::BridgeAuth => Ok((200, json!({}))),
        Route::BridgeContacts => serve::contacts(source, page_size, account_id, body)
            .await
            .map(|v| (200, v)),
        Route::BridgeAgents => serve::agents(source, page_size, account_id, body)
            .await
            .map(|v| (200, v)),
        Route::BridgeInteractions => serve::interactions(source, cfg, account_id, body)
            .await
            .map(|v| (200, v)),
        Route::BridgeAction(name) => act(p, source, cfg, account_id, &name, head, body).await,
        _ => Err(BridgeError::NoSuchAction(String::new())),
    };
    match answer {
        Ok((status, v)) => Reply::json(status, &v),
        Err(e) => error_reply(p.log(), e),
    }
}

/// An action, once per request key: the key is claimed before the action runs, so a repeat
/// (even a concurrent one) never runs it twice; it answers what the first got.
async fn act<P: Ports, S: BridgeSource>(
    p: &P,
    source: &S,
    cfg: &IntegrationConfig,
    account_id: &str,
    name: &str,
    head: &Head,
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<(u16, serde_json::Value), BridgeError> {
    let now = p.clock().now_ms();
    let req = serve::action_request(cfg, name, head.idempotency_key.as_deref(), body, now)?;
    let store = BridgeStore::new(p.db());
    let unavailable =
        |e: crate::ports::PortError| BridgeError::Unavailable(format!("actions: {}", e.0));
    let asked = json!({"contact": req.contact_external_id, "agent": req.agent_external_id,
                       "inputs": req.inputs})
    .to_string();
    if !store
        .claim_action(account_id, &req.request_key, name, &asked, now)
        .await
        .map_err(unavailable)?
    {
        let Some((action, request, answer)) = store
            .action_record(account_id, &req.request_key)
            .await
            .map_err(unavailable)?
        else {
            return Err(BridgeError::Unavailable("an action claim vanished".into()));
        };
        if action != name || request != asked {
            return Err(BridgeError::KeyConflict {
                status: 422,
                message: "this Idempotency-Key was used for another request",
            });
        }
        if answer.is_empty() {
            return Err(BridgeError::KeyConflict {
                status: 409,
                message: "the first request with this key is still running; retry",
            });
        }
        return Ok((201, crate::json::parse(&answer).unwrap_or_default()));
    }
    let result = match source.act(account_id, &req).await {
        Ok(r) => r,
        Err(e) => {
            // Not done: the key is free again for Talkdesk's retry.
            let _ = store.release_action(account_id, &req.request_key).await;
            return Err(e.into());
        }
    };
    let answer = serve::action_answer(&req, &result);
    store
        .finish_action(account_id, &req.request_key, &answer.to_string())
        .await
        .map_err(unavailable)?;
    p.log()
        .info("bridge_action", &format!("{account_id}: {name}"));
    Ok((201, answer))
}

async fn account_known<P: Ports>(p: &P, account_id: &str) -> Result<(), Reply> {
    match p.store().account(account_id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ApiError::NoSuch { what: "account" }.reply()),
        Err(e) => {
            p.log()
                .error("account_read_failed", &format!("{account_id}: {}", e.0));
            Err(ApiError::Internal.reply())
        }
    }
}

/// `POST /admin/accounts/{id}/integration-key`: a new key, shown once, replacing the old one.
pub async fn issue_key<P: Ports>(p: &P, account_id: &str) -> Reply {
    if let Err(r) = account_known(p, account_id).await {
        return r;
    }
    let store = BridgeStore::new(p.db());
    match keys::issue(&store, account_id, p.clock().now_ms()).await {
        Ok(key) => {
            p.log().info("integration_key_issued", account_id);
            key_reply(&key)
        }
        Err(e) => {
            p.log()
                .error("integration_key_failed", &format!("{account_id}: {}", e.0));
            ApiError::Internal.reply()
        }
    }
}

fn key_reply(key: &SecretString) -> Reply {
    Reply::json(200, &json!({ "integration_key": key.expose() }))
}

/// `POST /admin/accounts/{id}/{contacts,agents,interactions}`: JSON array or CSV.
pub async fn import_records<P: Ports>(
    p: &P,
    account_id: &str,
    kind: Kind,
    head: &Head,
    body: &[u8],
) -> Reply {
    if let Err(r) = account_known(p, account_id).await {
        return r;
    }
    let cfg = IntegrationConfig::load();
    let checked = import::records(kind, head.content_type.as_deref(), body).and_then(|records| {
        import::rows(
            kind,
            &records,
            &cfg.default_country_code,
            &cfg.interaction_types,
        )
    });
    let rows = match checked {
        Ok(rows) => rows,
        Err(f) => {
            return ApiError::BadRequest {
                error: "invalid_field",
                path: Some(f.path.clone()),
                message: f.to_string(),
            }
            .reply()
        }
    };
    let store = BridgeStore::new(p.db());
    match import::store(&store, kind, account_id, &rows).await {
        Ok(changed) => Reply::json(200, &json!({"received": rows.len(), "changed": changed})),
        Err(e) => {
            p.log()
                .error("import_failed", &format!("{account_id}: {}", e.0));
            ApiError::Internal.reply()
        }
    }
}

/// `GET /integration/manifest`.
pub fn manifest(config: &Config) -> Reply {
    match &config.public_base_url {
        Some(base) => Reply::json(
            200,
            &crate::bridge::manifest::manifest(&IntegrationConfig::load(), base.origin()),
        ),
        None => ApiError::Config(ConfigError {
            setting: PUBLIC_BASE_URL,
            problem: "is missing: the manifest's endpoints are under it".into(),
        })
        .reply(),
    }
}
