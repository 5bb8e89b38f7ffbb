//! Operator actions on an installation: replaying a stored event, and the history that records
//! every action the operator took.

use appconnect_core::http::Route;
use appconnect_core::lifecycle::{self, Ports};
use serde_json::Value;
use talkdesk_sim::{Alg, Endpoint};

use super::app::{TestApp, ADMIN_TOKEN};

/// Calls an operator route: the status, the JSON answer and the installation to run after.
async fn operator(app: &TestApp, route: Route) -> (u16, Value, Option<String>) {
    let head = appconnect_core::app::Head {
        authorization: Some(format!("Bearer {ADMIN_TOKEN}")),
        ..Default::default()
    };
    let handled = appconnect_core::app::handle(&app.ports, &app.config, route, &head, b"").await;
    let body = serde_json::from_str(&handled.reply.body).unwrap_or(Value::Null);
    (handled.reply.status, body, handled.run_installation)
}

async fn history(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, v, _) = operator(app, Route::AdminInstallationEvents(id.into())).await;
    assert_eq!(status, 200, "{v}");
    v["operator_actions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_replayed_update_runs_again_once_and_is_recorded_in_the_history() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = inst.installation_id.clone();
    app.sim
        .update(&id, talkdesk_sim::UpdateSpec::default())
        .await
        .unwrap();
    let update = app.sim.take_held().remove(0);
    let event_id = update["id"].as_str().unwrap().to_owned();
    app.deliver(&update).await;
    assert_eq!(app.event_status(&event_id), "done");
    let users_reads = app.sim.requests_to(Endpoint::Users).len();

    let (status, v, run) = operator(&app, Route::AdminEventReplay(event_id.clone())).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(app.event_status(&event_id), "received");
    // Asking again before it ran changes nothing.
    let (again, v2, _) = operator(&app, Route::AdminEventReplay(event_id.clone())).await;
    assert_eq!(again, 200, "{v2}");
    assert_eq!(v2["status"], "pending");
    lifecycle::run_installation(&app.ports, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    assert_eq!(app.event_status(&event_id), "done");
    assert_eq!(
        app.sim.requests_to(Endpoint::Users).len(),
        users_reads + 1,
        "the replay read the users again, once"
    );
    let actions = history(&app, &id).await;
    assert_eq!(actions.len(), 1, "one action recorded: {actions:?}");
    assert_eq!(actions[0]["action"], "replay_event");
    assert!(actions[0]["detail"].as_str().unwrap().contains(&event_id));
}

#[tokio::test]
async fn replaying_an_install_after_the_uninstall_restores_nothing() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = inst.installation_id.clone();
    app.sim.uninstall(&id, "user", "bye").await.unwrap();
    app.deliver_held().await;
    assert_eq!(app.view(&id).await["state"], "uninstalled");
    let (status, _, run) = operator(&app, Route::AdminEventReplay(inst.event_id.clone())).await;
    assert_eq!(status, 202);
    lifecycle::run_installation(&app.ports, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    let row = app.ports.store().installation(&id).await.unwrap().unwrap();
    assert!(!row.has_secrets());
    assert_eq!(app.view(&id).await["state"], "uninstalled");
    assert_eq!(app.event_status(&inst.event_id), "ignored");
}

#[tokio::test]
async fn replaying_an_unknown_event_is_a_404_and_records_nothing() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let (status, v, run) = operator(&app, Route::AdminEventReplay("no-such-event".into())).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"], "not_found");
    assert!(run.is_none());
    assert!(history(&app, &inst.installation_id).await.is_empty());
}

#[tokio::test]
async fn retry_now_is_recorded_in_the_history() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let (status, _, _) = operator(&app, Route::AdminRetryNow(inst.installation_id.clone())).await;
    assert_eq!(status, 202);
    let actions = history(&app, &inst.installation_id).await;
    assert_eq!(actions[0]["action"], "retry_now", "{actions:?}");
}
