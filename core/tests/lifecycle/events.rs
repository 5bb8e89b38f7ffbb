//! Every event after the install: update, uninstall (and reinstall), trials, logout, unknown
//! types, forgeries, and events that arrive out of order or for a closed installation.

use appconnect_core::app::operator::put_settings;
use serde_json::{json, Value};
use talkdesk_sim::{
    Alg, Endpoint, Fault, InstallSpec, Installed, PlanChange, SimUser, TrialSpec, UpdateSpec,
};

use crate::app::{held_one, id_of, next_second, TestApp};

/// The ids of the installation's stored users, sorted.
fn stored_users(app: &TestApp, id: &str) -> Vec<String> {
    let mut ids: Vec<String> = app
        .ports
        .db
        .select(&format!(
            "SELECT user_id FROM installation_users WHERE installation_id = '{id}'"
        ))
        .iter()
        .map(|r| r["user_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The ids of the installation's users as Talkdesk has them, sorted.
fn talkdesk_users(app: &TestApp, id: &str) -> Vec<String> {
    let mut ids: Vec<String> = app
        .sim
        .installation(id)
        .unwrap()
        .users
        .iter()
        .map(|u| u.id.clone())
        .collect();
    ids.sort();
    ids
}

/// Talkdesk's record of approve/reject calls: (action, the event type it confirmed).
fn confirmations(app: &TestApp, id: &str) -> Vec<(String, String)> {
    app.sim
        .installation(id)
        .unwrap()
        .history
        .iter()
        .map(|h| (h.action.clone(), h.confirms.clone().unwrap_or_default()))
        .collect()
}

/// Talkdesk's record of approve/reject calls: (action, the reason the app gave). When events
/// are created before earlier ones are confirmed, the simulator's `confirms` names the last event
/// it sent, not the one confirmed; the reasons tell install and update apart.
fn reasons(app: &TestApp, id: &str) -> Vec<(String, String)> {
    app.sim
        .installation(id)
        .unwrap()
        .history
        .iter()
        .map(|h| (h.action.clone(), h.reason.clone().unwrap_or_default()))
        .collect()
}

fn install_then_update() -> Vec<(String, String)> {
    vec![
        ("approve".to_owned(), "installed and provisioned".to_owned()),
        ("approve".to_owned(), "update applied".to_owned()),
    ]
}

fn approved(event_type: &str) -> (String, String) {
    ("approve".to_owned(), event_type.to_owned())
}

/// Rows of the installation's cached access tokens.
fn cached_tokens(app: &TestApp, id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM access_tokens WHERE token_key LIKE 'token:{id}:%'"
    ))
}

/// KV copies of the installation's access tokens.
fn kv_tokens(app: &TestApp, id: &str) -> usize {
    let prefix = format!("token:{id}:");
    app.ports
        .cache
        .values
        .borrow()
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .count()
}

fn jobs_of_event(app: &TestApp, event_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM jobs WHERE event_id = '{event_id}'"
    ))
}

async fn uninstalled(app: &TestApp, inst: &Installed) {
    app.sim
        .uninstall(&inst.installation_id, "user", "bye")
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(
        app.view(&inst.installation_id).await["state"],
        "uninstalled"
    );
}

fn a_new_user() -> SimUser {
    SimUser::new("u-new", "new@acme.example", "New")
}

// ---- update ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_update_rereads_users_and_plan_from_talkdesk_not_from_the_event_and_is_confirmed() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    let removed = inst.users[0].id.clone();
    app.sim
        .update(
            id,
            UpdateSpec {
                add_users: vec![a_new_user()],
                remove_users: vec![removed.clone()],
                subscription: Some(PlanChange {
                    name: "Pro".into(),
                    licenses: 10,
                }),
            },
        )
        .await
        .unwrap();
    // The delivered body lies about users and plan: only Talkdesk's answers may count.
    let mut event = held_one(&app);
    event["data"]["users"] = json!({"adding": ["intruder"], "removing": [inst.users[1].id]});
    event["data"]["subscription"] = json!({"adding": {"name": "Free For All", "licenses": "999"}});
    app.deliver(&event).await;
    app.settle().await;

    let v = app.view(id).await;
    assert_eq!(v["plan"]["name"], "Pro", "{v}");
    assert_eq!(v["plan"]["total_licenses"], 10, "{v}");
    assert_eq!(v["users_count"], 3, "{v}");
    let users = stored_users(&app, id);
    assert_eq!(users, talkdesk_users(&app, id));
    assert!(users.contains(&"u-new".to_owned()));
    assert!(!users.contains(&removed));
    assert!(!users.contains(&"intruder".to_owned()));
    assert_eq!(
        confirmations(&app, id),
        vec![approved("app.installed"), approved("app.updated")]
    );
    assert_eq!(app.event_status(&id_of(&event)), "done");
}

