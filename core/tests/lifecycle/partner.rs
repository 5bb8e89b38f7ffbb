//! The partner's product plugged in: the example hooks, signed webhooks checked by an
//! independent Standard Webhooks implementation, and manual provisioning seen at Talkdesk.

use std::time::Duration;

use appconnect_core::http::Route;
use appconnect_core::lifecycle::{self, Ports};
use appconnect_core::partner::{example, PartnerHooks};
use serde_json::{json, Value};
use talkdesk_sim::{Alg, InstallSpec, SimUser, UpdateSpec, Users, WebhookReceiver};

use super::app::{forged_install, id_of, TestApp, ADMIN_TOKEN};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A test app running the example hooks, with webhooks to `receiver` when given.
fn partner_app(receiver: Option<&WebhookReceiver>, extra: &[(&str, &str)]) -> TestApp {
    let mut app = TestApp::new();
    let url = receiver.map(|r| r.url());
    let mut vars: Vec<(&str, &str)> = vec![("PARTNER_HOOKS", "example")];
    if let Some(url) = url.as_deref() {
        vars.extend([
            ("PARTNER_WEBHOOK_URL", url),
            ("PARTNER_WEBHOOK_SECRET", SECRET),
            ("ALLOW_LOCAL_WEBHOOKS", "1"),
        ]);
    }
    vars.extend_from_slice(extra);
    app.config = app.config_with(&vars);
    app.ports.hooks = PartnerHooks::Example;
    app
}

async fn tenant(app: &TestApp, account_id: &str) -> Option<example::Tenant> {
    example::tenant(app.ports.db(), account_id).await.unwrap()
}

async fn operator(app: &TestApp, route: Route, body: &[u8]) -> (u16, Value, Option<String>) {
    let head = appconnect_core::app::Head {
        authorization: Some(format!("Bearer {ADMIN_TOKEN}")),
        content_type: Some("application/json".into()),
        ..Default::default()
    };
    let handled = appconnect_core::app::handle(&app.ports, &app.config, route, &head, body).await;
    let v = serde_json::from_str(&handled.reply.body).unwrap_or(Value::Null);
    (handled.reply.status, v, handled.run_installation)
}

#[tokio::test]
async fn an_install_with_the_example_hook_creates_the_tenant_and_webhooks_say_created_then_approved(
) {
    let receiver = WebhookReceiver::start(SECRET);
    let app = partner_app(Some(&receiver), &[]);
    let inst = app.active(Alg::ES256).await;
    let t = tenant(&app, &inst.account_id).await.expect("a tenant");
    assert_eq!(t.installation_id, inst.installation_id);
    assert_eq!(t.seats, 3);
    assert_eq!(t.state, "active");
    // The workspace name came from Talkdesk's /account through the hooks' client.
    assert_eq!(t.workspace, "Acme Inc.");
    assert!(t.created_by.ends_with(":on_install"), "{}", t.created_by);
    assert_eq!(
        receiver.accepted_types(),
        ["installation.created", "installation.approved"]
    );
    let all = receiver.deliveries();
    assert!(
        all.iter().all(|d| d.verified),
        "every signature verified independently"
    );
    let approved = &receiver.accepted()[1].payload;
    assert_eq!(
        approved["data"]["installation_id"],
        inst.installation_id.as_str()
    );
    assert_eq!(approved["data"]["users_count"], 3);
    let text = serde_json::to_string(&all.iter().map(|d| &d.payload).collect::<Vec<_>>()).unwrap();
    for token in app
        .sim
        .installation(&inst.installation_id)
        .unwrap()
        .issued_tokens
    {
        assert!(!text.contains(&token), "no token in a webhook");
    }
    assert!(!text.contains("private_key") && !text.contains("client_secret"));
}

