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
    crate::scale::assert_within_budget(&crate::scale::settled_budget_lines(w).await);
}

/// An operator call with the admin token: status and JSON.
async fn operator(w: &Worker, method: reqwest::Method, path: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .request(method, w.url(path))
        .bearer_auth(&crate::harness::default_vars()["ADMIN_TOKEN"])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_sealing_key_rotation_reseals_everything_then_the_old_key_goes_and_every_installation_still_works(
) {
    const OLD: &str = "e2e1:ZTJlLXNlYWxpbmcta2V5LW9mLTMyLWJ5dGVzLWxlbiE=";
    const NEW: &str = "e2e2:c2Vjb25kLWUyZS1zZWFsaW5nLWtleS0zMi1ieXRlcyE=";
    let mut w = Worker::start(Options::default());
    let sim = sim_for(&w);
    let mut ids = Vec::new();
    for (name, alg) in [("rot-a", Alg::ES256), ("rot-b", Alg::PS256)] {
        let inst = sim.install(InstallSpec::new(name, alg)).await.unwrap();
        wait_view(&w, &inst.installation_id, |v| v["state"] == "active").await;
        ids.push(inst.installation_id);
    }
    // 1. The new key goes first; the old one still opens what it sealed.
    w.redeploy_with(&[("SEALING_KEY", &format!("{NEW},{OLD}"))]);
    let (_, before) = operator(&w, reqwest::Method::GET, "/admin/sealing").await;
    assert_eq!(
        before["current"],
        "e2e2",
        "{before}\n{}",
        w.log()
            .lines()
            .filter(|l| l.contains("\"level\":\"error\""))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        before["sealed_by_key"]["e2e1"].as_u64() > Some(0),
        "{before}"
    );
    // 2. Re-seal, batch after batch.
    let mut path = "/admin/sealing/reseal".to_owned();
    loop {
        let (status, report) = operator(&w, reqwest::Method::POST, &path).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["unreadable"], 0, "{report}");
        match report["next"].as_str() {
            Some(next) => path = format!("/admin/sealing/reseal?after={next}"),
            None => break,
        }
    }
    let (_, after) = operator(&w, reqwest::Method::GET, "/admin/sealing").await;
    assert_eq!(after["sealed_by_key"].get("e2e1"), None, "{after}");
    // 3. The old key goes; both installations still open their credentials: each is
    // uninstalled, which takes a token minted with them and a confirmation.
    w.redeploy_with(&[("SEALING_KEY", NEW)]);
    for id in &ids {
        sim.uninstall(id, "user", "rotation test").await.unwrap();
        wait_view(&w, id, |v| v["state"] == "uninstalled").await;
        assert_eq!(sim.installation(id).unwrap().state, "uninstalled");
        let (_, events) = operator(
            &w,
            reqwest::Method::GET,
            &format!("/admin/installations/{id}/events"),
        )
        .await;
        assert_eq!(events["events"][0]["status"], "done", "{events}");
        assert_eq!(
            events["operator_actions"][0]["action"], "reseal",
            "{events}"
        );
    }
}
