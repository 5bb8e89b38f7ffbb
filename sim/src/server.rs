//! The HTTP server: one loopback listener playing Talkdesk ID (`/oauth/token`, `/oauth/authorize`,
//! `/oauth/jwks`), the API gateway (`/apps/…`, `/account`, `/users/me`), the header widget
//! (`/widget/header.js`) and, when enabled, the `/_sim/…` control API. It is the top of the crate:
//! it routes to the handlers (`oauth`, `authorize`, `api`, `widget`, `control`), which never call
//! back into it.
//! Faults are applied here, before routing, then the token endpoint's flood limit (`flood`); every
//! non-control request is recorded with its status, whatever answered it (a handler, a refusal, a
//! fault, the flood limit, an unreadable body); a dropped connection is recorded without one.

use crate::client_auth;
use crate::clock::now_rfc3339;
use crate::http::Reply;
use crate::model::{Endpoint, Fault, RequestRecord};
use crate::oauth::TokenContext;
use crate::state::Core;
use crate::{api, authorize, control, flood, oauth, widget};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Which endpoint (for faults and inspection) a method and path address. Paths are matched
/// exactly: a trailing slash or an empty segment (`//`) addresses nothing, as on a real gateway.
pub fn classify(method: &str, path: &str) -> Option<Endpoint> {
    let segs: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(match (method, segs.as_slice()) {
        ("POST", ["oauth", "token"]) => Endpoint::Token,
        ("GET" | "POST", ["oauth", "authorize"]) => Endpoint::Authorize,
        ("GET", ["oauth", "jwks"]) => Endpoint::Jwks,
        ("GET", ["users", "me"]) => Endpoint::UsersMe,
        ("GET", ["widget", "header.js"]) => Endpoint::Widget,
        ("GET", ["account"]) => Endpoint::Account,
        ("GET", ["apps", _, "events", _]) => Endpoint::Event,
        ("GET", ["apps", _, "installations", _]) => Endpoint::Installation,
        ("GET", ["apps", _, "installations", _, "users"]) => Endpoint::Users,
        ("GET", ["apps", _, "installations", _, "subscription"]) => Endpoint::Subscription,
        ("POST", ["apps", _, "installations", _, "state"]) => Endpoint::State,
        ("POST", ["apps", _, "installations", _, "credentials", _, "state"]) => {
            Endpoint::CredentialsState
        }
        _ => return None,
    })
}

