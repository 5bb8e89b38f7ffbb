//! The worker's request path, natively: the intake leases the installation's first job in the
//! transaction that stores the event and hands it to the run after the answer; a one-page
//! install stores its installation, account and users in one transaction.

use appconnect_core::config::WorkersPlan;
use appconnect_core::lifecycle::budget::{Budget, Invocation, Meter, Metered};
use appconnect_core::lifecycle::{self, outbox::Handoff};
use appconnect_core::ports::Clock;
use std::time::Duration;

use talkdesk_sim::{Alg, Endpoint, Fault};

use super::app::TestApp;

/// A `TestApp` whose ports hand the intake's lease to the run, as the worker's do.
fn handing_over() -> TestApp {
    let mut app = TestApp::new();
    app.ports.handoff = Some(Handoff::default());
    app
}

fn job_lease(app: &TestApp, event_id: &str) -> (bool, i64) {
    let rows = app.ports.db.select(&format!(
        "SELECT lease_holder, attempts FROM jobs WHERE event_id = '{event_id}'"
    ));
    (
        !rows[0]["lease_holder"].is_null(),
        rows[0]["attempts"].as_i64().unwrap(),
    )
}

/// Runs the installation's jobs once while `slow` stalls Talkdesk's answer and someone else
/// writes the installation meanwhile; the run's "lease job" statements fail after `pass`.
async fn run_while_the_installation_is_written(app: &TestApp, id: &str, slow: Endpoint, pass: u32) {
    app.sim
        .fault(slow, Fault::stall(Duration::from_millis(300)), 1);
    app.ports.db.fail_after("lease job", pass, 1);
    let settings = app.settings();
    let running = lifecycle::run_installation(&app.ports, &settings, id);
    let writer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.ports.db.select(&format!(
            "UPDATE installations SET version = version + 1 WHERE installation_id = '{id}' \
             RETURNING version"
        ));
    };
    let _ = tokio::join!(running, writer);
}

#[tokio::test]
async fn the_intake_leases_the_first_job_with_its_event_and_the_run_starts_without_taking_it_again()
{
    let app = handing_over();
    let inst = app.undelivered_install(Alg::ES256).await;
    let (status, _, run) = app.post(inst.event.to_string().as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(
        job_lease(&app, &inst.event_id),
        (true, 1),
        "leased, one attempt counted, before the answer"
    );
    // Any take of a job from here on fails (the close's take of a next job too): only the
    // handed-over lease can run the install as far as Talkdesk's approval.
    app.ports.db.fail("lease job", 10);
    let _ = lifecycle::run_installation(&app.ports, &app.settings(), &run.unwrap()).await;
    assert_eq!(app.confirmations(&inst.installation_id), 1);
    app.ports.db.heal();
    app.settle().await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
    assert_eq!(app.talkdesk_state(&inst.installation_id), "approved");
}

#[tokio::test]
async fn a_leased_job_whose_run_never_comes_is_run_by_the_sweep_once_its_lease_lapses() {
    let app = handing_over();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.post(inst.event.to_string().as_bytes()).await;
    // The request died after its answer: its handed-over job is gone with it.
    let handoff = app.ports.handoff.as_ref().unwrap();
    assert!(handoff.take(&inst.installation_id).is_some());
    app.settle_once().await;
    assert_eq!(
        app.sim.requests().len(),
        0,
        "no other runner takes the job while the lease holds"
    );
    // The scaled lease (5 minutes × 0.001) lapses.
    app.ports.clock.advance(400);
    app.settle().await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
    assert_eq!(job_lease(&app, &inst.event_id).1, 2, "the lost run counted");
}

#[tokio::test]
async fn a_redelivered_event_leases_nothing_and_hands_nothing_over() {
    let app = handing_over();
    let inst = app.undelivered_install(Alg::ES256).await;
    let body = inst.event.to_string();
    let (_, _, run) = app.post(body.as_bytes()).await;
    // Not run yet: the first delivery's job holds its lease.
    let handoff = app.ports.handoff.as_ref().unwrap();
    let first = handoff.take(&inst.installation_id).expect("handed over");
    let (status, reply, again) = app.post(body.as_bytes()).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));
    assert!(again.is_none());
    assert!(handoff.take(&inst.installation_id).is_none());
    assert_eq!(job_lease(&app, &inst.event_id), (true, 1));
    handoff.put(first);
    lifecycle::run_installation(&app.ports, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
}

