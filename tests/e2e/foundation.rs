//! The foundation: the worker starts in the real runtime, reports its health, answers unknown
//! routes and methods with JSON, says which setting is broken, and the harness cleans up.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{self, group_alive, shared, Options, Worker};

async fn get(url: String) -> (u16, Value, reqwest::header::HeaderMap) {
    request(reqwest::Method::GET, url).await
}

async fn request(method: reqwest::Method, url: String) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    assert_eq!(
        headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "every answer is JSON"
    );
    (status, resp.json().await.unwrap(), headers)
}

#[tokio::test]
async fn healthz_reports_the_version_and_that_d1_and_kv_answer() {
    let w = shared();
    let (status, body, _) = get(w.url("/healthz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["checks"]["d1"]["ok"], true);
    assert_eq!(body["checks"]["kv"]["ok"], true);
}

#[tokio::test]
async fn an_unknown_path_is_404_json() {
    let w = shared();
    for path in ["/", "/nope", "/healthz/extra", "/HEALTHZ", "/healthz%2F"] {
        let (status, body, _) = get(w.url(path)).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_json_with_allow() {
    let w = shared();
    for method in [
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        let (status, body, headers) = request(method.clone(), w.url("/healthz")).await;
        assert_eq!(status, 405, "{method}: {body}");
        assert_eq!(body["error"], "method_not_allowed");
        assert_eq!(headers.get("allow").unwrap(), "GET");
    }
}

#[tokio::test]
async fn healthz_is_503_naming_d1_until_the_migrations_are_applied() {
    let w = Worker::start(Options {
        migrate: false,
        ..Options::default()
    });
    let (status, body, _) = get(w.url("/healthz")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    assert_eq!(body["checks"]["d1"]["ok"], false);
    assert_eq!(body["checks"]["kv"]["ok"], true);
    assert_eq!(body["message"], "failing: d1");

    w.migrate();
    let (status, body, _) = get(w.url("/healthz")).await;
    assert_eq!(status, 200, "once migrated: {body}");
}

#[tokio::test]
async fn a_missing_or_malformed_setting_answers_500_naming_it_on_every_request() {
    let mut options = Options::default();
    options.vars.remove("SEALING_KEY");
    options.vars.insert("ADMIN_TOKEN".into(), "short".into());
    let w = Worker::start(options);
    // Many requests: the isolate keeps answering (no crash loop), each time naming the setting.
    for i in 0..20 {
        let path = ["/healthz", "/nope", "/events"][i % 3];
        let (status, body, _) = get(w.url(path)).await;
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["error"], "configuration_error");
        assert_eq!(
            body["setting"], "SEALING_KEY",
            "the first broken setting is named"
        );
    }
    let log = w.log();
    assert!(
        log.contains("setting SEALING_KEY is missing"),
        "the log says which setting: {log}"
    );
    assert!(!log.contains("panicked"), "no panic: {log}");
}

#[tokio::test]
async fn stopping_a_worker_leaves_no_process_and_restart_keeps_state() {
    let mut w = Worker::start(Options::default());
    let pgid = w.pgid().unwrap();
    assert!(group_alive(pgid));
    w.restart();
    let (status, body, _) = get(w.url("/healthz")).await;
    assert_eq!(
        status, 200,
        "restarted on the same state, migrations still applied: {body}"
    );
    let pgid = w.pgid().unwrap();
    drop(w);
    assert!(!group_alive(pgid), "no wrangler or workerd left after stop");
}

/// Runs only as the child of the test below: starts a worker, says its group id, waits to die.
#[test]
#[ignore = "helper: run by killing_the_test_process_leaves_no_worker_behind"]
fn child_holds_a_worker_until_killed() {
    let Ok(pid_file) = std::env::var("E2E_CHILD_PID_FILE") else {
        return;
    };
    let w = Worker::start(Options::default());
    std::fs::write(pid_file, w.pgid().unwrap().to_string()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn killing_the_test_process_leaves_no_worker_behind() {
    let pid_file = harness::root().join(format!("target/e2e/child-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "foundation::child_holds_a_worker_until_killed"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env("E2E_CHILD_PID_FILE", &pid_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let pgid: u32 = loop {
        if let Some(pgid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break pgid;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "child test exited early"
        );
        assert!(Instant::now() < deadline, "child never started its worker");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(group_alive(pgid));
    child.kill().unwrap(); // SIGKILL: no destructor runs in the child
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while group_alive(pgid) {
        assert!(
            Instant::now() < deadline,
            "wrangler/workerd (group {pgid}) outlived the killed test process"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_file(&pid_file);
}
