//! What workerd under `wrangler dev` charges any worker per call, measured on a few lines of
//! plain JavaScript (`floor/worker.js`) that make each call the install path makes and nothing
//! else: an inbound request, an outbound fetch, a D1 read, write and batch, a log line, a KV read.
//! The side-by-side bench reports them beside both workers, with the least an install can cost
//! under the contract, whatever a worker is written in.

use std::time::{Duration, Instant};

use crate::harness::{free_port, root};
use crate::peers::{dev, workerd_cpu, Served};

/// Milliseconds of workerd CPU per call.
pub(crate) struct Charges {
    pub request: f64,
    pub fetch: f64,
    pub read: f64,
    pub write: f64,
    /// A batch of nine writes of ten values each.
    pub batch: f64,
    pub log: f64,
    pub kv: f64,
}

impl Charges {
    /// What an install's calls cost at the least: Talkdesk's event in, the contract's six calls
    /// out, the installation stored before the answer and its approval recorded (two D1 writes,
    /// one statement each). The calls only: no signing, no parsing, no log line.
    pub fn install(&self) -> f64 {
        self.request + 6.0 * self.fetch + 2.0 * self.write
    }
}

/// A loopback HTTP/1.1 server answering every request `200 ok`, for the fetches to reach.
fn answering_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = conn.read(&mut chunk) {
                    buf.extend_from_slice(&chunk[..n]);
                    // GETs only: a request ends at its blank line.
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if conn.write_all(reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}/")
}

async fn serve(target: &str) -> (Served, String) {
    let dir = root().join(format!("target/bench/floor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["worker.js", "wrangler.toml"] {
        std::fs::copy(root().join("tests/e2e/floor").join(file), dir.join(file)).unwrap();
    }
    let port = free_port();
    let var = format!("TARGET:{target}");
    let mut served = dev(dir, port, &["--var", &var, "--log-level", "log"]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/setup")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        let log = || served.dir.join("wrangler.log").display().to_string();
        if let Some(status) = served.child.try_wait().unwrap() {
            panic!(
                "wrangler dev exited ({status}) before answering: see {}",
                log()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the floor worker never answered: see {}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (served, base)
}

/// Lets the work of the requests just answered finish before workerd's CPU is read.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// workerd CPU (ms) per request of `GET /{op}?n={n}`, over `times` requests one at a time.
async fn cpu_per_request(base: &str, pgid: u32, op: &str, n: u32, times: u32) -> f64 {
    let client = reqwest::Client::new();
    let url = format!("{base}/{op}?n={n}");
    settle().await;
    let cpu0 = workerd_cpu(pgid);
    for _ in 0..times {
        let r = client.get(&url).send().await.unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.bytes().await.unwrap();
    }
    settle().await;
    (workerd_cpu(pgid) - cpu0) * 1000.0 / times as f64
}

/// Calls per request in the "many" requests; the "one" requests make one.
const MANY: u32 = 21;
/// Requests of each kind: /proc counts CPU in 10 ms ticks, so each window must be long.
const TIMES: u32 = 30;

/// workerd CPU (ms) per call of `op`: requests making [`MANY`] calls less those making one,
/// per extra call.
async fn per_call(base: &str, pgid: u32, op: &str) -> f64 {
    cpu_per_request(base, pgid, op, MANY, 2).await; // warm-up
    let one = cpu_per_request(base, pgid, op, 1, TIMES).await;
    let many = cpu_per_request(base, pgid, op, MANY, TIMES).await;
    (many - one) / f64::from(MANY - 1)
}

/// Serves the floor worker under `wrangler dev` and measures each call's charge.
pub(crate) async fn charges() -> Charges {
    let target = answering_server();
    let (served, base) = serve(&target).await;
    let pgid = served.child.id();
    cpu_per_request(&base, pgid, "request", 0, 20).await; // warm-up
    let request = cpu_per_request(&base, pgid, "request", 0, 90).await;
    Charges {
        request,
        fetch: per_call(&base, pgid, "fetch").await,
        read: per_call(&base, pgid, "read").await,
        write: per_call(&base, pgid, "write").await,
        batch: per_call(&base, pgid, "batch").await,
        log: per_call(&base, pgid, "log").await,
        kv: per_call(&base, pgid, "kv").await,
    }
}
