//! Events: envelopes, data, delivery with Talkdesk's retry schedule (scaled), duplicates,
//! reordering and forged events.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use talkdesk_sim::{
    sign_jwt, Alg, PlanChange, SimConfig, SimUser, Simulator, TrialSpec, UpdateSpec,
};

async fn sim_to(receiver: &Receiver) -> Simulator {
    let sim = sim();
    sim.set_callback_url(receiver.url.clone());
    sim
}

#[tokio::test]
async fn app_installed_carries_the_envelope_links_and_a_usable_key_pair() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await;
    for alg in [Alg::ES512, Alg::PS512] {
        let inst = install(&sim, alg).await;
        assert!(inst.delivery.ok(), "{:?}", inst.delivery);
        let ev = rx.received().last().unwrap().clone();
        assert_eq!(ev, inst.event);
        assert_eq!(ev["type"], "app.installed");
        assert_eq!(ev["api_version"], "1");
        assert_eq!(ev["app_id"], "dev-app-0000");
        for k in ["id", "created_at", "app_version_id", "app_version_name"] {
            assert!(ev[k].is_string(), "{k}");
        }
        let root = sim.base_url();
        let links = &ev["_links"];
        assert_eq!(links["root"]["href"], json!(root));
        // `self` names the event resource, whose id is its own (as in Talkdesk's example)
        let resource_id = sim.event_resource_id(&inst.event_id).unwrap();
        assert_ne!(resource_id, inst.event_id);
        assert_eq!(resource_id.len(), inst.event_id.len());
        assert!(resource_id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            links["self"]["href"],
            json!(format!("{root}/apps/dev-app-0000/events/{resource_id}"))
        );
        assert_eq!(links["tokens"]["href"], json!(sim.token_url()));
        assert_eq!(
            links["authorization"]["href"],
            json!(format!("{root}/oauth/authorize"))
        );
        assert_eq!(links["userinfo"]["href"], json!(format!("{root}/users/me")));
        assert_eq!(
            links["installation"]["href"],
            json!(format!("{root}{}", inst_path(&sim, &inst)))
        );
        let d = &ev["data"];
        assert_eq!(d["key_algorithm"], alg.as_str());
        assert_eq!(d["installation_id"], json!(inst.installation_id));
        for k in [
            "account_id",
            "account_name",
            "client_id",
            "client_secret",
            "private_key",
            "public_key",
            "key_id",
        ] {
            assert!(d[k].is_string(), "{k}");
        }
        // base64 DER, no PEM armour, and the pair matches
        let private = d["private_key"].as_str().unwrap();
        assert!(!private.contains("-----"));
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(private)
            .unwrap();
        openssl::pkey::PKey::private_key_from_pkcs8(&der).unwrap();
        let public = base64::engine::general_purpose::STANDARD
            .decode(d["public_key"].as_str().unwrap())
            .unwrap();
        let jwt = sign_jwt(alg, private, &json!({"alg": alg.as_str()}), &json!({}));
        assert!(talkdesk_sim::jose::parse_jwt(&jwt)
            .unwrap()
            .verify(alg, &public));
        // the event reads back exactly as sent, through its self link
        let token = mint(&sim, &inst, None).await;
        let (status, body) = api(&sim, "GET", &self_path(&sim, &ev), Some(&token), None).await;
        assert_eq!((status, body), (200, ev));
    }
}

