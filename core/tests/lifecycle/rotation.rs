//! `app.credentials_rotated`: proving the new set, switching, acknowledging with it, destroying
//! the old set; and what a compromised, refused, late or forged rotation must not do.

use std::time::{Duration, Instant};

use appconnect_core::lifecycle::events::install::REFUSALS_BEFORE_FORGED;
use serde_json::{json, Value};
use talkdesk_sim::{Alg, Endpoint, KeyPair, SimUser, UpdateSpec};

use crate::app::{held_one, id_of, next_second, TestApp};

/// Like `TestApp::settle`, for work that takes several backoffs (a refused set is tried
/// [`REFUSALS_BEFORE_FORGED`] times): sweeps until nothing is pending, at most `limit`.
async fn settle_within(app: &TestApp, limit: Duration) {
    let deadline = Instant::now() + limit;
    while app.pending_jobs() > 0 {
        assert!(
            Instant::now() < deadline,
            "jobs still pending after {limit:?}"
        );
        app.settle().await;
    }
}

/// Talkdesk's record of acknowledgements: (set acknowledged, set whose token made the call).
fn acknowledgements(app: &TestApp, id: &str) -> Vec<(String, String)> {
    app.sim
        .installation(id)
        .unwrap()
        .acknowledgements
        .iter()
        .map(|a| (a.client_id.clone(), a.token_client_id.clone()))
        .collect()
}

/// The previous-set columns of the installation: all must be NULL once a rotation is over.
fn old_set_columns(app: &TestApp, id: &str) -> Value {
    let rows = app.ports.db.select(&format!(
        "SELECT old_client_id, old_key_id, old_key_algorithm, sealed_old_secret, sealed_old_key \
         FROM installations WHERE installation_id = '{id}'"
    ));
    Value::Object(rows[0].clone())
}

fn no_old_set() -> Value {
    json!({
        "old_client_id": null, "old_key_id": null, "old_key_algorithm": null,
        "sealed_old_secret": null, "sealed_old_key": null,
    })
}

/// The client ids that signed the token requests made after request `seq`, in order.
fn token_clients_after(app: &TestApp, seq: u64) -> Vec<String> {
    app.sim
        .requests_to(Endpoint::Token)
        .iter()
        .filter(|r| r.seq > seq)
        .map(|r| {
            r.body["client_assertion"]["claims"]["iss"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// A fresh ES256 private key, base64 PKCS#8 as events carry it.
fn a_key_of_its_own() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(KeyPair::generate(Alg::ES256).private_pkcs8)
}

fn last_seq(app: &TestApp) -> u64 {
    app.sim.requests().iter().map(|r| r.seq).max().unwrap_or(0)
}

/// Runs an update through the installation: proof that its current set works.
async fn an_update_is_confirmed(app: &TestApp, id: &str) {
    let before = app.confirmations(id);
    let user = format!("u-{before}");
    app.sim
        .update(
            id,
            UpdateSpec {
                add_users: vec![SimUser::new(&user, &format!("{user}@acme.example"), "U")],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(
        app.confirmations(id),
        before + 1,
        "the update was confirmed"
    );
    assert_eq!(app.view(id).await["state"], "active");
}

// ---- the rotation ---------------------------------------------------------------------------

#[tokio::test]
async fn a_rotation_switches_to_the_new_set_acknowledges_it_with_the_new_set_and_destroys_the_old_one(
) {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = &inst.installation_id;
    let rotated = app.sim.rotate(id).await.unwrap();
    app.deliver_held().await;
    app.settle().await;

    let v = app.view(id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["credentials"]["client_id"], rotated.client_id.as_str());
    assert_eq!(v["credentials"]["key_id"], rotated.key_id.as_str());
    assert_eq!(v["credentials"]["stored"], true);
    assert_eq!(v["credentials"]["rotation_pending"], false);
    assert_eq!(
        acknowledgements(&app, id),
        vec![(rotated.client_id.clone(), rotated.client_id.clone())],
        "acknowledged once, with a token of the new set"
    );
    assert_eq!(old_set_columns(&app, id), no_old_set());
    assert_eq!(app.event_status(&rotated.sent.event_id), "done");
    // Nor does a sealed copy of the new set stay on the event.
    let event = app.ports.db.select(&format!(
        "SELECT sealed_new_secret, sealed_new_key FROM events WHERE event_id = '{}'",
        rotated.sent.event_id
    ));
    assert!(event[0].values().all(Value::is_null), "{event:?}");
    // A rotation needs no approve call.
    assert_eq!(app.confirmations(id), 1);
}

#[tokio::test]
async fn after_a_rotation_every_call_uses_the_new_credentials() {
    let app = TestApp::new();
    let inst = app.active(Alg::PS256).await;
    let id = &inst.installation_id;
    let rotated = app.sim.rotate(id).await.unwrap();
    app.deliver_held().await;
    app.settle().await;
    // Talkdesk retires the old set (as it does 7 days after a rotation).
    app.sim.revoke(id, &inst.client_id).unwrap();
    app.sim.expire_tokens(id);
    let seq = last_seq(&app);

    an_update_is_confirmed(&app, id).await;
    let minted = token_clients_after(&app, seq);
    assert!(!minted.is_empty(), "a token was minted for the update");
    assert!(minted.iter().all(|c| *c == rotated.client_id), "{minted:?}");
}

#[tokio::test]
async fn a_rotation_leaves_no_token_of_the_old_set_cached() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES384).await;
    let id = &inst.installation_id;
    let old_prefix = format!("token:{id}:{}:", inst.client_id);
    let old_rows = |app: &TestApp| {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM access_tokens WHERE token_key LIKE '{old_prefix}%'"
        ))
    };
    // A later event mints with the installation's own set and caches it.
    app.sim.update(id, UpdateSpec::default()).await.unwrap();
    app.deliver_held().await;
    assert!(
        old_rows(&app) > 0,
        "control: the set in use has a cached token"
    );
    app.sim.rotate(id).await.unwrap();
    app.deliver_held().await;
    app.settle().await;

    assert_eq!(old_rows(&app), 0, "a D1 row of the old set's token is left");
    let kv = app.ports.cache.values.borrow();
    let old_kv: Vec<&String> = kv.keys().filter(|k| k.starts_with(&old_prefix)).collect();
    assert!(
        old_kv.is_empty(),
        "KV copies of the old set's token: {old_kv:?}"
    );
}

#[tokio::test]
async fn a_rotation_to_another_algorithm_switches_to_the_new_key() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = &inst.installation_id;
    let rotated = app.sim.rotate_to(id, Alg::PS512).await.unwrap();
    app.deliver_held().await;
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["credentials"]["client_id"], rotated.client_id.as_str());
    assert_eq!(v["credentials"]["key_algorithm"], "PS512", "{v}");
    app.sim.revoke(id, &inst.client_id).unwrap();
    an_update_is_confirmed(&app, id).await;
}

