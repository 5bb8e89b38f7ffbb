//! `app.installed`: proof, provisioning, approval, and what must not happen.

use serde_json::json;
use talkdesk_sim::{Alg, Endpoint, Fault, InstallSpec};

use crate::app::{forged_install, TestApp};

async fn installs_and_approves(alg: Alg) {
    let app = TestApp::new();
    let inst = app.install(alg).await;
    let v = app.view(&inst.installation_id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["users_count"], 3, "{v}");
    assert_eq!(v["credentials"]["key_algorithm"], alg.as_str());
    assert_eq!(v["credentials"]["stored"], true);
    assert_eq!(app.talkdesk_state(&inst.installation_id), "approved");
    assert_eq!(app.event_status(&inst.event_id), "done");
    // The users are stored, one row each.
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM installation_users"), 3);
}

#[tokio::test]
async fn an_es256_install_is_verified_provisioned_and_approved() {
    installs_and_approves(Alg::ES256).await;
}
#[tokio::test]
async fn an_es384_install_is_verified_provisioned_and_approved() {
    installs_and_approves(Alg::ES384).await;
}
#[tokio::test]
async fn an_es512_install_is_verified_provisioned_and_approved() {
    installs_and_approves(Alg::ES512).await;
}
#[tokio::test]
async fn a_ps256_install_is_verified_provisioned_and_approved() {
    installs_and_approves(Alg::PS256).await;
}
#[tokio::test]
async fn a_ps384_install_is_verified_provisioned_and_approved() {
    installs_and_approves(Alg::PS384).await;
}
#[tokio::test]
async fn a_ps512_install_is_verified_provisioned_and_approved() {
    installs_and_approves(Alg::PS512).await;
}

#[tokio::test]
async fn an_install_takes_the_contracts_six_calls_and_no_more() {
    let app = TestApp::new();
    app.install(Alg::ES256).await;
    // token, installation, account, users (1 page), subscription, approval.
    assert_eq!(app.sim.requests().len(), 6, "{:#?}", app.sim.requests());
}

#[tokio::test]
async fn a_duplicate_delivered_three_times_is_stored_once_and_approved_once() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    let first = app.deliver(&inst.event).await;
    assert_eq!(first["status"], "accepted");
    for _ in 0..2 {
        let again = app.deliver(&inst.event).await;
        assert_eq!(again["status"], "duplicate");
    }
    app.settle().await;
    assert_eq!(app.confirmations(&inst.installation_id), 1);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM events"), 1);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM jobs"), 1);
}

#[tokio::test]
async fn a_second_install_event_for_a_known_installation_keeps_the_first_credentials() {
    let app = TestApp::new();
    let inst = app.install(Alg::ES256).await;
    let before = app.view(&inst.installation_id).await["credentials"].clone();
    let mut again = inst.event.clone();
    again["id"] = json!("another-event-id");
    again["data"]["client_id"] = json!("someone-elses-client");
    let reply = app.deliver(&again).await;
    assert_eq!(reply["status"], "accepted");
    assert_eq!(app.event_status("another-event-id"), "ignored");
    assert_eq!(app.view(&inst.installation_id).await["credentials"], before);
}

#[tokio::test]
async fn a_forged_install_with_unknown_credentials_is_never_approved_and_keeps_no_secret() {
    let app = TestApp::new();
    // Real shape, real key, credentials Talkdesk never issued: the simulator refuses them.
    let inst = app.undelivered_install(Alg::ES256).await;
    let mut forged = forged_install(&inst.event, "forged-install");
    forged["data"]["installation_id"] = json!("inst-forged");
    app.deliver(&forged).await;
    app.settle().await;
    let v = app.view("inst-forged").await;
    assert_eq!(v["state"], "forged", "{v}");
    assert_eq!(v["credentials"]["stored"], false);
    assert_eq!(app.event_status("forged-install"), "forged");
    // Nothing but token attempts reached Talkdesk.
    for r in app.sim.requests() {
        assert_eq!(r.endpoint, Some(Endpoint::Token), "{r:?}");
    }
    assert_eq!(app.confirmations(&inst.installation_id), 0);
}

