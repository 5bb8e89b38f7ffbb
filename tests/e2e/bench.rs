//! Benchmarks in the real runtime (opt-in: `make bench`, or
//! `cargo test --test e2e -- --ignored bench_ --nocapture --test-threads=1` after `make build`).
//! Figures go to the README.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use talkdesk_sim::{Alg, Endpoint, InstallSpec, Installed, KeyPair, Simulator};

use crate::harness::{Options, Worker};
use crate::lifecycle::{sim_for, wait_view, WAIT};

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

// ---- shared helpers of the load benchmarks ------------------------------------------------------

/// The nearest-rank percentile `p` (0–100) of sorted durations, in ms.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// `p50 / p99` in ms of unsorted durations.
fn p50_p99(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "{:.1} / {:.1}",
        percentile_ms(&v, 50.0),
        percentile_ms(&v, 99.0)
    )
}

pub(crate) fn write_table(file: &str, table: &str) {
    println!("\n{table}\n");
    let out = crate::harness::root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(file), format!("{table}\n")).unwrap();
}

/// Installs `n` accounts through the simulator and waits until the worker has them active.
async fn active_installations(w: &Worker, sim: &Simulator, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for k in 0..n {
        let inst = sim
            .install(InstallSpec::new(&format!("load{k}"), Alg::ES256))
            .await
            .unwrap();
        ids.push(inst.installation_id);
    }
    for id in &ids {
        sim.wait_for_state(id, "approved", WAIT).await.unwrap();
        wait_view(w, id, |v| v["state"] == "active").await;
    }
    ids
}

/// One timed answer: latency and status (0: no answer — timeout or connection error).
type Timed = (Duration, u16);

/// Sends the request, reads the whole answer: its latency and status (0 if none came).
async fn timed(req: reqwest::RequestBuilder) -> Timed {
    let started = Instant::now();
    let status = match req.send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            match r.bytes().await {
                Ok(_) => s,
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    };
    (started.elapsed(), status)
}

fn post_event(client: &reqwest::Client, url: &str, body: &[u8]) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec())
}

/// Runs the cron sweep once (`wrangler dev --test-scheduled`); a failure is only counted: the
/// drain phase is a report, not an assertion.
async fn try_sweep(client: &reqwest::Client, w: &Worker) -> bool {
    let (_, status) = timed(client.get(w.url("/__scheduled?cron=*+*+*+*+*"))).await;
    (200..300).contains(&status)
}

// ---- event intake under load -------------------------------------------------------------------

