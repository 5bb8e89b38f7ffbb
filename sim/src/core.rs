//! The simulator's state and the lifecycle it scripts: installations, credentials, tokens,
//! genuine events and their delivery (with Talkdesk's retry schedule), faults and the request log.
//!
//! One `Core` is shared (`Arc`) by the HTTP server, the control API and the library handle. The
//! state sits behind a plain `Mutex` that is never held across an `.await`.

use crate::jose::{Alg, KeyPair};
use crate::model::*;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `n` random bytes as lowercase hex (Talkdesk ids look like 24-hex Mongo ids).
pub(crate) fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).expect("rand");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn random_token() -> String {
    use base64::Engine;
    let mut buf = [0u8; 32];
    openssl::rand::rand_bytes(&mut buf).expect("rand");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) struct Cred {
    pub client_id: String,
    pub client_secret: String,
    pub key_id: String,
    pub keys: KeyPair,
    pub revoked: bool,
    pub created_at: String,
}

impl Cred {
    fn generate(alg: Alg) -> Cred {
        Cred {
            client_id: random_hex(16),
            client_secret: random_token(),
            key_id: random_hex(16),
            keys: KeyPair::generate(alg),
            revoked: false,
            created_at: now_rfc3339(),
        }
    }

    fn event_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("client_id".into(), json!(self.client_id));
        m.insert("client_secret".into(), json!(self.client_secret));
        m.insert("private_key".into(), json!(self.keys.private_b64()));
        m.insert("public_key".into(), json!(self.keys.public_b64()));
        m.insert("key_id".into(), json!(self.key_id));
        m.insert("key_algorithm".into(), json!(self.keys.alg.as_str()));
        m
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
    pub users: Vec<SimUser>,
    pub subscription: Subscription,
    pub history: Vec<StateChange>,
    pub acks: Vec<Acknowledgement>,
    pub creds: Vec<Cred>,
    pub events: Vec<String>,
    pub last_event_type: Option<String>,
    pub trial: Option<Value>,
}

impl Inst {
    pub fn alg(&self) -> Alg {
        self.creds.last().unwrap().keys.alg
    }

    fn base_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("installation_id".into(), json!(self.id));
        m.insert("account_id".into(), json!(self.account_id));
        m.insert("account_name".into(), json!(self.account_name));
        m
    }
}

/// An access token the simulator issued. Tokens are never forgotten: the API refuses them once
/// expired, once the credential set that minted them is revoked, or once the installation is
/// removed.
#[derive(Clone)]
pub(crate) struct TokenInfo {
    pub installation_id: String,
    /// The credential set that minted it.
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Unix milliseconds: `expires_in` is honoured to the millisecond, not rounded down.
    pub expires_at_ms: i64,
}

struct FaultRule {
    endpoint: Endpoint,
    fault: Fault,
    remaining: usize,
}

#[derive(Default)]
pub(crate) struct State {
    pub installations: Vec<Inst>,
    pub tokens: HashMap<String, TokenInfo>,
    /// Every access token issued, in order: (installation id, token).
    pub issued: Vec<(String, String)>,
    pub jtis: HashSet<(String, String)>,
    /// Genuine events, exactly as sent, by id.
    pub events: HashMap<String, Value>,
    pub deliveries: Vec<DeliveryAttempt>,
    pub requests: Vec<RequestRecord>,
    faults: Vec<FaultRule>,
    pub hold: bool,
    pub held: Vec<Value>,
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

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub app_id: String,
    pub callback_url: Option<String>,
    pub token_ttl_secs: u64,
    pub time_scale: f64,
    pub delivery_timeout: Duration,
    pub control_api: bool,
}

pub(crate) struct Core {
    pub base_url: String,
    pub settings: Mutex<Settings>,
    state: Mutex<State>,
    http: reqwest::Client,
}

