//! Before the answer: what `POST /events` and the operator API refuse, and that a refusal stores
//! nothing and calls nobody.

use appconnect_core::app::{self, Head};
use appconnect_core::http::Route;
use serde_json::{json, Value};
use talkdesk_sim::{Alg, InstallSpec};

use crate::app::{forged_install, TestApp, ADMIN_TOKEN, CALLBACK_TOKEN};

const TABLES: [&str; 6] = [
    "events",
    "installations",
    "jobs",
    "installation_users",
    "accounts",
    "access_tokens",
];

fn rows(app: &TestApp) -> i64 {
    TABLES
        .iter()
        .map(|t| app.count(&format!("SELECT COUNT(*) AS n FROM {t}")))
        .sum()
}

/// A genuine `app.installed`, not delivered.
async fn genuine_install(app: &TestApp) -> Value {
    app.sim
        .install_without_sending(InstallSpec::new("acme", Alg::ES256))
        .await
        .unwrap()
        .event
}

#[tokio::test]
async fn malformed_events_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::new();
    let good = genuine_install(&app).await;
    let with = |path: &[&str], v: Value| {
        let mut e = good.clone();
        let mut at = &mut e;
        for k in &path[..path.len() - 1] {
            at = &mut at[*k];
        }
        at[path[path.len() - 1]] = v;
        e.to_string().into_bytes()
    };
    let cases: Vec<(Vec<u8>, u16, &str, &str)> = vec![
        (b"not json".to_vec(), 400, "invalid_event", "$"),
        (b"[]".to_vec(), 400, "invalid_event", "$"),
        (
            with(&["app_id"], json!("someone-elses-app")),
            400,
            "wrong_app",
            "app_id",
        ),
        (
            with(&["_links", "root", "href"], json!("https://evil.example/")),
            400,
            "invalid_event",
            "_links.root.href",
        ),
        (
            with(&["data", "key_algorithm"], json!("PS256")),
            400,
            "invalid_event",
            "data.private_key",
        ),
        (
            with(&["data", "account_name"], json!("../acme")),
            400,
            "invalid_event",
            "data.account_name",
        ),
        (
            with(&["data", "client_id"], Value::Null),
            400,
            "invalid_event",
            "data.client_id",
        ),
    ];
    for (body, status, error, path) in cases {
        let (got, reply, run) = app.post(&body).await;
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(80)
            .collect::<String>();
        assert_eq!(got, status, "{shown}: {reply}");
        assert_eq!(reply["error"], error, "{shown}: {reply}");
        assert_eq!(reply["path"], path, "{shown}: {reply}");
        assert_eq!(run, None);
    }
    assert_eq!(rows(&app), 0);
    assert!(app.sim.requests().is_empty(), "{:?}", app.sim.requests());
}

#[tokio::test]
async fn an_event_that_is_not_json_is_refused_before_its_body_is_read() {
    let app = TestApp::new();
    for content_type in [None, Some("text/plain"), Some("application/jsonx")] {
        let head = Head {
            path: "/events".into(),
            content_type: content_type.map(str::to_owned),
            ..Head::default()
        };
        let refused = app::precheck(&app.config, &callback(), &head).expect("refused");
        assert_eq!(refused.status, 415, "{content_type:?}");
    }
    let json = Head {
        content_type: Some("Application/JSON; charset=utf-8".into()),
        ..Head::default()
    };
    assert!(app::precheck(&app.config, &callback(), &json).is_none());
}

fn callback() -> Route {
    Route::Events(CALLBACK_TOKEN.into())
}

#[tokio::test]
async fn an_event_posted_without_the_callback_token_finds_nothing_and_changes_nothing() {
    let app = TestApp::new();
    let event = genuine_install(&app).await;
    let json = Head {
        content_type: Some("application/json".into()),
        ..Head::default()
    };
    let mut wrong = CALLBACK_TOKEN.to_owned();
    wrong.replace_range(0..1, "A");
    for token in [
        wrong.as_str(),
        "x",
        &CALLBACK_TOKEN[..CALLBACK_TOKEN.len() - 1],
    ] {
        let refused =
            app::precheck(&app.config, &Route::Events(token.into()), &json).expect("refused");
        assert_eq!(refused.status, 404, "{token}");
        assert!(!refused.body.contains(token), "{}", refused.body);
    }
    // Neither the bare path nor another method says anything about the token.
    for (method, path) in [
        ("POST", "/events".to_owned()),
        ("GET", format!("/events/{CALLBACK_TOKEN}")),
        ("PUT", format!("/events/{CALLBACK_TOKEN}")),
    ] {
        let e = appconnect_core::http::route(method, &path).unwrap_err();
        let reply = e.reply();
        assert_eq!(reply.status, 404, "{method} {path}");
        assert!(!reply.body.contains(CALLBACK_TOKEN), "{}", reply.body);
    }
    let _ = event;
    assert_eq!(rows(&app), 0);
    assert!(app.sim.requests().is_empty());
}