#[tokio::test]
async fn users_plan_trial_uninstall_and_a_reinstall_reach_the_hooks_and_arrive_in_order() {
    let receiver = WebhookReceiver::start(SECRET);
    let app = partner_app(Some(&receiver), &[]);
    let inst = app.active(Alg::ES256).await;
    let id = inst.installation_id.clone();
    app.sim
        .update(
            &id,
            UpdateSpec {
                add_users: vec![SimUser::new("u-new", "new@acme.test", "New Agent")],
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(tenant(&app, &inst.account_id).await.unwrap().seats, 4);
    app.sim
        .update(
            &id,
            UpdateSpec {
                subscription: Some(talkdesk_sim::PlanChange {
                    name: "Elite".into(),
                    licenses: 50,
                }),
                ..UpdateSpec::default()
            },
        )
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(
        tenant(&app, &inst.account_id)
            .await
            .unwrap()
            .plan
            .as_deref(),
        Some("Elite")
    );
    app.sim.trial_started(&id).await.unwrap();
    app.deliver_held().await;
    app.settle().await;
    app.sim.uninstall(&id, "user", "bye").await.unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(
        tenant(&app, &inst.account_id).await.unwrap().state,
        "archived"
    );
    // A reinstall in the same account: a new installation, the tenant active again.
    let again = app.active(Alg::ES384).await;
    let t = tenant(&app, &again.account_id).await.unwrap();
    assert_eq!(
        (t.state.as_str(), t.installation_id.as_str()),
        ("active", again.installation_id.as_str())
    );
    assert_eq!(
        receiver.accepted_types(),
        [
            "installation.created",
            "installation.approved",
            "installation.updated",
            "installation.updated",
            "installation.trial_changed",
            "installation.uninstalled",
            "installation.created",
            "installation.approved",
        ]
    );
    let users = &receiver.accepted()[2].payload["data"];
    assert_eq!(users["users_added"], json!(["u-new"]), "{users}");
    let plan = &receiver.accepted()[3].payload["data"];
    assert_eq!(plan["plan_changed"], true, "{plan}");
}

#[tokio::test]
async fn a_receiver_down_for_an_hour_then_failing_three_times_gets_every_webhook_in_order_once() {
    let receiver = WebhookReceiver::start(SECRET);
    // An hour at the tests' time scale (0.001) is 3.6 s.
    receiver.down_for(Duration::from_millis(3_600));
    receiver.fail_next(3);
    let app = partner_app(Some(&receiver), &[]);
    let inst = app.active(Alg::ES256).await;
    app.sim
        .update(&inst.installation_id, UpdateSpec::default())
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while receiver.accepted().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            receiver.deliveries()
        );
        lifecycle::sweep(&app.ports, &app.settings(), 25)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        receiver.accepted_types(),
        [
            "installation.created",
            "installation.approved",
            "installation.updated"
        ]
    );
    let all = receiver.deliveries();
    assert!(all.iter().any(|d| d.status == 503), "it was down");
    assert_eq!(all.iter().filter(|d| d.status == 500).count(), 3);
    // In order: no later webhook was sent while an earlier one was failing.
    let first_ok = all.iter().position(|d| d.status == 204).unwrap();
    assert!(all[..first_ok]
        .iter()
        .all(|d| d.event_type.as_deref() == Some("installation.created")));
    // Nothing more arrives: each was delivered once.
    lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    assert_eq!(all.iter().filter(|d| d.status == 204).count(), 3);
}

#[tokio::test]
async fn a_forged_an_unconfirmed_and_a_duplicate_event_call_no_hook_and_send_no_webhook() {
    let receiver = WebhookReceiver::start(SECRET);
    let app = partner_app(Some(&receiver), &[]);
    let genuine = app.undelivered_install(Alg::ES256).await;
    // A forged install (credentials Talkdesk never issued) for another installation id.
    let mut forged = forged_install(&genuine.event, "forged-install-1");
    forged["data"]["installation_id"] = json!("inst-forged-1");
    app.deliver(&forged).await;
    app.settle().await;
    // The genuine one, delivered twice.
    app.deliver(&genuine.event).await;
    app.deliver(&genuine.event).await;
    app.settle().await;
    // An update Talkdesk never sent: unconfirmed, never applied.
    let unconfirmed = app.sim.forged_event(
        "app.updated",
        json!({"installation_id": genuine.installation_id, "account_id": genuine.account_id}),
    );
    app.deliver(&unconfirmed).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.event_status(&id_of(&unconfirmed)) != "unconfirmed" {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            app.event_status(&id_of(&unconfirmed))
        );
        app.settle_once().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        receiver.accepted_types(),
        ["installation.created", "installation.approved"],
        "only the genuine install's webhooks, once"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM example_tenants"),
        1,
        "one tenant: the forged install called no hook"
    );
}

