//! The outbox within an invocation's budget, and fenced against runners that lost their lease:
//! a big account is provisioned over several metered invocations, each within the budget, its
//! users never half visible; a runner stalled past its lease writes nothing and approves nothing.

use std::time::Duration;

use appconnect_core::config::WorkersPlan;
use appconnect_core::lifecycle::budget::{Budget, Invocation, Meter, Metered, Usage};
use appconnect_core::lifecycle::{self, Ports};
use appconnect_core::ports::{Clock, Database, Statement};
use appconnect_core::store::Lease;
use talkdesk_sim::{Alg, Endpoint, Fault, InstallSpec, Users};

use super::app::TestApp;

/// One cron invocation under `budget`: what it spent.
async fn metered_sweep(app: &TestApp, budget: Budget) -> Usage {
    let meter = Meter::new(budget, app.ports.clock.now_ms());
    let metered = Metered::new(&app.ports, &meter);
    lifecycle::sweep(&metered, &app.settings(), 500)
        .await
        .unwrap();
    meter.used()
}

fn stored_users(app: &TestApp, id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM installation_users WHERE installation_id = '{id}'"
    ))
}

#[tokio::test]
async fn a_big_account_is_provisioned_over_several_invocations_each_within_budget() {
    let app = TestApp::new();
    let inst = app
        .sim
        .install_without_sending(InstallSpec {
            users: Users::Count(5_000),
            ..InstallSpec::new("bigco", Alg::ES256)
        })
        .await
        .unwrap();
    let (status, _, _) = app.post(inst.event.to_string().as_bytes()).await;
    assert_eq!(status, 200);
    // A tenth of the Paid budget, so 50 pages cannot fit one invocation.
    let budget = Budget {
        queries: 90,
        subrequests: 90,
        kv_ops: 90,
        wall_ms: 60_000,
    };
    let mut invocations = 0;
    while app.view(&inst.installation_id).await["state"] != "active" {
        invocations += 1;
        assert!(invocations < 20, "the install never finished");
        let used = metered_sweep(&app, budget).await;
        assert!(
            used.queries <= budget.queries && used.subrequests <= budget.subrequests,
            "invocation {invocations} spent {used:?}"
        );
        assert_eq!(used.refused, 0, "it stopped before the meter had to refuse");
        // A reader sees no users or all of them, never part of the set.
        let n = stored_users(&app, &inst.installation_id);
        assert!(n == 0 || n == 5_000, "{n} users visible mid-way");
    }
    assert!(
        invocations > 1,
        "50 pages cannot fit one invocation of this budget"
    );
    assert_eq!(stored_users(&app, &inst.installation_id), 5_000);
    assert_eq!(app.view(&inst.installation_id).await["users_count"], 5_000);
    let pages = app.sim.requests_to(Endpoint::Users).len();
    assert_eq!(pages, 50, "each page read once across the invocations");
    assert_eq!(app.confirmations(&inst.installation_id), 1, "one approval");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM user_staging"), 0);
    let job = &app
        .ports
        .store()
        .jobs_of(&inst.installation_id)
        .await
        .unwrap()[0];
    assert_eq!(
        job.attempts, 1,
        "pausing between invocations is not a failed attempt"
    );
}

#[tokio::test]
async fn on_the_free_plan_a_small_install_fits_the_invocation_that_received_it() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    let (_, _, run) = app.post(inst.event.to_string().as_bytes()).await;
    let budget = Budget::for_plan(WorkersPlan::Free, Invocation::AfterAnswer);
    let meter = Meter::new(budget, app.ports.clock.now_ms());
    let metered = Metered::new(&app.ports, &meter);
    lifecycle::run_installation(&metered, &app.settings(), &run.unwrap())
        .await
        .unwrap();
    let used = meter.used();
    assert!(
        used.queries < 50 && used.subrequests < 50 && used.refused == 0,
        "{used:?}"
    );
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
}

#[tokio::test]
async fn an_invocation_that_cannot_afford_a_job_leaves_it_due_without_counting_an_attempt() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.post(inst.event.to_string().as_bytes()).await;
    // The sweep's own fixed work fits; a job does not.
    let tiny = Budget {
        queries: 18,
        subrequests: 18,
        kv_ops: 18,
        wall_ms: 60_000,
    };
    let used = metered_sweep(&app, tiny).await;
    assert!(used.queries <= 18 && used.refused == 0, "{used:?}");
    assert!(
        app.sim.requests().is_empty(),
        "no Talkdesk call was started"
    );
    let job = app
        .ports
        .store()
        .head_job(&inst.installation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.attempts, 0);
    // A full budget runs it.
    metered_sweep(&app, Budget::for_plan(WorkersPlan::Paid, Invocation::Cron)).await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
}

