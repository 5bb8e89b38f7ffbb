//! Single sign-on from Talkdesk: launch, the simulator's sign-in, the callback's checks,
//! sessions and how they end.

use appconnect_core::http::Route;
use talkdesk_sim::{Alg, AuthorizeMode, Endpoint, IdTokenFault, InstallSpec};

use super::app::TestApp;
use super::sso::{param, Jar, BASE};

async fn active() -> (TestApp, talkdesk_sim::Installed) {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    (app, inst)
}

fn first_user(inst: &talkdesk_sim::Installed) -> String {
    inst.users[0].id.clone()
}

#[tokio::test]
async fn a_licensed_agent_signs_in_and_sees_their_name_and_account() {
    let (app, inst) = active().await;
    let (reply, mut jar) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE}/app").as_str())
    );
    let home = app.home(&mut jar).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains(&inst.users[0].name), "{}", home.body);
    assert!(
        home.body.contains("id=\"account-name\">acme<"),
        "{}",
        home.body
    );
    assert_eq!(app.sessions(), 1);
}

#[tokio::test]
async fn launch_sends_the_browser_to_the_installations_authorize_url_with_every_parameter() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let reply = app.launch(&mut jar, &inst.installation_id).await;
    assert_eq!(reply.status, 303);
    let to = reply.header("location").unwrap();
    assert!(
        to.starts_with(&format!("{}/oauth/authorize?", app.sim.base_url())),
        "{to}"
    );
    assert_eq!(param(to, "client_id"), Some(inst.client_id.clone()));
    assert_eq!(
        param(to, "redirect_uri"),
        Some(format!("{BASE}/oauth/callback"))
    );
    assert_eq!(param(to, "response_type").as_deref(), Some("code"));
    assert!(param(to, "scope")
        .unwrap()
        .split(' ')
        .any(|s| s == "openid"));
    assert_eq!(param(to, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(to, "code_challenge").unwrap().len(), 43);
    assert!(param(to, "nonce").is_some() && param(to, "state").is_some());
    // The state is sealed: it names neither the installation nor anything readable.
    assert!(!param(to, "state").unwrap().contains(&inst.installation_id));
    assert!(jar.0.contains_key("__Host-appconnect_signin"), "{jar:?}");
    // An anonymous launch writes nothing.
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_states"), 0);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn launch_explains_installations_that_cannot_sign_in_yet_with_html_pages() {
    let app = TestApp::new();
    let mut jar = Jar::default();
    let unknown = app.launch(&mut jar, "no-such-installation").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(unknown.body.contains("not installed"), "{}", unknown.body);

    let installing = app.undelivered_install(Alg::ES256).await;
    // Stored, its job not run yet.
    app.post(installing.event.to_string().as_bytes()).await;
    let page = app.launch(&mut jar, &installing.installation_id).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("Almost ready"));

    app.settle().await;
    app.sim
        .uninstall(&installing.installation_id, "user", "bye")
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    let gone = app.launch(&mut jar, &installing.installation_id).await;
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert!(gone.body.contains("uninstalled"));

    let missing = app.visit(&mut jar, Route::Launch, vec![], b"").await;
    assert_eq!(missing.status, 401);
    assert!(missing.body.contains("Open the app from Talkdesk"));
    let junk = app
        .visit(
            &mut jar,
            Route::Launch,
            vec![("talkdesk_installation_id".into(), "../x".into())],
            b"",
        )
        .await;
    assert_eq!(junk.status, 400);
    assert!(junk.body.contains("talkdesk_installation_id"));
}

