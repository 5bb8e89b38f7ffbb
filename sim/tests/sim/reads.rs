//! Reading events back: each genuine event is a resource with its own id (the end of its `self`
//! link, not the envelope id, as in Talkdesk's documented example), the read path can be set to
//! the old envelope-id behaviour or broken outright, and only the installation an event is for
//! may read it.

use crate::helpers::*;
use serde_json::{json, Value};
use talkdesk_sim::{Alg, EventReads, SimConfig, Simulator, TrialSpec, UpdateSpec};

fn envelope_path(sim: &Simulator, event: &Value) -> String {
    format!(
        "/apps/{}/events/{}",
        sim.app_id(),
        event["id"].as_str().unwrap()
    )
}

/// One genuine event of every kind for one installation (`app.installed` first).
async fn every_kind_of_event(sim: &Simulator) -> (talkdesk_sim::Installed, Vec<Value>) {
    let inst = install(sim, Alg::ES256).await;
    let id = inst.installation_id.clone();
    let mut events = vec![inst.event.clone()];
    events.push(sim.update(&id, UpdateSpec::default()).await.unwrap().event);
    events.push(sim.trial_started(&id).await.unwrap().event);
    events.push(
        sim.trial_ended(&id, TrialSpec::default())
            .await
            .unwrap()
            .event,
    );
    events.push(sim.logout(&id, &inst.users[0].email).await.unwrap().event);
    events.push(sim.rotate(&id).await.unwrap().sent.event);
    events.push(sim.uninstall(&id, "user", "bye").await.unwrap().event);
    (inst, events)
}

#[tokio::test]
async fn every_event_reads_back_through_its_self_link_and_not_by_its_envelope_id() {
    let sim = sim();
    let (inst, events) = every_kind_of_event(&sim).await;
    let token = mint(&sim, &inst, None).await;
    for ev in &events {
        let envelope_id = ev["id"].as_str().unwrap();
        let resource_id = sim.event_resource_id(envelope_id).unwrap();
        assert_ne!(resource_id, envelope_id, "{}", ev["type"]);
        assert_eq!(
            self_path(&sim, ev),
            format!("/apps/{}/events/{resource_id}", sim.app_id())
        );
        let (status, body) = api(&sim, "GET", &self_path(&sim, ev), Some(&token), None).await;
        assert_eq!((status, &body), (200, ev), "{}", ev["type"]);
        assert_eq!(
            body["id"],
            json!(envelope_id),
            "the body keeps the envelope id"
        );
        let (status, body) = api(&sim, "GET", &envelope_path(&sim, ev), Some(&token), None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{}",
            ev["type"]
        );
    }
    // a redelivery is the same event, with the same self link
    sim.redeliver(inst.event_id.as_str()).await.unwrap();
    assert_eq!(
        sim.event_resource_id(&inst.event_id).unwrap(),
        self_path(&sim, &inst.event).rsplit('/').next().unwrap()
    );
}

#[tokio::test]
async fn by_envelope_id_builds_self_from_the_envelope_id_and_reads_by_it() {
    let sim = Simulator::start(SimConfig {
        event_reads: EventReads::ByEnvelopeId,
        ..Default::default()
    });
    let (inst, events) = every_kind_of_event(&sim).await;
    let token = mint(&sim, &inst, None).await;
    for ev in &events {
        assert_eq!(
            self_path(&sim, ev),
            envelope_path(&sim, ev),
            "{}",
            ev["type"]
        );
        let (status, body) = api(&sim, "GET", &envelope_path(&sim, ev), Some(&token), None).await;
        assert_eq!((status, &body), (200, ev));
    }
}

#[tokio::test]
async fn the_read_path_can_change_at_run_time_and_built_events_keep_their_self_link() {
    let sim = sim();
    let own = install(&sim, Alg::ES256).await; // built with its own resource id
    sim.set_event_reads(EventReads::ByEnvelopeId);
    let id = own.installation_id.clone();
    let old_style = sim.update(&id, UpdateSpec::default()).await.unwrap().event;
    assert_eq!(self_path(&sim, &old_style), envelope_path(&sim, &old_style));
    assert_ne!(self_path(&sim, &own.event), envelope_path(&sim, &own.event));
    let token = mint(&sim, &own, None).await;
    let read = |path: String| {
        let (sim, token) = (&sim, token.clone());
        async move { api(sim, "GET", &path, Some(&token), None).await.0 }
    };
    // by envelope id: both ids of every event read
    assert_eq!(read(self_path(&sim, &own.event)).await, 200);
    assert_eq!(read(envelope_path(&sim, &own.event)).await, 200);
    assert_eq!(read(envelope_path(&sim, &old_style)).await, 200);
    // back to resource ids: only self links read (the old-style one's self is its envelope id)
    sim.set_event_reads(EventReads::ByResourceId);
    assert_eq!(read(self_path(&sim, &own.event)).await, 200);
    assert_eq!(read(envelope_path(&sim, &own.event)).await, 404);
    assert_eq!(read(self_path(&sim, &old_style)).await, 200);
}

