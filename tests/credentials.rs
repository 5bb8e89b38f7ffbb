//! The worker's credential code against the strict Talkdesk simulator, natively: assertions
//! signed by our RustCrypto code must pass the simulator's OpenSSL verifier for every algorithm,
//! and the token request and answer parsing must fit the real protocol.

use appconnect_worker::crypto::keys::{KeyAlgorithm, SigningKey};
use appconnect_worker::talkdesk::assertion::{new_jti, sign_assertion, AssertionClaims};
use appconnect_worker::talkdesk::http::{HttpRequest, HttpResponse};
use appconnect_worker::talkdesk::token::{parse_token_response, token_request, TokenError};
use talkdesk_sim::{Alg, InstallSpec, Installed, SimConfig, Simulator};

async fn send(req: &HttpRequest) -> HttpResponse {
    let mut builder = reqwest::Client::new().request(req.method.parse().unwrap(), &req.url);
    for (name, value) in &req.headers {
        builder = builder.header(*name, value);
    }
    let resp = builder
        .body(req.body.expose().to_owned())
        .send()
        .await
        .unwrap();
    HttpResponse {
        status: resp.status().as_u16(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn installed(sim: &Simulator, alg: Alg) -> (Installed, SigningKey) {
    let inst = sim
        .install_without_sending(InstallSpec::new("acme", alg))
        .await
        .unwrap();
    let ours = KeyAlgorithm::parse(alg.as_str()).unwrap();
    let key = SigningKey::import(ours, &inst.private_key).unwrap();
    (inst, key)
}

fn assertion_for(sim: &Simulator, inst: &Installed, key: &SigningKey, at: u64) -> HttpRequest {
    let claims = AssertionClaims::new(&inst.client_id, &sim.token_url(), at, new_jti());
    let assertion = sign_assertion(key, &inst.key_id, &claims);
    token_request(&sim.token_url(), &assertion, &["apps:read", "apps:write"])
}

#[tokio::test]
async fn our_assertions_mint_tokens_for_all_six_algorithms() {
    let sim = Simulator::start(SimConfig::default());
    for alg in Alg::ALL {
        let (inst, key) = installed(&sim, alg).await;
        let resp = send(&assertion_for(&sim, &inst, &key, now())).await;
        let token = parse_token_response(&resp).unwrap_or_else(|e| panic!("{}: {e}", alg.as_str()));
        assert_eq!(token.expires_in, 600);
        assert_eq!(token.scope.as_deref(), Some("apps:read apps:write"));
    }
}

#[tokio::test]
async fn a_replayed_assertion_is_a_permanent_refusal() {
    let sim = Simulator::start(SimConfig::default());
    let (inst, key) = installed(&sim, Alg::ES256).await;
    let req = assertion_for(&sim, &inst, &key, now());
    parse_token_response(&send(&req).await).unwrap();
    match parse_token_response(&send(&req).await) {
        Err(TokenError::Permanent { error, description }) => {
            assert_eq!(error, "invalid_client");
            assert!(description.contains("jti"), "{description}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_assertion_signed_with_another_installations_key_is_refused() {
    let sim = Simulator::start(SimConfig::default());
    let (inst, _) = installed(&sim, Alg::PS256).await;
    let (_, other_key) = installed(&sim, Alg::PS256).await;
    let resp = send(&assertion_for(&sim, &inst, &other_key, now())).await;
    assert!(matches!(
        parse_token_response(&resp),
        Err(TokenError::Permanent { ref error, .. }) if error == "invalid_client"
    ));
}

#[tokio::test]
async fn an_assertion_from_a_clock_far_behind_is_refused_as_expired() {
    let sim = Simulator::start(SimConfig::default());
    let (inst, key) = installed(&sim, Alg::ES384).await;
    let resp = send(&assertion_for(&sim, &inst, &key, now() - 3600)).await;
    match parse_token_response(&resp) {
        Err(TokenError::Permanent { description, .. }) => {
            assert!(description.starts_with("exp"), "{description}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn talkdesk_outages_are_transient() {
    let sim = Simulator::start(SimConfig::default());
    let (inst, key) = installed(&sim, Alg::ES512).await;
    sim.fault(
        talkdesk_sim::Endpoint::Token,
        talkdesk_sim::Fault::status(503),
        1,
    );
    sim.fault(
        talkdesk_sim::Endpoint::Token,
        talkdesk_sim::Fault::Malformed,
        1,
    );
    for _ in 0..2 {
        let resp = send(&assertion_for(&sim, &inst, &key, now())).await;
        assert!(matches!(
            parse_token_response(&resp),
            Err(TokenError::Transient(_))
        ));
    }
    let resp = send(&assertion_for(&sim, &inst, &key, now())).await;
    parse_token_response(&resp).unwrap();
}