/// Launches, lets the user sign in at Talkdesk, and returns where Talkdesk sends them back.
async fn returned(app: &TestApp, jar: &mut Jar, installation_id: &str, user: &str) -> String {
    let launched = app.launch(jar, installation_id).await;
    app.choose_user(launched.header("location").unwrap(), user)
        .await
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == name {
                (k, value.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.into()
}

fn code_exchanges(app: &TestApp) -> usize {
    app.sim
        .requests_to(Endpoint::Token)
        .iter()
        .filter(|r| r.body["grant_type"] == "authorization_code")
        .count()
}

#[tokio::test]
async fn a_tampered_state_is_refused_before_any_call_to_talkdesk() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let back = returned(&app, &mut jar, &inst.installation_id, &first_user(&inst)).await;
    let state = param(&back, "state").unwrap();
    let mut bytes = state.into_bytes();
    let i = bytes.len() - 3;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = with_param(&back, "state", &String::from_utf8(bytes).unwrap());
    let before = code_exchanges(&app);
    let reply = app.come_back(&mut jar, &tampered).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("altered"), "{}", reply.body);
    assert_eq!(code_exchanges(&app), before);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn a_state_from_another_browser_is_refused() {
    let (app, inst) = active().await;
    let mut mine = Jar::default();
    let back = returned(&app, &mut mine, &inst.installation_id, &first_user(&inst)).await;
    // The attacker's browser started its own sign-in: it has a binding cookie, another one.
    let mut theirs = Jar::default();
    app.launch(&mut theirs, &inst.installation_id).await;
    let reply = app.come_back(&mut theirs, &back).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("another browser"), "{}", reply.body);
    let mut none = Jar::default();
    assert_eq!(app.come_back(&mut none, &back).await.status, 400);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn a_state_is_single_use() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let back = returned(&app, &mut jar, &inst.installation_id, &first_user(&inst)).await;
    let binding = jar.clone();
    assert_eq!(app.come_back(&mut jar, &back).await.status, 303);
    let mut again = binding;
    let exchanges = code_exchanges(&app);
    let reply = app.come_back(&mut again, &back).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("This sign-in link was used already."),
        "{}",
        reply.body
    );
    assert_eq!(
        code_exchanges(&app),
        exchanges,
        "refused before Talkdesk is asked"
    );
    assert_eq!(app.sessions(), 1);
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let back = returned(&app, &mut jar, &inst.installation_id, &first_user(&inst)).await;
    app.ports.clock.advance(10 * 60 * 1000 + 1);
    let reply = app.come_back(&mut jar, &back).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("too long"), "{}", reply.body);
}

#[tokio::test]
async fn a_code_from_another_installation_does_not_sign_in() {
    let app = TestApp::new();
    let a = app.active(Alg::ES256).await;
    let b = app
        .active_spec(InstallSpec::new("globex", Alg::PS256))
        .await;
    let mut jar = Jar::default();
    let back_a = returned(&app, &mut jar, &a.installation_id, &first_user(&a)).await;
    let back_b = returned(&app, &mut jar, &b.installation_id, &first_user(&b)).await;
    // A's state with B's code: exchanged with A's credentials, Talkdesk refuses it.
    let mixed = with_param(&back_a, "code", &param(&back_b, "code").unwrap());
    let reply = app.come_back(&mut jar, &mixed).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("did not accept"), "{}", reply.body);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let (app, inst) = active().await;
    let user = first_user(&inst);
    let (first, _) = app.sign_in(&inst.installation_id, &user).await;
    assert_eq!(first.status, 303);
    app.sim.set_authorize_mode(AuthorizeMode::Replay);
    let (reply, _) = app.sign_in(&inst.installation_id, &user).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("invalid_grant"), "{}", reply.body);
    assert_eq!(app.sessions(), 1);
}

#[tokio::test]
async fn a_denied_sign_in_shows_a_page_and_starts_nothing() {
    let (app, inst) = active().await;
    app.sim.set_authorize_mode(AuthorizeMode::Deny);
    let (reply, _) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("cancelled"), "{}", reply.body);
    assert_eq!(code_exchanges(&app), 0);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn every_bad_id_token_claim_is_refused() {
    for fault in [
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongAudience,
        IdTokenFault::Expired,
        IdTokenFault::WrongNonce,
        IdTokenFault::MissingNonce,
        IdTokenFault::OtherSubject,
    ] {
        let (app, inst) = active().await;
        app.sim.tamper_next_id_token(fault);
        let (reply, _) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
        assert_eq!(reply.status, 400, "{fault:?}: {}", reply.body);
        assert!(
            reply.body.contains("did not check out"),
            "{fault:?}: {}",
            reply.body
        );
        assert_eq!(app.sessions(), 0, "{fault:?}");
    }
}

