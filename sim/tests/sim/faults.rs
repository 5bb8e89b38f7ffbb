//! Faults per endpoint: status, malformed body, stall, dropped connection; then back to normal.

use crate::helpers::*;
use std::time::{Duration, Instant};
use talkdesk_sim::{Alg, Endpoint, Fault};

#[tokio::test]
async fn a_status_fault_answers_for_the_next_n_calls_then_stops() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    sim.fault(Endpoint::Token, Fault::status(503), 2);
    for _ in 0..2 {
        let (status, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None).await;
        assert_eq!(status, 503);
        assert!(body["error"].is_string());
    }
    mint(&sim, &inst, None).await;
    let log = sim.requests_to(Endpoint::Token);
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].fault, Some(Fault::status(503)));
    assert_eq!(log[2].fault, None);
}

#[tokio::test]
async fn a_malformed_fault_answers_200_with_broken_json() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    sim.fault(Endpoint::Installation, Fault::Malformed, 1);
    let resp = http()
        .get(format!("{}{}", sim.base_url(), inst_path(&sim, &inst)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    assert_eq!(
        api(&sim, "GET", &inst_path(&sim, &inst), Some(&token), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_stall_fault_delays_then_answers_normally() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    sim.fault(Endpoint::Users, Fault::stall(Duration::from_millis(400)), 1);
    let start = Instant::now();
    let (status, _) = api(
        &sim,
        "GET",
        &format!("{}/users", inst_path(&sim, &inst)),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(start.elapsed() >= Duration::from_millis(400));
    // a client with a shorter timeout gives up
    sim.fault(Endpoint::Account, Fault::stall(Duration::from_secs(2)), 1);
    let err = http()
        .get(format!("{}/account", sim.base_url()))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(err.unwrap_err().is_timeout());
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_without_an_answer() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    sim.fault(Endpoint::State, Fault::Drop, 1);
    let url = format!("{}{}/state", sim.base_url(), inst_path(&sim, &inst));
    let err = http()
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({"state": "approve"}))
        .send()
        .await;
    assert!(err.is_err(), "expected no answer, got {err:?}");
    assert_eq!(
        sim.installation(&inst.installation_id).unwrap().state,
        "pending"
    );
    let (status, _) = api(
        &sim,
        "POST",
        &format!("{}/state", inst_path(&sim, &inst)),
        Some(&token),
        Some(serde_json::json!({"state": "approve"})),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn faults_can_be_cleared_and_only_hit_their_endpoint() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    sim.fault(Endpoint::Subscription, Fault::status(500), 5);
    let token = mint(&sim, &inst, None).await;
    assert_eq!(
        api(
            &sim,
            "GET",
            &format!("{}/subscription", inst_path(&sim, &inst)),
            Some(&token),
            None
        )
        .await
        .0,
        500
    );
    sim.clear_faults();
    assert_eq!(
        api(
            &sim,
            "GET",
            &format!("{}/subscription", inst_path(&sim, &inst)),
            Some(&token),
            None
        )
        .await
        .0,
        200
    );
}
