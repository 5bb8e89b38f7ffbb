//! The credential code against the strict Talkdesk simulator, natively: the assertion and token
//! request we build must satisfy its OpenSSL-based verifier for every algorithm, and its
//! refusals and outages must classify right. (The runtime's WebCrypto signer is proven against
//! the same simulator in the end-to-end tier.)

use talkdesk_sim::{Alg, Endpoint, Fault, InstallSpec, Installed, SimConfig, Simulator};

use crate::crypto::keyring::SealingKeys;
use crate::crypto::keys::{KeyAlgorithm, PrivateKey};
use crate::secret::SecretString;
use crate::talkdesk::token::TokenError;
use crate::testing::{FakeCache, FakeTokenStore, OpenSslSigner, ReqwestHttp, SystemClock};
use crate::tokens::{access_token, Credentials, Deps, TokenFailure};

const SCOPES: &[&str] = &["apps:read", "apps:write"];

struct Setup {
    sim: Simulator,
    inst: Installed,
    key: PrivateKey,
    cache: FakeCache,
    store: FakeTokenStore,
    http: ReqwestHttp,
    keys: SealingKeys,
}

async fn setup(alg: Alg) -> Setup {
    let sim = Simulator::start(SimConfig::default());
    let inst = sim
        .install_without_sending(InstallSpec::new("acme", alg))
        .await
        .unwrap();
    let key = PrivateKey::import(
        KeyAlgorithm::parse(alg.as_str()).unwrap(),
        &inst.private_key,
    )
    .unwrap();
    Setup {
        sim,
        inst,
        key,
        cache: FakeCache::default(),
        store: FakeTokenStore::default(),
        http: ReqwestHttp(reqwest::Client::new()),
        keys: SealingKeys::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(),
    }
}

async fn token(s: &Setup, key: &PrivateKey) -> Result<SecretString, TokenFailure> {
    let token_url = s.sim.token_url();
    let deps = Deps {
        cache: &s.cache,
        store: &s.store,
        http: &s.http,
        clock: &SystemClock,
        signer: &OpenSslSigner,
        keys: &s.keys,
        lease_ms: crate::tokens::LEASE_MS,
    };
    let creds = Credentials {
        installation_id: &s.inst.installation_id,
        client_id: &s.inst.client_id,
        key_id: &s.inst.key_id,
        key,
        token_url: &token_url,
        unproven: None,
    };
    access_token(&deps, &creds, SCOPES).await
}

#[tokio::test]
async fn our_assertions_mint_tokens_for_all_six_algorithms() {
    for alg in Alg::ALL {
        let s = setup(alg).await;
        let t = token(&s, &s.key)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", alg.as_str()));
        assert_eq!(
            s.sim.issued_tokens(&s.inst.installation_id),
            vec![t.expose().to_owned()]
        );
        // Cached: no second request.
        token(&s, &s.key).await.unwrap();
        assert_eq!(s.sim.token_requests_for(&s.inst.installation_id).len(), 1);
    }
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_a_permanent_refusal() {
    let s = setup(Alg::PS256).await;
    let other = setup(Alg::PS256).await;
    match token(&s, &other.key).await {
        Err(TokenFailure::Talkdesk(TokenError::Permanent { error, .. })) => {
            assert_eq!(error, "invalid_client")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn talkdesk_outages_are_transient_and_recover() {
    let s = setup(Alg::ES512).await;
    s.sim.fault(Endpoint::Token, Fault::status(503), 1);
    assert!(matches!(
        token(&s, &s.key).await,
        Err(TokenFailure::Talkdesk(TokenError::Transient(_)))
    ));
    s.sim.fault(Endpoint::Token, Fault::Malformed, 1);
    assert!(matches!(
        token(&s, &s.key).await,
        Err(TokenFailure::Talkdesk(TokenError::Transient(_)))
    ));
    token(&s, &s.key).await.unwrap();
}