#[tokio::test]
async fn an_update_is_retried_while_talkdesk_cannot_be_read_and_confirmed_once_it_answers() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES384)).await;
    let id = &inst.installation_id;
    app.sim.fault(Endpoint::Users, Fault::status(503), 3);
    app.sim
        .update(
            id,
            UpdateSpec {
                add_users: vec![a_new_user()],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    app.deliver_held().await;
    assert_eq!(
        app.confirmations(id),
        1,
        "not confirmed before it is applied"
    );
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["users_count"], 4, "{v}");
    assert_eq!(v["state"], "active");
    assert_eq!(
        confirmations(&app, id),
        vec![approved("app.installed"), approved("app.updated")]
    );
}

#[tokio::test]
async fn an_update_delivered_while_its_install_is_unfinished_waits_and_runs_after_the_approval() {
    let app = TestApp::new();
    // The install cannot finish yet: Talkdesk's token endpoint is down for a while.
    app.sim.fault(Endpoint::Token, Fault::status(503), 3);
    let inst = app
        .sim
        .install(InstallSpec::new("acme", Alg::PS256))
        .await
        .unwrap();
    let id = &inst.installation_id;
    app.deliver_held().await;
    app.sim
        .update(
            id,
            UpdateSpec {
                add_users: vec![a_new_user()],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    let update = held_one(&app);
    app.deliver(&update).await;

    let v = app.view(id).await;
    assert_eq!(v["state"], "received", "{v}");
    assert_eq!(v["pending"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(app.event_status(&id_of(&update)), "received");
    assert_eq!(app.confirmations(id), 0);

    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["users_count"], 4, "{v}");
    assert_eq!(reasons(&app, id), install_then_update());
    assert_eq!(app.event_status(&id_of(&update)), "done");
}

#[tokio::test]
async fn an_update_delivered_before_its_install_event_runs_once_the_install_is_approved() {
    let app = TestApp::new();
    let inst = app
        .sim
        .install(InstallSpec::new("acme", Alg::ES512))
        .await
        .unwrap();
    let id = &inst.installation_id;
    app.sim
        .update(
            id,
            UpdateSpec {
                add_users: vec![a_new_user()],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    let mut held = app.sim.take_held();
    let update = held.pop().unwrap();
    let install = held.pop().unwrap();
    app.deliver(&update).await;
    assert_eq!(app.pending_jobs(), 1);
    assert_eq!(
        app.confirmations(id),
        0,
        "nothing confirmed for an unknown installation"
    );

    app.deliver(&install).await;
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["users_count"], 4, "{v}");
    assert_eq!(reasons(&app, id), install_then_update());
}

// ---- uninstall and reinstall ----------------------------------------------------------------

#[tokio::test]
async fn an_uninstall_is_confirmed_and_destroys_credentials_tokens_and_users_but_keeps_the_account()
{
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    let settings = put_settings(&app.ports, &inst.account_id, br#"{"crm_pipeline":"sales"}"#).await;
    assert_eq!(settings.status, 200, "{}", settings.body);
    // A later event caches the installation's token. Controls: there is something to destroy.
    app.sim.trial_started(id).await.unwrap();
    app.deliver_held().await;
    assert_eq!(stored_users(&app, id).len(), 3);
    assert!(cached_tokens(&app, id) > 0);
    assert!(kv_tokens(&app, id) > 0);

    app.sim.uninstall(id, "user", "bye").await.unwrap();
    let event = held_one(&app);
    app.deliver(&event).await;
    app.settle().await;

    let v = app.view(id).await;
    assert_eq!(v["state"], "uninstalled", "{v}");
    assert_eq!(v["credentials"]["stored"], false, "{v}");
    assert_eq!(app.event_status(&id_of(&event)), "done");
    assert_eq!(
        confirmations(&app, id),
        vec![approved("app.installed"), approved("app.uninstalled")]
    );
    assert_eq!(app.talkdesk_state(id), "uninstalled");
    let secrets = app.ports.db.select(&format!(
        "SELECT sealed_secret, sealed_key, sealed_old_secret, sealed_old_key \
         FROM installations WHERE installation_id = '{id}'"
    ));
    for (column, value) in &secrets[0] {
        assert!(value.is_null(), "{column} is still stored");
    }
    assert!(stored_users(&app, id).is_empty());
    assert_eq!(cached_tokens(&app, id), 0);
    assert_eq!(kv_tokens(&app, id), 0);
    // The account and its settings stay for a reinstall.
    assert_eq!(v["account"]["settings"], json!({"crm_pipeline": "sales"}));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM accounts WHERE account_id = '{}'",
            inst.account_id
        )),
        1
    );
}

#[tokio::test]
async fn an_uninstall_whose_confirmation_talkdesk_refuses_still_destroys_the_credentials() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::PS384)).await;
    let id = &inst.installation_id;
    app.sim.fault(Endpoint::State, Fault::status(400), 1);
    app.sim.uninstall(id, "user", "bye").await.unwrap();
    app.deliver_held().await;
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["state"], "uninstalled", "{v}");
    assert_eq!(v["credentials"]["stored"], false, "{v}");
    assert!(v["last_error"].is_string(), "the refusal is kept: {v}");
    assert!(stored_users(&app, id).is_empty());
    assert_eq!(cached_tokens(&app, id), 0);
}

