//! Benchmarks in the real runtime (opt-in: `make bench`, or
//! `cargo test --test e2e -- --ignored bench_ --nocapture --test-threads=1` after `make build`).
//! Figures go to the README.

use std::time::{Duration, Instant};

use base64::Engine;
use talkdesk_sim::{Alg, KeyPair};

use crate::harness::{Options, Worker};

async fn time_request(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Duration {
    let started = Instant::now();
    let resp = client.post(url).json(body).send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The cost of one client assertion (key import + WebCrypto sign, as a fresh token needs),
/// per algorithm, in workerd: (time of n = K+1) − (time of n = 1), over K.
#[tokio::test]
#[ignore = "benchmark: make bench"]
async fn bench_assertion_cost_per_algorithm() {
    let mut options = Options::default();
    options.vars.insert("BENCH_ENDPOINTS".into(), "1".into());
    let w = Worker::start(options);
    let url = w.url("/__bench/assertion");
    let client = reqwest::Client::new();
    let mut rows = vec![
        "| algorithm | ms per assertion (import + sign), WebCrypto in workerd |".to_owned(),
        "|---|---|".to_owned(),
    ];
    const K: u32 = 40;
    for alg in Alg::ALL {
        let key =
            base64::engine::general_purpose::STANDARD.encode(KeyPair::generate(alg).private_pkcs8);
        let body = |n: u32| serde_json::json!({"alg": alg.as_str(), "private_key": key, "n": n});
        time_request(&client, &url, &body(K + 1)).await; // warm up
        let mut one = Vec::new();
        let mut many = Vec::new();
        for _ in 0..7 {
            one.push(time_request(&client, &url, &body(1)).await);
            many.push(time_request(&client, &url, &body(K + 1)).await);
        }
        let per = median(many).saturating_sub(median(one)).as_secs_f64() * 1000.0 / K as f64;
        rows.push(format!("| {} | {per:.2} |", alg.as_str()));
    }
    let table = rows.join("\n");
    println!("\n{table}\n");
    let out = crate::harness::root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("assertions.md"), format!("{table}\n")).unwrap();
}
