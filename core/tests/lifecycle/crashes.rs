//! Crashes, lapsed leases and the 7-day window: whatever stops a job part-way, the installation
//! still ends approved, once the sweep gets to it; and nothing retries past Talkdesk's window.

use std::time::Duration;

use appconnect_core::lifecycle::{self, Ports};
use talkdesk_sim::{Alg, Endpoint, Fault, SimUser, UpdateSpec};

use crate::app::{held_one, id_of, TestApp};

/// The job kinds a crash is tried in.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Install,
    Update,
    Uninstall,
    Rotate,
}

/// A world in which the job of `kind` is stored and due but has not run: the app, the
/// installation id and the event id.
async fn world(kind: Kind) -> (TestApp, String, String) {
    let app = TestApp::new();
    let event = match kind {
        Kind::Install => {
            let inst = app.undelivered_install(Alg::ES256).await;
            inst.event
        }
        _ => {
            let inst = app.active(Alg::ES256).await;
            let id = inst.installation_id.clone();
            match kind {
                Kind::Update => {
                    let spec = UpdateSpec {
                        add_users: vec![SimUser::new("u-new", "new@acme.example", "New")],
                        ..UpdateSpec::default()
                    };
                    app.sim.update(&id, spec).await.unwrap();
                }
                Kind::Uninstall => {
                    app.sim.uninstall(&id, "user", "bye").await.unwrap();
                }
                _ => {
                    app.sim.rotate(&id).await.unwrap();
                }
            }
            held_one(&app)
        }
    };
    let (status, _, _) = app.post(event.to_string().as_bytes()).await;
    assert_eq!(status, 200);
    let id = event["data"]["installation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (app, id, id_of(&event))
}

/// What a finished job of `kind` left, whatever happened on the way.
async fn assert_finished(kind: Kind, app: &TestApp, id: &str, event_id: &str, at: &str) {
    let v = app.view(id).await;
    let status = app.event_status(event_id);
    match kind {
        // A crash after the uninstall was recorded but before its event was: the retry finds
        // the installation closed and records the event as ignored. Nothing is left undone.
        Kind::Uninstall => assert!(
            ["done", "ignored"].contains(&status.as_str()),
            "{at}: {status}"
        ),
        _ => assert_eq!(status, "done", "{at}: {v}"),
    }
    assert_eq!(app.pending_jobs(), 0, "{at}");
    match kind {
        Kind::Install => {
            assert_eq!(v["state"], "active", "{at}: {v}");
            assert_eq!(v["users_count"], 3, "{at}: {v}");
            assert_eq!(app.talkdesk_state(id), "approved", "{at}");
        }
        Kind::Update => {
            assert_eq!(v["state"], "active", "{at}: {v}");
            assert_eq!(v["users_count"], 4, "{at}: {v}");
        }
        Kind::Uninstall => {
            // Even a crash after Talkdesk took the approval (and revoked the credentials, so
            // the retry cannot mint) ends uninstalled: the confirmation was recorded first.
            assert_eq!(v["state"], "uninstalled", "{at}: {v}");
            assert_eq!(v["credentials"]["stored"], false, "{at}: {v}");
            assert_eq!(app.talkdesk_state(id), "uninstalled", "{at}");
            assert_eq!(
                app.count("SELECT COUNT(*) AS n FROM installation_users"),
                0,
                "{at}: users left behind"
            );
        }
        Kind::Rotate => {
            let talkdesk = app.sim.installation(id).unwrap();
            let newest = talkdesk.credentials.last().unwrap().client_id.clone();
            assert_eq!(v["credentials"]["client_id"], newest.as_str(), "{at}: {v}");
            assert_eq!(v["credentials"]["rotation_pending"], false, "{at}: {v}");
            assert!(
                talkdesk
                    .acknowledgements
                    .iter()
                    .any(|a| a.client_id == newest),
                "{at}: not acknowledged"
            );
        }
    }
}

/// The statements the job of `kind` runs, in order, from a clean run.
async fn statements_of(kind: Kind) -> Vec<&'static str> {
    let (app, id, event_id) = world(kind).await;
    app.ports.db.executed.borrow_mut().clear();
    lifecycle::run_installation(&app.ports, &app.settings(), &id)
        .await
        .unwrap();
    let names = app.ports.db.executed.borrow().clone();
    assert_finished(kind, &app, &id, &event_id, "clean run").await;
    names
}

/// Crashes the job of `kind` at each of its statements in turn, each in its own world, and
/// checks that the sweep still finishes it.
async fn crash_at_every_statement(kind: Kind) {
    let statements = statements_of(kind).await;
    assert!(statements.len() >= 6, "{statements:?}");
    let statements = &statements;
    let crash_at = |i: usize, name: &'static str| async move {
        // The crash: the i-th statement of the job fails (its earlier runs of the same name
        // pass), as if the isolate died there or D1 was unreachable.
        let pass = statements[..i].iter().filter(|n| **n == name).count() as u32;
        let (app, id, event_id) = world(kind).await;
        app.ports.db.executed.borrow_mut().clear();
        app.ports.db.fail_after(name, pass, 1);
        let _ = lifecycle::run_installation(&app.ports, &app.settings(), &id).await;
        let ran = app
            .ports
            .db
            .executed
            .borrow()
            .iter()
            .filter(|n| **n == name)
            .count() as u32;
        app.settle().await;
        app.ports.db.heal();
        let at = format!("{kind:?}: crash at statement {i} ({name})");
        assert!(ran > pass, "{at}: the statement never ran");
        assert_finished(kind, &app, &id, &event_id, &at).await;
    };
    // All at once: a crash while a token is being stored leaves the token lease to lapse
    // (15 s), and these wait together rather than one after another.
    join_all(
        statements
            .iter()
            .enumerate()
            .map(|(i, name)| crash_at(i, name)),
    )
    .await;
}