#[tokio::test]
async fn a_reinstall_in_the_same_account_becomes_active_and_finds_the_account_settings() {
    let app = TestApp::new();
    let first = app.active_spec(InstallSpec::new("acme", Alg::PS384)).await;
    let settings = json!({"crm_pipeline": "sales", "sync": true});
    let reply = put_settings(
        &app.ports,
        &first.account_id,
        settings.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    uninstalled(&app, &first).await;

    let second = app
        .active_spec(InstallSpec {
            account_id: Some(first.account_id.clone()),
            ..InstallSpec::new("acme", Alg::ES256)
        })
        .await;
    assert_ne!(second.installation_id, first.installation_id);
    let v = app.view(&second.installation_id).await;
    assert_eq!(v["account"]["id"], first.account_id.as_str());
    assert_eq!(v["account"]["settings"], settings, "{v}");
    assert_eq!(v["credentials"]["stored"], true);
    assert_eq!(stored_users(&app, &second.installation_id).len(), 3);
    assert_eq!(app.talkdesk_state(&second.installation_id), "approved");
    assert_eq!(
        app.view(&first.installation_id).await["state"],
        "uninstalled"
    );
}

#[tokio::test]
async fn a_late_uninstall_of_the_old_installation_after_a_reinstall_leaves_the_new_one_untouched() {
    let app = TestApp::new();
    let old = app.active_spec(InstallSpec::new("acme", Alg::ES512)).await;
    app.sim
        .uninstall(&old.installation_id, "user", "bye")
        .await
        .unwrap();
    let new = app
        .sim
        .install(InstallSpec {
            account_id: Some(old.account_id.clone()),
            ..InstallSpec::new("acme", Alg::ES512)
        })
        .await
        .unwrap();
    // The new install first, the old installation's uninstall late.
    let mut held = app.sim.take_held();
    let install = held.pop().unwrap();
    let uninstall = held.pop().unwrap();
    assert_eq!(install["type"], "app.installed");
    app.deliver(&install).await;
    app.settle().await;
    app.deliver(&uninstall).await;
    app.settle().await;

    assert_eq!(app.view(&old.installation_id).await["state"], "uninstalled");
    let v = app.view(&new.installation_id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["credentials"]["stored"], true, "{v}");
    assert_eq!(v["credentials"]["client_id"], new.client_id.as_str());
    assert_eq!(stored_users(&app, &new.installation_id).len(), 3);
    assert_eq!(
        confirmations(&app, &new.installation_id),
        vec![approved("app.installed")]
    );
    assert_eq!(app.talkdesk_state(&new.installation_id), "approved");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM accounts WHERE account_id = '{}'",
            old.account_id
        )),
        1
    );
}

// ---- forgeries ------------------------------------------------------------------------------

