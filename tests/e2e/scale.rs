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
    logged_objects(&w.log())
        .into_iter()
        .filter(|v| v["event"] == "invocation_budget")
        .collect()
}

/// The objects the worker logged, as `wrangler dev` prints them (Node's inspect format, over
/// one or several lines: `{ level: 'info', event: 'x', queries: 12 }`).
pub fn logged_objects(log: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = log;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        if let Some(v) = inspect_object(&rest[start + 1..start + len]) {
            out.push(v);
        }
        rest = &rest[start + len + 1..];
    }
    out
}

/// `key: value` pairs separated by commas; values are numbers, booleans, null or quoted
/// strings. `None` for anything else (a stray brace in other output).
fn inspect_object(body: &str) -> Option<Value> {
    let mut map = serde_json::Map::new();
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_')).collect();
        if key.is_empty() || chars.next() != Some(':') {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let value = match chars.peek() {
            Some('\'') | Some('"') => {
                let quote = chars.next()?;
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(chars.next()?),
                        c if c == quote => break,
                        c => s.push(c),
                    }
                }
                Value::String(s)
            }
            _ => {
                let token: String =
                    std::iter::from_fn(|| chars.next_if(|c| *c != ',' && *c != '\n')).collect();
                serde_json::from_str(token.trim()).ok()?
            }
        };
        map.insert(key, value);
    }
    (!map.is_empty()).then_some(Value::Object(map))
}

#[test]
fn the_inspect_format_wrangler_prints_is_read_back_into_objects() {
    let log = "[wrangler:info] Ready\n{\n  budget_queries: 900,\n  event: 'invocation_budget',\n  \
               detail: 'it\\'s, here',\n  refused: 0\n}\n{ level: 'info', event: 'sweep' }\n";
    let objects = logged_objects(log);
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert_eq!(objects[0]["budget_queries"], 900);
    assert_eq!(objects[0]["detail"], "it's, here");
    assert_eq!(objects[1]["event"], "sweep");
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
    let stopped_early = logged_objects(&w.log()).iter().any(|v| {
        v["event"] == "sweep"
            && v["detail"]
                .as_str()
                .and_then(|d| d.split(" installations run, ").nth(1))
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