/// `POST /events` under load: N genuine `app.trial_started` events (intake is pure storage; the
/// confirmation — `GET …/events/{id}` from Talkdesk — runs after the answer, in `waitUntil`),
/// C in flight from one client, with `GET /healthz` at a fixed rate from another task in the same
/// run.
#[tokio::test]
#[ignore = "benchmark: make bench"]
async fn bench_event_intake_under_load() {
    const EVENTS: usize = 2000;
    const CONCURRENCY: usize = 16;
    const INSTALLATIONS: usize = 8;
    // Sent one at a time before the load, for the unloaded figures.
    const IDLE: usize = 40;
    const HEALTH_EVERY: Duration = Duration::from_millis(50);
    // Bounds: the load phase stops sending at this deadline whatever is left. A bound for a
    // worker that stopped answering, not a speed target: 2,000 events take about 45 s here
    // (README, "Benchmarks").
    const LOAD_LIMIT: Duration = Duration::from_secs(150);
    const DRAIN_LIMIT: Duration = Duration::from_secs(6);

    let w = Worker::start(Options::default());
    let sim = sim_for(&w);
    let ids = active_installations(&w, &sim, INSTALLATIONS).await;

    // Genuine events, built and recorded by the simulator but held, so this test sends them.
    sim.hold_events();
    for k in 0..EVENTS + IDLE {
        sim.trial_started(&ids[k % ids.len()]).await.unwrap();
    }
    let mut bodies: Vec<Vec<u8>> = sim
        .take_held()
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect();
    assert_eq!(bodies.len(), EVENTS + IDLE);
    let idle_bodies = bodies.split_off(EVENTS);
    let bodies = Arc::new(bodies);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let health_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let events_url = w.events_url();
    let health_url = w.url("/healthz");
    // Unloaded: one request at a time (this also warms up connections and the isolate).
    let mut idle_events = Vec::new();
    let mut idle_health = Vec::new();
    for body in &idle_bodies {
        idle_events.push(timed(post_event(&client, &events_url, body)).await);
        idle_health.push(timed(health_client.get(&health_url)).await);
    }
    // Let their background work finish before the load starts (bounded).
    let confirmed = |from: usize| {
        sim.requests_to(Endpoint::Event)
            .iter()
            .skip(from)
            .filter(|r| r.status == Some(200))
            .count()
    };
    let settle = Instant::now();
    while confirmed(0) < IDLE && settle.elapsed() < Duration::from_secs(10) {
        try_sweep(&health_client, &w).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reads_before = sim.requests_to(Endpoint::Event).len();

    // Probes at a fixed rate, each on its own task, so a slow answer does not delay the next
    // probe (no coordinated omission); bounded by the stop flag and by a count.
    let stop = Arc::new(AtomicBool::new(false));
    let health = {
        let (client, url, stop) = (health_client.clone(), health_url.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEALTH_EVERY);
            let mut probes = Vec::new();
            let most = (LOAD_LIMIT.as_millis() / HEALTH_EVERY.as_millis()) as usize + 1;
            while !stop.load(Ordering::SeqCst) && probes.len() < most {
                tick.tick().await;
                let (client, url) = (client.clone(), url.clone());
                probes.push(tokio::spawn(async move { timed(client.get(&url)).await }));
            }
            let mut out: Vec<Timed> = Vec::new();
            for p in probes {
                out.push(p.await.unwrap());
            }
            out
        })
    };

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + LOAD_LIMIT;
    let senders: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, bodies, next) = (
                client.clone(),
                events_url.clone(),
                bodies.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                let mut out: Vec<Timed> = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= bodies.len() || Instant::now() >= deadline {
                        return out;
                    }
                    out.push(timed(post_event(&client, &url, &bodies[i])).await);
                }
            })
        })
        .collect();
    let mut answers: Vec<Timed> = Vec::new();
    for s in senders {
        answers.extend(s.await.unwrap());
    }
    let wall = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let health = health.await.unwrap();
    let reads_during = sim.requests_to(Endpoint::Event).len() - reads_before;

    // The confirmations left over: let the `waitUntil` runs and the cron sweep finish them
    // (bounded), to report how far behind intake the background work was.
    let drain_started = Instant::now();
    let mut sweep_failures = 0;
    while confirmed(reads_before) < answers.len() && drain_started.elapsed() < DRAIN_LIMIT {
        if !try_sweep(&health_client, &w).await {
            sweep_failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained = confirmed(reads_before);
    let drain_time = drain_started.elapsed();

    let bad = |v: &[Timed]| v.iter().filter(|(_, s)| !(200..300).contains(s)).count();
    let (event_bad, health_bad) = (bad(&answers), bad(&health));
    let idle_bad = bad(&idle_events) + bad(&idle_health);
    let lat = |v: &[Timed]| v.iter().map(|(d, _)| *d).collect::<Vec<_>>();
    let rows = [
        "| event intake under load (workerd, loopback, 2 cores shared with the client and the simulator) | |".to_owned(),
        "|---|---|".to_owned(),
        format!(
            "| events sent | {} genuine `app.trial_started`, {INSTALLATIONS} installations, {CONCURRENCY} in flight |",
            answers.len()
        ),
        format!(
            "| events acknowledged per second | {:.0} ({} in {:.2} s) |",
            answers.len() as f64 / wall.as_secs_f64(),
            answers.len(),
            wall.as_secs_f64()
        ),
        format!("| event answer p50 / p99 (ms) | {} |", p50_p99(lat(&answers))),
        format!(
            "| `GET /healthz` p50 / p99 (ms), one every {} ms in the same run | {} ({} requests) |",
            HEALTH_EVERY.as_millis(),
            p50_p99(lat(&health)),
            health.len()
        ),
        format!("| non-2xx or no answer (events / healthz) | {event_bad} / {health_bad} |"),
        format!(
            "| unloaded (one at a time, before the load): event answer p50 / p99 (ms) | {} ({IDLE} events) |",
            p50_p99(lat(&idle_events))
        ),
        format!(
            "| unloaded (one at a time, before the load): `GET /healthz` p50 / p99 (ms) | {} ({IDLE} requests) |",
            p50_p99(lat(&idle_health))
        ),
        format!(
            "| confirmations (`GET …/events/{{id}}`) made during the load | {reads_during} of {} |",
            answers.len()
        ),
        format!(
            "| confirmed after the load (`waitUntil` runs + cron sweep) | {drained} of {} within {:.1} s{} |",
            answers.len(),
            drain_time.as_secs_f64(),
            if sweep_failures > 0 {
                format!(" ({sweep_failures} sweeps failed)")
            } else {
                String::new()
            }
        ),
    ];
    let table = format!(
        "{}\n\nThe background work (each event's confirmation with Talkdesk, in `waitUntil` after the \
         answer) runs in the same runtime and competes with intake, as it would in production.",
        rows.join("\n")
    );
    write_table("event_intake.md", &table);
    assert_eq!(answers.len(), EVENTS, "the load phase hit its time limit");
    assert_eq!(event_bad, 0, "events not acknowledged with a 2xx");
    assert_eq!(health_bad, 0, "/healthz not 2xx under load");
    assert_eq!(idle_bad, 0, "non-2xx answers one at a time");
}

// ---- install to approval -----------------------------------------------------------------------

/// Sends the (pre-built, genuine) `app.installed` event and waits for the approval the
/// simulator records: the time from delivery to approval.
async fn time_install(sim: &Simulator, inst: &Installed) -> Duration {
    let started = Instant::now();
    let out = sim.send_raw(inst.event.clone(), 1).await.remove(0);
    assert!(out.ok(), "{out:?}");
    let deadline = started + WAIT;
    loop {
        if let Some(v) = sim.installation(&inst.installation_id) {
            if v.state == "approved" {
                return started.elapsed();
            }
            assert_eq!(v.state, "pending", "{v:?}");
        }
        assert!(Instant::now() < deadline, "no approval in {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// From `app.installed` to the approval Talkdesk records, with an instant simulator: one at a
/// time, then several at once; and the Talkdesk calls each install made, by endpoint.
#[tokio::test]
#[ignore = "benchmark: make bench"]
async fn bench_install_to_approval() {
    const SEQUENTIAL: usize = 30;
    const CONCURRENT: usize = 32;
    const IN_FLIGHT: usize = 8;

    let w = Worker::start(Options::default());
    let sim = sim_for(&w);
    // Key generation is the simulator's work, not the app's: done before the clock starts.
    let spec = |k: usize| InstallSpec::new(&format!("bench{k}"), Alg::ES256);
    // Warm-up install (isolate, D1 statements), not measured and not counted.
    let warm = sim.install_without_sending(spec(9999)).await.unwrap();
    time_install(&sim, &warm).await;

    let mut seq_installs = Vec::new();
    for k in 0..SEQUENTIAL {
        seq_installs.push(sim.install_without_sending(spec(k)).await.unwrap());
    }
    let mut sequential = Vec::new();
    for inst in &seq_installs {
        sequential.push(time_install(&sim, inst).await);
    }

    let mut con_installs = Vec::new();
    for k in 0..CONCURRENT {
        con_installs.push(
            sim.install_without_sending(spec(SEQUENTIAL + k))
                .await
                .unwrap(),
        );
    }
    let sim = Arc::new(sim);
    let started = Instant::now();
    let mut concurrent = Vec::new();
    for batch in con_installs.chunks(IN_FLIGHT) {
        let tasks: Vec<_> = batch
            .iter()
            .cloned()
            .map(|inst| {
                let sim = sim.clone();
                tokio::spawn(async move { time_install(&sim, &inst).await })
            })
            .collect();
        for t in tasks {
            concurrent.push(t.await.unwrap());
        }
    }
    let concurrent_wall = started.elapsed();

    // Any call the worker still makes after the approval belongs to the install too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids: Vec<String> = seq_installs
        .iter()
        .chain(&con_installs)
        .map(|i| i.installation_id.clone())
        .collect();
    let requests = sim.requests();
    let endpoints = [
        (Endpoint::Token, "token"),
        (Endpoint::Installation, "installation read"),
        (Endpoint::Account, "account"),
        (Endpoint::Users, "users (pages)"),
        (Endpoint::Subscription, "subscription"),
        (Endpoint::State, "state (approval)"),
        (Endpoint::Event, "event read-back"),
        (Endpoint::CredentialsState, "credentials state"),
    ];
    let per_install = |id: &str, ep: Option<Endpoint>| {
        requests
            .iter()
            .filter(|r| r.installation_id.as_deref() == Some(id))
            .filter(|r| ep.is_none() || r.endpoint == ep)
            .count()
    };
    let spread = |counts: Vec<usize>| {
        let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
        if min == max {
            format!("{min}")
        } else {
            format!(
                "{min}–{max} (mean {:.2})",
                counts.iter().sum::<usize>() as f64 / counts.len() as f64
            )
        }
    };
    let mut calls = vec![
        format!(
            "| Talkdesk calls per install ({} installs) | per install | contract minimum |",
            ids.len()
        ),
        "|---|---|---|".to_owned(),
    ];
    for (ep, name) in endpoints {
        let counts: Vec<usize> = ids.iter().map(|id| per_install(id, Some(ep))).collect();
        let minimum = match ep {
            Endpoint::Users => "≥ 1",
            Endpoint::Event | Endpoint::CredentialsState => "0",
            _ => "1",
        };
        calls.push(format!("| {name} | {} | {minimum} |", spread(counts)));
    }
    let totals: Vec<usize> = ids.iter().map(|id| per_install(id, None)).collect();
    calls.push(format!("| **total** | {} | 6 |", spread(totals)));
    let unattributed = requests
        .iter()
        .filter(|r| r.installation_id.is_none())
        .count();
    calls.push(format!(
        "| requests no installation could be named for (whole run) | {unattributed} | 0 |"
    ));

    let table = [
        "| install → approval (instant simulator, ES256; event delivered → approval recorded) | p50 / p99 (ms) | |".to_owned(),
        "|---|---|---|".to_owned(),
        format!("| one at a time | {} | {SEQUENTIAL} installs |", p50_p99(sequential)),
        format!(
            "| {IN_FLIGHT} at once | {} | {CONCURRENT} installs in {:.2} s ({:.1} installs/s) |",
            p50_p99(concurrent),
            concurrent_wall.as_secs_f64(),
            CONCURRENT as f64 / concurrent_wall.as_secs_f64()
        ),
        String::new(),
        calls.join("\n"),
    ]
    .join("\n");
    write_table("install_to_approval.md", &table);
}
