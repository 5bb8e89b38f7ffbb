//! The outbox under faults, in workerd: D1 unusable at intake (its tables are not there yet), an
//! install still acknowledged, captured in KV, replayed and approved once D1 is back.

use talkdesk_sim::{Alg, InstallSpec};

use crate::harness::{Options, Worker};
use crate::lifecycle::{sim_for, sweep, wait_view};

#[tokio::test]
async fn an_install_sent_while_d1_is_unusable_is_captured_replayed_and_approved() {
    let w = Worker::start(Options {
        migrate: false,
        ..Options::default()
    });
    let sim = sim_for(&w);
    let inst = sim
        .install(InstallSpec::new("outage", Alg::ES256))
        .await
        .unwrap();
    let delivery = inst.delivery.attempt.clone().expect("delivered");
    assert_eq!(delivery.status, Some(200), "acknowledged: {delivery:?}");
    wait_log(&w, "event_captured").await;
    // D1 comes back; the cron sweep replays the capture and the install runs.
    w.migrate();
    sweep(&w).await;
    wait_view(&w, &inst.installation_id, |v| v["state"] == "active").await;
    assert_eq!(
        sim.installation(&inst.installation_id).unwrap().state,
        "approved"
    );
    wait_log(&w, "capture_replayed").await;
}

/// Waits until the worker's log shows `needle` (wrangler writes it out a little later).
async fn wait_log(w: &Worker, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !w.log().contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "the log never showed {needle}:\n{}",
            w.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_five_thousand_user_installation_is_provisioned_and_approved_with_every_user_stored() {
    let w = crate::harness::shared();
    let sim = sim_for(w);
    let inst = sim
        .install(InstallSpec {
            users: talkdesk_sim::Users::Count(5_000),
            ..InstallSpec::new("bigco", Alg::ES256)
        })
        .await
        .unwrap();
    let view = wait_view(w, &inst.installation_id, |v| v["state"] == "active").await;
    assert_eq!(view["users_count"], 5_000, "{view}");
    assert_eq!(
        sim.installation(&inst.installation_id).unwrap().state,
        "approved"
    );
    let user_pages = sim
        .requests_to(talkdesk_sim::Endpoint::Users)
        .iter()
        .filter(|r| r.installation_id.as_deref() == Some(inst.installation_id.as_str()))
        .count();
    assert_eq!(user_pages, 50, "Talkdesk's pages of 100, each read once");
}
