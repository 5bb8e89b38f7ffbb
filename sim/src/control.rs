//! The `/_sim/…` JSON control API (loopback only) that the CLI subcommands talk to. Each route is a
//! thin wrapper over the same `Core` calls the library handle makes (state, `scripts`, `delivery`);
//! a [`SimError`] answers 400 for input the simulator cannot act on, 404 for anything unknown.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /_sim/health` | | base URL, app id, callback, SSO settings |
//! | `POST /_sim/config` | `{callback_url?, time_scale?, token_ttl_secs?, event_reads?, token_rate_limit?, auto_sign_in?}` | settings |
//! | `GET /_sim/redirect-uris` / `POST /_sim/redirect-uris` | `{uri}` | registered redirect URIs |
//! | `POST /_sim/authorize-mode` | `{mode: normal\|refuse\|deny\|replay}` | |
//! | `POST /_sim/id-token-fault` | `{fault: wrong_issuer\|wrong_audience\|expired\|wrong_nonce\|missing_nonce\|bad_signature}` | next `id_token` only |
//! | `POST /_sim/install` | [`InstallSpec`] | [`crate::Installed`] |
//! | `GET /_sim/installations[/{id}]` | | [`crate::InstallationView`]s |
//! | `GET /_sim/installations/{id}/members` | | [`crate::SimUser`]s, licensed first |
//! | `GET /_sim/installations/{id}/user-tokens` | | [`crate::IssuedUserToken`]s |
//! | `POST /_sim/installations/{id}/codes/expire` | | |
//! | `POST /_sim/installations/{id}/update` | [`UpdateSpec`] | [`crate::Sent`] |
//! | `POST /_sim/installations/{id}/rotate` | `{algorithm?}` | [`crate::Rotated`] |
//! | `POST /_sim/installations/{id}/uninstall` | `{type?, message?}` | [`crate::Sent`] |
//! | `POST /_sim/installations/{id}/remove` | | deprovision now |
//! | `POST /_sim/installations/{id}/trial/{started\|extended\|ended}` | [`TrialSpec`] | [`crate::Sent`] |
//! | `POST /_sim/installations/{id}/logout` | `{user}` | [`crate::Sent`] |
//! | `POST /_sim/installations/{id}/credentials/{client_id}/revoke` | | |
//! | `GET /_sim/requests`, `GET /_sim/deliveries` | | logs |
//! | `POST /_sim/faults` / `DELETE /_sim/faults` | `{endpoint, fault: {kind, …}, times}` | |
//! | `POST /_sim/events/{id}/redeliver` | | [`crate::Sent`] |
//! | `POST /_sim/raw` | `{body, times?}` | outcomes |
//! | `POST /_sim/forge` | `{type, data, times?}` | event + outcomes |
//! | `POST /_sim/hold`, `POST /_sim/release` | `{order?: [event ids]}` | |

use crate::error::SimError;
use crate::http::Reply;
use crate::jose::Alg;
use crate::model::{Endpoint, EventReads, Fault, InstallSpec, TrialKind, TrialSpec, UpdateSpec};
use crate::sso_model::{AuthorizeMode, IdTokenFault};
use crate::state::Core;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

fn ok<T: serde::Serialize>(v: T) -> Reply {
    Reply::json(200, serde_json::to_value(v).unwrap())
}

fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| Reply::error(400, "invalid_request", e.to_string()))
}