#[tokio::test]
async fn an_unlicensed_user_gets_a_403_page_and_no_session() {
    let (app, inst) = active().await;
    let outsider = inst.unlicensed_users[0].clone();
    let (reply, _) = app.sign_in(&inst.installation_id, &outsider.id).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.body.contains("Ask your Talkdesk admin for a licence"),
        "{}",
        reply.body
    );
    assert_eq!(app.sessions(), 0);
}

fn user_reads(app: &TestApp) -> usize {
    app.sim.requests_to(Endpoint::Users).len()
}

#[tokio::test]
async fn unlicensed_sign_ins_reread_the_users_at_most_once_a_minute() {
    let (app, inst) = active().await;
    let outsider = inst.unlicensed_users[0].id.clone();
    let before = user_reads(&app);
    for _ in 0..3 {
        let (reply, _) = app.sign_in(&inst.installation_id, &outsider).await;
        assert_eq!(reply.status, 403);
    }
    assert_eq!(user_reads(&app), before + 1);
    // A minute later the mark has expired (KV drops it).
    app.ports
        .cache
        .values
        .borrow_mut()
        .retain(|k, _| !k.starts_with("users-reread:"));
    app.sign_in(&inst.installation_id, &outsider).await;
    assert_eq!(user_reads(&app), before + 2);
}

