//! Single sign-on in a real browser: Debian's chromium (over WebDriver) opens the app's launch
//! URL, signs in on the simulator's Talkdesk ID page, and lands on `/app` served by the release
//! wasm in workerd. Screenshots go to `target/e2e/screenshots/`.

use std::time::{Duration, Instant};

use talkdesk_sim::{Alg, InstallSpec, Installed, Simulator};

use crate::browser::Browser;
use crate::harness::{root, shared, Options, Worker};
use crate::lifecycle::{sim_for, sweep, wait_view, WAIT};

/// A simulator for `w` with the worker's callback registered as a redirect URI, and an active
/// installation in account `account`.
async fn installed(w: &Worker, account: &str) -> (Simulator, Installed) {
    let sim = sim_for(w);
    sim.register_redirect_uri(&w.url("/oauth/callback"))
        .unwrap();
    let inst = sim
        .install(InstallSpec::new(account, Alg::ES256))
        .await
        .unwrap();
    wait_view(w, &inst.installation_id, |v| v["state"] == "active").await;
    (sim, inst)
}

async fn screenshot(b: &Browser, name: &str) {
    b.screenshot(root().join(format!("target/e2e/screenshots/{name}.png")))
        .await;
}

/// Opens the launch URL as `user` and signs in on the simulator's page.
async fn sign_in(b: &Browser, w: &Worker, sim: &Simulator, inst: &Installed, user: &str) {
    let launch = sim
        .launch_url(&inst.installation_id, Some(user), &w.base_url)
        .unwrap();
    b.goto(&launch).await;
    // Talkdesk ID shows its sign-in page unless this browser is signed in there already.
    if let Some(button) = b
        .try_find(&format!("button[name=user_id][value=\"{user}\"]"))
        .await
    {
        button.click().await;
    }
}

