use std::rc::Rc;

use super::*;
use crate::crypto::keys::KeyAlgorithm;
use crate::testing::{
    generate_key, talkdesk_form, Answer, FakeCache, FakeTalkdesk, FakeTokenStore, OpenSslSigner,
    TestClock,
};

const TOKEN_URL: &str = "https://acme.talkdeskid.com/oauth/token";
const SCOPES: &[&str] = &["apps:read", "apps:write"];

struct World {
    cache: FakeCache,
    store: FakeTokenStore,
    http: FakeTalkdesk,
    clock: TestClock,
    keys: SealingKeys,
    key: PrivateKey,
}

fn world(answers: Vec<Answer>) -> Rc<World> {
    let pkcs8 = talkdesk_form(&generate_key(KeyAlgorithm::ES256));
    Rc::new(World {
        cache: FakeCache::default(),
        store: FakeTokenStore::default(),
        http: FakeTalkdesk::answering(answers, 100),
        clock: TestClock::new(1_700_000_000_000),
        keys: SealingKeys::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(),
        key: PrivateKey::import(KeyAlgorithm::ES256, &pkcs8).unwrap(),
    })
}

async fn token(w: &World, installation: &str) -> Result<SecretString, TokenFailure> {
    let deps = Deps {
        cache: &w.cache,
        store: &w.store,
        http: &w.http,
        clock: &w.clock,
        signer: &OpenSslSigner,
        keys: &w.keys,
        lease_ms: LEASE_MS,
    };
    let creds = Credentials {
        installation_id: installation,
        client_id: "client-1",
        key_id: "kid-1",
        key: &w.key,
        token_url: TOKEN_URL,
        unproven: None,
    };
    access_token(&deps, &creds, SCOPES).await
}

fn minted(w: &World) -> usize {
    w.http.requests.borrow().len()
}

async fn advance_secs(s: u64) {
    tokio::time::advance(std::time::Duration::from_secs(s)).await;
}

#[tokio::test(start_paused = true)]
async fn fifty_concurrent_requests_mint_exactly_one_token() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    let local = tokio::task::LocalSet::new();
    let tokens = local
        .run_until(async {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    let w = w.clone();
                    tokio::task::spawn_local(async move { token(&w, "inst-1").await })
                })
                .collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap().unwrap());
            }
            out
        })
        .await;
    assert_eq!(minted(&w), 1);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
}

#[tokio::test(start_paused = true)]
async fn a_token_is_reused_until_the_refresh_margin_then_replaced() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    let first = token(&w, "inst-1").await.unwrap();
    advance_secs(600 - REFRESH_MARGIN_SECS - 5).await;
    assert_eq!(token(&w, "inst-1").await.unwrap(), first);
    assert_eq!(minted(&w), 1);
    advance_secs(10).await;
    let second = token(&w, "inst-1").await.unwrap();
    assert_ne!(second, first, "never served within the margin of expiry");
    assert_eq!(minted(&w), 2);
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_token_never_asks_kv_for_less_than_its_minimum_ttl() {
    let w = world(vec![Answer::Token { expires_in: 90 }]);
    token(&w, "inst-1").await.unwrap();
    assert!(w.cache.refused_ttls.borrow().is_empty());
    advance_secs(40).await; // 50 s left: inside the margin, though KV still holds it
    token(&w, "inst-1").await.unwrap();
    assert_eq!(minted(&w), 2);
}

#[tokio::test(start_paused = true)]
async fn installations_and_scope_sets_have_their_own_tokens() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    let a = token(&w, "inst-1").await.unwrap();
    let b = token(&w, "inst-2").await.unwrap();
    assert_ne!(a, b);
    assert_eq!(minted(&w), 2);
    assert_ne!(
        token_key("i", "c", &["a", "b"]),
        token_key("i", "c", &["a"])
    );
    assert_eq!(
        token_key("i", "c", &["b", "a"]),
        token_key("i", "c", &["a", "b"])
    );
    assert_ne!(token_key("i", "c1", &["a"]), token_key("i", "c2", &["a"]));
}