/// Errors of scripting calls (unknown installation, bad input).
pub type SimResult<T> = Result<T, String>;

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
            }),
            state: Mutex::new(State::default()),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> Settings {
        self.settings.lock().unwrap().clone()
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    pub fn app_id(&self) -> String {
        self.settings().app_id
    }

    // ---- inspection -------------------------------------------------------------------------

    pub fn installation(&self, id: &str) -> Option<InstallationView> {
        let app_id = self.app_id();
        let st = self.state();
        st.inst(id).map(|i| st.view(i, &app_id))
    }

    pub fn installations(&self) -> Vec<InstallationView> {
        let app_id = self.app_id();
        let st = self.state();
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

    // ---- scripting --------------------------------------------------------------------------

    fn envelope(&self, ty: &str, installation_id: &str, data: Map<String, Value>) -> Value {
        let app_id = self.app_id();
        let id = random_hex(16);
        let root = &self.base_url;
        json!({
            "id": id,
            "created_at": rfc3339(now_secs()),
            "api_version": "1",
            "type": ty,
            "app_id": app_id,
            "app_version_id": format!("{app_id}-version-1"),
            "app_version_name": "1.0.0",
            "data": Value::Object(data),
            "_links": {
                "root": {"href": root},
                "self": {"href": format!("{root}/apps/{app_id}/events/{id}")},
                "tokens": {"href": format!("{root}/oauth/token")},
                "authorization": {"href": format!("{root}/oauth/authorize")},
                "installation": {"href": format!("{root}/apps/{app_id}/installations/{installation_id}")},
                "userinfo": {"href": format!("{root}/users/me")},
            }
        })
    }

    /// Records `event` as genuine (readable through `GET …/events/{id}`) for its installation.
    fn record_genuine(st: &mut State, inst_id: &str, event: &Value) -> String {
        let id = event["id"].as_str().unwrap().to_string();
        st.events.insert(id.clone(), event.clone());
        if let Some(inst) = st.inst_mut(inst_id) {
            inst.events.push(id.clone());
            inst.last_event_type = event["type"].as_str().map(str::to_string);
        }
        id
    }

    /// Builds an installation and its `app.installed` event, records both, and (if `send`) sends
    /// the event.
    pub async fn install(self: &Arc<Self>, spec: InstallSpec, send: bool) -> SimResult<Installed> {
        if spec.account_name.is_empty() {
            return Err("account_name is required".into());
        }
        let cred = Cred::generate(spec.algorithm);
        let id = random_hex(12);
        let account_id = spec.account_id.clone().unwrap_or_else(|| random_hex(12));
        let users = match spec.users {
            Users::List(list) => list,
            Users::Count(n) => (1..=n)
                .map(|k| SimUser {
                    id: random_hex(12),
                    email: format!("user{k}@{}.example", spec.account_name),
                    name: format!("User {k}"),
                    active: true,
                })
                .collect(),
        };
        let subscription = spec.subscription.unwrap_or(Subscription {
            kind: "paid".into(),
            license_type: "per_user".into(),
            name: "Standard".into(),
            total_licenses: users.len() as u32,
        });
        let now = now_rfc3339();
        let mut data = Map::new();
        data.insert("installation_id".into(), json!(id));
        data.insert("account_id".into(), json!(account_id));
        data.insert("account_name".into(), json!(spec.account_name));
        data.extend(cred.event_data());
        let event = self.envelope("app.installed", &id, data);
        let installed_base = Installed {
            installation_id: id.clone(),
            account_id: account_id.clone(),
            account_name: spec.account_name.clone(),
            event_id: event["id"].as_str().unwrap().into(),
            client_id: cred.client_id.clone(),
            client_secret: cred.client_secret.clone(),
            key_id: cred.key_id.clone(),
            algorithm: spec.algorithm,
            private_key: cred.keys.private_b64(),
            users: users.clone(),
            event: event.clone(),
            delivery: DeliveryOutcome {
                held: false,
                attempt: None,
            },
        };
        {
            let mut st = self.state();
            st.installations.push(Inst {
                id: id.clone(),
                account_id,
                account_name: spec.account_name,
                account_created_at: now.clone(),
                created_at: now.clone(),
                scopes: spec.scopes,
                state: "pending".into(),
                reason: None,
                state_updated_at: now,
                removed: false,
                users,
                subscription,
                history: vec![],
                acks: vec![],
                creds: vec![cred],
                events: vec![],
                last_event_type: None,
                trial: None,
            });
            Self::record_genuine(&mut st, &id, &event);
        }
        if !send {
            return Ok(installed_base);
        }
        let delivery = self.dispatch(event, true).await;
        Ok(Installed {
            delivery,
            ..installed_base
        })
    }

    /// Applies an update to the installation, then sends `app.updated` with only the keys present.
    pub async fn update(self: &Arc<Self>, id: &str, spec: UpdateSpec) -> SimResult<Sent> {
        let event = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            for uid in &spec.remove_users {
                if !inst.users.iter().any(|u| &u.id == uid) {
                    return Err(format!("installation {id} has no user {uid}"));
                }
            }
            let mut data = inst.base_data();
            let mut users = Map::new();
            if !spec.add_users.is_empty() {
                users.insert(
                    "adding".into(),
                    json!(spec.add_users.iter().map(|u| &u.id).collect::<Vec<_>>()),
                );
            }
            if !spec.remove_users.is_empty() {
                users.insert("removing".into(), json!(spec.remove_users));
            }
            inst.users.retain(|u| !spec.remove_users.contains(&u.id));
            inst.users.extend(spec.add_users.iter().cloned());
            if !users.is_empty() {
                data.insert("users".into(), Value::Object(users));
            }
            if let Some(plan) = &spec.subscription {
                inst.subscription.name = plan.name.clone();
                inst.subscription.total_licenses = plan.licenses;
                data.insert(
                    "subscription".into(),
                    json!({"adding": {"name": plan.name, "licenses": plan.licenses.to_string()}}),
                );
            }
            drop(st);
            let event = self.envelope("app.updated", id, data);
            Self::record_genuine(&mut self.state(), id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// New credential set of the same algorithm (or `alg`); the old set keeps working until revoked.
    pub async fn rotate(self: &Arc<Self>, id: &str, alg: Option<Alg>) -> SimResult<Rotated> {
        let (event, new, previous) = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            let cred = Cred::generate(alg.unwrap_or(inst.alg()));
            let previous = inst.creds.last().unwrap().client_id.clone();
            let mut data = inst.base_data();
            data.extend(cred.event_data());
            let new = (
                cred.client_id.clone(),
                cred.client_secret.clone(),
                cred.key_id.clone(),
                cred.keys.private_b64(),
            );
            inst.creds.push(cred);
            drop(st);
            let event = self.envelope("app.credentials_rotated", id, data);
            Self::record_genuine(&mut self.state(), id, &event);
            (event, new, previous)
        };
        let sent = self.send_genuine(event).await;
        Ok(Rotated {
            client_id: new.0,
            client_secret: new.1,
            key_id: new.2,
            private_key: new.3,
            previous_client_id: previous,
            sent,
        })
    }

    /// Revokes one credential set: its assertions and its tokens stop working.
    pub fn revoke(&self, id: &str, client_id: &str) -> SimResult<()> {
        let mut st = self.state();
        let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
        let cred = inst
            .creds
            .iter_mut()
            .find(|c| c.client_id == client_id)
            .ok_or_else(|| format!("installation {id} has no credentials {client_id}"))?;
        // Its tokens stop working too: the API checks the minting credential set on every call.
        cred.revoked = true;
        Ok(())
    }

    /// Marks the installation uninstalled and sends `app.uninstalled`. Its credentials keep working
    /// until the app confirms the uninstall (or [`Core::remove`] forces it), so the app can read
    /// the installation back and approve.
    pub async fn uninstall(
        self: &Arc<Self>,
        id: &str,
        reason_type: &str,
        message: &str,
    ) -> SimResult<Sent> {
        let event = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            inst.state = "uninstalled".into();
            inst.reason = Some(message.to_string());
            inst.state_updated_at = now_rfc3339();
            let mut data = inst.base_data();
            data.insert(
                "reason".into(),
                json!({"type": reason_type, "message": message}),
            );
            drop(st);
            let event = self.envelope("app.uninstalled", id, data);
            Self::record_genuine(&mut self.state(), id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// Deprovisions an uninstalled installation: every token and credential stops working.
    pub fn remove(&self, id: &str) -> SimResult<()> {
        let mut st = self.state();
        let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
        inst.removed = true;
        inst.state = "uninstalled".into();
        Ok(())
    }

    pub async fn trial(
        self: &Arc<Self>,
        id: &str,
        kind: TrialKind,
        spec: TrialSpec,
    ) -> SimResult<Sent> {
        let event = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            let now = now_secs();
            let expires_at = spec.expires_at.clone().unwrap_or_else(|| match kind {
                TrialKind::Ended => rfc3339(now),
                _ => rfc3339(now + 14 * 86400),
            });
            let mut data = Map::new();
            data.insert("installation_id".into(), json!(inst.id));
            data.insert("account_id".into(), json!(inst.account_id));
            data.insert("expires_at".into(), json!(expires_at));
            let ty = match kind {
                TrialKind::Started => "app.trial_started",
                TrialKind::Extended => "app.trial_extended",
                TrialKind::Ended => "app.trial_ended",
            };
            if kind == TrialKind::Ended {
                data.insert("ended_at".into(), json!(rfc3339(now)));
                data.insert("ended_reason".into(), json!(spec.ended_reason));
                data.insert("ended_by".into(), json!(spec.ended_by));
                if spec.ended_reason == "plan_upgraded" {
                    inst.subscription.kind = "paid".into();
                }
            } else {
                inst.subscription.kind = "trial".into();
            }
            inst.trial = Some(json!({"type": ty, "data": data.clone()}));
            drop(st);
            let event = self.envelope(ty, id, data);
            Self::record_genuine(&mut self.state(), id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// Sends `user.logout` for a user named by id or email.
    pub async fn logout(self: &Arc<Self>, id: &str, user: &str) -> SimResult<Sent> {
        let event = {
            let st = self.state();
            let inst = st.inst(id).ok_or_else(|| unknown(id))?;
            let u = inst
                .users
                .iter()
                .find(|u| u.id == user || u.email == user)
                .ok_or_else(|| format!("installation {id} has no user {user}"))?;
            let mut data = Map::new();
            data.insert("account_id".into(), json!(inst.account_id));
            data.insert("user_id".into(), json!(u.id));
            data.insert("user_email".into(), json!(u.email));
            data.insert("installation_id".into(), json!(inst.id));
            drop(st);
            let event = self.envelope("user.logout", id, data);
            Self::record_genuine(&mut self.state(), id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// An event with a real-looking envelope that the simulator never records as genuine.
    pub fn forge(&self, ty: &str, data: Value) -> Value {
        let inst = data["installation_id"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let data = match data {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        self.envelope(ty, &inst, data)
    }

    // ---- delivery ---------------------------------------------------------------------------

    async fn send_genuine(self: &Arc<Self>, event: Value) -> Sent {
        let event_id = event["id"].as_str().unwrap_or_default().to_string();
        let delivery = self.dispatch(event.clone(), true).await;
        Sent {
            event_id,
            event,
            delivery,
        }
    }

    /// Sends a genuine event again, as Talkdesk would on a duplicate delivery.
    pub async fn redeliver(self: &Arc<Self>, event_id: &str) -> SimResult<Sent> {
        let event = self
            .event(event_id)
            .ok_or_else(|| format!("no genuine event {event_id}"))?;
        Ok(self.send_genuine(event).await)
    }

    /// Sends any JSON `times` times, once each, with no retries; never recorded as genuine.
    pub async fn send_raw(self: &Arc<Self>, body: Value, times: usize) -> Vec<DeliveryOutcome> {
        let mut out = vec![];
        for _ in 0..times {
            out.push(self.dispatch(body.clone(), false).await);
        }
        out
    }

    /// First attempt now (genuine events are queued instead while events are held; raw and forged
    /// sends always go at once); genuine events that fail are retried in the background after 5
    /// and 10 minutes (times `time_scale`).
    pub async fn dispatch(self: &Arc<Self>, event: Value, genuine: bool) -> DeliveryOutcome {
        {
            let mut st = self.state();
            if st.hold && genuine {
                st.held.push(event);
                return DeliveryOutcome {
                    held: true,
                    attempt: None,
                };
            }
        }
        let first = self.attempt(&event, 1, genuine).await;
        if genuine && !first.ok() {
            let core = self.clone();
            tokio::spawn(async move {
                for (i, delay) in RETRY_DELAYS.iter().enumerate() {
                    let scale = core.settings().time_scale.max(0.0);
                    tokio::time::sleep(delay.mul_f64(scale)).await;
                    if core.attempt(&event, i as u32 + 2, true).await.ok() {
                        break;
                    }
                }
            });
        }
        DeliveryOutcome {
            held: false,
            attempt: Some(first),
        }
    }

    async fn attempt(&self, event: &Value, attempt: u32, genuine: bool) -> DeliveryAttempt {
        let settings = self.settings();
        let (status, error) = match &settings.callback_url {
            None => (None, Some("no callback URL configured".to_string())),
            Some(url) => match self
                .http
                .post(url)
                .timeout(settings.delivery_timeout)
                .json(event)
                .send()
                .await
            {
                Ok(resp) => (Some(resp.status().as_u16()), None),
                Err(e) if e.is_timeout() => (None, Some(format!("timeout: {}", chain(&e)))),
                Err(e) => (None, Some(format!("connection error: {}", chain(&e)))),
            },
        };
        let rec = DeliveryAttempt {
            event_id: event["id"].as_str().unwrap_or_default().to_string(),
            event_type: event["type"].as_str().unwrap_or_default().to_string(),
            attempt,
            at: now_rfc3339(),
            status,
            error,
            genuine,
        };
        self.state().deliveries.push(rec.clone());
        rec
    }

    pub fn set_hold(&self, hold: bool) {
        self.state().hold = hold;
    }

    /// Removes the held events without sending them.
    pub fn take_held(&self) -> Vec<Value> {
        std::mem::take(&mut self.state().held)
    }

    /// Stops holding and delivers the held events: those named in `order` first, in that order,
    /// then the rest in the order they were held.
    pub async fn release(self: &Arc<Self>, order: &[String]) -> Vec<Sent> {
        let mut held = {
            let mut st = self.state();
            st.hold = false;
            std::mem::take(&mut st.held)
        };
        let mut queue = vec![];
        for id in order {
            if let Some(pos) = held.iter().position(|e| e["id"].as_str() == Some(id)) {
                queue.push(held.remove(pos));
            }
        }
        queue.extend(held);
        let mut out = vec![];
        for event in queue {
            let event_id = event["id"].as_str().unwrap_or_default().to_string();
            let delivery = self.dispatch(event.clone(), true).await;
            out.push(Sent {
                event_id,
                event,
                delivery,
            });
        }
        out
    }
}

/// An error and its causes on one line (reqwest's own message hides the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn unknown(id: &str) -> String {
    format!("unknown installation {id}")
}
