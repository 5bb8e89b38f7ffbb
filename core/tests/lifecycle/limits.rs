//! The outbox under faults: repeated approvals, and jobs whose runs die before they record
//! anything.

use appconnect_core::lifecycle::{self, Ports};
use talkdesk_sim::{Alg, Endpoint, Fault};

use super::app::TestApp;

#[tokio::test]
async fn an_install_approval_answered_409_counts_as_approved() {
    let app = TestApp::new();
    // Talkdesk took an earlier approval: it answers this one with a conflict.
    app.sim.fault(Endpoint::State, Fault::status(409), 1);
    let inst = app.install(Alg::ES256).await;
    app.settle().await;
    let view = app.view(&inst.installation_id).await;
    assert_eq!(view["state"], "active", "{view}");
    assert_eq!(view["last_error"], serde_json::Value::Null, "{view}");
}

#[tokio::test]
async fn a_job_whose_runs_die_counts_every_attempt_and_expires_at_the_deadline() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    let (status, _, _) = app.post(inst.event.to_string().as_bytes()).await;
    assert_eq!(status, 200);
    let store = app.ports.store();
    // Three runs take the lease and die (CPU limit, a cancelled waitUntil) without a word.
    for _ in 0..3 {
        let head = store
            .head_job(&inst.installation_id)
            .await
            .unwrap()
            .unwrap();
        let now = {
            use appconnect_core::ports::Clock;
            app.ports.clock.now_ms()
        };
        assert!(store
            .lease_job(head.job_id, "a-runner-that-dies", now, now + 10)
            .await
            .unwrap()
            .is_some());
        app.ports.clock.advance(20);
    }
    let job = store
        .head_job(&inst.installation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.attempts, 3, "each lease counted an attempt");
    // Past Talkdesk's window, the next run expires the job instead of trying again.
    app.ports.clock.advance(8 * 24 * 3600 * 1000);
    let calls = app.sim.requests().len();
    lifecycle::run_installation(&app.ports, &app.settings(), &inst.installation_id)
        .await
        .unwrap();
    assert_eq!(app.pending_jobs(), 0);
    assert_eq!(app.event_status(&inst.event_id), "failed");
    assert_eq!(
        app.sim.requests().len(),
        calls,
        "no Talkdesk call after the deadline"
    );
}

#[tokio::test]
async fn an_uninstall_is_not_held_up_by_an_update_that_keeps_failing() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    // The update cannot read users (Talkdesk errors for a long while): it backs off.
    app.sim.fault(Endpoint::Users, Fault::status(503), 1000);
    app.sim
        .update(&inst.installation_id, talkdesk_sim::UpdateSpec::default())
        .await
        .unwrap();
    app.deliver_held().await;
    assert_eq!(app.pending_jobs(), 1, "the update waits in backoff");
    // The uninstall arrives behind it and goes through at once.
    app.sim
        .uninstall(&inst.installation_id, "user", "bye")
        .await
        .unwrap();
    app.deliver_held().await;
    let view = app.view(&inst.installation_id).await;
    assert_eq!(view["state"], "uninstalled", "{view}");
    assert_eq!(app.talkdesk_state(&inst.installation_id), "uninstalled");
    // The update, when its turn comes, finds the installation closed and does nothing.
    app.sim.clear_faults();
    app.ports.clock.advance(2 * 3600 * 1000);
    app.settle().await;
    assert_eq!(app.pending_jobs(), 0);
}

const OLD_KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW_KEY: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

