//! The installation lifecycle end to end: the release wasm in workerd, the strict simulator as
//! Talkdesk, on loopback.

use std::time::Duration;

use serde_json::Value;
use talkdesk_sim::{Alg, InstallSpec, SimConfig, SimUser, Simulator, UpdateSpec};

use crate::harness::{default_vars, shared, Worker};

pub const WAIT: Duration = Duration::from_secs(30);

/// A simulator that delivers to `worker` as the app the worker is configured for.
pub fn sim_for(worker: &Worker) -> Simulator {
    Simulator::start(SimConfig {
        app_id: default_vars()["TALKDESK_APP_ID"].clone(),
        callback_url: Some(worker.events_url()),
        time_scale: 0.001,
        ..SimConfig::default()
    })
}

pub async fn admin(worker: &Worker, path: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(worker.url(path))
        .bearer_auth(&default_vars()["ADMIN_TOKEN"])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

pub async fn installation(worker: &Worker, id: &str) -> Value {
    let (status, body) = admin(worker, &format!("/admin/installations/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the operator view until `pred` holds.
pub async fn wait_view(worker: &Worker, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, v) = admin(worker, &format!("/admin/installations/{id}")).await;
        if status == 200 && pred(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out; last view: {v}"
        );
        // Run the cron sweep between looks, as production's every-minute cron would, so
        // retries in backoff get their turn.
        sweep(worker).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn full_lifecycle(alg: Alg) {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim.install(InstallSpec::new("acme", alg)).await.unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    let v = wait_view(w, &id, |v| v["state"] == "active").await;
    assert_eq!(v["users_count"], 3, "{v}");
    assert_eq!(v["account"]["id"], inst.account_id);
    assert_eq!(v["credentials"]["key_algorithm"], alg.as_str());

    // Update: one user added, one removed, a new plan; re-read from the API and confirmed.
    let removed = inst.users[0].id.clone();
    sim.update(
        &id,
        UpdateSpec {
            add_users: vec![SimUser::new("u-new", "new@acme.example", "New")],
            remove_users: vec![removed],
            subscription: Some(talkdesk_sim::PlanChange {
                name: "Pro".into(),
                licenses: 10,
            }),
        },
    )
    .await
    .unwrap();
    sim.wait_for_history(&id, 2, WAIT).await.unwrap();
    let v = wait_view(w, &id, |v| v["plan"]["name"] == "Pro").await;
    assert_eq!(v["users_count"], 3, "{v}");

    // Rotation: switch once the new set mints, acknowledge, destroy the old set.
    let rotated = sim.rotate(&id).await.unwrap();
    sim.wait_until(&id, WAIT, |i| !i.acknowledgements.is_empty())
        .await
        .unwrap();
    let v = wait_view(w, &id, |v| {
        v["credentials"]["client_id"] == rotated.client_id.as_str()
            && v["credentials"]["rotation_pending"] == false
    })
    .await;
    let ack = &sim.installation(&id).unwrap().acknowledgements[0];
    assert_eq!(ack.client_id, rotated.client_id);
    assert_eq!(
        ack.token_client_id, rotated.client_id,
        "acknowledged with the new set"
    );
    assert_eq!(v["credentials"]["key_id"], rotated.key_id.as_str());

    // Uninstall: confirmed, credentials destroyed.
    sim.uninstall(&id, "user", "bye").await.unwrap();
    sim.wait_for_history(&id, 3, WAIT).await.unwrap();
    let v = wait_view(w, &id, |v| v["state"] == "uninstalled").await;
    assert_eq!(v["credentials"]["stored"], false);
    let history = sim.installation(&id).unwrap().history;
    assert!(history.iter().all(|h| h.action == "approve"), "{history:?}");
    assert_eq!(history.len(), 3);
}

#[tokio::test]
async fn full_lifecycle_es256() {
    full_lifecycle(Alg::ES256).await;
}
#[tokio::test]
async fn full_lifecycle_es384() {
    full_lifecycle(Alg::ES384).await;
}
#[tokio::test]
async fn full_lifecycle_es512() {
    full_lifecycle(Alg::ES512).await;
}
#[tokio::test]
async fn full_lifecycle_ps256() {
    full_lifecycle(Alg::PS256).await;
}
#[tokio::test]
async fn full_lifecycle_ps384() {
    full_lifecycle(Alg::PS384).await;
}
#[tokio::test]
async fn full_lifecycle_ps512() {
    full_lifecycle(Alg::PS512).await;
}

/// Runs the cron sweep once (`wrangler dev --test-scheduled`).
pub async fn sweep(worker: &Worker) {
    let resp = reqwest::get(worker.url("/__scheduled?cron=*+*+*+*+*"))
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// Sweeps until the simulator records `n` approvals or the like.
async fn sweep_until(
    worker: &Worker,
    sim: &Simulator,
    id: &str,
    pred: impl Fn(&talkdesk_sim::InstallationView) -> bool,
) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if sim.installation(id).as_ref().is_some_and(&pred) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out: {:?}",
            sim.installation(id)
        );
        sweep(worker).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn approvals(sim: &Simulator, id: &str) -> usize {
    sim.installation(id).map_or(0, |i| i.history.len())
}

#[tokio::test]
async fn a_duplicate_delivered_three_times_is_approved_once() {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim
        .install_without_sending(InstallSpec::new("dupes", Alg::ES256))
        .await
        .unwrap();
    let out = sim.send_raw(inst.event.clone(), 3).await;
    let statuses: Vec<Option<u16>> = out
        .iter()
        .map(|o| o.attempt.as_ref().and_then(|a| a.status))
        .collect();
    assert_eq!(statuses, vec![Some(200); 3]);
    sim.wait_for_state(&inst.installation_id, "approved", WAIT)
        .await
        .unwrap();
    for _ in 0..3 {
        sweep(w).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(approvals(&sim, &inst.installation_id), 1);
}

#[tokio::test]
async fn an_install_is_approved_once_a_failing_token_endpoint_recovers() {
    let w = shared();
    let sim = sim_for(w);
    sim.fault(
        talkdesk_sim::Endpoint::Token,
        talkdesk_sim::Fault::status(503),
        4,
    );
    let inst = sim
        .install(InstallSpec::new("flaky", Alg::PS256))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sweep_until(w, &sim, &id, |i| i.state == "approved").await;
    assert_eq!(approvals(&sim, &id), 1);
    assert!(
        sim.token_requests_for(&id).len() >= 5,
        "retried through the outage"
    );
    let v = installation(w, &id).await;
    assert_eq!(v["state"], "active");
    assert!(v["history"][0]["attempts"].as_u64().unwrap() >= 5, "{v}");
}

#[tokio::test]
async fn a_worker_killed_between_the_answer_and_the_approval_approves_after_restart() {
    let mut w = Worker::start(crate::harness::Options::default());
    let sim = sim_for(&w);
    // The approval call hangs far longer than the test waits: only a restarted worker can
    // approve in time.
    sim.fault(
        talkdesk_sim::Endpoint::State,
        talkdesk_sim::Fault::stall(Duration::from_secs(120)),
        1,
    );
    let inst = sim
        .install(InstallSpec::new("crash", Alg::ES384))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    let answered = inst.delivery.attempt.as_ref().and_then(|a| a.status);
    assert_eq!(answered, Some(200), "answered before the slow work");
    // Wait until the worker has provisioned (the subscription is read last, then it approves:
    // the simulator records a stalled request only once it answers), then kill it.
    let deadline = std::time::Instant::now() + WAIT;
    while sim
        .requests_to(talkdesk_sim::Endpoint::Subscription)
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "never provisioned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        wait_view(&w, &id, |_| true).await["state"],
        "received",
        "not yet approved"
    );
    w.restart();
    assert_eq!(approvals(&sim, &id), 0);
    sweep_until(&w, &sim, &id, |i| i.state == "approved").await;
    let v = wait_view(&w, &id, |v| v["state"] == "active").await;
    assert_eq!(v["users_count"], 3);
}

#[tokio::test]
async fn forged_install_update_and_uninstall_change_nothing() {
    let w = shared();
    let sim = sim_for(w);
    let real = sim
        .install(InstallSpec::new("victim", Alg::ES256))
        .await
        .unwrap();
    let id = real.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    let before = wait_view(w, &id, |v| v["state"] == "active").await;

    // A forged install: well-formed, but credentials Talkdesk never issued.
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(talkdesk_sim::KeyPair::generate(Alg::ES256).private_pkcs8)
    };
    let (forged_install, out) = sim
        .forge(
            "app.installed",
            serde_json::json!({
                "installation_id": "forged-inst-1", "account_id": "acc-forged",
                "account_name": "forged", "client_id": "forged-client",
                "client_secret": "forged-secret", "private_key": key,
                "public_key": "", "key_id": "forged-kid", "key_algorithm": "ES256"
            }),
        )
        .await;
    assert_eq!(
        out.attempt.and_then(|a| a.status),
        Some(200),
        "{forged_install}"
    );
    let v = wait_view(w, "forged-inst-1", |v| v["state"] == "forged").await;
    assert_eq!(v["credentials"]["stored"], false);

    // A forged update and uninstall of the real installation.
    sim.forge(
        "app.updated",
        serde_json::json!({"installation_id": id, "account_id": real.account_id,
            "users": {"adding": ["intruder"], "removing": [real.users[0].id]}}),
    )
    .await;
    sim.forge(
        "app.uninstalled",
        serde_json::json!({"installation_id": id, "account_id": real.account_id,
            "reason": {"type": "user", "message": "forged"}}),
    )
    .await;
    // Talkdesk has no such events: that proves nothing either way, so after a bounded number
    // of reads they are parked unconfirmed for the operator, and nothing else changes.
    let after = wait_view(w, &id, |v| {
        v["pending"].as_array().is_some_and(|p| p.is_empty())
            && v["unconfirmed"].as_array().is_some_and(|u| u.len() == 2)
    })
    .await;
    assert_eq!(after["state"], "active");
    assert_eq!(after["users_count"], before["users_count"]);
    assert_eq!(after["credentials"], before["credentials"]);
    assert_eq!(approvals(&sim, &id), 1, "no confirmation of a forged event");
    assert_eq!(after["history"].as_array().unwrap().len(), 1, "{after}");
    assert!(after["unconfirmed"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["state"] == "unconfirmed"));
}

#[tokio::test]
async fn uninstall_then_reinstall_in_the_same_account_brings_the_settings_back() {
    let w = shared();
    let sim = sim_for(w);
    let mut spec = InstallSpec::new("comeback", Alg::PS384);
    spec.account_id = Some("acc-comeback".into());
    let first = sim.install(spec.clone()).await.unwrap();
    sim.wait_for_state(&first.installation_id, "approved", WAIT)
        .await
        .unwrap();
    wait_view(w, &first.installation_id, |v| v["state"] == "active").await;
    let settings = serde_json::json!({"crm_pipeline": "sales", "sync": true});
    let resp = reqwest::Client::new()
        .put(w.url("/admin/accounts/acc-comeback/settings"))
        .bearer_auth(&default_vars()["ADMIN_TOKEN"])
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    sim.uninstall(&first.installation_id, "user", "bye")
        .await
        .unwrap();
    wait_view(w, &first.installation_id, |v| v["state"] == "uninstalled").await;

    let second = sim.install(spec).await.unwrap();
    assert_ne!(second.installation_id, first.installation_id);
    sim.wait_for_state(&second.installation_id, "approved", WAIT)
        .await
        .unwrap();
    let v = wait_view(w, &second.installation_id, |v| v["state"] == "active").await;
    assert_eq!(v["account"]["settings"], settings);
}

#[tokio::test]
async fn a_late_uninstall_after_a_reinstall_leaves_the_new_installation_untouched() {
    let w = shared();
    let sim = sim_for(w);
    let mut spec = InstallSpec::new("late", Alg::ES512);
    spec.account_id = Some("acc-late".into());
    let old = sim.install(spec.clone()).await.unwrap();
    sim.wait_for_state(&old.installation_id, "approved", WAIT)
        .await
        .unwrap();
    sim.hold_events();
    let uninstall = sim
        .uninstall(&old.installation_id, "user", "bye")
        .await
        .unwrap();
    let new = sim.install(spec).await.unwrap();
    // The new install first, the old uninstall late.
    sim.release(&[new.event_id.clone(), uninstall.event_id.clone()])
        .await;
    sim.wait_for_state(&new.installation_id, "approved", WAIT)
        .await
        .unwrap();
    wait_view(w, &old.installation_id, |v| v["state"] == "uninstalled").await;
    let v = wait_view(w, &new.installation_id, |v| v["state"] == "active").await;
    assert_eq!(v["credentials"]["stored"], true);
    assert_eq!(v["credentials"]["client_id"], new.client_id.as_str());
    assert_eq!(approvals(&sim, &new.installation_id), 1);
}

#[tokio::test]
async fn trials_and_logouts_are_confirmed_and_recorded() {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim
        .install(InstallSpec::new("trial", Alg::ES256))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    sim.trial_started(&id).await.unwrap();
    let v = wait_view(w, &id, |v| v["trial"]["state"] == "started").await;
    assert!(v["trial"]["expires_at"].is_string(), "{v}");
    sim.trial_ended(
        &id,
        talkdesk_sim::TrialSpec {
            expires_at: None,
            ended_reason: "plan_upgraded".into(),
            ended_by: "user".into(),
        },
    )
    .await
    .unwrap();
    let v = wait_view(w, &id, |v| v["trial"]["state"] == "ended").await;
    assert_eq!(v["trial"]["ended_reason"], "plan_upgraded");
    let logout = sim.logout(&id, &inst.users[0].id).await.unwrap();
    let v = wait_view(w, &id, |v| {
        v["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|j| j["event_id"] == logout.event_id.as_str()))
    })
    .await;
    let job = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["event_id"] == logout.event_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(job["kind"], "logout");
    assert_eq!(job["state"], "done");
    assert_eq!(
        approvals(&sim, &id),
        1,
        "trials and logouts need no confirmation call"
    );
}

#[tokio::test]
async fn an_update_that_arrives_before_its_install_waits_for_it() {
    let w = shared();
    let sim = sim_for(w);
    sim.hold_events();
    let inst = sim
        .install(InstallSpec::new("early", Alg::PS256))
        .await
        .unwrap();
    let update = sim
        .update(
            &inst.installation_id,
            UpdateSpec {
                add_users: vec![SimUser::new("u-early", "early@acme.example", "Early")],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    // The update first: the worker has never heard of this installation.
    sim.release(&[update.event_id.clone(), inst.event_id.clone()])
        .await;
    let id = inst.installation_id.clone();
    sim.wait_for_history(&id, 2, WAIT).await.unwrap();
    let history = sim.installation(&id).unwrap().history;
    assert_eq!(
        history
            .iter()
            .map(|h| h.reason.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        vec![
            "installed and provisioned".to_owned(),
            "update applied".to_owned()
        ],
        "installed first, then the update"
    );
    let v = wait_view(w, &id, |v| v["users_count"] == 4).await;
    assert_eq!(v["state"], "active");
}

#[tokio::test]
async fn an_unknown_event_type_is_recorded_and_acknowledged_but_not_acted_on() {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim
        .install(InstallSpec::new("novel", Alg::ES256))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    // The simulator records a call once it has answered it, a moment after the state the call
    // set is visible: count from when the approval itself is on record.
    let deadline = std::time::Instant::now() + WAIT;
    while sim.requests_to(talkdesk_sim::Endpoint::State).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the approval was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let requests_before = sim.requests().len();
    let mut event = sim.forged_event(
        "app.something_new",
        serde_json::json!({"installation_id": id, "account_id": inst.account_id}),
    );
    event["id"] = serde_json::json!("evt-novel-1");
    let out = sim.send_raw(event.clone(), 2).await;
    assert_eq!(out[0].attempt.as_ref().and_then(|a| a.status), Some(200));
    assert_eq!(out[1].attempt.as_ref().and_then(|a| a.status), Some(200));
    sweep(w).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.requests().len(),
        requests_before,
        "no call for an unknown type"
    );
    let v = installation(w, &id).await;
    assert!(
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["event_id"] != "evt-novel-1"),
        "no job for it: {v}"
    );
}

#[tokio::test]
async fn an_installation_without_the_needed_scopes_is_rejected_with_the_reason() {
    let w = shared();
    let sim = sim_for(w);
    let mut spec = InstallSpec::new("narrow", Alg::ES256);
    spec.scopes = vec!["apps:read".into(), "apps:write".into()];
    let inst = sim.install(spec).await.unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "rejected", WAIT).await.unwrap();
    let history = sim.installation(&id).unwrap().history;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "reject");
    assert!(history[0]
        .reason
        .as_deref()
        .unwrap_or("")
        .contains("scopes"));
    let v = wait_view(w, &id, |v| v["state"] == "rejected").await;
    assert!(
        v["last_error"].as_str().unwrap().contains("invalid_scope"),
        "{v}"
    );
}

#[tokio::test]
async fn a_rotation_after_a_compromise_switches_even_though_the_old_set_is_already_dead() {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim
        .install(InstallSpec::new("compromised", Alg::ES384))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    wait_view(w, &id, |v| v["state"] == "active").await;
    sim.hold_events();
    let rotated = sim.rotate(&id).await.unwrap();
    // Talkdesk kills the old set at once after a compromise.
    sim.revoke(&id, &inst.client_id).unwrap();
    sim.release(std::slice::from_ref(&rotated.sent.event_id))
        .await;
    sim.wait_until(&id, WAIT, |i| !i.acknowledgements.is_empty())
        .await
        .unwrap();
    let v = wait_view(w, &id, |v| {
        v["credentials"]["client_id"] == rotated.client_id.as_str()
            && v["credentials"]["rotation_pending"] == false
    })
    .await;
    assert_eq!(v["state"], "active");
    let check = reqwest::Client::new()
        .post(w.url(&format!("/admin/installations/{id}/verify")))
        .bearer_auth(&default_vars()["ADMIN_TOKEN"])
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200, "the new set works");
}

#[tokio::test]
async fn trial_events_delivered_newest_first_leave_the_newest_state() {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim
        .install(InstallSpec::new("trial-order", Alg::ES256))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    wait_view(w, &id, |v| v["state"] == "active").await;
    sim.hold_events();
    let started = sim.trial_started(&id).await.unwrap();
    // Talkdesk stamps events to the second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ended = sim
        .trial_ended(&id, talkdesk_sim::TrialSpec::default())
        .await
        .unwrap();
    // Newest first: the late `trial_started` must not undo the end.
    sim.release(&[ended.event_id.clone(), started.event_id.clone()])
        .await;
    let v = wait_view(w, &id, |v| {
        v["history"]
            .as_array()
            .is_some_and(|h| h.iter().filter(|j| j["kind"] == "trial").count() == 2)
    })
    .await;
    assert_eq!(v["trial"]["state"], "ended", "{v}");
}

#[tokio::test]
async fn two_rotations_delivered_newest_first_keep_the_newest_credentials() {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim
        .install(InstallSpec::new("rotate-order", Alg::PS256))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    wait_view(w, &id, |v| v["state"] == "active").await;
    sim.hold_events();
    let first = sim.rotate(&id).await.unwrap();
    // Talkdesk stamps events to the second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = sim.rotate(&id).await.unwrap();
    sim.release(&[second.sent.event_id.clone(), first.sent.event_id.clone()])
        .await;
    let v = wait_view(w, &id, |v| {
        v["history"]
            .as_array()
            .is_some_and(|h| h.iter().filter(|j| j["kind"] == "rotate").count() == 2)
    })
    .await;
    assert_eq!(
        v["credentials"]["client_id"],
        second.client_id.as_str(),
        "{v}"
    );
    let acked: Vec<String> = sim
        .installation(&id)
        .unwrap()
        .acknowledgements
        .iter()
        .map(|a| a.client_id.clone())
        .collect();
    assert_eq!(acked, vec![second.client_id.clone()]);
}
