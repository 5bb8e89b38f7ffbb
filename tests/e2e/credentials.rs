//! Credentials end to end: one token mint per installation under concurrency, and no secret in
//! plaintext anywhere in the worker's D1 or KV.

use std::time::Duration;

use base64::Engine;
use talkdesk_sim::{Alg, InstallSpec};

use crate::harness::{default_vars, shared, Options, Worker};
use crate::lifecycle::{sim_for, wait_view, WAIT};

#[tokio::test]
async fn fifty_concurrent_requests_needing_a_token_cause_one_token_request() {
    let w = shared();
    let sim = sim_for(w);
    // A token that lives 65 s is usable for 5 s (the worker refreshes 60 s before expiry).
    sim.set_token_ttl(65);
    let inst = sim
        .install(InstallSpec::new("crowd", Alg::PS512))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    wait_view(w, &id, |v| v["state"] == "active").await;
    tokio::time::sleep(Duration::from_secs(6)).await; // the install's token is now too old
                                                      // The next token lives long, so however slowly the 50 calls run, one token serves them all.
    sim.set_token_ttl(600);
    let before = sim.token_requests_for(&id).len();

    let client = reqwest::Client::new();
    let calls = (0..50).map(|_| {
        client
            .post(w.url(&format!("/admin/installations/{id}/verify")))
            .bearer_auth(&default_vars()["ADMIN_TOKEN"])
            .send()
    });
    let answers = futures_join_all(calls).await;
    for a in answers {
        let a = a.unwrap();
        let status = a.status();
        let body: serde_json::Value = a.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["talkdesk"]["state"], "approved");
    }
    assert_eq!(
        sim.token_requests_for(&id).len() - before,
        1,
        "50 concurrent requests, one token request"
    );
}

/// Awaits every future concurrently (a small join_all, to need no extra crate).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Every file of the worker's local D1 and KV state, concatenated.
fn state_bytes(w: &Worker) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![w.dir.join("state")];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.extend(bytes);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn after_a_full_install_and_rotation_no_secret_is_stored_in_plaintext() {
    let w = Worker::start(Options::default());
    let sim = sim_for(&w);
    let inst = sim
        .install(InstallSpec::new("vault", Alg::ES256))
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    sim.wait_for_state(&id, "approved", WAIT).await.unwrap();
    let rotated = sim.rotate(&id).await.unwrap();
    sim.wait_until(&id, WAIT, |i| !i.acknowledgements.is_empty())
        .await
        .unwrap();
    wait_view(&w, &id, |v| v["credentials"]["rotation_pending"] == false).await;
    // Stop the runtime so every write is flushed to the files we read.
    let mut w = w;
    w.stop();
    let state = state_bytes(&w);
    assert!(
        state.len() > 10_000,
        "the state was found ({} bytes)",
        state.len()
    );
    assert!(
        contains(&state, id.as_bytes()),
        "the installation is stored (control)"
    );

    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        (
            "client_secret".into(),
            inst.client_secret.clone().into_bytes(),
        ),
        (
            "private_key (base64)".into(),
            inst.private_key.clone().into_bytes(),
        ),
        (
            "rotated client_secret".into(),
            rotated.client_secret.clone().into_bytes(),
        ),
        (
            "rotated private_key (base64)".into(),
            rotated.private_key.clone().into_bytes(),
        ),
    ];
    for (name, b64) in [
        ("private_key", &inst.private_key),
        ("rotated private_key", &rotated.private_key),
    ] {
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        // The P-256 private scalar: OCTET STRING (04 20) at offset 34 of OpenSSL's PKCS#8.
        assert_eq!(der[34..36], [0x04, 0x20], "{name}: expected PKCS#8 layout");
        secrets.push((format!("{name} (raw scalar)"), der[36..68].to_vec()));
        secrets.push((format!("{name} (DER)"), der));
    }
    let tokens = sim.issued_tokens(&id);
    assert!(!tokens.is_empty());
    for t in tokens {
        secrets.push(("access token".into(), t.into_bytes()));
    }
    for (name, secret) in &secrets {
        assert!(
            !contains(&state, secret),
            "{name} found in plaintext in D1/KV state"
        );
    }
    assert!(
        !w.log().contains(&inst.client_secret),
        "client secret in the log"
    );
    assert!(
        !w.log().contains(&inst.private_key[..40]),
        "private key in the log"
    );
}