fn is_control(path: &str) -> bool {
    path == "/_sim" || path.starts_with("/_sim/")
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

pub(crate) async fn serve(
    listener: TcpListener,
    core: Arc<Core>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let core = core.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(core.clone(), req, peer));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

async fn handle(
    core: Arc<Core>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let query = req.uri().query().unwrap_or_default().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let authorization = header("authorization");
    let cookie = header("cookie");
    let body = match Limited::new(req.into_body(), 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let reply = Reply::error(400, "invalid_request", "body too large or unreadable");
            if !is_control(&path) {
                let endpoint = classify(&method, &path);
                core.record_request(RequestRecord {
                    seq: 0,
                    at: now_rfc3339(),
                    method,
                    path: path_and_query,
                    endpoint,
                    status: Some(reply.status),
                    body: Value::Null,
                    installation_id: attribute(
                        &core,
                        endpoint,
                        authorization.as_deref(),
                        &query,
                        &[],
                    ),
                    error: reply.error.clone(),
                    fault: None,
                });
            }
            return Ok(reply.into_response());
        }
    };

    if is_control(&path) {
        let reply = if !peer.ip().is_loopback() || !core.settings().control_api {
            Reply::error(404, "not_found", "no such resource")
        } else {
            control::handle(&core, &method, &path, &body).await
        };
        return Ok(reply.into_response());
    }

    let endpoint = classify(&method, &path);
    let fault = endpoint.and_then(|e| core.state().take_fault(e));
    let log_body = if matches!(endpoint, Some(Endpoint::Token | Endpoint::Authorize)) {
        if body.is_empty() {
            Value::Null
        } else {
            client_auth::loggable_form(&body)
        }
    } else if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let mut record = RequestRecord {
        seq: 0,
        at: now_rfc3339(),
        method: method.clone(),
        path: path_and_query,
        endpoint,
        status: None,
        body: log_body,
        installation_id: None,
        error: None,
        fault: fault.clone(),
    };

    let incoming = Req {
        method: &method,
        path: &path,
        query: &query,
        content_type: content_type.as_deref(),
        authorization: authorization.as_deref(),
        cookie: cookie.as_deref(),
        body: &body,
    };
    let reply = match fault {
        Some(Fault::Drop) => {
            record.error = Some("fault: connection dropped".into());
            record.installation_id =
                attribute(&core, endpoint, authorization.as_deref(), &query, &body);
            core.record_request(record);
            return Err(DropConnection);
        }
        Some(Fault::Status { status }) => Reply::error(
            status,
            if status >= 500 {
                "server_error"
            } else {
                "simulated_error"
            },
            format!("fault injected: status {status}"),
        ),
        Some(Fault::Throttle { retry_after_secs }) => {
            let mut r = Reply::error(
                429,
                "too_many_requests",
                "fault injected: rate limit exceeded",
            );
            r.headers
                .push(("retry-after", retry_after_secs.to_string()));
            r
        }
        Some(Fault::Malformed) => Reply {
            raw: Some("{\"access_token\": \"broken"),
            ..Reply::empty(200)
        },
        Some(Fault::Stall { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            route(&core, endpoint, &incoming)
        }
        None => route(&core, endpoint, &incoming),
    };
    record.status = Some(reply.status);
    record.installation_id = reply
        .installation_id
        .clone()
        .or_else(|| attribute(&core, endpoint, authorization.as_deref(), &query, &body));
    record.error = record.error.or(reply.error.clone());
    core.record_request(record);
    Ok(reply.into_response())
}

/// What the handlers need of a request.
struct Req<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    content_type: Option<&'a str>,
    authorization: Option<&'a str>,
    cookie: Option<&'a str>,
    body: &'a [u8],
}

fn route(core: &Core, endpoint: Option<Endpoint>, req: &Req) -> Reply {
    let settings = core.settings();
    match endpoint {
        Some(Endpoint::Token) => {
            let mut st = core.state();
            if let Err(slow_down) = flood::admit(
                &mut st,
                settings.token_rate_limit,
                req.authorization,
                req.body,
            ) {
                return slow_down;
            }
            let token_url = core.token_url();
            let ctx = TokenContext {
                token_url: &token_url,
                issuer: &core.base_url,
                ttl: settings.token_ttl_secs,
                id_key: &core.id_key_cell,
            };
            oauth::token(&mut st, req.content_type, req.authorization, req.body, &ctx)
        }
        Some(Endpoint::Authorize) => authorize::handle(
            core,
            req.method,
            req.query,
            req.content_type,
            req.cookie,
            req.body,
        ),
        Some(Endpoint::Jwks) => Reply::json(200, core.id_key().jwks()),
        Some(Endpoint::Widget) => widget::header_script(),
        Some(ep) => api::handle(
            core,
            ep,
            req.path,
            req.query,
            req.content_type,
            req.authorization,
            req.body,
        ),
        None => Reply::error(404, "not_found", format!("no such resource: {}", req.path)),
    }
}

/// Best-effort attribution of a request the handlers did not attribute (refused early, or
/// answered by a fault): a token request to the client (or code) it names, an authorize request to
/// the client its query or form names, any other request (an API call, or a path that addresses
/// nothing) to the installation owning its bearer token (valid or not).
fn attribute(
    core: &Core,
    endpoint: Option<Endpoint>,
    authorization: Option<&str>,
    query: &str,
    body: &[u8],
) -> Option<String> {
    let st = core.state();
    match endpoint {
        Some(Endpoint::Token) => client_auth::attribute(&st, authorization, body),
        Some(Endpoint::Authorize) => form_urlencoded::parse(query.as_bytes())
            .chain(form_urlencoded::parse(body))
            .filter(|(k, _)| k == "client_id")
            .find_map(|(_, v)| st.by_client(&v).map(|(inst, _)| inst.id.clone())),
        _ => {
            let (scheme, token) = authorization?.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            st.tokens.get(token).map(|t| t.installation_id.clone())
        }
    }
}