/// Delivers a forged event naming a real, active installation and checks nothing changed.
async fn a_forged_event_changes_nothing(event_type: &str, extra: Value) {
    let app = TestApp::new();
    let inst = app
        .active_spec(InstallSpec::new("victim", Alg::ES256))
        .await;
    let id = &inst.installation_id;
    let before = app.view(id).await;
    let users_before = stored_users(&app, id);
    let mut data = json!({"installation_id": id, "account_id": inst.account_id});
    data.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let forged = app.sim.forged_event(event_type, data);
    let reply = app.deliver(&forged).await;
    assert_eq!(reply["status"], "accepted");
    app.settle().await;

    // Talkdesk has no such event. That proves nothing either way (its read path is a known
    // unknown), so the event is tried a bounded number of times, then parked unconfirmed for
    // the operator; it costs exactly that many reads.
    assert_eq!(app.event_status(&id_of(&forged)), "unconfirmed");
    assert_eq!(
        app.sim.requests_to(Endpoint::Event).len() as u64,
        appconnect_core::lifecycle::outbox::UNPROVEN_ATTEMPTS
    );
    let after = app.view(id).await;
    // The operator sees what waits and why.
    let parked = &after["unconfirmed"][0];
    assert_eq!(parked["event_id"], id_of(&forged).as_str(), "{after}");
    assert!(
        parked["last_error"]
            .as_str()
            .unwrap()
            .starts_with("unconfirmed after 6 attempts"),
        "{after}"
    );
    for field in [
        "state",
        "credentials",
        "users_count",
        "plan",
        "trial",
        "last_error",
    ] {
        assert_eq!(after[field], before[field], "{field} changed: {after}");
    }
    assert_eq!(stored_users(&app, id), users_before);
    assert_eq!(confirmations(&app, id), vec![approved("app.installed")]);
    assert_eq!(app.talkdesk_state(id), "approved");
}

#[tokio::test]
async fn a_forged_update_changes_nothing_and_is_not_confirmed() {
    a_forged_event_changes_nothing(
        "app.updated",
        json!({"users": {"adding": ["intruder"]},
               "subscription": {"adding": {"name": "Free For All", "licenses": "999"}}}),
    )
    .await;
}

#[tokio::test]
async fn a_forged_uninstall_changes_nothing_and_keeps_the_credentials() {
    a_forged_event_changes_nothing(
        "app.uninstalled",
        json!({"reason": {"type": "user", "message": "forged"}}),
    )
    .await;
}

#[tokio::test]
async fn a_forged_trial_end_changes_nothing() {
    a_forged_event_changes_nothing(
        "app.trial_ended",
        json!({"expires_at": "2020-01-01T00:00:00Z", "ended_at": "2020-01-01T00:00:00Z",
               "ended_reason": "trial_expired", "ended_by": "system"}),
    )
    .await;
}

#[tokio::test]
async fn a_forged_logout_is_parked_unconfirmed_and_changes_nothing() {
    a_forged_event_changes_nothing(
        "user.logout",
        json!({"user_id": "someone", "user_email": "someone@acme.example"}),
    )
    .await;
}

#[tokio::test]
async fn another_installations_genuine_uninstall_readdressed_to_an_active_one_changes_nothing() {
    let app = TestApp::new();
    let victim = app
        .active_spec(InstallSpec::new("victim", Alg::ES256))
        .await;
    let other = app.active_spec(InstallSpec::new("other", Alg::ES256)).await;
    app.sim
        .uninstall(&other.installation_id, "user", "bye")
        .await
        .unwrap();
    // The other installation's genuine uninstall, readdressed to the victim.
    let mut event = held_one(&app);
    event["data"]["installation_id"] = json!(victim.installation_id);
    event["data"]["account_id"] = json!(victim.account_id);
    app.deliver(&event).await;
    app.settle().await;
    let v = app.view(&victim.installation_id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["last_error"], Value::Null, "{v}");
    assert_eq!(v["credentials"]["stored"], true);
    assert_eq!(stored_users(&app, &victim.installation_id).len(), 3);
    // Talkdesk answers 403 (the event is another installation's): that proves nothing either
    // way, so the event is parked unconfirmed, and nothing of the victim's is touched.
    assert_eq!(app.event_status(&id_of(&event)), "unconfirmed");
    assert_eq!(
        confirmations(&app, &victim.installation_id),
        vec![approved("app.installed")]
    );
}

// ---- trials ---------------------------------------------------------------------------------

