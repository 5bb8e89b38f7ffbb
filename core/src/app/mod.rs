//! Request handling: from a routed request to its [`Reply`], natively testable. The worker's
//! `entry` loads the settings, routes, reads the body when [`needs_body`] says so, calls
//! [`handle`], sends the answer, and runs the follow-up work after it.
//!
//! `GET /healthz` is judged here too ([`health`]); its probes run in the worker, since they ask
//! the runtime's bindings themselves whether they answer.

pub mod admin;
pub mod bridge;
pub mod console;
pub mod decisions;
pub mod events;
pub mod health;
pub mod operator;
pub mod pages;
pub mod signin;

use crate::config::Config;
use crate::http::{ApiError, ImportKind, Reply, Route};
use crate::lifecycle::Ports;
use crate::secret::constant_time_eq;
use crate::store::bridge::Kind;

/// The largest request body read (an event, account settings): larger is 413.
pub const MAX_BODY_BYTES: usize = crate::talkdesk::events::MAX_EVENT_BYTES;

/// What the handlers need of a request besides its body.
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    /// The `Cookie` header (single sign-on's session and binding cookies).
    pub cookie: Option<String>,
    /// The `Origin` header (checked on the app's forms).
    pub origin: Option<String>,
    /// The `Idempotency-Key` header (bridge actions).
    pub idempotency_key: Option<String>,
    /// Standard Webhooks headers of the partner's signed calls.
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub webhook_signature: Option<String>,
}

/// A handled request: the answer, and the installation whose jobs should run after it.
#[derive(Debug)]
pub struct Handled {
    pub reply: Reply,
    pub run_installation: Option<String>,
}

impl From<Reply> for Handled {
    fn from(reply: Reply) -> Self {
        Handled {
            reply,
            run_installation: None,
        }
    }
}

/// Whether the route reads a body. `entry` reads it (at most [`MAX_BODY_BYTES`]) only then, and
/// only after [`precheck`] passed.
pub fn needs_body(route: &Route) -> bool {
    matches!(
        route,
        Route::Events(_)
            | Route::AdminAccountSettings(_)
            | Route::BenchAssertion
            | Route::Logout
            | Route::AppIntegrationKey
            | Route::BridgeAuth
            | Route::BridgeContacts
            | Route::BridgeAgents
            | Route::BridgeInteractions
            | Route::BridgeAction(_)
            | Route::AdminImport(..)
            | Route::AdminReject(_)
            | Route::PartnerDecision(_)
            | Route::ConsoleLogin
            | Route::ConsoleLogout
            | Route::ConsoleAction(..)
            | Route::ConsoleReseal
    )
}

/// The largest body the route reads: imports take files of records, everything else is small.
pub fn body_limit(route: &Route) -> usize {
    match route {
        Route::AdminImport(..) => crate::bridge::import::MAX_IMPORT_BYTES,
        _ => MAX_BODY_BYTES,
    }
}

/// What is refused before the body is read: a wrong callback token (404, as if nothing were
/// there), a wrong media type on the callback, a missing or wrong operator token. A bad
/// request must not cost reading its body.
pub fn precheck(config: &Config, route: &Route, head: &Head) -> Option<Reply> {
    match route {
        Route::Events(token)
            if !constant_time_eq(token.as_bytes(), config.callback_token.expose().as_bytes()) =>
        {
            Some(
                ApiError::NotFound {
                    path: "/events/…".into(),
                }
                .reply(),
            )
        }
        Route::Events(_) => (!events::is_json(head.content_type.as_deref()))
            .then(|| ApiError::UnsupportedMediaType.reply()),
        Route::AdminInstallations
        | Route::AdminInstallation(_)
        | Route::AdminVerify(_)
        | Route::AdminAccount(_)
        | Route::AdminAccountSettings(_)
        | Route::AdminEventRetry(_)
        | Route::AdminEventDiscard(_)
        | Route::AdminEventReplay(_)
        | Route::AdminIntegrationKey(_)
        | Route::AdminImport(..)
        | Route::IntegrationManifest
        | Route::AdminSealing
        | Route::AdminReseal
        | Route::AdminInstallationEvents(_)
        | Route::AdminApprove(_)
        | Route::AdminReject(_)
        | Route::AdminWebhooks(_)
        | Route::AdminWebhookReplay(_)
        | Route::AdminRetryNow(_) => {
            (!admin::authorized(head.authorization.as_deref(), config.admin_token.expose()))
                .then(|| ApiError::Unauthorized.reply())
        }
        Route::BridgeAuth
        | Route::BridgeContacts
        | Route::BridgeAgents
        | Route::BridgeInteractions
        | Route::BridgeAction(_) => (!events::is_json(head.content_type.as_deref()))
            .then(|| ApiError::UnsupportedMediaType.reply()),
        Route::Logout | Route::AppIntegrationKey => {
            (!is_form(head.content_type.as_deref())).then(|| signin::not_a_form(config))
        }
        // The console checks its own session (and answers with its sign-in page).
        Route::ConsoleLogin
        | Route::ConsoleLogout
        | Route::ConsoleAction(..)
        | Route::ConsoleReseal => {
            (!is_form(head.content_type.as_deref())).then(|| signin::not_a_form(config))
        }
        Route::ConsoleHome | Route::ConsoleList | Route::ConsoleInstallation(_) => None,
        // Its signature is checked against the body once read.
        Route::PartnerDecision(_) => (!events::is_json(head.content_type.as_deref()))
            .then(|| ApiError::UnsupportedMediaType.reply()),
        Route::Healthz
        | Route::BenchAssertion
        | Route::Launch
        | Route::OAuthCallback
        | Route::AppHome => None,
    }
}

