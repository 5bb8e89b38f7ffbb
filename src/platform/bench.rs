//! `POST /__bench/assertion` (only with `BENCH_ENDPOINTS=1`): imports the key and signs `n`
//! client assertions as a fresh token would, so the benchmark (`make bench`) can time each
//! algorithm in workerd from the outside: the cost of one is the time of `n = k + 1` less
//! `n = 1`, over `k`.

use serde_json::json;

use super::webcrypto::WebCryptoSigner;
use appconnect_core::crypto::keys::{KeyAlgorithm, PrivateKey};
use appconnect_core::http::{ApiError, Reply};
use appconnect_core::json::read_bytes;
use appconnect_core::talkdesk::assertion::{new_jti, AssertionClaims};
use appconnect_core::tokens::sign_assertion;

struct BenchRequest {
    alg: String,
    private_key: String,
    n: u64,
}

impl BenchRequest {
    fn read(body: &[u8]) -> Option<BenchRequest> {
        let req = read_bytes(body, None, |r, o| BenchRequest {
            alg: r.text(o, "alg"),
            private_key: r.text(o, "private_key"),
            n: r.number(o, "n", u32::MAX.into()),
        });
        req.ok()
    }
}

fn bad(message: &str) -> Reply {
    Reply::json(400, &json!({"error": "bad_request", "message": message}))
}

pub async fn assertion(body: &[u8]) -> Reply {
    let Some(req) = BenchRequest::read(body) else {
        return bad("body must be {alg, private_key, n}");
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
    let mut jws_len = 0;
    for _ in 0..req.n {
        let Ok(key) = PrivateKey::import(alg, &req.private_key) else {
            return bad("key does not import");
        };
        match sign_assertion(&WebCryptoSigner, &key, "bench", &claims).await {
            Ok(jws) => jws_len = jws.expose().len(),
            Err(e) => {
                super::log::error("bench_sign_failed", &e.0);
                return ApiError::Internal.reply();
            }
        }
    }
    Reply::json(
        200,
        &json!({"alg": alg.as_str(), "n": req.n, "jws_len": jws_len}),
    )
}