async fn admin(
    app: &TestApp,
    route: appconnect_core::http::Route,
    query: Vec<(String, String)>,
) -> serde_json::Value {
    let head = appconnect_core::app::Head {
        authorization: Some(format!("Bearer {}", super::app::ADMIN_TOKEN)),
        query,
        ..Default::default()
    };
    let r = appconnect_core::app::handle(&app.ports, &app.config, route, &head, b"")
        .await
        .reply;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

#[tokio::test]
async fn a_sealing_key_rotation_reseals_everything_and_the_old_key_can_go() {
    use appconnect_core::http::Route;
    let mut app = TestApp::new();
    let first = app.active(Alg::ES256).await;
    let second = app
        .active_spec(talkdesk_sim::InstallSpec::new("globex", Alg::PS384))
        .await;
    // A rotation in flight: its new set waits sealed on its event.
    app.sim.rotate(&second.installation_id).await.unwrap();
    let rotation = app.sim.take_held();
    app.post(rotation[0].to_string().as_bytes()).await;

    // 1. The new key goes first; the old one still opens.
    app.config = app.config_with(&[("SEALING_KEY", &format!("{NEW_KEY},{OLD_KEY}"))]);
    let before = admin(&app, Route::AdminSealing, vec![]).await;
    assert_eq!(before["current"], "k2");
    assert_eq!(before["sealed_by_key"]["k1"], 6, "{before}");
    // 2. Re-seal, batch after batch.
    let mut after: Vec<(String, String)> = vec![];
    loop {
        let report = admin(&app, Route::AdminReseal, after.clone()).await;
        assert_eq!(report["unreadable"], 0, "{report}");
        match report["next"].as_str() {
            Some(next) => after = vec![("after".into(), next.into())],
            None => break,
        }
    }
    let done = admin(&app, Route::AdminSealing, vec![]).await;
    assert_eq!(done["sealed_by_key"].get("k1"), None, "{done}");
    assert_eq!(done["sealed_by_key"]["k2"], 6, "{done}");
    let history = admin(
        &app,
        Route::AdminInstallationEvents(first.installation_id.clone()),
        vec![],
    )
    .await;
    assert_eq!(
        history["operator_actions"][0]["action"], "reseal",
        "the re-seal is in the installation's history: {history}"
    );
    // 3. The old key goes. Every installation still works, the rotation included.
    app.config = app.config_with(&[("SEALING_KEY", NEW_KEY)]);
    app.settle().await;
    for inst in [&first, &second] {
        let v = admin(
            &app,
            Route::AdminVerify(inst.installation_id.clone()),
            vec![],
        )
        .await;
        assert_eq!(v["talkdesk"]["state"], "approved", "{v}");
    }
    assert_eq!(app.event_status(&super::app::id_of(&rotation[0])), "done");
}

#[tokio::test]
async fn the_operator_sees_every_event_with_its_status_and_can_retry_now() {
    use appconnect_core::http::Route;
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    app.sim.fault(Endpoint::Users, Fault::status(503), 1000);
    app.sim
        .update(&inst.installation_id, talkdesk_sim::UpdateSpec::default())
        .await
        .unwrap();
    app.deliver_held().await;
    let listed = admin(
        &app,
        Route::AdminInstallationEvents(inst.installation_id.clone()),
        vec![],
    )
    .await;
    let events = listed["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{listed}");
    assert_eq!(events[0]["event_type"], "app.updated");
    assert_eq!(events[0]["status"], "received", "{listed}");
    assert_eq!(events[1]["status"], "done");
    // Talkdesk is back: the operator does not wait for the backoff.
    app.sim.clear_faults();
    let head = appconnect_core::app::Head {
        authorization: Some(format!("Bearer {}", super::app::ADMIN_TOKEN)),
        ..Default::default()
    };
    let handled = appconnect_core::app::handle(
        &app.ports,
        &app.config,
        Route::AdminRetryNow(inst.installation_id.clone()),
        &head,
        b"",
    )
    .await;
    assert_eq!(handled.reply.status, 202);
    let id = handled
        .run_installation
        .expect("its jobs run after the answer");
    lifecycle::run_installation(&app.ports, &app.settings(), &id)
        .await
        .unwrap();
    assert_eq!(app.pending_jobs(), 0);
}

#[tokio::test]
async fn an_install_arriving_while_d1_is_down_is_captured_then_replayed_and_approved() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.ports.db.fail_always("read installation");
    app.ports.db.fail_always("store event");
    let (status, answer, run) = app.post(inst.event.to_string().as_bytes()).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("captured")),
        "{answer}"
    );
    assert_eq!(run, None);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM events"), 0);
    // Sealed in KV: the credentials are not readable there.
    let kept: Vec<String> = app
        .ports
        .cache
        .values
        .borrow()
        .values()
        .map(|(v, _)| v.clone())
        .collect();
    assert!(kept.iter().all(|v| !v.contains(&inst.client_secret)));
    // While D1 stays down, a sweep keeps the capture.
    let _ = lifecycle::sweep(&app.ports, &app.settings(), 25).await;
    assert_eq!(app.ports.cache.values.borrow().len(), kept.len());
    // D1 is back: the next sweep stores it and the install runs to approval.
    app.ports.db.heal();
    lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    app.settle().await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
    assert_eq!(app.talkdesk_state(&inst.installation_id), "approved");
    assert!(app
        .ports
        .cache
        .values
        .borrow()
        .keys()
        .all(|k| !k.starts_with("capture:")));
}

#[tokio::test]
async fn with_both_d1_and_kv_down_intake_answers_500_so_talkdesk_retries() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.ports.db.fail_always("read installation");
    app.ports.cache.fail.set(true);
    let (status, _, _) = app.post(inst.event.to_string().as_bytes()).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn purges_delete_expired_rows_in_bounded_batches() {
    let app = TestApp::new();
    {
        let db = app.ports.db.raw();
        for i in 0..1_200 {
            db.execute(
                "INSERT INTO access_tokens (token_key, sealed_token, expires_at, lease_until_ms) \
                 VALUES (?1, 'v1.k1.x.y', 1000, 0)",
                rusqlite::params![format!("token:old-{i}")],
            )
            .unwrap();
        }
    }
    let rows = |app: &TestApp| app.count("SELECT COUNT(*) AS n FROM access_tokens");
    lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    assert_eq!(rows(&app), 700, "one batch of 500 per sweep");
    lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    assert_eq!(rows(&app), 0);
}

#[tokio::test]
async fn the_sweep_skips_an_installation_whose_head_job_another_runner_holds() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.post(inst.event.to_string().as_bytes()).await;
    let store = app.ports.store();
    let now = {
        use appconnect_core::ports::Clock;
        app.ports.clock.now_ms()
    };
    assert_eq!(
        store.due_installations(now, 25).await.unwrap(),
        vec![inst.installation_id.clone()]
    );
    let head = store
        .head_job(&inst.installation_id)
        .await
        .unwrap()
        .unwrap();
    store
        .lease_job(head.job_id, "another-runner", now, now + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .due_installations(now + 1, 25)
        .await
        .unwrap()
        .is_empty());
    // Once that lease lapses, the installation is due again.
    assert_eq!(
        store
            .due_installations(now + 60_001, 25)
            .await
            .unwrap()
            .len(),
        1
    );
}
