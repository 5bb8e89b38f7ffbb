//! Crashes, lapsed leases and the 7-day window: whatever stops a job part-way, the installation
//! still ends approved, once the sweep gets to it; and nothing retries past Talkdesk's window.

use std::time::Duration;

use appconnect_core::lifecycle;
use talkdesk_sim::{Alg, Endpoint, Fault, InstallSpec};

use crate::app::TestApp;

/// The statements an install job runs, in order, from a clean run.
async fn statements_of_an_install() -> Vec<&'static str> {
    let app = TestApp::new();
    let inst = app
        .sim
        .install_without_sending(InstallSpec::new("acme", Alg::ES256))
        .await
        .unwrap();
    app.post(inst.event.to_string().as_bytes()).await;
    app.ports.db.executed.borrow_mut().clear();
    lifecycle::run_installation(&app.ports, &app.settings(), &inst.installation_id)
        .await
        .unwrap();
    let names = app.ports.db.executed.borrow().clone();
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
    names
}

#[tokio::test]
async fn a_crash_at_any_statement_of_an_install_only_delays_the_approval() {
    let statements = statements_of_an_install().await;
    assert!(statements.len() >= 8, "{statements:?}");
    let statements = &statements;
    let crash_at = |i: usize, name: &'static str| async move {
        // The crash: the i-th statement of the job fails (its earlier runs of the same name
        // pass), as if the isolate died there or D1 was unreachable.
        let pass = statements[..i].iter().filter(|n| **n == name).count() as u32;
        let app = TestApp::new();
        let inst = app
            .sim
            .install_without_sending(InstallSpec::new("acme", Alg::ES256))
            .await
            .unwrap();
        app.post(inst.event.to_string().as_bytes()).await;
        app.ports.db.fail_after(name, pass, 1);
        let _ =
            lifecycle::run_installation(&app.ports, &app.settings(), &inst.installation_id).await;
        let crashed = app
            .ports
            .db
            .executed
            .borrow()
            .iter()
            .filter(|n| **n == name)
            .count() as u32;
        app.settle().await;
        app.ports.db.heal();
        let at = format!("crash at statement {i} ({name})");
        assert!(crashed > pass, "{at}: the statement never ran");
        let v = app.view(&inst.installation_id).await;
        assert_eq!(v["state"], "active", "{at}: {v}");
        assert_eq!(v["users_count"], 3, "{at}: {v}");
        assert_eq!(
            app.talkdesk_state(&inst.installation_id),
            "approved",
            "{at}"
        );
        assert_eq!(app.event_status(&inst.event_id), "done", "{at}");
        assert_eq!(app.pending_jobs(), 0, "{at}");
    };
    // Each crash in its own world, all at once: a crash while a token is being stored leaves
    // the token lease to lapse (15 s), and these wait together rather than one after another.
    let runs = statements
        .iter()
        .enumerate()
        .map(|(i, name)| crash_at(i, name));
    futures_join_all(runs).await;
}

/// Polls every future on this task until all are done (they share `!Send` test state).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

#[tokio::test]
async fn a_lost_answer_from_any_talkdesk_endpoint_only_delays_the_approval() {
    for endpoint in [
        Endpoint::Token,
        Endpoint::Installation,
        Endpoint::Account,
        Endpoint::Users,
        Endpoint::Subscription,
        Endpoint::State,
    ] {
        let app = TestApp::new();
        app.sim.fault(endpoint, Fault::Drop, 1);
        let inst = app.install(Alg::ES384).await;
        app.settle().await;
        let v = app.view(&inst.installation_id).await;
        assert_eq!(v["state"], "active", "{endpoint:?}: {v}");
        assert_eq!(
            app.talkdesk_state(&inst.installation_id),
            "approved",
            "{endpoint:?}"
        );
    }
}

#[tokio::test]
async fn a_runner_that_dies_holding_the_lease_blocks_others_until_it_lapses_then_the_job_finishes()
{
    let app = TestApp::new();
    let inst = app
        .sim
        .install_without_sending(InstallSpec::new("acme", Alg::ES256))
        .await
        .unwrap();
    app.post(inst.event.to_string().as_bytes()).await;
    // The first runner is stuck on the approval and dies there (its future is dropped): the
    // job stays leased to it.
    app.sim
        .fault(Endpoint::State, Fault::stall(Duration::from_secs(2)), 1);
    let settings = app.settings();
    let runner = lifecycle::run_installation(&app.ports, &settings, &inst.installation_id);
    assert!(tokio::time::timeout(Duration::from_millis(150), runner)
        .await
        .is_err());
    let calls = app.sim.requests().len();
    // While the lease is live no other runner touches the job.
    lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    assert_eq!(
        app.sim.requests().len(),
        calls,
        "a second runner ran the job"
    );
    assert_eq!(app.pending_jobs(), 1);
    // Once it lapses (5 min, scaled to 300 ms here) the sweep takes the job over.
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.settle().await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
    assert_eq!(app.talkdesk_state(&inst.installation_id), "approved");
}

#[tokio::test]
async fn an_install_still_failing_when_the_7_day_window_closes_is_given_up_and_flagged() {
    let app = TestApp::new();
    app.sim.fault(Endpoint::Token, Fault::status(503), 1000);
    let inst = app.install(Alg::ES256).await;
    assert_eq!(app.pending_jobs(), 1);
    // Talkdesk's window closes: the job's deadline is now.
    app.ports
        .db
        .raw()
        .execute("UPDATE jobs SET deadline_at = 0, next_attempt_at = 0", [])
        .unwrap();
    app.settle().await;
    assert_eq!(app.pending_jobs(), 0);
    let v = app.view(&inst.installation_id).await;
    assert_eq!(v["state"], "attention", "{v}");
    assert!(
        v["last_error"]
            .as_str()
            .unwrap()
            .starts_with("confirmation window passed"),
        "{v}"
    );
    assert_eq!(v["history"][0]["state"], "expired", "{v}");
    assert_eq!(app.event_status(&inst.event_id), "failed");
    assert_eq!(app.talkdesk_state(&inst.installation_id), "pending");
}

#[tokio::test]
async fn an_uninstall_past_the_window_still_destroys_the_credentials() {
    let app = TestApp::new();
    let inst = app.install(Alg::ES256).await;
    app.sim.fault(Endpoint::Event, Fault::status(503), 1000);
    app.sim
        .uninstall(&inst.installation_id, "user_request", "bye")
        .await
        .unwrap();
    app.deliver_held().await;
    app.ports
        .db
        .raw()
        .execute(
            "UPDATE jobs SET deadline_at = 0, next_attempt_at = 0 WHERE kind = 'uninstall'",
            [],
        )
        .unwrap();
    app.settle().await;
    let v = app.view(&inst.installation_id).await;
    assert_eq!(v["credentials"]["stored"], false, "{v}");
    assert!(
        v["last_error"]
            .as_str()
            .unwrap()
            .starts_with("confirmation window passed"),
        "{v}"
    );
}