#[tokio::test(start_paused = true)]
async fn tokens_are_stored_sealed_in_d1_and_kv() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    let t = token(&w, "inst-1").await.unwrap();
    let kv: Vec<String> = w
        .cache
        .values
        .borrow()
        .values()
        .map(|(v, _)| v.clone())
        .collect();
    let d1: Vec<String> = w
        .store
        .rows
        .borrow()
        .values()
        .filter_map(|r| r.token.as_ref().map(|t| t.sealed.clone()))
        .collect();
    assert_eq!((kv.len(), d1.len()), (1, 1));
    for v in kv.iter().chain(&d1) {
        assert!(!v.contains(t.expose()), "plaintext token in storage");
    }
}

#[tokio::test(start_paused = true)]
async fn a_broken_cache_only_costs_speed() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    w.cache.fail.set(true);
    let a = token(&w, "inst-1").await.unwrap();
    let b = token(&w, "inst-1").await.unwrap();
    assert_eq!(a, b, "served from D1");
    assert_eq!(minted(&w), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_is_permanent_and_releases_the_lease() {
    let w = world(vec![
        Answer::status(
            401,
            r#"{"error":"invalid_client","error_description":"bad key"}"#,
        ),
        Answer::Token { expires_in: 600 },
    ]);
    let e = token(&w, "inst-1").await.unwrap_err();
    assert!(matches!(
        e,
        TokenFailure::Talkdesk(TokenError::Permanent { ref error, .. }) if error == "invalid_client"
    ));
    // The lease is free again: the next request mints at once, without waiting it out.
    let before = w.clock.now_ms();
    token(&w, "inst-1").await.unwrap();
    assert!(w.clock.now_ms() - before < LEASE_MS);
}

#[tokio::test(start_paused = true)]
async fn outages_are_transient() {
    let w = world(vec![
        Answer::Unreachable,
        Answer::status(503, ""),
        Answer::Token { expires_in: 600 },
    ]);
    for _ in 0..2 {
        assert!(matches!(
            token(&w, "inst-1").await,
            Err(TokenFailure::Talkdesk(TokenError::Transient(_)))
        ));
    }
    token(&w, "inst-1").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_request_that_read_just_before_another_stored_its_token_does_not_mint_again() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    let first = token(&w, "inst-1").await.unwrap();
    w.cache.values.borrow_mut().clear(); // KV has not caught up (eventual consistency)
                                         // This request's read misses the token stored a moment before; the lease is free.
    w.store.stale_reads.set(1);
    assert_eq!(token(&w, "inst-1").await.unwrap(), first);
    assert_eq!(
        minted(&w),
        1,
        "the token is re-read under the lease before minting"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_waiting_for_another_mint_backs_off_and_never_writes_kv() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    let key = token_key("inst-1", "client-1", SCOPES);
    let now = w.clock.now_ms();
    assert!(w
        .store
        .try_lease(&key, "crashed", now, now + LEASE_MS)
        .await
        .unwrap());
    w.store.reads.set(0);
    token(&w, "inst-1").await.unwrap();
    let reads = w.store.reads.get();
    assert!(reads <= 15, "{reads} D1 reads while waiting {LEASE_MS} ms");
    // Now a second request reads the stored token from D1; only the mint wrote KV.
    w.cache.values.borrow_mut().clear();
    token(&w, "inst-1").await.unwrap();
    assert!(
        w.cache.values.borrow().is_empty(),
        "a read does not write KV"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lease_left_by_a_crashed_isolate_lapses() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    let key = token_key("inst-1", "client-1", SCOPES);
    let now = w.clock.now_ms();
    assert!(w
        .store
        .try_lease(&key, "crashed", now, now + LEASE_MS)
        .await
        .unwrap());
    token(&w, "inst-1").await.unwrap();
    assert!(
        w.clock.now_ms() >= now + LEASE_MS,
        "waited for the lease to lapse"
    );
    assert_eq!(minted(&w), 1);
}

#[tokio::test(start_paused = true)]
async fn the_assertion_is_for_this_client_and_token_url() {
    let w = world(vec![Answer::Token { expires_in: 600 }]);
    token(&w, "inst-1").await.unwrap();
    let req = w.http.requests.borrow()[0].clone();
    assert_eq!(req.url, TOKEN_URL);
    let form: HashMap<String, String> = url::form_urlencoded::parse(req.body.expose().as_bytes())
        .into_owned()
        .collect();
    let claims = form["client_assertion"].split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&crate::crypto::b64url_decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], TOKEN_URL);
    assert_eq!(claims["iss"], "client-1");
    assert_eq!(claims["iat"], 1_700_000_000u64);
    assert_eq!(form["scope"], "apps:read apps:write");
}

use std::collections::HashMap;