#[tokio::test]
async fn a_licence_granted_since_the_last_update_is_found_by_reading_users_again() {
    let (app, inst) = active().await;
    let outsider = inst.unlicensed_users[0].clone();
    // Talkdesk grants the licence; the update event has not arrived yet (it is held).
    app.sim
        .update(
            &inst.installation_id,
            talkdesk_sim::UpdateSpec {
                add_users: vec![outsider.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (reply, _) = app.sign_in(&inst.installation_id, &outsider.id).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
}

#[tokio::test]
async fn the_session_cookie_is_host_only_secure_http_only_and_partitioned_and_urls_carry_no_code() {
    let (app, inst) = active().await;
    let (reply, jar) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    let set = reply
        .headers
        .iter()
        .find(|(n, v)| *n == "set-cookie" && v.starts_with("__Host-appconnect_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=None",
        "Partitioned",
        "Path=/",
    ] {
        assert!(
            set.split("; ").any(|a| a == attribute),
            "{attribute}: {set}"
        );
    }
    assert!(!set.contains("Domain"));
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE}/app").as_str())
    );
    // The database keeps only the id's hash.
    let id = jar.session().unwrap();
    let stored = app.ports.db.select("SELECT session_hash FROM sessions");
    assert_ne!(stored[0]["session_hash"].as_str(), Some(id));
    let log = app.ports.log.text();
    assert!(!log.contains(id), "{log}");
    for token in app.sim.issued_user_tokens(&inst.installation_id) {
        assert!(!log.contains(&token.access_token) && !log.contains(&token.id_token));
    }
}

#[tokio::test]
async fn signing_in_again_starts_a_new_session_and_ends_the_one_the_browser_held() {
    let (app, inst) = active().await;
    let user = first_user(&inst);
    let (_, mut jar) = app.sign_in(&inst.installation_id, &user).await;
    let old = jar.session().unwrap().to_owned();
    let reply = app
        .sign_in_with(&mut jar, &inst.installation_id, &user)
        .await;
    assert_eq!(reply.status, 303);
    assert_ne!(jar.session().unwrap(), old);
    assert_eq!(app.sessions(), 1);
    // A session id planted in the browser before sign-in is never adopted.
    let mut planted = Jar::default();
    let fixed = "A".repeat(43);
    planted
        .0
        .insert("__Host-appconnect_session".into(), fixed.clone());
    app.sign_in_with(&mut planted, &inst.installation_id, &user)
        .await;
    assert_ne!(planted.session().unwrap(), fixed);
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 43].to_owned()
}

#[tokio::test]
async fn signing_out_needs_the_pages_csrf_token_and_ends_the_session() {
    let (app, inst) = active().await;
    let (_, mut jar) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    let home = app.home(&mut jar).await;
    let csrf = csrf_of(&home.body);
    let forged = app
        .visit(&mut jar, Route::Logout, vec![], b"csrf=not-the-token")
        .await;
    assert_eq!(forged.status, 403);
    let elsewhere = app
        .post_form_from(&mut jar, "https://evil.example", &format!("csrf={csrf}"))
        .await;
    assert_eq!(elsewhere.status, 403);
    assert!(
        elsewhere.body.contains("another site"),
        "{}",
        elsewhere.body
    );
    assert_eq!(
        app.home(&mut jar).await.status,
        200,
        "a forged form ends nothing"
    );
    let out = app
        .visit(
            &mut jar,
            Route::Logout,
            vec![],
            format!("csrf={csrf}").as_bytes(),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.body.contains("signed out"));
    assert_eq!(jar.session(), None);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn a_genuine_user_logout_ends_that_users_sessions_and_a_forged_one_ends_none() {
    let (app, inst) = active().await;
    let user = first_user(&inst);
    let (_, mut jar) = app.sign_in(&inst.installation_id, &user).await;
    let forged = app.sim.forged_event(
        "user.logout",
        serde_json::json!({
            "installation_id": inst.installation_id,
            "account_id": inst.account_id,
            "user_id": user,
        }),
    );
    app.deliver(&forged).await;
    app.settle().await;
    assert_eq!(
        app.home(&mut jar).await.status,
        200,
        "a forged logout ends nothing"
    );
    app.sim.logout(&inst.installation_id, &user).await.unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(app.sessions(), 0, "the event itself ended the session");
    let after = app.home(&mut jar).await;
    assert_eq!(after.status, 401, "{}", after.body);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn an_uninstall_ends_every_session() {
    let (app, inst) = active().await;
    let (_, mut jar) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    app.sim
        .uninstall(&inst.installation_id, "user", "bye")
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(app.sessions(), 0, "the uninstall itself ended the session");
    assert_eq!(app.home(&mut jar).await.status, 401);
}

#[tokio::test]
async fn a_removed_licence_ends_that_users_sessions() {
    let (app, inst) = active().await;
    let (kept, removed) = (inst.users[0].id.clone(), inst.users[1].id.clone());
    let (_, mut kept_jar) = app.sign_in(&inst.installation_id, &kept).await;
    let (_, mut removed_jar) = app.sign_in(&inst.installation_id, &removed).await;
    app.sim
        .update(
            &inst.installation_id,
            talkdesk_sim::UpdateSpec {
                remove_users: vec![removed.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    assert_eq!(
        app.sessions(),
        1,
        "the update itself ended the removed user's session"
    );
    assert_eq!(app.home(&mut removed_jar).await.status, 401);
    assert_eq!(app.home(&mut kept_jar).await.status, 200);
}

#[tokio::test]
async fn an_expired_session_sends_the_agent_back_through_launch() {
    let (app, inst) = active().await;
    let (_, mut jar) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    app.ports.clock.advance(8 * 3600 * 1000 + 1);
    let reply = app.home(&mut jar).await;
    assert_eq!(reply.status, 303);
    assert_eq!(
        reply.header("location"),
        Some(
            format!(
                "{BASE}/launch?talkdesk_installation_id={}",
                inst.installation_id
            )
            .as_str()
        )
    );
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn without_a_session_the_first_page_says_how_to_open_the_app() {
    let app = TestApp::new();
    let reply = app.home(&mut Jar::default()).await;
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("Open the app from Talkdesk"));
    assert!(reply
        .header("content-security-policy")
        .unwrap()
        .starts_with("default-src 'none'"));
}

#[tokio::test]
async fn two_tabs_of_one_browser_can_sign_in_at_once() {
    let (app, inst) = active().await;
    let user = first_user(&inst);
    let mut jar = Jar::default();
    let back_a = returned(&app, &mut jar, &inst.installation_id, &user).await;
    let back_b = returned(&app, &mut jar, &inst.installation_id, &user).await;
    assert_eq!(app.come_back(&mut jar, &back_a).await.status, 303);
    let second = app.come_back(&mut jar, &back_b).await;
    assert_eq!(second.status, 303, "{}", second.body);
}

#[tokio::test]
async fn an_error_from_talkdesk_is_shown_only_with_a_valid_state() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let attacker_text = vec![
        (
            "error".to_owned(),
            "Call 555-0100 to unlock your account".to_owned(),
        ),
        ("state".to_owned(), "made-up".to_owned()),
    ];
    let reply = app
        .visit(&mut jar, Route::OAuthCallback, attacker_text, b"")
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("altered"), "{}", reply.body);
    assert!(!reply.body.contains("555-0100"));
    let _ = inst;
}

#[tokio::test]
async fn a_repeated_parameter_is_refused() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let back = returned(&app, &mut jar, &inst.installation_id, &first_user(&inst)).await;
    let mut query = super::sso::query_of(&back);
    query.push(("code".into(), "another".into()));
    let reply = app.visit(&mut jar, Route::OAuthCallback, query, b"").await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("is repeated"), "{}", reply.body);
    assert_eq!(code_exchanges(&app), 0);
}

#[tokio::test]
async fn an_uninstall_between_launch_and_callback_signs_nobody_in() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let back = returned(&app, &mut jar, &inst.installation_id, &first_user(&inst)).await;
    app.sim
        .uninstall(&inst.installation_id, "user", "bye")
        .await
        .unwrap();
    app.deliver_held().await;
    app.settle().await;
    let reply = app.come_back(&mut jar, &back).await;
    assert_eq!(reply.status, 410, "{}", reply.body);
    assert_eq!(code_exchanges(&app), 0);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn neither_the_code_nor_the_state_is_logged() {
    let (app, inst) = active().await;
    let mut jar = Jar::default();
    let back = returned(&app, &mut jar, &inst.installation_id, &first_user(&inst)).await;
    app.come_back(&mut jar, &back).await;
    // And a refused one.
    app.come_back(&mut jar, &back).await;
    let log = app.ports.log.text();
    assert!(log.contains("signed_in"), "{log}");
    for secret in [
        param(&back, "code").unwrap(),
        param(&back, "state").unwrap(),
    ] {
        assert!(!log.contains(&secret), "{log}");
    }
}

#[tokio::test]
async fn a_session_is_refused_once_its_installation_is_no_longer_active() {
    let (app, inst) = active().await;
    let (_, mut jar) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    app.ports
        .db
        .raw()
        .execute("UPDATE installations SET state = 'attention'", [])
        .unwrap();
    assert_eq!(app.home(&mut jar).await.status, 401);
    assert_eq!(app.sessions(), 0);
}

#[tokio::test]
async fn the_session_lasts_eight_hours_and_its_csrf_token_is_not_its_stored_hash() {
    let (app, inst) = active().await;
    let (reply, mut jar) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    assert!(reply
        .headers
        .iter()
        .any(|(n, v)| *n == "set-cookie" && v.contains("Max-Age=28800")));
    let csrf = csrf_of(&app.home(&mut jar).await.body);
    let stored = app.ports.db.select("SELECT session_hash FROM sessions");
    assert_ne!(stored[0]["session_hash"].as_str(), Some(csrf.as_str()));
}

#[tokio::test]
async fn sign_ins_beyond_the_per_minute_cap_are_refused_before_talkdesk_is_asked() {
    let (app, inst) = active().await;
    let now = {
        use appconnect_core::ports::Clock;
        app.ports.clock.now_ms()
    };
    for i in 0..120 {
        app.ports
            .db
            .raw()
            .execute(
                "INSERT INTO sso_states (state_id, installation_id, used_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    format!("s{i}"),
                    inst.installation_id,
                    now as i64,
                    now as i64 + 600_000
                ],
            )
            .unwrap();
    }
    let (reply, _) = app.sign_in(&inst.installation_id, &first_user(&inst)).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("60"));
    assert_eq!(code_exchanges(&app), 0);
}
