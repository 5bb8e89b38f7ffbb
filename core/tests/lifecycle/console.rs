//! The operator console's sign-in, CSRF and actions, natively (the browser tier drives the
//! same pages in chromium).

use appconnect_core::app::Head;
use appconnect_core::http::Route;
use talkdesk_sim::Alg;

use super::app::{TestApp, ADMIN_TOKEN};

fn head(cookie: Option<&str>) -> Head {
    Head {
        content_type: Some("application/x-www-form-urlencoded".into()),
        cookie: cookie.map(str::to_owned),
        ..Default::default()
    }
}

async fn call(
    app: &TestApp,
    route: Route,
    head: &Head,
    body: &str,
) -> appconnect_core::app::Handled {
    appconnect_core::app::handle(&app.ports, &app.config, route, head, body.as_bytes()).await
}

/// Signs in and returns the `Cookie` header value.
async fn sign_in(app: &TestApp) -> String {
    let r = call(
        app,
        Route::ConsoleLogin,
        &head(None),
        &format!("token={ADMIN_TOKEN}"),
    )
    .await
    .reply;
    assert_eq!(r.status, 303, "{}", r.body);
    let set = r.header("set-cookie").unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure"));
    set.split(';').next().unwrap().to_owned()
}

fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    body[at..at + 43].to_owned()
}

#[tokio::test]
async fn without_a_session_every_console_page_is_the_sign_in_form_with_401() {
    let app = TestApp::new();
    for route in [
        Route::ConsoleHome,
        Route::ConsoleList,
        Route::ConsoleInstallation("x".into()),
    ] {
        let r = call(&app, route, &head(None), "").await.reply;
        assert_eq!(r.status, 401);
        assert!(r.body.contains("action=\"/admin/login\""), "{}", r.body);
    }
    let wrong = call(&app, Route::ConsoleLogin, &head(None), "token=guess")
        .await
        .reply;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    let forged = call(
        &app,
        Route::ConsoleList,
        &head(Some(
            "__Host-appconnect_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )),
        "",
    )
    .await
    .reply;
    assert_eq!(forged.status, 401, "an unknown session id is no session");
}

#[tokio::test]
async fn a_signed_in_operator_lists_filters_opens_and_acts_with_the_forms_token_only() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let cookie = sign_in(&app).await;
    let mut list_head = head(Some(&cookie));
    list_head.query = vec![
        ("q".into(), "acm".into()),
        ("state".into(), "active".into()),
    ];
    let list = call(&app, Route::ConsoleList, &list_head, "").await.reply;
    assert_eq!(list.status, 200);
    assert!(list.body.contains(&inst.installation_id), "{}", list.body);
    list_head.query = vec![("state".into(), "uninstalled".into())];
    let none = call(&app, Route::ConsoleList, &list_head, "").await.reply;
    assert!(!none.body.contains(&inst.installation_id), "filtered out");
    let page = call(
        &app,
        Route::ConsoleInstallation(inst.installation_id.clone()),
        &head(Some(&cookie)),
        "",
    )
    .await
    .reply;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("BEGIN PRIVATE KEY"));
    let csrf = csrf_of(&page.body);
    let action = Route::ConsoleAction(inst.installation_id.clone(), "retry".into());
    let refused = call(&app, action.clone(), &head(Some(&cookie)), "csrf=wrong")
        .await
        .reply;
    assert_eq!(refused.status, 403);
    let done = call(&app, action, &head(Some(&cookie)), &format!("csrf={csrf}")).await;
    assert_eq!(done.reply.status, 303);
    let page = call(
        &app,
        Route::ConsoleInstallation(inst.installation_id.clone()),
        &head(Some(&cookie)),
        "",
    )
    .await
    .reply;
    assert!(
        page.body.contains("retry_now"),
        "the action is in the timeline"
    );
    // Regenerating the key needs the confirmation ticked.
    let key = Route::ConsoleAction(inst.installation_id.clone(), "integration-key".into());
    let unconfirmed = call(
        &app,
        key.clone(),
        &head(Some(&cookie)),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(unconfirmed.reply.status, 400);
}

#[tokio::test]
async fn the_installation_page_offers_settings_webhooks_and_unconfirmed_events_and_saves_settings()
{
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let cookie = sign_in(&app).await;
    let id = inst.installation_id.clone();
    let page = call(
        &app,
        Route::ConsoleInstallation(id.clone()),
        &head(Some(&cookie)),
        "",
    )
    .await
    .reply;
    let csrf = csrf_of(&page.body);
    assert!(page.body.contains("id=\"settings-json\""));
    let saved = call(
        &app,
        Route::ConsoleAction(id.clone(), "settings".into()),
        &head(Some(&cookie)),
        &format!("csrf={csrf}&settings=%7B%22tier%22%3A%22gold%22%7D"),
    )
    .await
    .reply;
    assert_eq!(saved.status, 303);
    let page = call(
        &app,
        Route::ConsoleInstallation(id.clone()),
        &head(Some(&cookie)),
        "",
    )
    .await
    .reply;
    assert!(page.body.contains("gold"), "the settings were saved");
    assert!(
        page.body.contains("class=\"job\""),
        "finished jobs are in the timeline"
    );
    // An event of another installation cannot be acted on from this page.
    let other = call(
        &app,
        Route::ConsoleAction(id.clone(), "replay".into()),
        &head(Some(&cookie)),
        &format!("csrf={csrf}&event_id=not-this-installations"),
    )
    .await
    .reply;
    let location = other.header("location").unwrap_or_default().to_owned();
    assert!(location.contains("not+this+installation"), "{location}");
}
