//! The simulator's state: installations, credential sets, issued tokens, genuine events, delivery
//! attempts, the request log and pending faults, and the [`Core`] that shares them.
//!
//! One `Core` is shared (`Arc`) by the HTTP server, the control API and the library handle. The
//! state sits behind a plain `Mutex` that is never held across an `.await`. The lifecycle scripts
//! (`scripts`) and event delivery (`delivery`) add their methods to `Core` in their own modules.

use crate::clock::now_rfc3339;
use crate::id_token::IdTokenKey;
use crate::jose::{Alg, KeyPair};
use crate::model::{
    Acknowledgement, CredentialView, DeliveryAttempt, Endpoint, EventReads, Fault,
    InstallationView, RequestRecord, SimConfig, SimUser, StateChange, Subscription,
};
use crate::random::{random_hex, random_token};
use crate::sso_model::AuthorizeMode;
use crate::sso_state::Sso;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// One credential set of an installation (the first from the install, one more per rotation).
pub(crate) struct Cred {
    pub client_id: String,
    pub client_secret: String,
    pub key_id: String,
    pub keys: KeyPair,
    pub revoked: bool,
    pub created_at: String,
}

impl Cred {
    pub fn generate(alg: Alg) -> Cred {
        Cred {
            client_id: random_hex(16),
            client_secret: random_token(),
            key_id: random_hex(16),
            keys: KeyPair::generate(alg),
            revoked: false,
            created_at: now_rfc3339(),
        }
    }
}

pub(crate) struct Inst {
    pub id: String,
    pub account_id: String,
    pub account_name: String,
    pub account_created_at: String,
    pub created_at: String,
    pub scopes: Vec<String>,
    pub state: String,
    pub reason: Option<String>,
    pub state_updated_at: String,
    pub removed: bool,
    /// Licensed users.
    pub users: Vec<SimUser>,
    /// Members of the account without a licence for the app.
    pub unlicensed: Vec<SimUser>,
    pub subscription: Subscription,
    pub history: Vec<StateChange>,
    pub acks: Vec<Acknowledgement>,
    pub creds: Vec<Cred>,
    pub events: Vec<String>,
    pub last_event_type: Option<String>,
    pub trial: Option<Value>,
}

impl Inst {
    /// The algorithm of the newest credential set (a rotation keeps it unless told otherwise).
    pub fn alg(&self) -> Alg {
        self.creds.last().unwrap().keys.alg
    }

    /// Every member of the account: the licensed users, then the unlicensed ones.
    pub fn members(&self) -> impl Iterator<Item = &SimUser> {
        self.users.iter().chain(&self.unlicensed)
    }

    /// The member named by id or email.
    pub fn member(&self, id_or_email: &str) -> Option<&SimUser> {
        self.members()
            .find(|u| u.id == id_or_email || u.email == id_or_email)
    }

    /// Users can sign in to the app: not removed, and no uninstall in progress.
    pub fn live(&self) -> bool {
        !self.removed && self.state != "uninstalled"
    }
}

/// An access token the simulator issued. Tokens are never forgotten: the API refuses them once
/// expired, once the credential set that minted them is revoked, once the installation is
/// removed, or (user tokens) once the code they came from was used again.
#[derive(Clone)]
pub(crate) struct TokenInfo {
    pub installation_id: String,
    /// The credential set that minted it.
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Unix milliseconds: `expires_in` is honoured to the millisecond, not rounded down.
    pub expires_at_ms: i64,
    /// The user a user token (authorization code grant) acts for; `None` for an app token.
    pub user_id: Option<String>,
    /// Revoked because its authorization code was presented again (RFC 6749 §4.1.2).
    pub revoked: bool,
}

/// A genuine event as a resource of the API: `GET /apps/{app_id}/events/{resource id}`.
pub(crate) struct EventResource {
    /// The envelope `id` (the key of [`State::events`]).
    pub event_id: String,
    /// The installation the event is for: only its tokens may read it.
    pub installation_id: String,
}

/// A fault to inject into the next `remaining` calls of `endpoint`.
struct FaultRule {
    endpoint: Endpoint,
    fault: Fault,
    remaining: usize,
}

