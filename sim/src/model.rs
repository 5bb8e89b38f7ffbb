//! The public vocabulary of the simulator: configuration, scripting inputs and inspection views.
//! Everything here is plain data (serde) so the CLI control API can carry it as JSON.

use crate::error::SimError;
use crate::jose::Alg;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Default scopes an installation is granted.
pub const DEFAULT_SCOPES: [&str; 5] = [
    "apps:read",
    "apps:write",
    "account:read",
    "users:read",
    "openid",
];

/// Talkdesk retries a failed delivery after 5 minutes, then after 10 minutes, then gives up
/// (docs.talkdesk.com `/docs/app-enablement`). Multiplied by [`SimConfig::time_scale`].
pub const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(300), Duration::from_secs(600)];

/// The longest assertion lifetime (`exp - iat`) the token endpoint accepts.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
/// Allowed clock skew for `iat` in the future.
pub const IAT_SKEW_SECS: i64 = 30;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub app_id: String,
    /// Where events are POSTed (the worker's `POST /events`).
    pub callback_url: Option<String>,
    /// `expires_in` of issued access tokens.
    pub token_ttl_secs: u64,
    /// Multiplies the 5 and 10 minute retry delays (e.g. 0.001 in tests).
    pub time_scale: f64,
    /// Per-attempt timeout of an event delivery.
    pub delivery_timeout: Duration,
    /// Fixed port; `None` picks a free one.
    pub port: Option<u16>,
    /// Serve the `/_sim/…` JSON control API (the CLI turns it on).
    pub control_api: bool,
    /// How events are read back (`GET /apps/{app_id}/events/{id}`); see [`EventReads`].
    pub event_reads: EventReads,
    /// At most this many token requests per account per second (Talkdesk ID is one host per
    /// account); more answer 429 `slow_down` with `Retry-After`. `None`: unlimited.
    pub token_rate_limit: Option<u32>,
    /// The app's registered redirect URIs (the Partner Project setting): `/oauth/authorize`
    /// accepts exactly these strings. Default none; see [`crate::DEFAULT_REDIRECT_URI`].
    pub redirect_uris: Vec<String>,
    /// When `/oauth/authorize` would show the sign-in page and `login_hint` names a member of the
    /// account (id or email), sign that member in at once, as if they had clicked (for headless
    /// runs). Default off.
    pub auto_sign_in: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            app_id: "dev-app-0000".into(),
            callback_url: None,
            token_ttl_secs: 600,
            time_scale: 1.0,
            delivery_timeout: Duration::from_secs(10),
            port: None,
            control_api: true,
            event_reads: EventReads::default(),
            token_rate_limit: None,
            redirect_uris: vec![],
            auto_sign_in: false,
        }
    }
}

/// The read path of events: what `GET /apps/{app_id}/events/{id}` answers, and which id the
/// `_links.self` of a genuine event ends in. Every event has an envelope `id` and a resource id
/// (the last segment of its `self` link); in Talkdesk's documented example they differ.
///
/// JSON (control API): `"by_resource_id"`, `"by_envelope_id"` or `{"status": 503}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventReads {
    /// The default, as documented: events built from now on get a random resource id of the same
    /// shape as the envelope id, and only the `self` link reads the event (the envelope id is an
    /// unknown event, 404, unless the two are the same).
    #[default]
    ByResourceId,
    /// The old behaviour: events built from now on have `self` = `…/events/{envelope id}`, and an
    /// event reads by its envelope id as well as by its resource id.
    ByEnvelopeId,
    /// The read path is broken: every event read with a valid token answers this status (e.g.
    /// 403, 404, 405, 503) with a JSON error body, whatever the id. Events are built as with
    /// `ByResourceId`.
    Status(u16),
}