/// Whether a media type is an HTML form's (`application/x-www-form-urlencoded`).
fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Answers a routed request whose [`precheck`] passed. `/healthz` and the benchmark route are
/// the worker's own (they ask the runtime directly) and answer 404 here.
pub async fn handle<P: Ports>(
    p: &P,
    config: &Config,
    route: Route,
    head: &Head,
    body: &[u8],
) -> Handled {
    match route {
        Route::Events(_) => events::post(p, config, body).await,
        Route::AdminInstallations => operator::list(p, head).await.into(),
        Route::AdminInstallation(id) => operator::installation(p, &id).await.into(),
        Route::AdminVerify(id) => operator::verify(p, config, &id).await.into(),
        Route::AdminAccount(id) => operator::account(p, &id).await.into(),
        Route::AdminAccountSettings(id) => operator::put_settings(p, &id, body).await.into(),
        Route::AdminEventRetry(id) => operator::retry_event(p, &id).await,
        Route::AdminEventDiscard(id) => operator::discard_event(p, &id).await.into(),
        Route::AdminEventReplay(id) => operator::replay_event(p, &id).await,
        Route::Launch => signin::launch(p, config, head).await.into(),
        Route::OAuthCallback => signin::callback(p, config, head).await.into(),
        Route::AppHome => signin::home(p, config, head).await.into(),
        Route::Logout => signin::logout(p, config, head, body).await.into(),
        Route::AppIntegrationKey => signin::issue_integration_key(p, config, head, body)
            .await
            .into(),
        Route::BridgeAuth
        | Route::BridgeContacts
        | Route::BridgeAgents
        | Route::BridgeInteractions
        | Route::BridgeAction(_) => bridge::call(p, config, route, head, body).await.into(),
        Route::AdminIntegrationKey(id) => bridge::issue_key(p, &id).await.into(),
        Route::AdminImport(id, kind) => {
            let kind = match kind {
                ImportKind::Contacts => Kind::Contacts,
                ImportKind::Agents => Kind::Agents,
                ImportKind::Interactions => Kind::Interactions,
            };
            bridge::import_records(p, &id, kind, head, body)
                .await
                .into()
        }
        Route::IntegrationManifest => bridge::manifest(config).into(),
        Route::AdminSealing => operator::sealing(p, config).await.into(),
        Route::AdminInstallationEvents(id) => operator::events(p, &id, head).await.into(),
        Route::AdminRetryNow(id) => operator::retry_now(p, &id).await,
        Route::AdminReseal => operator::reseal(p, config, head).await.into(),
        Route::AdminApprove(id) => decisions::by_operator(p, &id, true, body).await,
        Route::AdminReject(id) => decisions::by_operator(p, &id, false, body).await,
        Route::PartnerDecision(id) => decisions::by_partner(p, config, &id, head, body).await,
        Route::AdminWebhooks(id) => decisions::webhooks(p, &id).await.into(),
        Route::AdminWebhookReplay(id) => decisions::replay_webhook(p, &id).await,
        Route::ConsoleHome => console::overview(p, config, head).await.into(),
        Route::ConsoleLogin => console::login(p, config, body).await.into(),
        Route::ConsoleLogout => console::logout(p, config, head, body).await.into(),
        Route::ConsoleList => console::list(p, config, head).await.into(),
        Route::ConsoleInstallation(id) => console::installation(p, config, head, &id).await.into(),
        Route::ConsoleAction(id, action) => {
            console::action(p, config, head, &id, &action, body).await
        }
        Route::ConsoleReseal => console::reseal(p, config, head, body).await.into(),
        Route::Healthz | Route::BenchAssertion => ApiError::NotFound {
            path: head.path.clone(),
        }
        .reply()
        .into(),
    }
}