/// Talkdesk's window to confirm an install, update or uninstall: 7 days.
pub const CONFIRM_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Default)]
pub(crate) struct State {
    pub installations: Vec<Inst>,
    pub tokens: HashMap<String, TokenInfo>,
    /// Every access token issued, in order: (installation id, token).
    pub issued: Vec<(String, String)>,
    pub jtis: HashSet<(String, String)>,
    /// Genuine events, exactly as sent, by envelope id.
    pub events: HashMap<String, Value>,
    /// Genuine events by resource id (the last segment of their `self` link).
    pub event_resources: HashMap<String, EventResource>,
    /// The token requests let through in the last second, per account (`flood`).
    pub token_windows: HashMap<String, VecDeque<i64>>,
    pub deliveries: Vec<DeliveryAttempt>,
    pub requests: Vec<RequestRecord>,
    faults: Vec<FaultRule>,
    pub hold: bool,
    pub held: Vec<Value>,
    /// Codes, sign-in sessions and user tokens (single sign-on).
    pub sso: Sso,
}

impl State {
    pub fn inst(&self, id: &str) -> Option<&Inst> {
        self.installations.iter().find(|i| i.id == id)
    }
    pub fn inst_mut(&mut self, id: &str) -> Option<&mut Inst> {
        self.installations.iter_mut().find(|i| i.id == id)
    }
    /// The installation and credential a client id belongs to.
    pub fn by_client(&self, client_id: &str) -> Option<(&Inst, &Cred)> {
        self.installations.iter().find_map(|i| {
            i.creds
                .iter()
                .find(|c| c.client_id == client_id)
                .map(|c| (i, c))
        })
    }

    /// The plaintext access tokens issued for an installation, oldest first.
    pub fn issued_tokens(&self, installation_id: &str) -> Vec<String> {
        self.issued
            .iter()
            .filter(|(i, _)| i == installation_id)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Records `event` as genuine for its installation: readable through its `self` link
    /// (`GET …/events/{resource id}`), and by envelope id under [`crate::EventReads::ByEnvelopeId`].
    pub fn record_genuine(&mut self, inst_id: &str, event: &Value) -> String {
        let id = event["id"].as_str().unwrap().to_string();
        let resource_id = event["_links"]["self"]["href"]
            .as_str()
            .and_then(|href| href.rsplit('/').next())
            .expect("a genuine event has a self link")
            .to_string();
        self.event_resources.insert(
            resource_id,
            EventResource {
                event_id: id.clone(),
                installation_id: inst_id.to_string(),
            },
        );
        self.events.insert(id.clone(), event.clone());
        if let Some(inst) = self.inst_mut(inst_id) {
            inst.events.push(id.clone());
            inst.last_event_type = event["type"].as_str().map(str::to_string);
        }
        id
    }

    /// The fault to apply to this call of `endpoint`, if one is pending; counts it down.
    pub fn take_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let rule = self
            .faults
            .iter_mut()
            .find(|r| r.endpoint == endpoint && r.remaining > 0)?;
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        self.faults.retain(|r| r.remaining > 0);
        Some(fault)
    }

    /// Talkdesk times out an install, update or uninstall the app did not confirm in 7 days
    /// (contract, scaled by `time_scale`): a pending installation past its window becomes
    /// `timed_out`, and approving or rejecting it is refused from then on.
    pub fn time_out_pending(&mut self, time_scale: f64) {
        let window_ms = (CONFIRM_WINDOW_MS as f64 * time_scale.max(0.0)) as i64;
        let now = crate::clock::now_millis();
        for inst in &mut self.installations {
            let created = chrono::DateTime::parse_from_rfc3339(&inst.created_at)
                .map_or(i64::MAX, |t| t.timestamp_millis());
            if inst.state == "pending" && created.saturating_add(window_ms) < now {
                inst.state = "timed_out".into();
                inst.state_updated_at = crate::clock::now_rfc3339();
            }
        }
    }

    fn view(&self, inst: &Inst, app_id: &str) -> InstallationView {
        InstallationView {
            id: inst.id.clone(),
            app_id: app_id.to_string(),
            account_id: inst.account_id.clone(),
            account_name: inst.account_name.clone(),
            state: inst.state.clone(),
            reason: inst.reason.clone(),
            removed: inst.removed,
            scopes: inst.scopes.clone(),
            users: inst.users.clone(),
            unlicensed_users: inst.unlicensed.clone(),
            subscription: inst.subscription.clone(),
            history: inst.history.clone(),
            acknowledgements: inst.acks.clone(),
            credentials: inst
                .creds
                .iter()
                .map(|c| CredentialView {
                    client_id: c.client_id.clone(),
                    key_id: c.key_id.clone(),
                    algorithm: c.keys.alg,
                    revoked: c.revoked,
                    created_at: c.created_at.clone(),
                })
                .collect(),
            events: inst.events.clone(),
            deliveries: self
                .deliveries
                .iter()
                .filter(|d| inst.events.contains(&d.event_id))
                .cloned()
                .collect(),
            trial: inst.trial.clone(),
            issued_tokens: self.issued_tokens(&inst.id),
        }
    }
}