fn result<T: serde::Serialize>(r: Result<T, SimError>) -> Reply {
    match r {
        Ok(v) => ok(v),
        Err(e @ SimError::InvalidSpec(_)) => Reply::error(400, "invalid_request", e.to_string()),
        Err(e) => Reply::error(404, "not_found", e.to_string()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigBody {
    callback_url: Option<String>,
    time_scale: Option<f64>,
    token_ttl_secs: Option<u64>,
    /// [`EventReads`] as JSON: `"by_resource_id"`, `"by_envelope_id"` or `{"status": 503}`.
    event_reads: Option<EventReads>,
    /// Absent: unchanged; `null`: unlimited; a number: that many per account per second.
    #[serde(deserialize_with = "present")]
    token_rate_limit: Option<Option<u32>>,
    auto_sign_in: Option<bool>,
}

#[derive(Deserialize)]
struct RedirectUriBody {
    uri: String,
}

#[derive(Deserialize)]
struct AuthorizeModeBody {
    mode: AuthorizeMode,
}

#[derive(Deserialize)]
struct IdTokenFaultBody {
    fault: IdTokenFault,
}

/// A required JSON body.
fn parse_required<T: DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| Reply::error(400, "invalid_request", e.to_string()))
}

/// A member that is present, even as `null` (with `#[serde(default)]`, absent stays `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RotateBody {
    algorithm: Option<Alg>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UninstallBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LogoutBody {
    user: String,
}

#[derive(Deserialize)]
struct FaultBody {
    endpoint: Endpoint,
    fault: Fault,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawBody {
    body: Value,
    times: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ForgeBody {
    #[serde(rename = "type")]
    kind: String,
    data: Value,
    times: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReleaseBody {
    order: Vec<String>,
}

pub async fn handle(core: &Arc<Core>, method: &str, path: &str, body: &[u8]) -> Reply {
    match handle_inner(core, method, path, body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn handle_inner(
    core: &Arc<Core>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Reply, Reply> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').skip(1).collect();
    Ok(match (method, segs.as_slice()) {
        ("GET", ["health"]) => {
            let s = core.settings();
            ok(json!({
                "ok": true, "base_url": core.base_url, "token_url": core.token_url(),
                "app_id": s.app_id, "callback_url": s.callback_url, "time_scale": s.time_scale,
                "event_reads": s.event_reads, "token_rate_limit": s.token_rate_limit,
                "redirect_uris": s.redirect_uris, "auto_sign_in": s.auto_sign_in,
                "authorize_mode": s.authorize_mode,
            }))
        }
        ("POST", ["config"]) => {
            let b: ConfigBody = parse(body)?;
            let mut s = core.settings.lock().unwrap();
            if let Some(u) = b.callback_url {
                s.callback_url = Some(u);
            }
            if let Some(t) = b.time_scale {
                s.time_scale = t;
            }
            if let Some(t) = b.token_ttl_secs {
                s.token_ttl_secs = t;
            }
            if let Some(r) = b.event_reads {
                s.event_reads = r;
            }
            if let Some(l) = b.token_rate_limit {
                s.token_rate_limit = l;
            }
            if let Some(a) = b.auto_sign_in {
                s.auto_sign_in = a;
            }
            ok(
                json!({"callback_url": s.callback_url, "time_scale": s.time_scale,
                      "token_ttl_secs": s.token_ttl_secs, "event_reads": s.event_reads,
                      "token_rate_limit": s.token_rate_limit, "auto_sign_in": s.auto_sign_in}),
            )
        }
        ("GET", ["redirect-uris"]) => ok(core.settings().redirect_uris),
        ("POST", ["redirect-uris"]) => {
            let b: RedirectUriBody = parse_required(body)?;
            result(
                core.register_redirect_uri(&b.uri)
                    .map(|()| core.settings().redirect_uris),
            )
        }
        ("POST", ["authorize-mode"]) => {
            let b: AuthorizeModeBody = parse_required(body)?;
            core.set_authorize_mode(b.mode);
            ok(json!({"authorize_mode": b.mode}))
        }
        ("POST", ["id-token-fault"]) => {
            let b: IdTokenFaultBody = parse_required(body)?;
            core.tamper_next_id_token(b.fault);
            ok(json!({"next_id_token_fault": b.fault}))
        }
        ("POST", ["install"]) => {
            let spec: InstallSpec = parse(body)?;
            result(core.install(spec, true).await)
        }
        ("GET", ["installations"]) => ok(core.installations()),
        ("GET", ["installations", id]) => result(
            core.installation(id)
                .ok_or_else(|| SimError::UnknownInstallation(id.to_string())),
        ),
        ("GET", ["installations", id, "members"]) => result(core.account_members(id)),
        ("GET", ["installations", id, "user-tokens"]) => ok(core.issued_user_tokens(id)),
        ("POST", ["installations", id, "codes", "expire"]) => {
            core.expire_codes(id);
            ok(json!({"ok": true}))
        }
        ("POST", ["installations", id, "update"]) => {
            let spec: UpdateSpec = parse(body)?;
            result(core.update(id, spec).await)
        }
        ("POST", ["installations", id, "rotate"]) => {
            let b: RotateBody = parse(body)?;
            result(core.rotate(id, b.algorithm).await)
        }
        ("POST", ["installations", id, "uninstall"]) => {
            let b: UninstallBody = parse(body)?;
            let kind = b.kind.unwrap_or_else(|| "user".into());
            let message = b
                .message
                .unwrap_or_else(|| "Uninstalled by the account admin".into());
            result(core.uninstall(id, &kind, &message).await)
        }
        ("POST", ["installations", id, "remove"]) => result(core.remove(id)),
        ("POST", ["installations", id, "trial", kind]) => {
            let kind: TrialKind = serde_json::from_value(json!(kind)).map_err(|_| {
                Reply::error(400, "invalid_request", "trial: started|extended|ended")
            })?;
            let spec: TrialSpec = parse(body)?;
            result(core.trial(id, kind, spec).await)
        }
        ("POST", ["installations", id, "logout"]) => {
            let b: LogoutBody = parse(body)?;
            result(core.logout(id, &b.user).await)
        }
        ("POST", ["installations", id, "credentials", client_id, "revoke"]) => {
            result(core.revoke(id, client_id))
        }
        ("GET", ["requests"]) => ok(core.requests()),
        ("GET", ["deliveries"]) => ok(core.deliveries()),
        ("POST", ["faults"]) => {
            let b: FaultBody = parse_required(body)?;
            core.add_fault(b.endpoint, b.fault, b.times);
            ok(json!({"ok": true}))
        }
        ("DELETE", ["faults"]) => {
            core.clear_faults();
            ok(json!({"ok": true}))
        }
        ("POST", ["events", id, "redeliver"]) => result(core.redeliver(id).await),
        ("POST", ["raw"]) => {
            let b: RawBody = parse(body)?;
            ok(core.send_raw(b.body, b.times.unwrap_or(1)).await)
        }
        ("POST", ["forge"]) => {
            let b: ForgeBody = parse(body)?;
            let event = core.forge(&b.kind, b.data);
            let outcomes = core.send_raw(event.clone(), b.times.unwrap_or(1)).await;
            ok(json!({"event": event, "deliveries": outcomes}))
        }
        ("POST", ["hold"]) => {
            core.set_hold(true);
            ok(json!({"ok": true}))
        }
        ("POST", ["release"]) => {
            let b: ReleaseBody = parse(body)?;
            ok(core.release(&b.order).await)
        }
        _ => Reply::error(
            404,
            "not_found",
            format!("no control route {method} {path}"),
        ),
    })
}