#[tokio::test]
async fn a_big_account_waits_for_a_person_and_is_approved_on_day_two() {
    let app = partner_app(None, &[]);
    // The worker's clock moves two days ahead of the simulator's: a token minted now stays
    // good for the approval then (a fresh assertion would be dated in Talkdesk's future).
    app.sim.set_token_ttl(8 * 86_400);
    let inst = app
        .install_spec(InstallSpec {
            users: Users::Count(150),
            ..InstallSpec::new("bigco", Alg::ES256)
        })
        .await;
    app.settle().await;
    let id = &inst.installation_id;
    let view = app.view(id).await;
    assert_eq!(view["state"], "installing", "{view}");
    assert_eq!(view["manual_decision"]["state"], "waiting");
    assert!(view["manual_decision"]["expires_in_ms"].as_u64().unwrap() > 6 * 86_400_000);
    assert_eq!(app.sim.installation(id).unwrap().state, "pending");
    // Day 2: a person approves.
    app.ports.clock.advance(2 * 86_400_000);
    let view = app.view(id).await;
    let left = view["manual_decision"]["expires_in_ms"].as_u64().unwrap();
    assert!(
        left < 5 * 86_400_000 + 60_000,
        "the deadline counts down: {left}"
    );
    let (status, v, run) = operator(&app, Route::AdminApprove(id.clone()), b"").await;
    assert_eq!(status, 202, "{v}");
    lifecycle::run_installation(&app.ports, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    assert_eq!(app.view(id).await["state"], "active");
    assert_eq!(app.sim.installation(id).unwrap().state, "approved");
    // The same decision again changes nothing; another is refused.
    assert_eq!(
        operator(&app, Route::AdminApprove(id.clone()), b"").await.0,
        200
    );
    let (status, _, _) = operator(
        &app,
        Route::AdminReject(id.clone()),
        br#"{"reason":"changed my mind"}"#,
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_person_rejects_with_a_reason_that_talkdesk_receives() {
    let app = partner_app(None, &[("MANUAL_PROVISIONING", "1")]);
    let inst = app.install(Alg::ES256).await;
    app.settle().await;
    let id = &inst.installation_id;
    assert_eq!(app.view(id).await["state"], "installing");
    let (status, v, _) = operator(&app, Route::AdminReject(id.clone()), b"{}").await;
    assert_eq!(status, 400, "a rejection needs a reason: {v}");
    assert_eq!(v["path"], "$.reason");
    let (status, _, run) = operator(
        &app,
        Route::AdminReject(id.clone()),
        br#"{"reason":"no contract on file for this account"}"#,
    )
    .await;
    assert_eq!(status, 202);
    lifecycle::run_installation(&app.ports, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    let at_talkdesk = app.sim.installation(id).unwrap();
    assert_eq!(at_talkdesk.state, "rejected");
    assert_eq!(
        at_talkdesk.reason.as_deref(),
        Some("no contract on file for this account")
    );
    assert_eq!(app.view(id).await["state"], "rejected");
}

#[tokio::test]
async fn an_install_left_alone_is_warned_a_day_before_and_expires_at_the_deadline() {
    let app = partner_app(None, &[("MANUAL_PROVISIONING", "1")]);
    // Talkdesk's own 7-day window, shortened so it passes within the test.
    app.sim.set_time_scale(0.000_001);
    let inst = app.install(Alg::ES256).await;
    app.settle().await;
    let id = &inst.installation_id;
    assert_eq!(app.view(id).await["state"], "installing");
    // Six days and a bit: the warning.
    app.ports.clock.advance(6 * 86_400_000 + 3_600_000);
    app.settle_once().await;
    assert!(
        app.ports
            .log
            .text()
            .contains("decision_deadline_approaching"),
        "a warning is logged a day before"
    );
    assert!(app.view(id).await["manual_decision"]["warned_at"].is_string());
    // Past the deadline: the job expires; no one approved anything at Talkdesk.
    app.ports.clock.advance(86_400_000);
    app.settle_once().await;
    let view = app.view(id).await;
    assert_eq!(view["state"], "attention", "{view}");
    assert_eq!(view["manual_decision"]["state"], "expired");
    let at_talkdesk = app.sim.installation(id).unwrap();
    assert!(at_talkdesk.history.is_empty(), "{:?}", at_talkdesk.history);
    assert_eq!(at_talkdesk.state, "timed_out");
    // A late decision is refused.
    assert_eq!(
        operator(&app, Route::AdminApprove(id.clone()), b"").await.0,
        409
    );
}

#[tokio::test]
async fn the_partners_backend_decides_with_a_signed_call_accepted_once() {
    let receiver = WebhookReceiver::start(SECRET);
    let app = partner_app(Some(&receiver), &[("MANUAL_PROVISIONING", "1")]);
    let inst = app.install(Alg::ES256).await;
    app.settle().await;
    let id = inst.installation_id.clone();
    assert!(receiver
        .accepted_types()
        .contains(&"installation.awaiting_decision".to_string()));
    let body = format!(r#"{{"installation_id":"{id}","decision":"approve"}}"#);
    let body = body.as_bytes();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let secret = appconnect_core::config::partner::parse_secrets(SECRET)
        .unwrap()
        .remove(0);
    let call = |sig: String, call_id: &str| appconnect_core::app::Head {
        content_type: Some("application/json".into()),
        webhook_id: Some(call_id.into()),
        webhook_timestamp: Some(now.to_string()),
        webhook_signature: Some(sig),
        ..Default::default()
    };
    let good = appconnect_core::webhooks::signature(&[secret], "call-1", now, body);
    let handle = |head: appconnect_core::app::Head| {
        let app = &app;
        let id = id.clone();
        async move {
            appconnect_core::app::handle(
                &app.ports,
                &app.config,
                Route::PartnerDecision(id),
                &head,
                body,
            )
            .await
        }
    };
    let forged = handle(call("v1,AAAA".into(), "call-0")).await;
    assert_eq!(forged.reply.status, 401, "{}", forged.reply.body);
    assert_eq!(app.view(&id).await["state"], "installing");
    let accepted = handle(call(good.clone(), "call-1")).await;
    assert_eq!(accepted.reply.status, 202, "{}", accepted.reply.body);
    let replayed = handle(call(good, "call-1")).await;
    assert_eq!(
        replayed.reply.status, 409,
        "the same webhook-id is accepted once"
    );
    lifecycle::run_installation(
        &app.ports,
        &app.settings(),
        &accepted.run_installation.unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(app.sim.installation(&id).unwrap().state, "approved");
}

#[tokio::test]
async fn an_uninstall_goes_through_while_the_install_waits_for_a_person() {
    let receiver = WebhookReceiver::start(SECRET);
    let app = partner_app(Some(&receiver), &[("MANUAL_PROVISIONING", "1")]);
    let inst = app.install(Alg::ES256).await;
    app.settle_once().await;
    let id = inst.installation_id.clone();
    assert_eq!(app.view(&id).await["state"], "installing");
    app.sim
        .uninstall(&id, "user", "changed my mind")
        .await
        .unwrap();
    app.deliver_held().await;
    let view = app.view(&id).await;
    assert_eq!(view["state"], "uninstalled", "{view}");
    assert_eq!(
        view["manual_decision"]["state"], "expired",
        "the wait is over"
    );
    // A decision now finds nothing waiting, and nothing is approved.
    assert_eq!(
        operator(&app, Route::AdminApprove(id.clone()), b"").await.0,
        409
    );
    lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    assert!(!receiver
        .accepted_types()
        .contains(&"installation.approved".to_string()));
    assert!(receiver
        .accepted_types()
        .contains(&"installation.uninstalled".to_string()));
}