impl std::str::FromStr for EventReads {
    type Err = SimError;
    /// `by-resource-id`, `by-envelope-id` (`_` works too) or a status code.
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s.replace('-', "_").as_str() {
            "by_resource_id" => Ok(EventReads::ByResourceId),
            "by_envelope_id" => Ok(EventReads::ByEnvelopeId),
            other => match other.parse::<u16>() {
                Ok(status) if (100..=599).contains(&status) => Ok(EventReads::Status(status)),
                _ => Err(SimError::InvalidSpec(format!(
                    "event reads: {s:?} is not by-resource-id, by-envelope-id or a status code"
                ))),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub active: bool,
}

impl SimUser {
    pub fn new(id: &str, email: &str, name: &str) -> SimUser {
        SimUser {
            id: id.into(),
            email: email.into(),
            name: name.into(),
            active: true,
        }
    }
}

/// Users of a new installation: a count to generate, or an explicit list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Users {
    Count(usize),
    List(Vec<SimUser>),
}

impl Default for Users {
    fn default() -> Self {
        Users::Count(3)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `trial` or `paid`.
    #[serde(rename = "type")]
    pub kind: String,
    pub license_type: String,
    pub name: String,
    pub total_licenses: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct InstallSpec {
    pub account_name: String,
    pub account_id: Option<String>,
    pub algorithm: Alg,
    /// The account's users who hold a licence for the app (the installation users API lists
    /// these).
    pub users: Users,
    /// Members of the account who hold no licence for the app: they can sign in to Talkdesk (the
    /// sign-in page lists them), but the app must not let them in. Generated ones get ids and
    /// emails (`member{k}@…`) distinct from the licensed users'. Default one.
    pub unlicensed_users: Users,
    pub scopes: Vec<String>,
    /// `None`: a paid "Standard" plan with one licence per user.
    pub subscription: Option<Subscription>,
}

impl Default for InstallSpec {
    fn default() -> Self {
        InstallSpec {
            account_name: "acme".into(),
            account_id: None,
            algorithm: Alg::ES256,
            users: Users::default(),
            unlicensed_users: Users::Count(1),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            subscription: None,
        }
    }
}

impl InstallSpec {
    pub fn new(account_name: &str, algorithm: Alg) -> InstallSpec {
        InstallSpec {
            account_name: account_name.into(),
            algorithm,
            ..Default::default()
        }
    }
}

/// A plan change carried by `app.updated` (`subscription.adding`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanChange {
    pub name: String,
    pub licenses: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateSpec {
    /// Users to license: new members, or unlicensed members (by id) who now get a licence.
    pub add_users: Vec<SimUser>,
    /// User ids whose licence is removed; they stay members of the account, unlicensed.
    pub remove_users: Vec<String>,
    pub subscription: Option<PlanChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialKind {
    Started,
    Extended,
    Ended,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TrialSpec {
    /// RFC 3339; default now + 14 days (started/extended) or now (ended).
    pub expires_at: Option<String>,
    /// `trial_expired`, `app_uninstalled` or `plan_upgraded` (ended only).
    pub ended_reason: String,
    /// `system` or `user` (ended only).
    pub ended_by: String,
}

impl Default for TrialSpec {
    fn default() -> Self {
        TrialSpec {
            expires_at: None,
            ended_reason: "trial_expired".into(),
            ended_by: "system".into(),
        }
    }
}

/// The endpoints faults can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Token,
    State,
    Installation,
    Users,
    Subscription,
    CredentialsState,
    Account,
    Event,
    /// `GET` and `POST /oauth/authorize` (Talkdesk ID).
    Authorize,
    /// `GET /users/me`.
    UsersMe,
    /// `GET /oauth/jwks`: the key `id_token`s are signed with.
    Jwks,
    /// `GET /widget/header.js`: the Talkdesk header widget.
    Widget,
}

impl std::str::FromStr for Endpoint {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        serde_json::from_value(Value::String(s.into()))
            .map_err(|_| SimError::UnknownEndpoint(s.to_string()))
    }
}

/// What to do instead of (or before) answering normally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer this status with a JSON error body.
    Status { status: u16 },
    /// Wait this long, then answer normally.
    Stall { millis: u64 },
    /// 429 `too_many_requests` with `Retry-After: retry_after_secs`, as Talkdesk's rate limit
    /// answers.
    Throttle { retry_after_secs: u64 },
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// Close the connection without answering.
    Drop,
}

impl Fault {
    pub fn status(status: u16) -> Fault {
        Fault::Status { status }
    }
    pub fn throttle(retry_after_secs: u64) -> Fault {
        Fault::Throttle { retry_after_secs }
    }
    pub fn stall(d: Duration) -> Fault {
        Fault::Stall {
            millis: d.as_millis() as u64,
        }
    }
}

/// One attempt to deliver an event to the callback URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first try, 2 and 3 for the retries; duplicates count as first tries.
    pub attempt: u32,
    pub at: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// False for forged and raw events the simulator does not vouch for.
    pub genuine: bool,
}

impl DeliveryAttempt {
    pub fn ok(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }
}

/// The result of handing an event over: its first attempt, or `held` when events are held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryOutcome {
    pub held: bool,
    pub attempt: Option<DeliveryAttempt>,
}