#[tokio::test]
async fn a_broken_read_path_answers_its_status_to_every_event_read_after_the_token_check() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let unknown = format!("/apps/{}/events/{}", sim.app_id(), "0".repeat(32));
    for (status, error) in [
        (403, "forbidden"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (503, "server_error"),
    ] {
        sim.set_event_reads(EventReads::Status(status));
        for path in [
            self_path(&sim, &inst.event),
            envelope_path(&sim, &inst.event),
            unknown.clone(),
        ] {
            let (got, body) = api(&sim, "GET", &path, Some(&token), None).await;
            assert_eq!(
                (got, body["error"].as_str()),
                (status, Some(error)),
                "{path}"
            );
            assert!(description(&body).contains("EventReads::Status"), "{body}");
        }
        // a bad token is still refused first
        let (got, _) = api(&sim, "GET", &self_path(&sim, &inst.event), None, None).await;
        assert_eq!(got, 401);
    }
    // events built while it is broken get their own ids, and read once it is mended
    let later = sim
        .update(&inst.installation_id, UpdateSpec::default())
        .await
        .unwrap()
        .event;
    assert_ne!(self_path(&sim, &later), envelope_path(&sim, &later));
    sim.set_event_reads(EventReads::ByResourceId);
    for ev in [&inst.event, &later] {
        assert_eq!(
            api(&sim, "GET", &self_path(&sim, ev), Some(&token), None).await,
            (200, ev.clone())
        );
    }
    // the broken reads were recorded with their statuses
    let statuses: Vec<_> = sim
        .requests_to(talkdesk_sim::Endpoint::Event)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == Some(503)).count(), 3);
    assert_eq!(statuses.len(), 4 * 4 + 2);
}

#[tokio::test]
async fn reading_another_installations_event_is_403_forbidden_and_unknown_ids_are_404() {
    let sim = sim();
    let a = install(&sim, Alg::ES256).await;
    let b = install(&sim, Alg::ES256).await;
    let token_a = mint(&sim, &a, None).await;
    assert_eq!(
        api(
            &sim,
            "GET",
            &self_path(&sim, &a.event),
            Some(&token_a),
            None
        )
        .await
        .0,
        200
    );
    let (status, body) = api(
        &sim,
        "GET",
        &self_path(&sim, &b.event),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    assert_eq!(
        description(&body),
        "the event concerns another installation"
    );
    for id in ["0".repeat(32), "nope".into()] {
        let path = format!("/apps/{}/events/{id}", sim.app_id());
        let (status, body) = api(&sim, "GET", &path, Some(&token_a), None).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    }
    // by envelope id, another installation's envelope id is forbidden too
    sim.set_event_reads(EventReads::ByEnvelopeId);
    let (status, _) = api(
        &sim,
        "GET",
        &envelope_path(&sim, &b.event),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, 403);
    // the refusal is recorded, attributed to the reader
    let last = sim.requests().pop().unwrap();
    assert_eq!(
        (last.status, last.installation_id.as_deref()),
        (Some(403), Some(a.installation_id.as_str()))
    );
}

#[test]
fn the_read_path_setting_parses_from_the_cli_and_json() {
    let parse = |s: &str| s.parse::<EventReads>().ok();
    assert_eq!(parse("by-resource-id"), Some(EventReads::ByResourceId));
    assert_eq!(parse("by_envelope_id"), Some(EventReads::ByEnvelopeId));
    assert_eq!(parse("503"), Some(EventReads::Status(503)));
    assert_eq!(parse("envelope"), None);
    assert_eq!(parse("42"), None);
    assert_eq!(EventReads::default(), EventReads::ByResourceId);
    assert_eq!(
        serde_json::to_value(EventReads::Status(404)).unwrap(),
        json!({"status": 404})
    );
    assert_eq!(
        serde_json::from_value::<EventReads>(json!("by_envelope_id")).unwrap(),
        EventReads::ByEnvelopeId
    );
}