#[tokio::test]
async fn a_rotation_after_a_compromise_switches_although_the_old_set_is_already_revoked() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES384).await;
    let id = &inst.installation_id;
    let rotated = app.sim.rotate(id).await.unwrap();
    // Talkdesk kills the old set at once, before the rotation reaches us.
    app.sim.revoke(id, &inst.client_id).unwrap();
    app.deliver_held().await;
    app.settle().await;

    let v = app.view(id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["credentials"]["client_id"], rotated.client_id.as_str());
    assert_eq!(v["credentials"]["rotation_pending"], false);
    assert_eq!(
        acknowledgements(&app, id),
        vec![(rotated.client_id.clone(), rotated.client_id.clone())]
    );
    assert_eq!(old_set_columns(&app, id), no_old_set());
    assert_eq!(app.event_status(&rotated.sent.event_id), "done");
    an_update_is_confirmed(&app, id).await;
}

#[tokio::test]
async fn two_rotations_delivered_newest_first_keep_the_newest_set() {
    let app = TestApp::new();
    let inst = app.active(Alg::PS256).await;
    let id = &inst.installation_id;
    let first = app.sim.rotate(id).await.unwrap();
    next_second().await;
    let second = app.sim.rotate(id).await.unwrap();
    let held = app.sim.take_held();
    assert_eq!(held.len(), 2);
    for event in held.iter().rev() {
        app.deliver(event).await;
        app.settle().await;
    }

    let v = app.view(id).await;
    assert_eq!(
        v["credentials"]["client_id"],
        second.client_id.as_str(),
        "{v}"
    );
    assert_eq!(v["credentials"]["rotation_pending"], false);
    assert_eq!(
        acknowledgements(&app, id),
        vec![(second.client_id.clone(), second.client_id.clone())],
        "the older set is never acknowledged"
    );
    assert_eq!(app.event_status(&second.sent.event_id), "done");
    assert_eq!(app.event_status(&first.sent.event_id), "ignored");
    assert_eq!(old_set_columns(&app, id), no_old_set());
}

#[tokio::test]
async fn an_older_rotation_whose_stamp_was_changed_is_proven_forged_and_the_newest_set_stays() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = &inst.installation_id;
    let first = app.sim.rotate(id).await.unwrap();
    next_second().await;
    let second = app.sim.rotate(id).await.unwrap();
    let mut held = app.sim.take_held();
    let newest = held.pop().unwrap();
    let mut older = held.pop().unwrap();
    app.deliver(&newest).await;
    app.settle().await;
    // The older rotation arrives late, its envelope claiming a later time than Talkdesk gave it.
    older["created_at"] = json!("2099-01-01T00:00:00Z");
    app.deliver(&older).await;
    app.settle().await;

    let v = app.view(id).await;
    assert_eq!(
        v["credentials"]["client_id"],
        second.client_id.as_str(),
        "{v}"
    );
    // Talkdesk's copy has its own stamp: the changed one contradicts it.
    assert_eq!(app.event_status(&first.sent.event_id), "forged");
    assert_eq!(
        acknowledgements(&app, id),
        vec![(second.client_id.clone(), second.client_id.clone())]
    );
}

// ---- refused and forged ---------------------------------------------------------------------