impl DeliveryOutcome {
    pub fn ok(&self) -> bool {
        self.attempt.as_ref().is_some_and(|a| a.ok())
    }
    pub fn status(&self) -> Option<u16> {
        self.attempt.as_ref().and_then(|a| a.status)
    }
}

/// An event the simulator built (and, unless held, sent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sent {
    pub event_id: String,
    pub event: Value,
    pub delivery: DeliveryOutcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Installed {
    pub installation_id: String,
    pub account_id: String,
    pub account_name: String,
    pub event_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub key_id: String,
    pub algorithm: Alg,
    /// base64 DER PKCS#8, as in the event.
    pub private_key: String,
    /// The licensed users.
    pub users: Vec<SimUser>,
    /// Members of the account without a licence for the app.
    pub unlicensed_users: Vec<SimUser>,
    pub event: Value,
    pub delivery: DeliveryOutcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rotated {
    pub client_id: String,
    pub client_secret: String,
    pub key_id: String,
    pub private_key: String,
    pub previous_client_id: String,
    pub sent: Sent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    /// What was asked: `approve` or `reject`.
    pub action: String,
    /// The resulting state: `approved`, `rejected` or `uninstalled`.
    pub state: String,
    pub reason: Option<String>,
    pub at: String,
    /// Which lifecycle step the call confirmed (the last genuine event type before it).
    pub confirms: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// The credential set acknowledged (the path's `client_id`).
    pub client_id: String,
    pub state: String,
    pub at: String,
    /// The credential set whose access token made the call (after a rotation, a worker that has
    /// switched acknowledges with a token minted by the new set).
    pub token_client_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialView {
    pub client_id: String,
    pub key_id: String,
    pub algorithm: Alg,
    pub revoked: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstallationView {
    pub id: String,
    pub app_id: String,
    pub account_id: String,
    pub account_name: String,
    /// `pending`, `approved`, `rejected`, `uninstalled` or `timed_out` (not confirmed within
    /// Talkdesk's 7-day window).
    pub state: String,
    pub reason: Option<String>,
    /// True once an uninstall was confirmed (or forced): its tokens no longer work.
    pub removed: bool,
    pub scopes: Vec<String>,
    /// The licensed users (what the installation users API lists).
    pub users: Vec<SimUser>,
    /// Members of the account without a licence for the app (the sign-in page lists them too).
    #[serde(default)]
    pub unlicensed_users: Vec<SimUser>,
    pub subscription: Subscription,
    pub history: Vec<StateChange>,
    pub acknowledgements: Vec<Acknowledgement>,
    pub credentials: Vec<CredentialView>,
    pub events: Vec<String>,
    pub deliveries: Vec<DeliveryAttempt>,
    pub trial: Option<Value>,
    /// Every access token issued for the installation, plaintext, oldest first (including expired
    /// and revoked ones), so a test can check the worker never stores or logs one in the clear.
    pub issued_tokens: Vec<String>,
}

/// One request the simulator received (control API calls are not recorded). Every other request
/// is, whatever answered it: a handler, a refusal, an injected fault, the token flood limit, an
/// unreadable body; `status` is `None` only for a dropped connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRecord {
    pub seq: u64,
    pub at: String,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub endpoint: Option<Endpoint>,
    pub status: Option<u16>,
    /// Form or JSON body; `client_assertion` replaced by its decoded header and claims,
    /// `client_secret` redacted.
    pub body: Value,
    /// The installation the request concerns: the one the client authenticated as (or, for a
    /// refused or faulted token request, the one its client id / assertion `iss` names), or for
    /// any other request the one owning its bearer token.
    pub installation_id: Option<String>,
    /// The OAuth/API error description, when the request was refused.
    pub error: Option<String>,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
}