#[tokio::test]
async fn a_crash_at_any_statement_of_an_install_only_delays_the_approval() {
    crash_at_every_statement(Kind::Install).await;
}

#[tokio::test]
async fn a_crash_at_any_statement_of_an_update_only_delays_its_confirmation() {
    crash_at_every_statement(Kind::Update).await;
}

#[tokio::test]
async fn a_crash_at_any_statement_of_an_uninstall_only_delays_its_confirmation() {
    crash_at_every_statement(Kind::Uninstall).await;
}

#[tokio::test]
async fn a_crash_at_any_statement_of_a_rotation_only_delays_the_switch() {
    crash_at_every_statement(Kind::Rotate).await;
}

/// Polls every future on this task until all are done (they share `!Send` test state).
async fn join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
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
    let inst = app.undelivered_install(Alg::ES256).await;
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
async fn a_runner_overtaken_after_its_lease_lapsed_does_not_undo_the_runner_that_finished() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.post(inst.event.to_string().as_bytes()).await;
    // The first runner is still alive but slow: its approval takes longer than its lease.
    app.sim
        .fault(Endpoint::State, Fault::stall(Duration::from_millis(900)), 1);
    let settings = app.settings();
    let slow = lifecycle::run_installation(&app.ports, &settings, &inst.installation_id);
    let overtake = async {
        // Past the lease (300 ms scaled): the sweep takes the job over and finishes it.
        tokio::time::sleep(Duration::from_millis(400)).await;
        lifecycle::sweep(&app.ports, &app.settings(), 25)
            .await
            .unwrap();
        assert_eq!(app.pending_jobs(), 0, "the second runner did not finish");
        // The slow runner's last write then fails, so it would record a retry.
        app.ports.db.fail("save installation", 1);
    };
    let (slow, ()) = tokio::join!(slow, overtake);
    slow.unwrap();
    // Its stale outcome was not recorded over the finished job.
    assert_eq!(app.pending_jobs(), 0);
    let v = app.view(&inst.installation_id).await;
    assert_eq!(v["history"][0]["state"], "done", "{v}");
    assert_eq!(
        v["history"][0]["last_error"],
        serde_json::Value::Null,
        "{v}"
    );
    assert_eq!(v["state"], "active", "{v}");
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
    // Never proven, so it stays unproven (later events never act on its credentials), with
    // the reason for the operator.
    assert_eq!(v["state"], "received", "{v}");
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
async fn an_uninstall_never_confirmed_when_the_window_closes_keeps_the_credentials() {
    let app = TestApp::new();
    let inst = app.install(Alg::ES256).await;
    // Talkdesk cannot be read: the uninstall is never confirmed, so it may be a forgery.
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
    assert_eq!(v["credentials"]["stored"], true, "{v}");
    assert_eq!(v["users_count"], 3, "{v}");
    assert!(
        v["last_error"]
            .as_str()
            .unwrap()
            .starts_with("confirmation window passed"),
        "{v}"
    );
}

#[tokio::test]
async fn a_sweep_takes_proven_installations_before_unproven_ones() {
    let app = TestApp::new();
    let proven = app.active(Alg::ES256).await;
    // An unproven installation whose retry has waited longer than the proven one's.
    app.sim.fault(Endpoint::Token, Fault::status(503), 1);
    let unproven = app.install(Alg::ES256).await;
    app.sim
        .trial_started(&proven.installation_id)
        .await
        .unwrap();
    app.sim.fault(Endpoint::Event, Fault::status(503), 1);
    app.deliver_held().await;
    app.ports
        .db
        .raw()
        .execute(
            "UPDATE jobs SET next_attempt_at = CASE installation_id WHEN ?1 THEN 1 ELSE 2 END \
             WHERE state = 'pending'",
            [&unproven.installation_id],
        )
        .unwrap();
    let due = app
        .ports
        .store()
        .due_installations(u64::MAX / 2, 1)
        .await
        .unwrap();
    assert_eq!(due, vec![proven.installation_id.clone()]);
}

#[tokio::test]
async fn an_installation_row_that_does_not_read_back_costs_its_job_an_attempt_not_its_lease() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = inst.installation_id.clone();
    app.sim.trial_started(&id).await.unwrap();
    let event = held_one(&app);
    let (status, _, run) = app.post(event.to_string().as_bytes()).await;
    assert_eq!(status, 200);
    // A row this build cannot read (a state written by a newer build, say).
    app.ports
        .db
        .raw()
        .execute(
            "UPDATE installations SET state = 'from-a-newer-build' WHERE installation_id = ?1",
            [&id],
        )
        .unwrap();
    lifecycle::run_installation(&app.ports, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    let rows = app.ports.db.select(&format!(
        "SELECT lease_holder, attempts, state, last_error FROM jobs WHERE event_id = '{}'",
        id_of(&event)
    ));
    let job = &rows[0];
    assert!(
        job["lease_holder"].is_null(),
        "the lease is given back: {job:?}"
    );
    assert_eq!(job["attempts"], 1, "{job:?}");
    assert_eq!(
        job["state"], "pending",
        "it retries, and expires at the window"
    );
    assert!(job["last_error"].as_str().is_some(), "{job:?}");
}