#[tokio::test]
async fn the_operator_api_wants_the_exact_bearer_token() {
    let app = TestApp::new();
    for auth in [
        None,
        Some("Bearer wrong-token-of-enough-length-x".to_owned()),
        Some(ADMIN_TOKEN.to_owned()),
        Some(format!("bearer {ADMIN_TOKEN}")),
    ] {
        let head = Head {
            authorization: auth.clone(),
            ..Head::default()
        };
        let refused =
            app::precheck(&app.config, &Route::AdminInstallations, &head).expect("refused");
        assert_eq!(refused.status, 401, "{auth:?}");
    }
    let head = Head {
        authorization: Some(format!("Bearer {ADMIN_TOKEN}")),
        ..Head::default()
    };
    assert!(app::precheck(&app.config, &Route::AdminInstallations, &head).is_none());
}

#[tokio::test]
async fn operator_requests_with_bad_input_are_4xx_and_change_nothing() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let before = rows(&app);
    let call = |route: Route, query: Vec<(String, String)>, body: &'static [u8]| {
        let head = Head {
            query,
            ..Head::default()
        };
        let app = &app;
        async move {
            let handled = app::handle(&app.ports, &app.config, route, &head, body).await;
            let v: Value = serde_json::from_str(&handled.reply.body).unwrap();
            (handled.reply.status, v)
        }
    };
    for limit in ["0", "101", "ten", "-1"] {
        let (status, v) = call(
            Route::AdminInstallations,
            vec![("limit".into(), limit.into())],
            b"",
        )
        .await;
        assert_eq!(status, 400, "{limit}: {v}");
        assert_eq!(v["path"], "limit");
    }
    let (status, _) = call(Route::AdminInstallation("nope".into()), vec![], b"").await;
    assert_eq!(status, 404);
    for body in [&b"[1]"[..], b"{", b"\"x\""] {
        let (status, v) = call(
            Route::AdminAccountSettings(inst.account_id.clone()),
            vec![],
            body,
        )
        .await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"], "invalid_settings");
    }
    let (status, _) = call(Route::AdminAccountSettings("nope".into()), vec![], b"{}").await;
    assert_eq!(status, 404);
    assert_eq!(rows(&app), before);
    let settings = app.ports.db.select("SELECT settings FROM accounts");
    assert_eq!(settings[0]["settings"], "{}");
}

#[tokio::test]
async fn the_operator_list_pages_by_cursor() {
    let app = TestApp::new();
    for _ in 0..3 {
        app.install(Alg::ES256).await;
    }
    let page = |cursor: Option<String>| {
        let mut query = vec![("limit".to_owned(), "2".to_owned())];
        query.extend(cursor.map(|c| ("cursor".to_owned(), c)));
        let head = Head {
            query,
            ..Head::default()
        };
        let app = &app;
        async move {
            let handled = app::handle(
                &app.ports,
                &app.config,
                Route::AdminInstallations,
                &head,
                b"",
            )
            .await;
            serde_json::from_str::<Value>(&handled.reply.body).unwrap()
        }
    };
    let first = page(None).await;
    assert_eq!(
        first["installations"].as_array().unwrap().len(),
        2,
        "{first}"
    );
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = page(Some(cursor)).await;
    assert_eq!(
        second["installations"].as_array().unwrap().len(),
        1,
        "{second}"
    );
    assert_eq!(second["next_cursor"], Value::Null);
    let text = format!("{first}{second}");
    assert!(!text.contains("sealed") && !text.contains("v1."), "{text}");
}

