//! Talkdesk ID under a flood (429 `slow_down` past a per-account limit per second), and the
//! request log counting every request the simulator received, whatever answered it.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use talkdesk_sim::{Alg, Endpoint, Fault, InstallSpec, SimConfig, Simulator};

fn limited(per_second: u32) -> Simulator {
    Simulator::start(SimConfig {
        token_rate_limit: Some(per_second),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_token_flood_from_one_account_is_answered_429_slow_down_with_retry_after() {
    let sim = limited(3);
    let inst = install(&sim, Alg::ES256).await;
    for _ in 0..3 {
        mint(&sim, &inst, None).await;
    }
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, headers, body) = post_token_raw(
        &sim,
        Some("application/x-www-form-urlencoded"),
        None,
        assertion_form(&jwt, &[]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("slow_down")),
        "{body}"
    );
    assert_eq!(headers["retry-after"], "1");
    assert!(description(&body)
        .starts_with("rate limit: more than 3 token requests per second for account acme"));
    // the refused request was not verified: its jti is still unused, so it mints once the
    // window has moved on
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
    // recorded and attributed like any other token request
    let statuses: Vec<_> = sim
        .token_requests_for(&inst.installation_id)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [Some(200), Some(200), Some(200), Some(429), Some(200)]
    );
    assert_eq!(sim.issued_tokens(&inst.installation_id).len(), 4);
}

#[tokio::test]
async fn a_refused_token_request_does_not_count_against_the_limit() {
    let sim = limited(1);
    let inst = install(&sim, Alg::ES256).await;
    mint(&sim, &inst, None).await; // t = 0
    tokio::time::sleep(Duration::from_millis(600)).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 429); // t = 0.6 s
    tokio::time::sleep(Duration::from_millis(550)).await;
    // t = 1.15 s: the mint has left the window and the refusal never entered it
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn the_token_rate_limit_counts_each_account_apart_and_unknown_clients_together() {
    let sim = limited(2);
    let acme1 = install(&sim, Alg::ES256).await;
    let acme2 = install(&sim, Alg::ES256).await;
    let globex = sim
        .install(InstallSpec::new("globex", Alg::ES256))
        .await
        .unwrap();
    // two installations of one account share its limit, refused or not
    mint(&sim, &acme1, None).await;
    let wrong_aud = assertion(&sim, &acme2, |_, c| c["aud"] = json!("x"));
    assert_eq!(post_assertion(&sim, &wrong_aud, None).await.0, 401);
    let jwt = assertion(&sim, &acme2, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 429);
    // another account has its own
    mint(&sim, &globex, None).await;
    mint(&sim, &globex, None).await;
    // requests naming no known client share one bucket
    let basic = [("grant_type", "client_credentials")];
    for expected in [401, 401, 429] {
        let (status, body) = post_form(&sim, &basic, Some(("nobody", "x"))).await;
        assert_eq!(status, expected, "{body}");
    }
    let (status, body) = post_form(&sim, &basic, Some(("nobody", "x"))).await;
    assert_eq!(status, 429);
    assert!(description(&body).contains("for unknown clients"), "{body}");
}

#[tokio::test]
async fn without_a_limit_a_token_flood_is_never_refused_and_the_limit_can_be_set_at_run_time() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    for _ in 0..40 {
        mint(&sim, &inst, None).await;
    }
    sim.set_token_rate_limit(Some(1));
    mint(&sim, &inst, None).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 429);
    sim.set_token_rate_limit(None);
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn every_request_received_is_recorded_with_its_status_whatever_answered_it() {
    let sim = limited(2);
    let a = install(&sim, Alg::ES256).await;
    let b = install(&sim, Alg::ES256).await;
    let a_id = Some(a.installation_id.as_str());
    let token = mint(&sim, &a, None).await; // 200
    let bad = assertion(&sim, &a, |_, c| c["aud"] = json!("x"));
    assert_eq!(post_assertion(&sim, &bad, None).await.0, 401); // refused
    let jwt = assertion(&sim, &a, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 429); // flood
    let path = self_path(&sim, &b.event);
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 403); // b's event
    assert_eq!(api(&sim, "GET", &path, None, None).await.0, 401); // no token
    assert_eq!(
        api(&sim, "GET", "/nowhere", Some(&token), None).await.0,
        404
    );
    sim.fault(Endpoint::Account, Fault::status(503), 1);
    assert_eq!(
        api(&sim, "GET", "/account", Some(&token), None).await.0,
        503
    );
    sim.fault(Endpoint::Account, Fault::Drop, 1);
    let dropped = http()
        .get(format!("{}/account", sim.base_url()))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(dropped.is_err());
    // a body over the 1 MiB cap is refused unread (the client may see the connection close first)
    let _ = http()
        .post(sim.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; (1 << 20) + 1])
        .send()
        .await;
    let log: Vec<_> = sim
        .requests()
        .into_iter()
        .map(|r| (r.endpoint, r.status, r.installation_id))
        .collect();
    let a_id = a_id.map(str::to_string);
    assert_eq!(
        log,
        vec![
            (Some(Endpoint::Token), Some(200), a_id.clone()),
            (Some(Endpoint::Token), Some(401), a_id.clone()),
            (Some(Endpoint::Token), Some(429), a_id.clone()),
            (Some(Endpoint::Event), Some(403), a_id.clone()),
            (Some(Endpoint::Event), Some(401), None),
            (None, Some(404), a_id.clone()),
            (Some(Endpoint::Account), Some(503), a_id.clone()),
            (Some(Endpoint::Account), None, a_id.clone()),
            (Some(Endpoint::Token), Some(400), None),
        ]
    );
    let seqs: Vec<u64> = sim.requests().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<u64>>());
    assert_eq!(sim.token_requests_for(&a.installation_id).len(), 3);
}
