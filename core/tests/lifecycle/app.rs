//! `TestApp`: the core wired as the worker wires it, natively. SQLite built from `migrations/`
//! plays D1 (the same statements run), in-memory KV plays KV, OpenSSL signs, and the strict
//! simulator plays Talkdesk on loopback. Events go through the same handler as `POST /events`;
//! jobs run through the same outbox runner as `waitUntil` and the cron sweep.

use std::time::Duration;

use appconnect_core::app::{self, Head};
use appconnect_core::config::Config;
use appconnect_core::http::Route;
use appconnect_core::lifecycle::{self, Ports, Settings};
use appconnect_core::testing::ports::TestPorts;
use serde_json::Value;
use talkdesk_sim::{Alg, InstallSpec, Installed, SimConfig, Simulator};

pub const ADMIN_TOKEN: &str = "an-operator-token-for-native-tests";
pub const CALLBACK_TOKEN: &str = "a-callback-token-only-talkdesk-knows";
/// Backoff, waits and leases a thousand times shorter: a 30 s retry is 30 ms.
pub const TIME_SCALE: &str = "0.001";

pub struct TestApp {
    pub ports: TestPorts,
    pub config: Config,
    pub sim: Simulator,
}

impl TestApp {
    pub fn new() -> TestApp {
        let sim = Simulator::start(SimConfig::default());
        // Events are built and recorded by the simulator but handed to us, not POSTed.
        sim.hold_events();
        sim.register_redirect_uri(&format!("{}/oauth/callback", super::sso::BASE))
            .expect("a valid redirect URI");
        let app_id = sim.app_id();
        let config = Config::from_lookup(|name| {
            Some(match name {
                "TALKDESK_APP_ID" => app_id.clone(),
                "TALKDESK_EXTRA_HOSTS" => "127.0.0.1:*".into(),
                "SEALING_KEY" => "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
                "ADMIN_TOKEN" => ADMIN_TOKEN.into(),
                "CALLBACK_TOKEN" => CALLBACK_TOKEN.into(),
                "LIFECYCLE_TIME_SCALE" => TIME_SCALE.into(),
                "PUBLIC_BASE_URL" => super::sso::BASE.into(),
                _ => return None,
            })
        })
        .expect("test settings are valid");
        TestApp {
            ports: TestPorts::default(),
            config,
            sim,
        }
    }

    /// The test settings with `overrides` (name, value) applied, as after a redeploy.
    pub fn config_with(&self, overrides: &[(&str, &str)]) -> Config {
        let app_id = self.sim.app_id();
        Config::from_lookup(|name| {
            if let Some((_, v)) = overrides.iter().find(|(n, _)| *n == name) {
                return Some((*v).to_owned());
            }
            Some(match name {
                "TALKDESK_APP_ID" => app_id.clone(),
                "TALKDESK_EXTRA_HOSTS" => "127.0.0.1:*".into(),
                "SEALING_KEY" => "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
                "ADMIN_TOKEN" => ADMIN_TOKEN.into(),
                "CALLBACK_TOKEN" => CALLBACK_TOKEN.into(),
                "LIFECYCLE_TIME_SCALE" => TIME_SCALE.into(),
                "PUBLIC_BASE_URL" => super::sso::BASE.into(),
                _ => return None,
            })
        })
        .expect("test settings are valid")
    }

