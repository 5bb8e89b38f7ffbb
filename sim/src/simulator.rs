//! The library handle: a [`Simulator`] owns the server's thread and runtime and exposes the
//! scripts, faults and inspection to tests as plain method calls.

use crate::error::{SimError, SimResult};
use crate::jose::Alg;
use crate::model::SimUser;
use crate::model::{
    DeliveryAttempt, DeliveryOutcome, Endpoint, EventReads, Fault, InstallSpec, InstallationView,
    Installed, RequestRecord, Rotated, Sent, SimConfig, TrialKind, TrialSpec, UpdateSpec,
};
use crate::server;
use crate::sso_model::{
    launch_url, validate_redirect_uri, AuthorizeMode, IdTokenFault, IssuedUserToken,
};
use crate::state::Core;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    core: Arc<Core>,
    rt: tokio::runtime::Handle,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    port: u16,
}

impl Simulator {
    /// Starts the server on 127.0.0.1 (a free port unless `config.port` is set). Panics if the
    /// port cannot be bound; see [`Simulator::try_start`].
    pub fn start(config: SimConfig) -> Simulator {
        Simulator::try_start(config).expect("start the Talkdesk simulator")
    }

    /// Fails if the port cannot be bound or a configured redirect URI is not an absolute http(s)
    /// URL without a fragment.
    pub fn try_start(config: SimConfig) -> std::io::Result<Simulator> {
        for uri in &config.redirect_uris {
            validate_redirect_uri(uri).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
            })?;
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port.unwrap_or(0)))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let core = Arc::new(Core::new(&config, port));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("talkdesk-sim")
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (tx, rx) = oneshot::channel();
        let server_core = core.clone();
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let thread = std::thread::Builder::new()
            .name("talkdesk-sim".into())
            .spawn(move || {
                rt.block_on(server::serve(listener, server_core, rx));
                rt.shutdown_background();
            })?;
        Ok(Simulator {
            core,
            rt: handle,
            shutdown: Some(tx),
            thread: Some(thread),
            port,
        })
    }

    /// Runs `f` on the simulator's own runtime and awaits it from whatever runtime the caller is on.
    async fn run<F, T>(&self, f: impl FnOnce(Arc<Core>) -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.rt
            .spawn(f(self.core.clone()))
            .await
            .expect("simulator task panicked")
    }

    /// Blocks until the server stops (the CLI's `serve`).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    // ---- addresses and settings ---------------------------------------------------------------

    pub fn port(&self) -> u16 {
        self.port
    }
    /// `http://127.0.0.1:PORT`: the events' `_links.root`.
    pub fn base_url(&self) -> String {
        self.core.base_url.clone()
    }
    /// `http://127.0.0.1:PORT/oauth/token`: the exact `aud` assertions must carry.
    pub fn token_url(&self) -> String {
        self.core.token_url()
    }
    pub fn app_id(&self) -> String {
        self.core.app_id()
    }
    pub fn set_callback_url(&self, url: impl Into<String>) {
        self.core.settings.lock().unwrap().callback_url = Some(url.into());
    }
    pub fn set_token_ttl(&self, secs: u64) {
        self.core.settings.lock().unwrap().token_ttl_secs = secs;
    }
    pub fn set_time_scale(&self, scale: f64) {
        self.core.settings.lock().unwrap().time_scale = scale;
    }
    /// How event reads answer from now on, and (except `Status`) which id the `self` link of
    /// events built from now on ends in; see [`EventReads`]. Events already built keep theirs.
    pub fn set_event_reads(&self, reads: EventReads) {
        self.core.settings.lock().unwrap().event_reads = reads;
    }
    /// At most `per_second` token requests per account per second from now on (`None`:
    /// unlimited); see [`SimConfig::token_rate_limit`].
    pub fn set_token_rate_limit(&self, per_second: Option<u32>) {
        self.core.settings.lock().unwrap().token_rate_limit = per_second;
    }

    // ---- single sign-on (Talkdesk ID) -------------------------------------------------------

    /// `http://127.0.0.1:PORT/oauth/authorize` (also the events' `_links.authorization`).
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/authorize", self.core.base_url)
    }
    /// The `iss` of every genuine `id_token`: [`Simulator::base_url`], no trailing slash.
    pub fn issuer(&self) -> String {
        self.core.base_url.clone()
    }
    /// `http://127.0.0.1:PORT/oauth/jwks`: the JWK Set that verifies `id_token`s.
    pub fn jwks_url(&self) -> String {
        format!("{}/oauth/jwks", self.core.base_url)
    }
    /// The JWK Set served at [`Simulator::jwks_url`].
    pub fn jwks(&self) -> Value {
        self.core.id_key().jwks()
    }
    /// `http://127.0.0.1:PORT/widget/header.js` (`app.installed`'s `_links.widget_url`).
    pub fn widget_url(&self) -> String {
        format!("{}/widget/header.js", self.core.base_url)
    }
    /// Registers a redirect URI (the Partner Project setting), in addition to
    /// [`SimConfig::redirect_uris`]. Refused unless an absolute http(s) URL without a fragment;
    /// matched byte for byte.
    pub fn register_redirect_uri(&self, uri: &str) -> SimResult<()> {
        self.core.register_redirect_uri(uri)
    }
    pub fn redirect_uris(&self) -> Vec<String> {
        self.core.settings().redirect_uris
    }
    /// See [`SimConfig::auto_sign_in`].
    pub fn set_auto_sign_in(&self, on: bool) {
        self.core.set_auto_sign_in(on);
    }
    /// Lets pages of `origin` show the sign-in page in a frame. Whether Talkdesk ID may be
    /// framed is not documented; by default its page refuses every frame (`frame-ancestors
    /// 'none'`), the stricter choice. Tests of an app framed inside Talkdesk turn this on.
    pub fn allow_sign_in_framing(&self, origin: &str) {
        self.core.allow_sign_in_framing(origin);
    }
    /// How `/oauth/authorize` answers from now on, until set again; see [`AuthorizeMode`].
    pub fn set_authorize_mode(&self, mode: AuthorizeMode) {
        self.core.set_authorize_mode(mode);
    }
    /// The next `id_token` issued (and only that one) carries `fault`; see [`IdTokenFault`].
    pub fn tamper_next_id_token(&self, fault: IdTokenFault) {
        self.core.tamper_next_id_token(fault);
    }
    /// Every member of the installation's account, as the sign-in page lists them: the licensed
    /// users, then those without a licence for the app.
    pub fn account_members(&self, installation_id: &str) -> SimResult<Vec<SimUser>> {
        self.core.account_members(installation_id)
    }
    /// What each successful code exchange for the installation issued, oldest first (access,
    /// refresh and id tokens in plaintext, the user, whether revoked). App tokens are in
    /// [`Simulator::issued_tokens`] instead.
    pub fn issued_user_tokens(&self, installation_id: &str) -> Vec<IssuedUserToken> {
        self.core.issued_user_tokens(installation_id)
    }
    /// How many fresh authorization codes were issued for the installation (replayed ones are
    /// not counted).
    pub fn codes_issued(&self, installation_id: &str) -> usize {
        self.core.codes_issued(installation_id)
    }
    /// Makes every code issued so far for the installation expire now.
    pub fn expire_codes(&self, installation_id: &str) {
        self.core.expire_codes(installation_id);
    }
    /// The URL Talkdesk opens to launch the app:
    /// `{worker}/launch?talkdesk_installation_id=…&talkdesk_user_id=…`, for `user` (id or email
    /// of a member, licensed or not) or, if `None`, the first licensed user.
    pub fn launch_url(
        &self,
        installation_id: &str,
        user: Option<&str>,
        worker: &str,
    ) -> SimResult<String> {
        let view = self
            .installation(installation_id)
            .ok_or_else(|| SimError::UnknownInstallation(installation_id.to_string()))?;
        launch_url(worker, &view, user)
    }

    // ---- lifecycle scripts ------------------------------------------------------------------

    /// Creates an installation (state `pending`) with fresh credentials and sends `app.installed`.
    pub async fn install(&self, spec: InstallSpec) -> SimResult<Installed> {
        self.run(|c| async move { c.install(spec, true).await })
            .await
    }
    /// Like [`Simulator::install`] but does not send `app.installed`: the genuine event is in
    /// `Installed::event` for the test to send itself ([`Simulator::send_raw`]), duplicate or
    /// mutate. `delivery` is empty.
    pub async fn install_without_sending(&self, spec: InstallSpec) -> SimResult<Installed> {
        self.run(|c| async move { c.install(spec, false).await })
            .await
    }
    pub async fn update(&self, installation_id: &str, spec: UpdateSpec) -> SimResult<Sent> {
        let id = installation_id.to_string();
        self.run(|c| async move { c.update(&id, spec).await }).await
    }
    /// New credentials of the same algorithm; old and new both work until [`Simulator::revoke`].
    pub async fn rotate(&self, installation_id: &str) -> SimResult<Rotated> {
        let id = installation_id.to_string();
        self.run(|c| async move { c.rotate(&id, None).await }).await
    }
    pub async fn rotate_to(&self, installation_id: &str, alg: Alg) -> SimResult<Rotated> {
        let id = installation_id.to_string();
        self.run(|c| async move { c.rotate(&id, Some(alg)).await })
            .await
    }
    /// Revokes one credential set (as Talkdesk does 7 days after a rotation, or at once after a
    /// compromise): its assertions, its Basic secret and every access token it minted stop
    /// working; the installation's other sets are unaffected.
    pub fn revoke(&self, installation_id: &str, client_id: &str) -> SimResult<()> {
        self.core.revoke(installation_id, client_id)
    }
    /// Sends `app.uninstalled`. Credentials keep working until the app approves the uninstall
    /// (or [`Simulator::remove`] forces it, as Talkdesk's 7-day timeout would).
    pub async fn uninstall(
        &self,
        installation_id: &str,
        reason_type: &str,
        message: &str,
    ) -> SimResult<Sent> {
        let (id, t, m) = (
            installation_id.to_string(),
            reason_type.to_string(),
            message.to_string(),
        );
        self.run(|c| async move { c.uninstall(&id, &t, &m).await })
            .await
    }
    /// Deprovisions the installation now (as Talkdesk's 7-day timeout would): every credential
    /// set and every token stops working.
    pub fn remove(&self, installation_id: &str) -> SimResult<()> {
        self.core.remove(installation_id)
    }
    pub async fn trial(
        &self,
        installation_id: &str,
        kind: TrialKind,
        spec: TrialSpec,
    ) -> SimResult<Sent> {
        let id = installation_id.to_string();
        self.run(|c| async move { c.trial(&id, kind, spec).await })
            .await
    }
    pub async fn trial_started(&self, installation_id: &str) -> SimResult<Sent> {
        self.trial(installation_id, TrialKind::Started, TrialSpec::default())
            .await
    }
    pub async fn trial_extended(&self, installation_id: &str) -> SimResult<Sent> {
        self.trial(installation_id, TrialKind::Extended, TrialSpec::default())
            .await
    }
    pub async fn trial_ended(&self, installation_id: &str, spec: TrialSpec) -> SimResult<Sent> {
        self.trial(installation_id, TrialKind::Ended, spec).await
    }
    /// Sends `user.logout` for a member (licensed or not) named by id or email, and ends their
    /// sign-in sessions in the account (a later authorize request shows the sign-in page).
    pub async fn logout(&self, installation_id: &str, user: &str) -> SimResult<Sent> {
        let (id, u) = (installation_id.to_string(), user.to_string());
        self.run(|c| async move { c.logout(&id, &u).await }).await
    }

    // ---- hostile and unusual deliveries -----------------------------------------------------

    /// Sends a genuine event again (a duplicate, as Talkdesk may send).
    pub async fn redeliver(&self, event_id: &str) -> SimResult<Sent> {
        let id = event_id.to_string();
        self.run(|c| async move { c.redeliver(&id).await }).await
    }
    /// Sends any JSON `times` times, no retries, never recorded as genuine.
    pub async fn send_raw(&self, body: Value, times: usize) -> Vec<DeliveryOutcome> {
        self.run(|c| async move { c.send_raw(body, times).await })
            .await
    }
    /// Builds an event with a real envelope that is not genuine: `GET …/events/{id}` answers 404
    /// and no API state changes. Returns the event without sending it.
    pub fn forged_event(&self, event_type: &str, data: Value) -> Value {
        self.core.forge(event_type, data)
    }
    /// Builds a forged event and sends it once.
    pub async fn forge(&self, event_type: &str, data: Value) -> (Value, DeliveryOutcome) {
        let event = self.forged_event(event_type, data);
        let out = self.send_raw(event.clone(), 1).await.remove(0);
        (event, out)
    }
    /// From now on genuine events are built and recorded but queued, not sent (raw and forged
    /// sends still go at once).
    pub fn hold_events(&self) {
        self.core.set_hold(true);
    }
    /// Removes the held events without sending them (to send them yourself, mutated or not).
    pub fn take_held(&self) -> Vec<Value> {
        self.core.take_held()
    }
    /// Stops holding; sends held events named in `order` first (in that order), then the rest.
    pub async fn release(&self, order: &[String]) -> Vec<Sent> {
        let order = order.to_vec();
        self.run(|c| async move { c.release(&order).await }).await
    }

    // ---- faults -----------------------------------------------------------------------------

    /// For the next `times` calls of `endpoint`, answer with `fault` instead.
    pub fn fault(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        self.core.add_fault(endpoint, fault, times);
    }
    pub fn clear_faults(&self) {
        self.core.clear_faults();
    }

    // ---- inspection -------------------------------------------------------------------------

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.core.requests()
    }
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(endpoint))
            .collect()
    }
    /// Every request to the token endpoint attributable to the installation, in order: minted,
    /// refused (attributed by the Basic user name, the assertion's `iss`/`sub` or the form's
    /// `client_id`, whichever names one of its credential sets, current or revoked) or answered by
    /// an injected fault. `.len()` is the number of token requests the app made for it. Requests
    /// that name no known client cannot be attributed and are only in [`Simulator::requests_to`].
    pub fn token_requests_for(&self, installation_id: &str) -> Vec<RequestRecord> {
        self.requests_to(Endpoint::Token)
            .into_iter()
            .filter(|r| r.installation_id.as_deref() == Some(installation_id))
            .collect()
    }
    pub fn installation(&self, installation_id: &str) -> Option<InstallationView> {
        self.core.installation(installation_id)
    }
    pub fn installations(&self) -> Vec<InstallationView> {
        self.core.installations()
    }
    /// Every delivery attempt, genuine or not, in order.
    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.core.deliveries()
    }
    /// A genuine event exactly as sent, by envelope id.
    pub fn event(&self, event_id: &str) -> Option<Value> {
        self.core.event(event_id)
    }
    /// The resource id of a genuine event (the last segment of its `_links.self`), by envelope
    /// id: its own random id, or the envelope id if it was built under
    /// [`EventReads::ByEnvelopeId`].
    pub fn event_resource_id(&self, event_id: &str) -> Option<String> {
        self.core.event_resource_id(event_id)
    }
    /// The plaintext app access tokens (`client_credentials`) issued for the installation, oldest
    /// first, whether still valid or not (expired, revoked, uninstalled), e.g. to check that none
    /// appears in the worker's storage or logs. Also in [`InstallationView::issued_tokens`]. User
    /// tokens are in [`Simulator::issued_user_tokens`].
    pub fn issued_tokens(&self, installation_id: &str) -> Vec<String> {
        self.core.state().issued_tokens(installation_id)
    }
    /// Makes every access token issued so far for the installation (app and user tokens) expire
    /// now.
    pub fn expire_tokens(&self, installation_id: &str) {
        let mut st = self.core.state();
        for t in st.tokens.values_mut() {
            if t.installation_id == installation_id {
                t.expires_at_ms = 0;
            }
        }
    }

    /// Polls until `pred` holds for the installation, or fails with the last view after `timeout`.
    pub async fn wait_until(
        &self,
        installation_id: &str,
        timeout: Duration,
        pred: impl Fn(&InstallationView) -> bool,
    ) -> SimResult<InstallationView> {
        let deadline = Instant::now() + timeout;
        loop {
            let view = self.installation(installation_id);
            if let Some(v) = &view {
                if pred(v) {
                    return Ok(v.clone());
                }
            }
            if Instant::now() >= deadline {
                return Err(SimError::WaitTimedOut {
                    installation_id: installation_id.to_string(),
                    after: timeout,
                    last_view: serde_json::to_string(&view).unwrap(),
                });
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the installation is in `state` (`approved`, `rejected`, `uninstalled`, …).
    pub async fn wait_for_state(
        &self,
        installation_id: &str,
        state: &str,
        timeout: Duration,
    ) -> SimResult<InstallationView> {
        self.wait_until(installation_id, timeout, |v| v.state == state)
            .await
    }

    /// Waits until the installation's state history has at least `n` entries.
    pub async fn wait_for_history(
        &self,
        installation_id: &str,
        n: usize,
        timeout: Duration,
    ) -> SimResult<InstallationView> {
        self.wait_until(installation_id, timeout, |v| v.history.len() >= n)
            .await
    }

    /// Waits until at least `n` delivery attempts of `event_id` were made.
    pub async fn wait_for_deliveries(
        &self,
        event_id: &str,
        n: usize,
        timeout: Duration,
    ) -> SimResult<Vec<DeliveryAttempt>> {
        let deadline = Instant::now() + timeout;
        loop {
            let d: Vec<_> = self
                .deliveries()
                .into_iter()
                .filter(|d| d.event_id == event_id)
                .collect();
            if d.len() >= n {
                return Ok(d);
            }
            if Instant::now() >= deadline {
                return Err(SimError::DeliveriesTimedOut {
                    event_id: event_id.to_string(),
                    seen: d.len(),
                    wanted: n,
                });
            }
            sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A sleep that works under any tokio runtime and outside one.
async fn sleep(d: Duration) {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::sleep(d).await;
    } else {
        std::thread::sleep(d);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