#[tokio::test]
async fn a_failed_delivery_is_retried_twice_on_the_scaled_schedule_then_given_up() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await; // time_scale 0.001: 300 ms then 600 ms
    rx.answer(500, Duration::ZERO);
    rx.answer(503, Duration::ZERO);
    let inst = install(&sim, Alg::ES256).await;
    assert_eq!(inst.delivery.status(), Some(500));
    let attempts = sim
        .wait_for_deliveries(&inst.event_id, 3, Duration::from_secs(5))
        .await
        .unwrap();
    let summary: Vec<_> = attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(
        summary,
        vec![(1, Some(500)), (2, Some(503)), (3, Some(200))]
    );

    for _ in 0..3 {
        rx.answer(500, Duration::ZERO);
    }
    let sent = sim
        .update(&inst.installation_id, UpdateSpec::default())
        .await
        .unwrap();
    sim.wait_for_deliveries(&sent.event_id, 3, Duration::from_secs(5))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let n = sim
        .deliveries()
        .iter()
        .filter(|d| d.event_id == sent.event_id)
        .count();
    assert_eq!(n, 3, "gives up after the second retry");
    assert_eq!(
        sim.installation(&inst.installation_id)
            .unwrap()
            .deliveries
            .len(),
        6
    );
}

#[tokio::test]
async fn timeouts_and_connection_errors_count_as_failures() {
    let rx = Receiver::start().await;
    let sim = Simulator::start(SimConfig {
        callback_url: Some(rx.url.clone()),
        time_scale: 0.001,
        delivery_timeout: Duration::from_millis(200),
        ..Default::default()
    });
    rx.answer(200, Duration::from_millis(800));
    let inst = install(&sim, Alg::ES256).await;
    let first = inst.delivery.attempt.clone().unwrap();
    assert!(
        first.error.as_deref().unwrap().starts_with("timeout"),
        "{first:?}"
    );
    let attempts = sim
        .wait_for_deliveries(&inst.event_id, 2, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(attempts[1].ok());

    sim.set_callback_url("http://127.0.0.1:1/events");
    let sent = sim.trial_started(&inst.installation_id).await.unwrap();
    assert!(sent
        .delivery
        .attempt
        .unwrap()
        .error
        .unwrap()
        .starts_with("connection error"));
}

#[tokio::test]
async fn redelivery_sends_the_same_event_again() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await;
    let inst = install(&sim, Alg::ES256).await;
    sim.redeliver(&inst.event_id).await.unwrap();
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], got[1]);
    sim.send_raw(inst.event.clone(), 2).await;
    assert_eq!(rx.received().len(), 4);
}

#[tokio::test]
async fn a_forged_event_is_delivered_but_never_readable_and_changes_nothing() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await;
    let inst = install(&sim, Alg::ES256).await;
    let (forged, out) = sim
        .forge("app.uninstalled", json!({"installation_id": inst.installation_id, "account_id": inst.account_id, "reason": {"type": "user", "message": "x"}}))
        .await;
    assert!(out.ok());
    assert_eq!(rx.received().last().unwrap(), &forged);
    let token = mint(&sim, &inst, None).await;
    let id = forged["id"].as_str().unwrap();
    let (status, _) = api(
        &sim,
        "GET",
        &format!("/apps/dev-app-0000/events/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // its self link names a resource of its own, which does not exist either
    assert_ne!(self_path(&sim, &forged).rsplit('/').next(), Some(id));
    let (status, _) = api(&sim, "GET", &self_path(&sim, &forged), Some(&token), None).await;
    assert_eq!(status, 404);
    let view = sim.installation(&inst.installation_id).unwrap();
    assert_eq!(view.state, "pending");
    assert!(!view.events.contains(&id.to_string()));
    assert!(
        !sim.deliveries()
            .iter()
            .find(|d| d.event_id == id)
            .unwrap()
            .genuine
    );
}

#[tokio::test]
async fn held_events_are_released_in_the_requested_order() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await;
    sim.hold_events();
    let inst = install(&sim, Alg::ES256).await;
    assert!(inst.delivery.held);
    let update = sim
        .update(
            &inst.installation_id,
            UpdateSpec {
                add_users: vec![SimUser::new("u9", "n@acme.example", "N")],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(rx.received().is_empty());
    let sent = sim.release(std::slice::from_ref(&update.event_id)).await;
    assert_eq!(sent.len(), 2);
    let types: Vec<_> = rx
        .received()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["app.updated", "app.installed"]);
}

#[tokio::test]
async fn a_held_event_can_be_taken_mutated_and_sent_as_a_hostile_variant() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await;
    sim.hold_events();
    let inst = install(&sim, Alg::ES256).await;
    let mut ev = sim.take_held().remove(0);
    ev["_links"]["root"]["href"] = json!("https://evil.example");
    sim.send_raw(ev.clone(), 1).await;
    assert_eq!(rx.received(), vec![ev]);
    // the genuine event is still on record, unmodified
    assert_eq!(sim.event(&inst.event_id).unwrap(), inst.event);
}

