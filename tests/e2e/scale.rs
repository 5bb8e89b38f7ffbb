//! The outbox at scale in workerd, within the per-invocation budget: a backlog of 500 due
//! installations drains over many cron invocations, none over budget, none lost; and (opt-in)
//! a 50,000-user account is provisioned over several invocations, with its figures.

use std::time::{Duration, Instant};

use serde_json::Value;
use talkdesk_sim::{Alg, Endpoint, Fault, InstallSpec, Simulator, Users};

use crate::harness::{Options, Worker};
use crate::lifecycle::{sim_for, sweep};

/// Every `invocation_budget` line the worker has logged: what each invocation spent.
pub fn budget_lines(w: &Worker) -> Vec<Value> {
    w.log()
        .lines()
        .filter_map(|line| {
            let json = &line[line.find('{')?..];
            serde_json::from_str::<Value>(json).ok()
        })
        .filter(|v| v["event"] == "invocation_budget")
        .collect()
}

/// Waits for wrangler to write out the log lines of invocations that just ended.
pub async fn settled_budget_lines(w: &Worker) -> Vec<Value> {
    let mut last = budget_lines(w).len();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = budget_lines(w);
        if now.len() == last {
            return now;
        }
        last = now.len();
    }
}

/// No invocation spent more than its budget or had a call refused by the meter.
pub fn assert_within_budget(lines: &[Value]) {
    assert!(!lines.is_empty(), "no invocation logged what it spent");
    for v in lines {
        assert!(
            v["queries"].as_u64() <= v["budget_queries"].as_u64()
                && v["subrequests"].as_u64() <= v["budget_subrequests"].as_u64(),
            "an invocation over budget: {v}"
        );
        assert_eq!(v["refused"], 0, "the meter had to refuse a call: {v}");
    }
}

fn approved(sim: &Simulator, ids: &[String]) -> usize {
    ids.iter()
        .filter(|id| sim.installation(id).is_some_and(|i| i.state == "approved"))
        .count()
}

#[tokio::test]
async fn a_backlog_of_500_due_installations_drains_with_every_invocation_within_budget() {
    let w = Worker::start(Options::default());
    let sim = sim_for(&w);
    // Talkdesk ID is down while 500 accounts install: every install is stored and
    // acknowledged, and its first run fails, so 500 installations wait in backoff.
    sim.fault(Endpoint::Token, Fault::status(503), 100_000);
    let mut ids = Vec::new();
    for i in 0..500 {
        let inst = sim
            .install(InstallSpec::new(&format!("backlog{i}"), Alg::ES256))
            .await
            .unwrap();
        let status = inst.delivery.attempt.as_ref().and_then(|a| a.status);
        assert_eq!(status, Some(200), "install {i} acknowledged");
        ids.push(inst.installation_id);
    }
    assert_eq!(approved(&sim, &ids), 0);
    sim.clear_faults();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut sweeps = 0;
    while approved(&sim, &ids) < ids.len() {
        assert!(
            Instant::now() < deadline,
            "{} of 500 approved after {sweeps} sweeps",
            approved(&sim, &ids)
        );
        sweep(&w).await;
        sweeps += 1;
    }
    for id in &ids {
        let history = &sim.installation(id).unwrap().history;
        assert_eq!(history.len(), 1, "{id} approved exactly once: {history:?}");
    }
    assert!(
        sweeps > 1,
        "500 installs cannot fit one invocation's budget"
    );
    let lines = settled_budget_lines(&w).await;
    assert_within_budget(&lines);
    let crons = lines.iter().filter(|v| v["invocation"] == "cron").count();
    let most = lines.iter().filter_map(|v| v["queries"].as_u64()).max();
    println!(
        "500-installation backlog: {sweeps} sweeps; the most queries in one invocation {most:?}"
    );
    assert!(crons >= sweeps, "every sweep logged its spending");
    let stopped_early = w.log().lines().any(|l| {
        l.split(" installations run, ")
            .nth(1)
            .is_some_and(|rest| !rest.starts_with("0 left"))
    });
    assert!(
        stopped_early,
        "some sweep stopped with work left for the next"
    );
}

#[tokio::test]
#[ignore = "benchmark: make bench"]
async fn bench_a_fifty_thousand_user_install() {
    let w = Worker::start(Options::default());
    let sim = sim_for(&w);
    let started = Instant::now();
    let inst = sim
        .install(InstallSpec {
            users: Users::Count(50_000),
            ..InstallSpec::new("hugeco", Alg::ES256)
        })
        .await
        .unwrap();
    let id = inst.installation_id.clone();
    while approved(&sim, std::slice::from_ref(&id)) == 0 {
        assert!(started.elapsed() < Duration::from_secs(900), "not approved");
        tokio::time::sleep(Duration::from_millis(500)).await;
        sweep(&w).await;
    }
    let elapsed = started.elapsed();
    let (_, view) = crate::lifecycle::admin(&w, &format!("/admin/installations/{id}")).await;
    assert_eq!(view["users_count"], 50_000, "{view}");
    let lines = settled_budget_lines(&w).await;
    assert_within_budget(&lines);
    let working: Vec<&Value> = lines
        .iter()
        .filter(|v| v["subrequests"].as_u64() > Some(20))
        .collect();
    let queries: u64 = working.iter().filter_map(|v| v["queries"].as_u64()).sum();
    let calls = sim
        .requests()
        .iter()
        .filter(|r| r.installation_id.as_deref() == Some(id.as_str()))
        .count();
    let table = format!(
        "| users | time to approval | invocations that worked | D1 queries | Talkdesk calls |\n\
         |---|---|---|---|---|\n\
         | 50,000 | {:.1} s | {} | {} | {} |",
        elapsed.as_secs_f64(),
        working.len(),
        queries,
        calls
    );
    crate::bench::write_table("fifty_thousand_users.md", &table);
}
