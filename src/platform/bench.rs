//! `POST /__bench/assertion` (only with `BENCH_ENDPOINTS=1`): signs `n` client assertions with
//! the pure-Rust path or WebCrypto, so the benchmark (`make bench`) can time each algorithm in
//! workerd from the outside: the cost of one is the time of `n = k + 1` less `n = 1`, over `k`.

use serde::Deserialize;
use serde_json::json;

use crate::crypto::b64url;
use crate::crypto::keys::{pkcs8_der, KeyAlgorithm, SigningKey};
use crate::http::{ApiError, Reply};
use crate::talkdesk::assertion::{new_jti, sign_assertion, AssertionClaims};

#[derive(Deserialize)]
struct BenchRequest {
    alg: String,
    private_key: String,
    n: u32,
    engine: String,
}

fn bad(message: &str) -> Reply {
    Reply::json(400, &json!({"error": "bad_request", "message": message}))
}

pub async fn assertion(body: &[u8]) -> Reply {
    let Ok(req) = serde_json::from_slice::<BenchRequest>(body) else {
        return bad("body must be {alg, private_key, n, engine}");
    };
    let Some(alg) = KeyAlgorithm::parse(&req.alg) else {
        return bad("unknown alg");
    };
    if !(1..=1000).contains(&req.n) {
        return bad("n must be 1 to 1000");
    }
    let claims = AssertionClaims::new(
        "bench-client",
        "https://bench.talkdeskid.com/oauth/token",
        0,
        new_jti(),
    );
    let mut last_len = 0;
    for _ in 0..req.n {
        match req.engine.as_str() {
            "rust" => {
                let Ok(key) = SigningKey::import(alg, &req.private_key) else {
                    return bad("key does not import");
                };
                last_len = sign_assertion(&key, "bench", &claims).expose().len();
            }
            "webcrypto" => {
                let Some(der) = pkcs8_der(&req.private_key) else {
                    return bad("key is not base64 or PEM");
                };
                let header = json!({"alg": alg.as_str(), "kid": "bench", "typ": "JWT"});
                let input = format!(
                    "{}.{}",
                    b64url(header.to_string().as_bytes()),
                    b64url(&serde_json::to_vec(&claims).unwrap_or_default())
                );
                match super::webcrypto::sign(alg, &der, input.as_bytes()).await {
                    Ok(sig) => last_len = input.len() + 1 + b64url(&sig).len(),
                    Err(e) => {
                        super::log::error("bench_webcrypto_failed", &e);
                        return ApiError::Internal.reply();
                    }
                }
            }
            _ => return bad("engine must be rust or webcrypto"),
        }
    }
    Reply::json(
        200,
        &json!({"alg": alg.as_str(), "engine": req.engine, "n": req.n, "jws_len": last_len}),
    )
}