#[tokio::test]
async fn a_one_page_install_stores_its_installation_account_and_users_together_or_not_at_all() {
    let app = handing_over();
    let inst = app.undelivered_install(Alg::ES256).await;
    let (_, _, run) = app.post(inst.event.to_string().as_bytes()).await;
    let id = run.unwrap();
    // The transaction fails at its last statement: nothing of it may stay.
    app.ports.db.fail("count users", 1);
    let _ = lifecycle::run_installation(&app.ports, &app.settings(), &id).await;
    let view = app.view(&id).await;
    assert_eq!(view["state"], "received", "{view}");
    assert!(view["account"]["company_name"].is_null(), "{view}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM installation_users"), 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM accounts"), 0);
    assert_eq!(app.confirmations(&id), 0, "no approval before provisioning");
    // The retry (its backoff scaled to milliseconds) stores all of it, then approves.
    app.settle().await;
    let view = app.view(&id).await;
    assert_eq!(view["state"], "active");
    assert!(view["account"]["company_name"].is_string(), "{view}");
    assert!(app.count("SELECT COUNT(*) AS n FROM installation_users") > 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM accounts"), 1);
}

#[tokio::test]
async fn a_one_page_provisioning_whose_installation_changed_meanwhile_writes_no_users_and_no_account(
) {
    let app = handing_over();
    let inst = app.undelivered_install(Alg::ES256).await;
    let (_, _, run) = app.post(inst.event.to_string().as_bytes()).await;
    let id = run.unwrap();
    // Page 1 of the users comes slowly; the attempt that finds the installation changed
    // pauses, and the run's next take of the job is the first "lease job" to fail.
    run_while_the_installation_is_written(&app, &id, Endpoint::Users, 0).await;
    assert_eq!(app.sim.requests_to(Endpoint::Users).len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM installation_users"), 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM accounts"), 0);
    assert_eq!(app.confirmations(&id), 0, "no approval before provisioning");
    // Run again from a fresh copy, it provisions and approves.
    app.settle().await;
    assert_eq!(app.view(&id).await["state"], "active");
    assert!(app.count("SELECT COUNT(*) AS n FROM installation_users") > 0);
}

#[tokio::test]
async fn an_installation_written_during_its_approval_closes_nothing_until_the_job_runs_again() {
    let app = handing_over();
    let inst = app.undelivered_install(Alg::ES256).await;
    let (_, _, run) = app.post(inst.event.to_string().as_bytes()).await;
    let id = run.unwrap();
    // The approval comes slowly. The failed close's own look for a next job passes; the
    // run's next take of the job is the first "lease job" to fail.
    run_while_the_installation_is_written(&app, &id, Endpoint::State, 1).await;
    assert_eq!(app.talkdesk_state(&id), "approved");
    // Neither the installation's last save nor the job's close landed: the job runs again.
    assert_ne!(app.view(&id).await["state"], "active");
    assert_eq!(app.pending_jobs(), 1);
    assert_eq!(app.event_status(&inst.event_id), "received");
    app.settle().await;
    assert_eq!(app.view(&id).await["state"], "active");
    assert_eq!(app.event_status(&inst.event_id), "done");
}

#[tokio::test]
async fn a_handed_over_one_page_install_makes_two_d1_round_trips_after_the_answer() {
    let app = handing_over();
    let inst = app.undelivered_install(Alg::ES256).await;
    let (_, _, run) = app.post(inst.event.to_string().as_bytes()).await;
    let meter = Meter::new(
        Budget::for_plan(WorkersPlan::Paid, Invocation::AfterAnswer),
        app.ports.clock.now_ms(),
    );
    let metered = Metered::new(&app.ports, &meter);
    lifecycle::run_installation(&metered, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    assert_eq!(app.talkdesk_state(&inst.installation_id), "approved");
    // The contract's six Talkdesk calls, then one transaction storing the installation, its
    // account and users (a person's decision read in it), and one closing the job: no other
    // round trip, and nothing from KV.
    let used = meter.used();
    assert_eq!(app.sim.requests().len(), 6, "Talkdesk calls");
    assert_eq!(used.kv_ops, 0, "{used:?}");
    assert_eq!(used.subrequests, 6 + 2, "{used:?}");
}