    pub fn settings(&self) -> Settings<'_> {
        Settings::from_config(&self.config)
    }

    /// `POST /events` with this body: the status and the JSON answer. Jobs do not run yet.
    pub async fn post(&self, body: &[u8]) -> (u16, Value, Option<String>) {
        let head = Head {
            path: "/events".into(),
            content_type: Some("application/json".into()),
            ..Head::default()
        };
        let route = Route::Events(CALLBACK_TOKEN.into());
        assert!(app::precheck(&self.config, &route, &head).is_none());
        let handled = app::handle(&self.ports, &self.config, route, &head, body).await;
        let reply: Value = serde_json::from_str(&handled.reply.body).unwrap_or(Value::Null);
        (handled.reply.status, reply, handled.run_installation)
    }

    /// Posts the event and, as the worker does after answering, runs its installation's jobs.
    pub async fn deliver(&self, event: &Value) -> Value {
        let (status, reply, run) = self.post(event.to_string().as_bytes()).await;
        assert_eq!(status, 200, "{reply}");
        if let Some(id) = run {
            lifecycle::run_installation(&self.ports, &self.settings(), &id)
                .await
                .ok();
        }
        reply
    }

    /// Delivers every event the simulator holds, in order.
    pub async fn deliver_held(&self) -> Vec<Value> {
        let mut replies = Vec::new();
        for event in self.sim.take_held() {
            replies.push(self.deliver(&event).await);
        }
        replies
    }

    /// Runs the cron sweep until no job is pending or `limit` sweeps have run (backoff is
    /// scaled down, so a few milliseconds' sleep lets retries come due).
    pub async fn settle(&self) {
        for _ in 0..200 {
            if self.pending_jobs() == 0 {
                return;
            }
            let _ = lifecycle::sweep(&self.ports, &self.settings(), 25).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// One cron sweep (whatever is due now).
    pub async fn settle_once(&self) {
        let _ = lifecycle::sweep(&self.ports, &self.settings(), 25).await;
    }

    /// A genuine `app.installed` the simulator built for account `acme` and did not deliver.
    pub async fn undelivered_install(&self, alg: Alg) -> Installed {
        self.sim
            .install_without_sending(InstallSpec::new("acme", alg))
            .await
            .expect("simulator installs")
    }

    /// Installs in the simulator and delivers `app.installed` (jobs run once).
    pub async fn install(&self, alg: Alg) -> Installed {
        self.install_spec(InstallSpec::new("acme", alg)).await
    }

    pub async fn install_spec(&self, spec: InstallSpec) -> Installed {
        let inst = self.sim.install(spec).await.expect("simulator installs");
        self.deliver_held().await;
        inst
    }

    /// An installation whose install has fully run: active.
    pub async fn active(&self, alg: Alg) -> Installed {
        self.active_spec(InstallSpec::new("acme", alg)).await
    }

    pub async fn active_spec(&self, spec: InstallSpec) -> Installed {
        let inst = self.install_spec(spec).await;
        self.settle().await;
        assert_eq!(self.view(&inst.installation_id).await["state"], "active");
        inst
    }

    /// The operator's view of the installation (`GET /admin/installations/{id}`).
    pub async fn view(&self, id: &str) -> Value {
        let handled = app::handle(
            &self.ports,
            &self.config,
            Route::AdminInstallation(id.to_owned()),
            &Head::default(),
            b"",
        )
        .await;
        assert_eq!(handled.reply.status, 200);
        serde_json::from_str(&handled.reply.body).unwrap()
    }

    /// The installation's state as Talkdesk (the simulator) has it.
    pub fn talkdesk_state(&self, id: &str) -> String {
        self.sim.installation(id).expect("known to Talkdesk").state
    }

    /// How many times Talkdesk was asked to approve or reject this installation.
    pub fn confirmations(&self, id: &str) -> usize {
        self.sim.installation(id).map_or(0, |i| i.history.len())
    }

    pub fn pending_jobs(&self) -> i64 {
        self.count("SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending'")
    }

    /// A single-number query.
    pub fn count(&self, sql: &str) -> i64 {
        self.ports.db.select(sql)[0]["n"].as_i64().unwrap()
    }

    /// The event's status and detail as recorded.
    pub fn event_status(&self, event_id: &str) -> String {
        let rows = self.ports.db().select(&format!(
            "SELECT status FROM events WHERE event_id = '{}'",
            event_id.replace('\'', "''")
        ));
        rows[0]["status"].as_str().unwrap().to_owned()
    }
}

/// Waits until the wall clock is in the next second: Talkdesk stamps events to the second, so
/// two events meant to be ordered must not share a stamp.
pub async fn next_second() {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    tokio::time::sleep(Duration::from_millis(u64::from(1000 - ms) + 50)).await;
}

/// The one event the simulator holds.
pub fn held_one(app: &TestApp) -> Value {
    let mut held = app.sim.take_held();
    assert_eq!(held.len(), 1, "{held:#?}");
    held.remove(0)
}

pub fn id_of(event: &Value) -> String {
    event["id"].as_str().unwrap().to_owned()
}

/// A copy of a genuine `app.installed` under `event_id`, carrying credentials Talkdesk never
/// issued (the real key's shape, an unknown client id): Talkdesk ID refuses it.
pub fn forged_install(genuine: &Value, event_id: &str) -> Value {
    let mut forged = genuine.clone();
    forged["id"] = serde_json::json!(event_id);
    forged["data"]["client_id"] = serde_json::json!("client-nobody-issued");
    forged
}