#[tokio::test]
async fn trial_start_extension_and_end_are_recorded_from_talkdesks_copy() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;

    let started = app.sim.trial_started(id).await.unwrap();
    let mut event = held_one(&app);
    event["data"]["expires_at"] = json!("2099-12-31T00:00:00Z"); // not Talkdesk's
    app.deliver(&event).await;
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["trial"]["state"], "started", "{v}");
    assert_eq!(
        v["trial"]["expires_at"], started.event["data"]["expires_at"],
        "{v}"
    );

    next_second().await;
    let extended = app
        .sim
        .trial(
            id,
            talkdesk_sim::TrialKind::Extended,
            TrialSpec {
                expires_at: Some("2031-01-01T00:00:00Z".into()),
                ..TrialSpec::default()
            },
        )
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["trial"]["state"], "extended", "{v}");
    assert_eq!(v["trial"]["expires_at"], "2031-01-01T00:00:00Z", "{v}");
    assert_eq!(app.event_status(&extended.event_id), "done");

    next_second().await;
    app.sim
        .trial_ended(
            id,
            TrialSpec {
                expires_at: None,
                ended_reason: "plan_upgraded".into(),
                ended_by: "user".into(),
            },
        )
        .await
        .unwrap();
    let mut event = held_one(&app);
    event["data"]["ended_reason"] = json!("trial_expired"); // not Talkdesk's
    app.deliver(&event).await;
    app.settle().await;
    let v = app.view(id).await;
    assert_eq!(v["trial"]["state"], "ended", "{v}");
    assert_eq!(v["trial"]["ended_reason"], "plan_upgraded", "{v}");
    assert!(v["trial"]["ended_at"].is_string(), "{v}");
    // Trials need no approval call.
    assert_eq!(confirmations(&app, id), vec![approved("app.installed")]);
}

#[tokio::test]
async fn two_trial_events_delivered_newest_first_leave_the_newest_state() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    let started = app.sim.trial_started(id).await.unwrap();
    next_second().await;
    let ended = app.sim.trial_ended(id, TrialSpec::default()).await.unwrap();
    let held = app.sim.take_held();
    assert_eq!(held.len(), 2);
    for event in held.iter().rev() {
        app.deliver(event).await;
        app.settle().await;
    }
    let v = app.view(id).await;
    assert_eq!(v["trial"]["state"], "ended", "{v}");
    assert_eq!(
        v["trial"]["ended_reason"], ended.event["data"]["ended_reason"],
        "{v}"
    );
    assert_eq!(app.event_status(&ended.event_id), "done");
    assert_eq!(app.event_status(&started.event_id), "ignored");
}

// ---- logout, unknown types, closed installations --------------------------------------------

#[tokio::test]
async fn a_user_logout_is_confirmed_and_recorded() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::PS512)).await;
    let id = &inst.installation_id;
    let before = app.sim.requests_to(Endpoint::Event).len();
    let logout = app.sim.logout(id, &inst.users[0].email).await.unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(app.event_status(&logout.event_id), "done");
    assert_eq!(
        app.sim.requests_to(Endpoint::Event).len(),
        before + 1,
        "read back from Talkdesk"
    );
    let v = app.view(id).await;
    let job = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["event_id"] == logout.event_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("no job for the logout: {v}"));
    assert_eq!(job["kind"], "logout");
    assert_eq!(job["state"], "done");
    assert_eq!(v["state"], "active");
    assert_eq!(confirmations(&app, id), vec![approved("app.installed")]);
}

#[tokio::test]
async fn an_unknown_event_type_is_acknowledged_recorded_as_ignored_and_calls_nobody() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    let requests = app.sim.requests().len();
    let before = app.view(id).await;
    let event = app.sim.forged_event(
        "app.something_new",
        json!({"installation_id": id, "account_id": inst.account_id}),
    );
    let (status, reply, run) = app.post(event.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "accepted");
    assert_eq!(run, None, "nothing to run");
    app.settle().await;

    assert_eq!(app.event_status(&id_of(&event)), "ignored");
    assert_eq!(jobs_of_event(&app, &id_of(&event)), 0);
    assert_eq!(app.sim.requests().len(), requests, "no call to Talkdesk");
    let after = app.view(id).await;
    assert_eq!(after["state"], before["state"]);
    assert_eq!(after["history"], before["history"]);
}