/// The settings that can change while the simulator runs (the CLI's `POST /_sim/config`, the
/// handle's setters).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub app_id: String,
    pub callback_url: Option<String>,
    pub token_ttl_secs: u64,
    pub time_scale: f64,
    pub delivery_timeout: Duration,
    pub control_api: bool,
    pub event_reads: EventReads,
    pub token_rate_limit: Option<u32>,
    pub redirect_uris: Vec<String>,
    pub auto_sign_in: bool,
    pub authorize_mode: AuthorizeMode,
    /// Who may frame the sign-in page (CSP `frame-ancestors`); `None`: nobody.
    pub sign_in_framers: Option<String>,
}

pub(crate) struct Core {
    pub base_url: String,
    pub settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Signs `id_token`s; generated on first use (an RSA key takes a moment, and most tests never
    /// sign anyone in).
    pub id_key_cell: OnceLock<IdTokenKey>,
    /// Sends events to the callback URL (`delivery`).
    pub http: reqwest::Client,
}

impl Core {
    pub fn new(cfg: &SimConfig, port: u16) -> Core {
        Core {
            base_url: format!("http://127.0.0.1:{port}"),
            settings: Mutex::new(Settings {
                app_id: cfg.app_id.clone(),
                callback_url: cfg.callback_url.clone(),
                token_ttl_secs: cfg.token_ttl_secs,
                time_scale: cfg.time_scale,
                delivery_timeout: cfg.delivery_timeout,
                control_api: cfg.control_api,
                event_reads: cfg.event_reads,
                token_rate_limit: cfg.token_rate_limit,
                redirect_uris: cfg.redirect_uris.clone(),
                auto_sign_in: cfg.auto_sign_in,
                authorize_mode: AuthorizeMode::Normal,
                sign_in_framers: None,
            }),
            state: Mutex::new(State::default()),
            id_key_cell: OnceLock::new(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
        }
    }

    /// The state, even if a panic poisoned the lock: one failed handler must not fail every later
    /// request and inspection.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> Settings {
        self.settings.lock().unwrap().clone()
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    /// The key `id_token`s are signed with (published at `GET /oauth/jwks`).
    pub fn id_key(&self) -> &IdTokenKey {
        self.id_key_cell.get_or_init(IdTokenKey::generate)
    }

    pub fn app_id(&self) -> String {
        self.settings().app_id
    }

    // ---- inspection -------------------------------------------------------------------------

    pub fn installation(&self, id: &str) -> Option<InstallationView> {
        let app_id = self.app_id();
        let scale = self.settings().time_scale;
        let mut st = self.state();
        st.time_out_pending(scale);
        st.inst(id).map(|i| st.view(i, &app_id))
    }

    pub fn installations(&self) -> Vec<InstallationView> {
        let app_id = self.app_id();
        let scale = self.settings().time_scale;
        let mut st = self.state();
        st.time_out_pending(scale);
        st.installations
            .iter()
            .map(|i| st.view(i, &app_id))
            .collect()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state().requests.clone()
    }

    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.state().deliveries.clone()
    }

    pub fn event(&self, id: &str) -> Option<Value> {
        self.state().events.get(id).cloned()
    }

    /// The resource id of a genuine event (the last segment of its `self` link), by envelope id.
    pub fn event_resource_id(&self, event_id: &str) -> Option<String> {
        let st = self.state();
        st.event_resources
            .iter()
            .find(|(_, r)| r.event_id == event_id)
            .map(|(rid, _)| rid.clone())
    }

    // ---- faults and the request log -----------------------------------------------------------

    pub fn add_fault(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        self.state().faults.push(FaultRule {
            endpoint,
            fault,
            remaining: times,
        });
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    pub fn record_request(&self, mut rec: RequestRecord) {
        let mut st = self.state();
        rec.seq = st.requests.len() as u64 + 1;
        st.requests.push(rec);
    }
}