#[tokio::test]
async fn lifecycle_events_carry_the_documented_data() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await;
    let inst = install(&sim, Alg::ES256).await;
    let id = inst.installation_id.clone();
    let removed = inst.users[0].id.clone();
    let up = sim
        .update(
            &id,
            UpdateSpec {
                remove_users: vec![removed.clone()],
                subscription: Some(PlanChange {
                    name: "Pro".into(),
                    licenses: 7,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let d = &up.event["data"];
    assert_eq!(d["users"], json!({"removing": [removed]}));
    assert_eq!(
        d["subscription"],
        json!({"adding": {"name": "Pro", "licenses": "7"}})
    );
    let view = sim.installation(&id).unwrap();
    assert_eq!((view.users.len(), view.subscription.total_licenses), (2, 7));

    let plan_only = sim
        .update(
            &id,
            UpdateSpec {
                subscription: Some(PlanChange {
                    name: "Pro".into(),
                    licenses: 8,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(plan_only.event["data"].get("users").is_none());

    let rot = sim.rotate(&id).await.unwrap();
    let d = &rot.sent.event["data"];
    assert_eq!(rot.sent.event["type"], "app.credentials_rotated");
    assert_eq!(d["client_id"], json!(rot.client_id));
    assert_eq!(d["key_algorithm"], "ES256");
    assert_ne!(rot.client_id, inst.client_id);

    let ended = sim
        .trial_ended(
            &id,
            TrialSpec {
                ended_reason: "plan_upgraded".into(),
                ended_by: "user".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let d = &ended.event["data"];
    assert_eq!(ended.event["type"], "app.trial_ended");
    for k in ["installation_id", "account_id", "expires_at", "ended_at"] {
        assert!(d[k].is_string(), "{k}");
    }
    assert_eq!(
        (d["ended_reason"].as_str(), d["ended_by"].as_str()),
        (Some("plan_upgraded"), Some("user"))
    );

    let user = inst.users[1].clone();
    let out = sim.logout(&id, &user.email).await.unwrap();
    assert_eq!(out.event["type"], "user.logout");
    assert_eq!(
        out.event["data"],
        json!({"account_id": inst.account_id, "user_id": user.id, "user_email": user.email, "installation_id": id})
    );

    let un = sim.uninstall(&id, "user", "bye").await.unwrap();
    assert_eq!(
        un.event["data"]["reason"],
        json!({"type": "user", "message": "bye"})
    );
    assert_eq!(rx.received().len(), 7);
    assert!(sim.deliveries().iter().all(|d| d.ok()));
}

#[tokio::test]
async fn an_installation_can_be_prepared_without_sending_its_event() {
    let rx = Receiver::start().await;
    let sim = sim_to(&rx).await;
    let inst = sim
        .install_without_sending(talkdesk_sim::InstallSpec::default())
        .await
        .unwrap();
    assert!(inst.delivery.attempt.is_none() && !inst.delivery.held);
    assert!(rx.received().is_empty());
    assert_eq!(sim.event(&inst.event_id).unwrap(), inst.event);
    sim.send_raw(inst.event.clone(), 2).await;
    assert_eq!(rx.received(), vec![inst.event.clone(), inst.event.clone()]);
    mint(&sim, &inst, None).await;
}