#[tokio::test]
async fn events_for_an_uninstalled_installation_are_ignored_and_call_nobody() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    uninstalled(&app, &inst).await;
    let requests = app.sim.requests().len();

    let update = app
        .sim
        .update(
            id,
            UpdateSpec {
                add_users: vec![a_new_user()],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    let trial = app.sim.trial_started(id).await.unwrap();
    let logout = app.sim.logout(id, &inst.users[1].id).await.unwrap();
    let rotated = app.sim.rotate(id).await.unwrap();
    app.deliver_held().await;
    app.settle().await;

    for event_id in [
        &update.event_id,
        &trial.event_id,
        &logout.event_id,
        &rotated.sent.event_id,
    ] {
        assert_eq!(app.event_status(event_id), "ignored", "{event_id}");
    }
    assert_eq!(app.sim.requests().len(), requests, "no call to Talkdesk");
    let v = app.view(id).await;
    assert_eq!(v["state"], "uninstalled", "{v}");
    assert_eq!(v["credentials"]["stored"], false);
    assert_eq!(v["trial"]["state"], Value::Null);
    assert!(stored_users(&app, id).is_empty());
    assert_eq!(
        confirmations(&app, id),
        vec![approved("app.installed"), approved("app.uninstalled")]
    );
}

#[tokio::test]
async fn a_queue_of_forged_events_does_not_hold_up_a_genuine_uninstall() {
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    for _ in 0..30 {
        let forged = app.sim.forged_event(
            "app.updated",
            json!({"installation_id": id, "account_id": inst.account_id}),
        );
        app.deliver(&forged).await;
    }
    // Each forgery is in backoff after its first unanswered read; the genuine uninstall that
    // arrives now is due at once and runs in the same pass.
    app.sim.uninstall(id, "user", "bye").await.unwrap();
    app.deliver_held().await;
    let v = app.view(id).await;
    assert_eq!(v["state"], "uninstalled", "{v}");
    assert_eq!(v["credentials"]["stored"], false);
}

async fn operator(app: &TestApp, route: appconnect_core::http::Route) -> (u16, Value) {
    let head = appconnect_core::app::Head::default();
    let handled = appconnect_core::app::handle(&app.ports, &app.config, route, &head, b"").await;
    if let Some(id) = handled.run_installation {
        appconnect_core::lifecycle::run_installation(&app.ports, &app.settings(), &id)
            .await
            .unwrap();
    }
    (
        handled.reply.status,
        serde_json::from_str(&handled.reply.body).unwrap(),
    )
}

#[tokio::test]
async fn an_operator_can_retry_an_unconfirmed_event_once_talkdesk_serves_it_again() {
    use appconnect_core::http::Route;
    use talkdesk_sim::EventReads;
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    app.sim.set_event_reads(EventReads::Status(404));
    let update = app
        .sim
        .update(
            id,
            UpdateSpec {
                add_users: vec![a_new_user()],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(app.event_status(&update.event_id), "unconfirmed");
    assert_eq!(stored_users(&app, id).len(), 3);

    // Talkdesk serves events again; the operator retries the parked one.
    app.sim.set_event_reads(EventReads::ByResourceId);
    let (status, v) = operator(&app, Route::AdminEventRetry(update.event_id.clone())).await;
    assert_eq!(status, 200, "{v}");
    app.settle().await;
    assert_eq!(app.event_status(&update.event_id), "done");
    assert_eq!(stored_users(&app, id).len(), 4);
    // Only unconfirmed events can be retried.
    let (status, _) = operator(&app, Route::AdminEventRetry(update.event_id.clone())).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_operator_can_discard_an_unconfirmed_event_and_its_sealed_data_goes() {
    use appconnect_core::http::Route;
    let app = TestApp::new();
    let inst = app.active_spec(InstallSpec::new("acme", Alg::ES256)).await;
    let id = &inst.installation_id;
    app.sim.rotate(id).await.unwrap();
    let mut event = held_one(&app);
    event["data"]["client_id"] = json!("client-nobody-issued");
    app.deliver(&event).await;
    for _ in 0..5 {
        app.settle().await;
    }
    let event_id = id_of(&event);
    assert_eq!(app.event_status(&event_id), "unconfirmed");
    let (status, v) = operator(&app, Route::AdminEventDiscard(event_id.clone())).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(app.event_status(&event_id), "ignored");
    let kept = app.ports.db.select(&format!(
        "SELECT sealed_new_key FROM events WHERE event_id = '{event_id}'"
    ));
    assert!(kept[0]["sealed_new_key"].is_null(), "{kept:?}");
    assert_eq!(app.view(id).await["unconfirmed"], json!([]));
}