/// The text of the page's `h1` once it satisfies `pred` (a click's navigation may still be on
/// its way).
async fn heading_until(b: &Browser, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(h1) = b.try_find("h1").await {
            // The element may belong to the page being left.
            if let Ok(text) = h1.try_text().await {
                if pred(&text) {
                    return text;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out; the page shows:\n{}",
            b.page_source().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Loads `/app` (running the cron sweep between looks) until `pred` holds of its source.
async fn app_until(b: &Browser, w: &Worker, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        b.goto(&w.url("/app")).await;
        let source = b.page_source().await;
        if pred(&source) {
            return source;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; /app shows:\n{source}"
        );
        sweep(w).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_agent_signs_in_from_talkdesk_in_a_real_browser_and_sees_their_first_page() {
    let w = shared();
    let (sim, inst) = installed(w, "acme").await;
    let agent = &inst.users[0];
    let b = Browser::start().await;
    b.watch_csp_violations().await;
    sign_in(&b, w, &sim, &inst, &agent.id).await;
    let url = b
        .wait_for_url(|u| u.ends_with("/app"), Duration::from_secs(20))
        .await;
    assert_eq!(url, w.url("/app"), "no code or state is left in the URL");
    assert_eq!(b.find("#agent-name").await.text().await, agent.name);
    assert_eq!(b.find("#account-name").await.text().await, "acme");
    assert_eq!(
        b.find("#licensed-users")
            .await
            .text()
            .await
            .split(' ')
            .next(),
        Some("3")
    );
    assert_eq!(b.find("#health").await.text().await, "Connected");
    // Talkdesk's header script loaded under the page's CSP, and nothing was blocked.
    assert!(b
        .find("#talkdesk-header")
        .await
        .text()
        .await
        .contains("Talkdesk"));
    let violations = b.csp_violations().await;
    assert!(violations.is_empty(), "{violations:?}");
    screenshot(&b, "sso-home").await;

    // The session cookie as the browser holds it.
    let session = b
        .all_cookies()
        .await
        .into_iter()
        .find(|c| c.name == "__Host-appconnect_session")
        .expect("a session cookie");
    assert!(session.http_only && session.secure, "{session:?}");
    assert_eq!(session.same_site, "None");
    assert!(session.partition.is_some(), "{session:?}");

    // Signing out ends the session: the page is gone.
    b.find("#sign-out").await.click().await;
    heading_until(&b, |h| h.contains("signed out")).await;
    screenshot(&b, "sso-signed-out").await;
    b.goto(&w.url("/app")).await;
    assert!(b.try_find("#agent-name").await.is_none());
    assert!(b.page_source().await.contains("Open the app from Talkdesk"));
}

#[tokio::test]
async fn an_unlicensed_user_sees_the_licence_page() {
    let w = shared();
    let (sim, inst) = installed(w, "initech").await;
    let outsider = &inst.unlicensed_users[0];
    let b = Browser::start().await;
    sign_in(&b, w, &sim, &inst, &outsider.id).await;
    heading_until(&b, |h| h == "You don't have a licence for this app").await;
    assert!(b
        .page_source()
        .await
        .contains("Ask your Talkdesk admin for a licence"));
    screenshot(&b, "sso-unlicensed").await;
    b.goto(&w.url("/app")).await;
    assert!(b.try_find("#agent-name").await.is_none());
}

#[tokio::test]
async fn a_user_logout_event_and_an_uninstall_each_end_the_session() {
    let w = shared();
    let (sim, inst) = installed(w, "umbrella").await;
    let agent = inst.users[1].clone();
    let b = Browser::start().await;
    sign_in(&b, w, &sim, &inst, &agent.id).await;
    app_until(&b, w, |s| s.contains("id=\"agent-name\"")).await;

    sim.logout(&inst.installation_id, &agent.id).await.unwrap();
    app_until(&b, w, |s| !s.contains("id=\"agent-name\"")).await;

    // Signed in again (Talkdesk signs in at once after its own logout page), then uninstalled.
    sign_in(&b, w, &sim, &inst, &agent.id).await;
    app_until(&b, w, |s| s.contains("id=\"agent-name\"")).await;
    sim.uninstall(&inst.installation_id, "user", "done")
        .await
        .unwrap();
    let page = app_until(&b, w, |s| !s.contains("id=\"agent-name\"")).await;
    assert!(page.contains("Open the app from Talkdesk"), "{page}");
    // And launching again says the app is gone.
    b.goto(
        &sim.launch_url(&inst.installation_id, Some(&agent.id), &w.base_url)
            .unwrap(),
    )
    .await;
    heading_until(&b, |h| h == "The app was uninstalled").await;
}

/// A page on another site (`http://localhost:{port}`, as Talkdesk's web app is to the app)
/// that shows `src` in a frame. Serves until the test process ends.
fn framing_page_on(listener: std::net::TcpListener, src: &str) -> String {
    use std::io::{Read, Write};
    let port = listener.local_addr().unwrap().port();
    let html = format!(
        "<!doctype html><title>Talkdesk</title><h1>Talkdesk</h1>\
         <iframe id=\"app\" src=\"{src}\" width=\"1200\" height=\"700\"></iframe>"
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    format!("http://localhost:{port}")
}

#[tokio::test]
async fn sign_in_also_works_framed_inside_another_site() {
    // The app's own worker, allowing the framing site; Talkdesk's page is at another site
    // (localhost), so the app is a third party in the frame.
    let mut options = Options::default();
    // The framing site's port goes into the worker's settings before either starts.
    // Bound now and held, so nothing else (the worker's own ports) can take it meanwhile.
    let frame_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let frame_port = frame_listener.local_addr().unwrap().port();
    options.vars.insert(
        "FRAME_ANCESTORS".into(),
        format!("'self' http://localhost:{frame_port}"),
    );
    let w = Worker::start(options);
    let (sim, inst) = installed(&w, "framed").await;
    let agent = &inst.users[0];
    let launch = sim
        .launch_url(&inst.installation_id, Some(&agent.id), &w.base_url)
        .unwrap();
    let top = framing_page_on(frame_listener, &launch);
    sim.allow_sign_in_framing(&top);
    let b = Browser::start().await;
    b.goto(&top).await;
    let frame = b.find("#app").await;
    b.command(
        reqwest::Method::POST,
        "/frame",
        Some(serde_json::json!({ "id": frame.as_arg() })),
    )
    .await
    .unwrap();
    b.find(&format!("button[name=user_id][value=\"{}\"]", agent.id))
        .await
        .click()
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let name = loop {
        if let Some(el) = b.try_find("#agent-name").await {
            if let Ok(text) = el.try_text().await {
                break text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the frame shows:\n{}",
            b.page_source().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(name, agent.name);
    b.command(
        reqwest::Method::POST,
        "/frame/parent",
        Some(serde_json::json!({})),
    )
    .await
    .unwrap();
    screenshot(&b, "sso-framed").await;
    // The session lives in the framing site's partition only.
    let session = b
        .all_cookies()
        .await
        .into_iter()
        .find(|c| c.name == "__Host-appconnect_session")
        .expect("a session cookie");
    assert_eq!(
        session.partition.as_deref(),
        Some("http://localhost"),
        "{session:?}"
    );
}

/// Time from opening the launch URL to a rendered `/app` (load event), for an agent already
/// signed in to Talkdesk ID (as when they click the app inside Talkdesk), and the page's bytes.
/// Opt-in: `make bench`.
#[tokio::test]
#[ignore = "benchmark: make bench"]
async fn bench_sso_launch_to_rendered_app() {
    let w = shared();
    let (sim, inst) = installed(w, "benchco").await;
    let agent = &inst.users[0];
    let b = Browser::start().await;
    // The first sign-in picks the user on Talkdesk ID's page; later launches go straight through.
    sign_in(&b, w, &sim, &inst, &agent.id).await;
    b.wait_for_url(|u| u.ends_with("/app"), Duration::from_secs(20))
        .await;
    let launch = sim
        .launch_url(&inst.installation_id, Some(&agent.id), &w.base_url)
        .unwrap();
    let mut navigation = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        b.goto(&launch).await;
        b.find("#agent-name").await;
        wall.push(started.elapsed().as_secs_f64() * 1000.0);
        navigation.push(b.navigation_ms().await);
    }
    let bytes = b
        .execute(
            "const [n] = performance.getEntriesByType('navigation'); return n.decodedBodySize;",
            &[],
        )
        .await;
    let gzip = {
        use std::io::Write;
        let html = b.page_source().await;
        let mut gz = std::process::Command::new("gzip")
            .arg("-9c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        gz.stdin.take().unwrap().write_all(html.as_bytes()).unwrap();
        gz.wait_with_output().unwrap().stdout.len()
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let table = format!(
        "| measure | value |\n|---|---|\n\
         | `/launch` → Talkdesk ID → `/oauth/callback` → rendered `/app`, median of 15 (Navigation Timing, load event end) | {:.0} ms |\n\
         | the same, wall clock seen by the test (WebDriver round trips included) | {:.0} ms |\n\
         | `/app` HTML | {bytes} bytes ({gzip} gzip), one stylesheet inline, one script (Talkdesk's header) |",
        median(navigation),
        median(wall),
    );
    println!("\n{table}\n");
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("sso.md"), format!("{table}\n")).unwrap();
}

#[tokio::test]
async fn the_persons_paths_answer_errors_as_html_pages() {
    let w = shared();
    let client = reqwest::Client::new();
    let wrong_method = client.get(w.url("/logout")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST");
    assert!(wrong_method.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = wrong_method.text().await.unwrap();
    assert!(body.contains("This page cannot be used that way"), "{body}");
    let not_a_form = client
        .post(w.url("/logout"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), 415);
    assert!(not_a_form.text().await.unwrap().contains("<h1>"));
    // The API paths keep answering JSON.
    let api = client.get(w.url("/events/x")).send().await.unwrap();
    assert_eq!(api.headers()["content-type"], "application/json");
}