#[tokio::test]
async fn an_installation_write_from_an_older_copy_or_a_lost_lease_changes_nothing() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let store = app.ports.store();
    let id = &inst.installation_id;
    let copy = store.installation(id).await.unwrap().unwrap();
    // A job of this installation, held by "runner-a".
    let job_id = store.jobs_of(id).await.unwrap()[0].job_id;
    app.ports
        .db()
        .execute(&Statement::new(
            "hold the job",
            "UPDATE jobs SET lease_holder = 'runner-a' WHERE job_id = ?1",
            vec![job_id.into()],
        ))
        .await
        .unwrap();
    let a = Lease {
        job_id,
        holder: "runner-a",
    };
    let mut changed = copy.clone();
    changed.company_name = Some("first write".into());
    assert!(store.save_installation(&changed, a).await.unwrap());
    // The same (now older) copy written again: refused.
    changed.company_name = Some("stale write".into());
    assert!(!store.save_installation(&changed, a).await.unwrap());
    // A current copy from a runner that does not hold the lease: refused.
    let mut current = store.installation(id).await.unwrap().unwrap();
    current.company_name = Some("lost lease".into());
    let b = Lease {
        job_id,
        holder: "runner-b",
    };
    assert!(!store.save_installation(&current, b).await.unwrap());
    let now = store.installation(id).await.unwrap().unwrap();
    assert_eq!(now.company_name.as_deref(), Some("first write"));
}

#[tokio::test]
async fn a_job_stalled_past_its_lease_approves_once_and_restores_nothing_after_the_uninstall() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.post(inst.event.to_string().as_bytes()).await;
    let id = inst.installation_id.clone();
    // Runner A stalls reading users for far longer than its (scaled, 300 ms) lease.
    app.sim.fault(
        Endpoint::Users,
        Fault::stall(Duration::from_millis(2_500)),
        1,
    );
    let settings = app.settings();
    let stalled = lifecycle::run_installation(&app.ports, &settings, &id);
    let overtaking = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        // Runner B takes the lapsed lease, provisions and approves; then the account
        // uninstalls and runner C destroys the credentials, all while A is still stalled.
        lifecycle::run_installation(&app.ports, &settings, &id)
            .await
            .unwrap();
        assert_eq!(app.view(&id).await["state"], "active");
        app.sim.uninstall(&id, "user", "bye").await.unwrap();
        app.deliver_held().await;
        assert_eq!(app.view(&id).await["state"], "uninstalled");
    };
    let (a, ()) = tokio::join!(stalled, overtaking);
    a.unwrap();
    let view = app.view(&id).await;
    assert_eq!(view["state"], "uninstalled", "{view}");
    let row = app.ports.store().installation(&id).await.unwrap().unwrap();
    assert!(
        !row.has_secrets(),
        "the stalled runner restored no credentials"
    );
    assert_eq!(stored_users(&app, &id), 0, "nor any users");
    // Talkdesk saw one approval of the install and one of the uninstall.
    let approvals = app
        .sim
        .requests_to(Endpoint::State)
        .iter()
        .filter(|r| r.installation_id.as_deref() == Some(id.as_str()))
        .count();
    assert_eq!(approvals, 2, "install approved once, uninstall once");
}

#[tokio::test]
async fn a_runner_that_outlived_its_lease_stops_at_its_next_step_so_the_install_is_approved_once() {
    let app = TestApp::new();
    let inst = app.undelivered_install(Alg::ES256).await;
    app.post(inst.event.to_string().as_bytes()).await;
    let id = inst.installation_id.clone();
    app.sim.fault(
        Endpoint::Users,
        Fault::stall(Duration::from_millis(1_500)),
        1,
    );
    let settings = app.settings();
    let stalled = lifecycle::run_installation(&app.ports, &settings, &id);
    let overtaking = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        lifecycle::run_installation(&app.ports, &settings, &id)
            .await
            .unwrap();
    };
    let (a, ()) = tokio::join!(stalled, overtaking);
    a.unwrap();
    // The stalled runner got its users page after the other had approved: it wrote nothing
    // and did not approve again.
    assert_eq!(app.view(&id).await["state"], "active");
    let approvals = app.sim.requests_to(Endpoint::State).len();
    assert_eq!(approvals, 1, "one approval");
    assert_eq!(stored_users(&app, &id), 3);
    let job = &app.ports.store().jobs_of(&id).await.unwrap()[0];
    assert_eq!(job.state.as_str(), "done");
}

#[tokio::test]
async fn a_throttled_page_mid_way_is_retried_from_the_stored_cursor_not_from_page_one() {
    let app = TestApp::new();
    let inst = app
        .sim
        .install_without_sending(InstallSpec {
            users: Users::Count(2_000),
            ..InstallSpec::new("bigco", Alg::ES256)
        })
        .await
        .unwrap();
    app.post(inst.event.to_string().as_bytes()).await;
    // The first invocation runs out of budget part of the way through the 20 pages.
    let budget = Budget {
        queries: 60,
        subrequests: 60,
        kv_ops: 60,
        wall_ms: 60_000,
    };
    metered_sweep(&app, budget).await;
    let read = app.sim.requests_to(Endpoint::Users).len();
    assert!(
        read > 0 && read < 20,
        "{read} pages read in the first invocation"
    );
    // Talkdesk throttles the next page: the job backs off (an attempt), then resumes.
    app.sim.fault(Endpoint::Users, Fault::throttle(30), 1);
    metered_sweep(&app, budget).await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "received");
    app.settle().await;
    assert_eq!(app.view(&inst.installation_id).await["state"], "active");
    assert_eq!(stored_users(&app, &inst.installation_id), 2_000);
    assert_eq!(
        app.sim.requests_to(Endpoint::Users).len(),
        20 + 1,
        "every page read once, plus the throttled request"
    );
}
