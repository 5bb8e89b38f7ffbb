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
        callback_url: Some(worker.url("/events")),
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
        assert!(std::time::Instant::now() < deadline, "timed out; last view: {v}");
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
    assert_eq!(ack.token_client_id, rotated.client_id, "acknowledged with the new set");
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