#[tokio::test]
async fn an_install_is_approved_once_a_failing_token_endpoint_recovers() {
    let app = TestApp::new();
    app.sim.fault(Endpoint::Token, Fault::status(503), 4);
    let inst = app.install(Alg::PS256).await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "received");
    app.settle().await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
    assert_eq!(app.talkdesk_state(&inst.installation_id), "approved");
}

#[tokio::test]
async fn an_installation_without_the_needed_scopes_is_rejected_with_the_reason() {
    let app = TestApp::new();
    let inst = app
        .install_spec(InstallSpec {
            scopes: vec!["apps:read".into(), "apps:write".into()],
            ..InstallSpec::new("acme", Alg::ES256)
        })
        .await;
    app.settle().await;
    let v = app.view(&inst.installation_id).await;
    assert_eq!(v["state"], "rejected", "{v}");
    assert!(
        v["last_error"].as_str().unwrap().contains("invalid_scope"),
        "{v}"
    );
    assert_eq!(app.talkdesk_state(&inst.installation_id), "rejected");
}

#[tokio::test]
async fn a_forged_install_sent_before_the_genuine_one_does_not_hold_it_up_or_take_its_place() {
    let app = TestApp::new();
    let genuine = app.undelivered_install(Alg::ES256).await;
    // Installation ids are no secret: the forgery comes first, under another account label
    // (another Talkdesk ID host) and credentials Talkdesk never issued.
    let mut forged = forged_install(&genuine.event, "forged-first");
    forged["data"]["account_name"] = json!("evil");
    app.deliver(&forged).await;
    assert_eq!(
        app.event_status("forged-first"),
        "received",
        "refused, to retry"
    );

    // The genuine event is proven at once, with its own credentials and host.
    app.deliver(&genuine.event).await;
    let v = app.view(&genuine.installation_id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["credentials"]["client_id"], genuine.client_id.as_str());
    assert_eq!(v["account"]["name"], "acme");
    assert_eq!(app.talkdesk_state(&genuine.installation_id), "approved");

    // The forgery then finds the installation proven, and costs nothing more.
    app.settle().await;
    assert_eq!(app.event_status("forged-first"), "ignored");
    let forged_tokens = app
        .sim
        .requests_to(Endpoint::Token)
        .iter()
        .filter(|r| r.body.to_string().contains("client-nobody-issued"))
        .count();
    assert!(
        forged_tokens <= 1,
        "{forged_tokens} token requests for the forgery"
    );
    assert_eq!(
        app.view(&genuine.installation_id).await["credentials"]["client_id"],
        genuine.client_id.as_str()
    );
}

#[tokio::test]
async fn a_genuine_install_after_a_forgery_was_judged_becomes_the_installation() {
    let app = TestApp::new();
    let genuine = app.undelivered_install(Alg::PS256).await;
    let forged = forged_install(&genuine.event, "forged-first");
    app.deliver(&forged).await;
    app.settle().await;
    assert_eq!(app.view(&genuine.installation_id).await["state"], "forged");

    app.deliver(&genuine.event).await;
    app.settle().await;
    let v = app.view(&genuine.installation_id).await;
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["credentials"]["client_id"], genuine.client_id.as_str());
    assert_eq!(v["credentials"]["stored"], true);
}

#[tokio::test]
async fn an_install_whose_talkdesk_id_never_answers_is_parked_after_a_fixed_number_of_token_attempts(
) {
    use appconnect_core::lifecycle::events::install::UNPROVEN_TOKEN_ATTEMPTS;
    let app = TestApp::new();
    app.sim.fault(Endpoint::Token, Fault::status(500), 1000);
    let inst = app.install(Alg::ES256).await;
    for _ in 0..20 {
        app.settle().await;
    }
    assert_eq!(
        app.sim.requests_to(Endpoint::Token).len() as u64,
        UNPROVEN_TOKEN_ATTEMPTS
    );
    assert_eq!(app.event_status(&inst.event_id), "unconfirmed");
    // Its credentials stay, sealed on the event, for the operator.
    let kept = app.ports.db.select("SELECT candidate FROM events");
    assert!(kept[0]["candidate"].as_str().unwrap().contains("v1."));
}
