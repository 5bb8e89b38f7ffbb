//! The partner's product plugged in, in workerd: the example hooks create and follow a tenant,
//! signed webhooks reach a receiver that verifies them with the `standardwebhooks` crate, in
//! order, and the partner's backend approves a waiting install with a signed call.

use std::time::{Duration, Instant};

use talkdesk_sim::{Alg, InstallSpec, SimUser, UpdateSpec, Users, WebhookReceiver};

use crate::harness::{default_vars, Options, Worker};
use crate::lifecycle::{admin, sim_for, sweep, wait_view};

const SECRET: &str = "whsec_ZTJlLXBhcnRuZXItd2ViaG9vay1zZWNyZXQtMzI=";

fn partner_worker(receiver: &WebhookReceiver) -> Worker {
    let mut vars = default_vars();
    for (k, v) in [
        ("PARTNER_HOOKS", "example".to_owned()),
        ("PARTNER_WEBHOOK_URL", receiver.url()),
        ("PARTNER_WEBHOOK_SECRET", SECRET.to_owned()),
        ("ALLOW_LOCAL_WEBHOOKS", "1".to_owned()),
    ] {
        vars.insert(k.into(), v);
    }
    Worker::start(Options {
        vars,
        ..Options::default()
    })
}

/// Sweeps until the receiver has accepted `n` webhooks.
async fn wait_webhooks(w: &Worker, receiver: &WebhookReceiver, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.accepted().len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} webhooks: {:?}",
            receiver.accepted().len(),
            receiver.accepted_types()
        );
        sweep(w).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_example_hook_and_signed_webhooks_follow_an_installation_from_install_to_reinstall() {
    let receiver = WebhookReceiver::start(SECRET);
    let w = partner_worker(&receiver);
    let sim = sim_for(&w);
    let inst = sim
        .install(InstallSpec::new("plugco", Alg::ES256))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    let view = wait_view(&w, &id, |v| v["state"] == "active").await;
    assert_eq!(
        view["partner_summary"], "Workspace Plugco Inc.: 3 seats, plan Standard",
        "the example's tenant, named from Talkdesk's account: {view}"
    );
    wait_webhooks(&w, &receiver, 2).await;
    assert_eq!(
        receiver.accepted_types(),
        ["installation.created", "installation.approved"]
    );
    // Users, plan, uninstall, then a reinstall in the same account.
    let new_user = SimUser::new("u-plug", "plug@plugco.test", "Plug Agent");
    sim.update(
        &id,
        UpdateSpec {
            add_users: vec![new_user],
            ..UpdateSpec::default()
        },
    )
    .await
    .unwrap();
    wait_webhooks(&w, &receiver, 3).await;
    sim.update(
        &id,
        UpdateSpec {
            subscription: Some(talkdesk_sim::PlanChange {
                name: "Elite".into(),
                licenses: 40,
            }),
            ..UpdateSpec::default()
        },
    )
    .await
    .unwrap();
    wait_webhooks(&w, &receiver, 4).await;
    sim.uninstall(&id, "user", "moving on").await.unwrap();
    wait_webhooks(&w, &receiver, 5).await;
    let again = sim
        .install(InstallSpec::new("plugco", Alg::PS256))
        .await
        .unwrap();
    wait_view(&w, &again.installation_id, |v| v["state"] == "active").await;
    wait_webhooks(&w, &receiver, 7).await;
    assert_eq!(
        receiver.accepted_types(),
        [
            "installation.created",
            "installation.approved",
            "installation.updated",
            "installation.updated",
            "installation.uninstalled",
            "installation.created",
            "installation.approved",
        ]
    );
    let deliveries = receiver.deliveries();
    assert!(deliveries.iter().all(|d| d.verified), "{deliveries:?}");
    let accepted = receiver.accepted();
    assert_eq!(accepted[2].payload["data"]["users_added"][0], "u-plug");
    assert_eq!(accepted[3].payload["data"]["plan"], "Elite");
    assert_eq!(
        accepted[6].payload["data"]["installation_id"],
        again.installation_id.as_str()
    );
}

#[tokio::test]
async fn a_big_account_waits_until_the_partners_backend_approves_with_a_signed_call() {
    let receiver = WebhookReceiver::start(SECRET);
    let w = partner_worker(&receiver);
    let sim = sim_for(&w);
    let inst = sim
        .install(InstallSpec {
            users: Users::Count(150),
            ..InstallSpec::new("bigplug", Alg::ES256)
        })
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    let view = wait_view(&w, &id, |v| v["state"] == "installing").await;
    assert_eq!(view["manual_decision"]["state"], "waiting", "{view}");
    wait_webhooks(&w, &receiver, 2).await;
    assert_eq!(
        receiver.accepted_types(),
        ["installation.created", "installation.awaiting_decision"]
    );
    assert_eq!(sim.installation(&id).unwrap().state, "pending");

    // The partner's backend decides, signing with the Standard Webhooks library.
    let body = format!(r#"{{"installation_id":"{id}","decision":"approve"}}"#);
    let body = body.as_bytes();
    let signer = standardwebhooks::Webhook::new(SECRET).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let post = |call_id: &str, signature: String| {
        reqwest::Client::new()
            .post(w.url(&format!("/partner/installations/{id}/decision")))
            .header("content-type", "application/json")
            .header("webhook-id", call_id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
    };
    let wrong = standardwebhooks::Webhook::new("whsec_d3Jvbmctc2VjcmV0LW9mLXR3ZW50eS1mb3VyLWI=")
        .unwrap()
        .sign("call-0", now, body)
        .unwrap();
    assert_eq!(post("call-0", wrong).await.unwrap().status(), 401);
    let good = signer.sign("call-1", now, body).unwrap();
    assert_eq!(post("call-1", good.clone()).await.unwrap().status(), 202);
    assert_eq!(
        post("call-1", good).await.unwrap().status(),
        409,
        "a webhook-id is accepted once"
    );
    wait_view(&w, &id, |v| v["state"] == "active").await;
    assert_eq!(sim.installation(&id).unwrap().state, "approved");
    wait_webhooks(&w, &receiver, 3).await;
    assert_eq!(receiver.accepted_types()[2], "installation.approved");
    let (_, history) = admin(&w, &format!("/admin/installations/{id}/events")).await;
    assert_eq!(
        history["operator_actions"][0]["action"], "decision_approved",
        "{history}"
    );
}
