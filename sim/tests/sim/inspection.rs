//! Inspection for the worker's tests: the plaintext tokens issued per installation, and every
//! token request attributable to an installation, minted, refused or faulted.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use talkdesk_sim::{Alg, Endpoint, Fault};

#[tokio::test]
async fn issued_tokens_lists_every_token_minted_for_the_installation() {
    let sim = sim();
    let a = install(&sim, Alg::ES256).await;
    let b = install(&sim, Alg::PS256).await;
    assert!(sim.issued_tokens(&a.installation_id).is_empty());
    let a1 = mint(&sim, &a, None).await;
    let b1 = mint(&sim, &b, None).await;
    let (status, body) = post_form(
        &sim,
        &[("grant_type", "client_credentials")],
        Some((&a.client_id, &a.client_secret)),
    )
    .await;
    assert_eq!(status, 200);
    let a2 = body["access_token"].as_str().unwrap().to_string();
    // a refused request issues nothing
    let (status, _) = post_assertion(
        &sim,
        &assertion(&sim, &a, |_, c| c["aud"] = json!("x")),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        sim.issued_tokens(&a.installation_id),
        vec![a1.clone(), a2.clone()]
    );
    assert_eq!(sim.issued_tokens(&b.installation_id), vec![b1]);
    assert!(sim.issued_tokens("unknown").is_empty());
    let view = sim.installation(&a.installation_id).unwrap();
    assert_eq!(view.issued_tokens, vec![a1.clone(), a2.clone()]);
    // expired, revoked and uninstalled tokens stay listed (they must still never be stored)
    sim.expire_tokens(&a.installation_id);
    sim.uninstall(&a.installation_id, "user", "bye")
        .await
        .unwrap();
    sim.remove(&a.installation_id).unwrap();
    assert_eq!(sim.issued_tokens(&a.installation_id), vec![a1, a2]);
}

#[tokio::test]
async fn token_requests_for_counts_minted_refused_and_faulted_requests() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let other = install(&sim, Alg::ES256).await;
    let id = inst.installation_id.as_str();
    mint(&sim, &inst, None).await; // 1: minted
    let jwt = assertion(&sim, &inst, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200); // 2: minted
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 401); // 3: replay
    let expired = assertion(&sim, &inst, |_, c| c["exp"] = json!(now() - 1));
    assert_eq!(post_assertion(&sim, &expired, None).await.0, 401); // 4: expired
                                                                   // 5: refused before the assertion is looked at (wrong assertion type), attributed by iss
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, _) = post_form(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &jwt),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400);
    // 6: refused for the content type, attributed by the form's client_id
    let (status, _, _) = post_token_raw(
        &sim,
        Some("application/json"),
        None,
        format!("grant_type=client_credentials&client_id={}", inst.client_id),
    )
    .await;
    assert_eq!(status, 400);
    // 7: a wrong Basic secret
    let basic = [("grant_type", "client_credentials")];
    assert_eq!(
        post_form(&sim, &basic, Some((&inst.client_id, "wrong")))
            .await
            .0,
        401
    );
    // 8 and 9: answered by faults (a status, then a dropped connection)
    sim.fault(Endpoint::Token, Fault::status(503), 1);
    let jwt = assertion(&sim, &inst, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 503);
    sim.fault(Endpoint::Token, Fault::Drop, 1);
    let jwt = assertion(&sim, &inst, |_, _| {});
    let dropped = http()
        .post(sim.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(assertion_form(&jwt, &[]))
        .send()
        .await;
    assert!(dropped.is_err());
    // not counted: another installation's request, and one naming no known client
    mint(&sim, &other, None).await;
    let nobody = assertion(&sim, &inst, |_, c| {
        c["iss"] = json!("nobody");
        c["sub"] = json!("nobody");
    });
    assert_eq!(post_assertion(&sim, &nobody, None).await.0, 401);

    let mine = sim.token_requests_for(id);
    let statuses: Vec<Option<u16>> = mine.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![
            Some(200),
            Some(200),
            Some(401),
            Some(401),
            Some(400),
            Some(400),
            Some(401),
            Some(503),
            None
        ]
    );
    assert_eq!(sim.token_requests_for(&other.installation_id).len(), 1);
    assert_eq!(sim.requests_to(Endpoint::Token).len(), 11);
}

#[tokio::test]
async fn after_rotation_requests_with_either_credential_set_count_for_the_installation() {
    let sim = sim();
    let inst = install(&sim, Alg::ES384).await;
    let rotated = sim.rotate(&inst.installation_id).await.unwrap();
    let new = talkdesk_sim::Installed {
        client_id: rotated.client_id.clone(),
        client_secret: rotated.client_secret.clone(),
        key_id: rotated.key_id.clone(),
        private_key: rotated.private_key.clone(),
        ..inst.clone()
    };
    mint(&sim, &inst, None).await;
    mint(&sim, &new, None).await;
    sim.revoke(&inst.installation_id, &inst.client_id).unwrap();
    assert_eq!(
        post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None)
            .await
            .0,
        401
    );
    assert_eq!(sim.token_requests_for(&inst.installation_id).len(), 3);
    assert_eq!(sim.issued_tokens(&inst.installation_id).len(), 2);
}

#[tokio::test]
async fn a_faulted_or_refused_api_call_is_attributed_by_its_bearer_token() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    sim.fault(Endpoint::Installation, Fault::status(500), 1);
    let path = inst_path(&sim, &inst);
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 500);
    sim.expire_tokens(&inst.installation_id);
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 401);
    let log = sim.requests_to(Endpoint::Installation);
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|r| r.installation_id.as_deref() == Some(inst.installation_id.as_str())));
}

#[tokio::test]
async fn expires_in_is_honoured_to_the_millisecond() {
    let sim = sim();
    sim.set_token_ttl(1);
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let path = inst_path(&sim, &inst);
    // usable right away, whatever the wall clock's fraction of a second
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1150)).await;
    let (status, body) = api(&sim, "GET", &path, Some(&token), None).await;
    assert_eq!((status, description(&body)), (401, "access token expired"));
}