#[tokio::test]
async fn events_for_an_installation_with_too_much_waiting_work_are_kept_but_parked_calling_nobody()
{
    use appconnect_core::lifecycle::intake::MAX_PENDING_PER_INSTALLATION;
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let id = &inst.installation_id;
    // A flood has left the installation with a full queue.
    for i in 0..MAX_PENDING_PER_INSTALLATION {
        app.ports
            .db
            .raw()
            .execute(
                "INSERT INTO jobs (installation_id, event_id, kind, state, next_attempt_at, \
                 deadline_at, created_at, updated_at) \
                 VALUES (?1, ?2, 'update', 'pending', 9e15, 9e15, 0, 0)",
                [id.as_str(), &format!("flood-{i}")],
            )
            .unwrap();
    }
    app.sim.trial_started(id).await.unwrap();
    let event = crate::app::held_one(&app);
    let calls = app.sim.requests().len();
    let (status, reply, run) = app.post(event.to_string().as_bytes()).await;
    // Stored (a refusal could lose a genuine event: Talkdesk retries only twice), parked at
    // once, run by nobody.
    assert_eq!(status, 200, "{reply}");
    assert_eq!(run, None);
    assert_eq!(
        app.event_status(reply["event_id"].as_str().unwrap()),
        "unconfirmed"
    );
    app.settle().await;
    assert_eq!(app.sim.requests().len(), calls, "no call for it");
    let v = app.view(id).await;
    assert!(
        v["unconfirmed"][0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("parked on arrival"),
        "{v}"
    );
}

#[tokio::test]
async fn a_forged_installation_is_purged_with_its_tokens_an_hour_after_it_was_judged() {
    let app = TestApp::new();
    let genuine = app.undelivered_install(Alg::ES256).await;
    let mut forged = forged_install(&genuine.event, "forged-install");
    forged["data"]["installation_id"] = json!("inst-forged");
    app.deliver(&forged).await;
    app.settle().await;
    assert_eq!(app.view("inst-forged").await["state"], "forged");
    // A stale token row, as a forged installation could leave behind, and the genuine
    // installation's, which must survive.
    app.deliver(&genuine.event).await;
    app.ports
        .db
        .raw()
        .execute(
            "INSERT INTO access_tokens (token_key) VALUES ('token:inst-forged:c:apps:read')",
            [],
        )
        .unwrap();
    // A later event caches the genuine installation's token.
    app.sim
        .trial_started(&genuine.installation_id)
        .await
        .unwrap();
    app.deliver_held().await;
    let genuine_tokens = app.count(&format!(
        "SELECT COUNT(*) AS n FROM access_tokens WHERE token_key LIKE 'token:{}:%'",
        genuine.installation_id
    ));
    assert!(genuine_tokens >= 1);
    // An hour later (scaled: 3.6 s) the sweep deletes it; its event stays for dedupe.
    tokio::time::sleep(std::time::Duration::from_millis(3700)).await;
    appconnect_core::lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM installations WHERE installation_id = 'inst-forged'"),
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM access_tokens"),
        genuine_tokens,
        "only the forgery's tokens go"
    );
    assert_eq!(app.view(&genuine.installation_id).await["state"], "active");
    assert_eq!(app.event_status("forged-install"), "forged");
}

#[tokio::test]
async fn an_unproven_installation_with_no_candidate_left_is_purged_but_one_waiting_is_kept() {
    let app = TestApp::new();
    let kept = app.install(Alg::ES256).await;
    let gone = app.install(Alg::ES256).await;
    // Both never proven; one's last candidate was discarded, the other's is parked for the
    // operator.
    let raw = app.ports.db.raw();
    raw.execute(
        "UPDATE installations SET state = 'received', updated_at = 0",
        [],
    )
    .unwrap();
    raw.execute(
        "UPDATE jobs SET state = 'failed' WHERE installation_id = ?1",
        [&gone.installation_id],
    )
    .unwrap();
    raw.execute(
        "UPDATE jobs SET state = 'unconfirmed' WHERE installation_id = ?1",
        [&kept.installation_id],
    )
    .unwrap();
    appconnect_core::lifecycle::sweep(&app.ports, &app.settings(), 25)
        .await
        .unwrap();
    let ids: Vec<String> = app
        .ports
        .db
        .select("SELECT installation_id FROM installations")
        .iter()
        .map(|r| r["installation_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![kept.installation_id.clone()]);
}
