//! The operator console in a real browser: Debian's chromium (over WebDriver) is refused
//! without a session, signs in with the operator token, lists and filters installations, opens
//! one, performs an action and sees it in the timeline, served by the release wasm in workerd.
//! Screenshots go to `target/e2e/screenshots/`; what they show is checked through the DOM.

use std::time::{Duration, Instant};

use talkdesk_sim::{Alg, InstallSpec};

use crate::browser::Browser;
use crate::harness::{default_vars, root, shared};
use crate::lifecycle::{sim_for, wait_view};

async fn screenshot(b: &Browser, name: &str) {
    b.screenshot(root().join(format!("target/e2e/screenshots/console-{name}.png")))
        .await;
}

/// The page's source once `pred` holds of it (a click's navigation may still be on its way).
async fn source_until(b: &Browser, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let source = b.page_source().await;
        if pred(&source) {
            return source;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; the page shows:\n{source}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_operator_signs_in_lists_filters_opens_an_installation_and_sees_an_action_in_its_timeline(
) {
    let w = shared();
    let sim = sim_for(w);
    let inst = sim
        .install(InstallSpec::new("consoleco", Alg::ES256))
        .await
        .unwrap();
    wait_view(w, &inst.installation_id, |v| v["state"] == "active").await;
    let mut b = Browser::start().await;
    b.watch_csp_violations().await;

    // Without a session: the sign-in form, and a 401.
    b.goto(&w.url("/admin/console/installations")).await;
    let refused = reqwest::get(w.url("/admin/console/installations"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(b.try_find("#installations").await.is_none());
    b.find("#token").await;
    screenshot(&b, "refused").await;

    // Sign in with the operator token.
    b.find("#token")
        .await
        .send_keys(&default_vars()["ADMIN_TOKEN"])
        .await;
    b.find("#sign-in").await.click().await;
    source_until(&b, |s| s.contains("id=\"states\"")).await;
    let cookie = b
        .cookies()
        .await
        .into_iter()
        .find(|c| c.name == "__Host-appconnect_console")
        .expect("the console's session cookie");
    assert!(cookie.http_only, "{cookie:?}");
    screenshot(&b, "overview").await;
    assert!(!b.find_all("#chart-installs svg rect").await.is_empty());

    // List, filtered by account.
    b.goto(&w.url("/admin/console/installations")).await;
    b.find("#q").await.send_keys("consoleco").await;
    b.find("#filter").await.click().await;
    let list = source_until(&b, |s| {
        s.contains("q=consoleco") || s.contains("value=\"consoleco\"")
    })
    .await;
    assert!(list.contains(&inst.installation_id), "{list}");
    let rows = b.find_all("#installations tbody tr").await;
    assert_eq!(rows.len(), 1, "only the account searched for");
    assert!(rows[0].text().await.contains("active"));
    screenshot(&b, "list").await;

    // Open it; act; the action shows in its timeline.
    b.find(&format!(
        "a[href=\"/admin/console/installations/{}\"]",
        inst.installation_id
    ))
    .await
    .click()
    .await;
    source_until(&b, |s| s.contains("id=\"timeline\"")).await;
    assert_eq!(
        b.find("#installation-id").await.text().await,
        inst.installation_id
    );
    b.find("#verify").await.click().await;
    let page = source_until(&b, |s| s.contains("id=\"flash\"")).await;
    assert!(
        b.find("#flash")
            .await
            .text()
            .await
            .contains("Talkdesk says the installation is approved"),
        "{page}"
    );
    let timeline = b.find("#timeline").await.text().await;
    assert!(timeline.contains("verify"), "{timeline}");
    assert!(timeline.contains("app.installed"), "{timeline}");
    screenshot(&b, "installation").await;
    assert!(
        b.csp_violations().await.is_empty(),
        "{:?}",
        b.csp_violations().await
    );

    // Signing out ends the session.
    b.find("#console-sign-out").await.click().await;
    source_until(&b, |s| s.contains("id=\"token\"")).await;
    b.goto(&w.url("/admin")).await;
    b.find("#token").await;
    b.quit();
}