#[tokio::test]
async fn a_rotation_whose_new_set_talkdesk_refuses_is_retried_then_parked_with_its_set_kept_and_the_current_set_keeps_working(
) {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = &inst.installation_id;
    app.sim.rotate(id).await.unwrap();
    // Talkdesk does not know the delivered client id: every mint with it is refused.
    let mut event = held_one(&app);
    event["data"]["client_id"] = json!("client-nobody-issued");
    app.deliver(&event).await;
    assert_eq!(
        app.event_status(&id_of(&event)),
        "received",
        "a refusal is retried"
    );
    settle_within(&app, Duration::from_secs(20)).await;

    // Parked for the operator with the new set still sealed on its event: Talkdesk sends it
    // only once, and a refusal may be Talkdesk ID's delay.
    assert_eq!(app.event_status(&id_of(&event)), "unconfirmed");
    let kept = app.ports.db.select(&format!(
        "SELECT sealed_new_key FROM events WHERE event_id = '{}'",
        id_of(&event)
    ));
    assert!(kept[0]["sealed_new_key"].is_string(), "{kept:?}");
    let refused = token_clients_after(&app, 0)
        .into_iter()
        .filter(|c| c == "client-nobody-issued")
        .count();
    assert_eq!(refused as u64, REFUSALS_BEFORE_FORGED, "tried, then judged");
    let v = app.view(id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["credentials"]["client_id"], inst.client_id.as_str());
    assert_eq!(v["credentials"]["stored"], true);
    assert_eq!(v["credentials"]["rotation_pending"], false);
    assert!(acknowledgements(&app, id).is_empty());
    assert_eq!(old_set_columns(&app, id), no_old_set());
    an_update_is_confirmed(&app, id).await;
}

#[tokio::test]
async fn a_forged_rotation_with_credentials_talkdesk_never_issued_changes_nothing() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = &inst.installation_id;
    let before = app.view(id).await;
    // A real key of the right shape, under a client id Talkdesk never issued.
    let forged = app.sim.forged_event(
        "app.credentials_rotated",
        json!({
            "installation_id": id, "account_id": inst.account_id, "account_name": "acme",
            "client_id": "forged-client", "client_secret": "forged-secret",
            "private_key": inst.private_key, "public_key": "", "key_id": "forged-kid",
            "key_algorithm": "ES256",
        }),
    );
    app.deliver(&forged).await;
    settle_within(&app, Duration::from_secs(20)).await;

    // Talkdesk ID keeps refusing the set: parked unconfirmed (never acted on).
    assert_eq!(app.event_status(&id_of(&forged)), "unconfirmed");
    let v = app.view(id).await;
    assert_eq!(v["state"], before["state"], "{v}");
    assert_eq!(v["credentials"], before["credentials"], "{v}");
    assert_eq!(v["last_error"], Value::Null, "{v}");
    assert!(acknowledgements(&app, id).is_empty());
    assert_eq!(old_set_columns(&app, id), no_old_set());
    an_update_is_confirmed(&app, id).await;
}

#[tokio::test]
async fn a_genuine_rotation_replayed_under_another_event_id_acts_only_as_talkdesks_copy_says() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES512).await;
    let id = &inst.installation_id;
    let rotated = app.sim.rotate(id).await.unwrap();
    let genuine = held_one(&app);
    // The same event under another envelope id: its self link reads Talkdesk's genuine copy,
    // which matches it field for field, so it does exactly what the genuine one does.
    let mut replay = genuine.clone();
    replay["id"] = json!("replayed-rotation");
    app.deliver(&replay).await;
    app.settle().await;
    assert_eq!(app.event_status("replayed-rotation"), "done");
    assert_eq!(old_set_columns(&app, id), no_old_set());

    app.deliver(&genuine).await;
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(
        v["credentials"]["client_id"],
        rotated.client_id.as_str(),
        "{v}"
    );
    // Acknowledging twice is harmless; only the new set was ever acknowledged.
    assert!(acknowledgements(&app, id)
        .iter()
        .all(|a| *a == (rotated.client_id.clone(), rotated.client_id.clone())));
}

#[tokio::test]
async fn a_forged_rotation_naming_the_current_client_id_is_not_acknowledged() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = &inst.installation_id;
    let before = app.view(id).await;
    // Client ids are no secret; the forger names the set in use, with a key of its own.
    let forged = app.sim.forged_event(
        "app.credentials_rotated",
        json!({
            "installation_id": id, "account_id": inst.account_id, "account_name": "acme",
            "client_id": inst.client_id, "client_secret": "forged-secret",
            "private_key": a_key_of_its_own(),
            "public_key": "", "key_id": "forged-kid", "key_algorithm": "ES256",
        }),
    );
    app.deliver(&forged).await;
    app.settle().await;

    // Talkdesk has no such event: parked unconfirmed, never acknowledged.
    assert_eq!(app.event_status(&id_of(&forged)), "unconfirmed");
    assert!(acknowledgements(&app, id).is_empty());
    assert_eq!(app.view(id).await["credentials"], before["credentials"]);
}
