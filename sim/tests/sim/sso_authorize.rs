//! `GET`/`POST /oauth/authorize`: the sign-in page, what is shown on a page and what is
//! redirected, codes, remembered sign-ins, auto sign-in and the authorize modes.

use crate::helpers::*;
use crate::sso_helpers::*;
use talkdesk_sim::{AuthorizeMode, Endpoint, Fault, InstallSpec, SimUser, Users, SSO_COOKIE};

#[tokio::test]
async fn the_sign_in_page_lists_every_member_licensed_or_not_in_one_form_carrying_the_request() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let page = get_authorize(&sim, &flow.params(&inst), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(page.body.contains("Sign in to Talkdesk"));
    assert!(page.body.contains(&inst.account_name));
    assert_eq!(page.body.matches("<form ").count(), 1);
    assert!(page
        .body
        .contains("<form method=\"post\" action=\"/oauth/authorize\">"));
    let members = sim.account_members(&inst.installation_id).unwrap();
    assert_eq!(
        members.len(),
        inst.users.len() + inst.unlicensed_users.len()
    );
    assert_eq!(inst.unlicensed_users.len(), 1);
    for m in &members {
        let button = format!(
            "<button type=\"submit\" name=\"user_id\" value=\"{}\">",
            m.id
        );
        assert!(page.body.contains(&button), "{button}");
    }
    assert!(page
        .body
        .contains("<button type=\"submit\" name=\"cancel\" value=\"1\">"));
    for (name, value) in [
        ("client_id", inst.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_challenge", flow.challenge.as_str()),
        ("nonce", flow.nonce.as_str()),
    ] {
        let hidden = format!("<input type=\"hidden\" name=\"{name}\" value=\"{value}\">");
        assert!(page.body.contains(&hidden), "{hidden}");
    }
    // the state has `&`: it is escaped in the attribute, never raw
    assert!(page.body.contains("&amp;=/?"));
    assert!(!page.body.contains("<script"));
    assert_eq!(sim.codes_issued(&inst.installation_id), 0);
}

#[tokio::test]
async fn member_names_and_request_values_are_html_escaped() {
    let sim = sso_sim();
    let inst = sim
        .install(InstallSpec {
            users: Users::List(vec![SimUser::new(
                "u1",
                "x@acme.example",
                "<img src=x onerror=alert(1)>",
            )]),
            ..InstallSpec::new("acme", talkdesk_sim::Alg::ES256)
        })
        .await
        .unwrap();
    let params = with(
        Flow::new().params(&inst),
        "login_hint",
        Some("\"><script>alert(1)</script>"),
    );
    let page = get_authorize(&sim, &params, None).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<img") && !page.body.contains("<script>"));
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[tokio::test]
async fn a_bad_client_id_is_shown_on_a_page_and_never_redirected() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let good = Flow::new().params(&inst);
    get_authorize(&sim, &with(good.clone(), "client_id", None), None)
        .await
        .assert_error_page("client_id: missing");
    get_authorize(&sim, &with(good.clone(), "client_id", Some("nobody")), None)
        .await
        .assert_error_page("client_id: unknown client");
    let mut twice = good.clone();
    twice.push(("client_id".into(), inst.client_id.clone()));
    get_authorize(&sim, &twice, None)
        .await
        .assert_error_page("client_id: parameter is repeated");

    let rotated = sim.rotate(&inst.installation_id).await.unwrap();
    sim.revoke(&inst.installation_id, &inst.client_id).unwrap();
    get_authorize(&sim, &good, None)
        .await
        .assert_error_page("client_id: credentials revoked");
    let new = with(good, "client_id", Some(&rotated.client_id));
    assert_eq!(get_authorize(&sim, &new, None).await.status, 200);
    sim.uninstall(&inst.installation_id, "user", "bye")
        .await
        .unwrap();
    get_authorize(&sim, &new, None)
        .await
        .assert_error_page("client_id: the app is uninstalled from this account");
}

#[tokio::test]
async fn an_unregistered_or_inexact_redirect_uri_is_shown_on_a_page_and_never_redirected() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let good = Flow::new().params(&inst);
    get_authorize(&sim, &with(good.clone(), "redirect_uri", None), None)
        .await
        .assert_error_page("redirect_uri: missing");
    for near in [
        "https://app.example/oauth/callback/",
        "https://app.example/oauth/callback?x=1",
        "HTTPS://app.example/oauth/callback",
        "https://app.example/oauth/Callback",
        "https://evil.example/oauth/callback",
    ] {
        get_authorize(&sim, &with(good.clone(), "redirect_uri", Some(near)), None)
            .await
            .assert_error_page("redirect_uri: not registered for this app, exact match required");
    }
    let mut twice = good.clone();
    twice.push(("redirect_uri".into(), REDIRECT.into()));
    get_authorize(&sim, &twice, None)
        .await
        .assert_error_page("redirect_uri: parameter is repeated");

    // none registered: the page says how to register one
    let bare = sim_without_redirects();
    let other = install(&bare, talkdesk_sim::Alg::ES256).await;
    get_authorize(&bare, &Flow::new().params(&other), None)
        .await
        .assert_error_page("none is registered");
    bare.register_redirect_uri(REDIRECT).unwrap();
    assert_eq!(
        get_authorize(&bare, &Flow::new().params(&other), None)
            .await
            .status,
        200
    );
}

fn sim_without_redirects() -> talkdesk_sim::Simulator {
    sim()
}

#[tokio::test]
async fn request_errors_are_redirected_with_the_error_and_the_state() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let good = flow.params(&inst);
    let challenge = flow.challenge.as_str();
    let cases: Vec<(&str, Option<&str>, &str, &str)> = vec![
        (
            "response_type",
            None,
            "invalid_request",
            "response_type: missing",
        ),
        (
            "response_type",
            Some("token"),
            "unsupported_response_type",
            "response_type: token",
        ),
        ("scope", None, "invalid_scope", "scope: missing"),
        (
            "scope",
            Some("account:read"),
            "invalid_scope",
            "scope: must include openid",
        ),
        (
            "scope",
            Some("openid  account:read"),
            "invalid_scope",
            "scope: malformed",
        ),
        (
            "scope",
            Some("openid admin"),
            "invalid_scope",
            "scope: admin is not granted",
        ),
        (
            "code_challenge_method",
            Some("plain"),
            "invalid_request",
            "must be S256",
        ),
        (
            "code_challenge_method",
            None,
            "invalid_request",
            "must be S256",
        ),
        (
            "code_challenge_method",
            Some("S512"),
            "invalid_request",
            "S512 is not supported",
        ),
        (
            "code_challenge",
            Some(&challenge[..42]),
            "invalid_request",
            "code_challenge: must be 43",
        ),
        (
            "code_challenge",
            None,
            "invalid_request",
            "sent without a code_challenge",
        ),
        (
            "prompt",
            Some("sometimes"),
            "invalid_request",
            "prompt: \"sometimes\"",
        ),
        (
            "prompt",
            Some("none login"),
            "invalid_request",
            "none cannot be combined",
        ),
    ];
    for (name, value, error, rule) in cases {
        let q = get_authorize(&sim, &with(good.clone(), name, value), None)
            .await
            .assert_redirected_error(error, rule);
        assert_eq!(q.get("state"), Some(&flow.state), "{name}");
    }
    // a repeated parameter other than client_id and redirect_uri
    let mut twice = good.clone();
    twice.push(("scope".into(), "openid".into()));
    get_authorize(&sim, &twice, None)
        .await
        .assert_redirected_error("invalid_request", "scope: parameter is repeated");
    // a repeated state is not echoed: the app cannot tell which one it sent
    let mut states = good.clone();
    states.push(("state".into(), "other".into()));
    let q = get_authorize(&sim, &states, None)
        .await
        .assert_redirected_error("invalid_request", "state: parameter is repeated");
    assert!(!q.contains_key("state"), "{q:?}");
    // no state: the error is redirected without one
    let q = get_authorize(&sim, &with(good.clone(), "state", None), None)
        .await
        .assert_redirected_error("invalid_request", "state: missing");
    assert!(!q.contains_key("state"));
    // PKCE and nonce are optional
    let bare = with(
        with(
            with(good, "code_challenge", None),
            "code_challenge_method",
            None,
        ),
        "nonce",
        None,
    );
    assert_eq!(get_authorize(&sim, &bare, None).await.status, 200);
    assert_eq!(sim.codes_issued(&inst.installation_id), 0);
}

#[tokio::test]
async fn choosing_a_member_redirects_with_a_fresh_code_the_state_and_a_sign_in_cookie() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let done = post_authorize(
        &sim,
        &flow.params(&inst),
        &[("user_id", &inst.users[1].id)],
        None,
    )
    .await;
    let q = done.redirect_query();
    assert_eq!(q["state"], flow.state);
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(q["code"].len() >= 32);
    // the raw Location encodes the state's reserved characters
    assert!(done.location.as_deref().unwrap().contains("state=st+"));
    assert!(done.location.as_deref().unwrap().contains("%26%3D%2F%3F"));
    let cookie = done.set_cookie.as_deref().unwrap();
    assert!(cookie.starts_with(&format!("{SSO_COOKIE}=")));
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert_eq!(sim.codes_issued(&inst.installation_id), 1);
    let (code2, _) = sign_in(&sim, &inst, &Flow::new(), &inst.users[0].id).await;
    assert_ne!(code2, q["code"]);
    assert_eq!(sim.codes_issued(&inst.installation_id), 2);
}

#[tokio::test]
async fn an_unlicensed_member_can_sign_in_to_talkdesk() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.unlicensed_users[0].id).await;
    let (status, body) = exchange(&sim, &inst, &flow, &code).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let (_, me) = api(&sim, "GET", "/users/me", Some(token), None).await;
    assert_eq!(me["id"], inst.unlicensed_users[0].id);
}

#[tokio::test]
async fn the_form_needs_exactly_one_choice_of_a_member_of_this_account() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let other = sso_install(&sim).await;
    let params = Flow::new().params(&inst);
    post_authorize(&sim, &params, &[], None)
        .await
        .assert_error_page("user_id: missing");
    post_authorize(&sim, &params, &[("user_id", &other.users[0].id)], None)
        .await
        .assert_error_page("user_id: not a member of account acme");
    post_authorize(
        &sim,
        &params,
        &[("user_id", &inst.users[0].id), ("cancel", "1")],
        None,
    )
    .await
    .assert_error_page("send either user_id or cancel");
    post_authorize(&sim, &params, &[("cancel", "yes")], None)
        .await
        .assert_error_page("cancel: must be 1");
    let q = post_authorize(&sim, &params, &[("cancel", "1")], None)
        .await
        .assert_redirected_error("access_denied", "cancelled");
    assert!(q.contains_key("state"));
    post_authorize(
        &sim,
        &params,
        &[
            ("user_id", &inst.users[0].id),
            ("user_id", &inst.users[1].id),
        ],
        None,
    )
    .await
    .assert_redirected_error("invalid_request", "user_id: parameter is repeated");
    assert_eq!(sim.codes_issued(&inst.installation_id), 0);
}

#[tokio::test]
async fn the_form_post_revalidates_every_parameter() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let good = Flow::new().params(&inst);
    let user = [("user_id", inst.users[0].id.as_str())];
    post_authorize(
        &sim,
        &with(
            good.clone(),
            "redirect_uri",
            Some("https://evil.example/cb"),
        ),
        &user,
        None,
    )
    .await
    .assert_error_page("redirect_uri: not registered");
    post_authorize(
        &sim,
        &with(good.clone(), "client_id", Some("nobody")),
        &user,
        None,
    )
    .await
    .assert_error_page("client_id: unknown client");
    post_authorize(
        &sim,
        &with(good.clone(), "scope", Some("account:read")),
        &user,
        None,
    )
    .await
    .assert_redirected_error("invalid_scope", "openid");
    post_authorize(
        &sim,
        &with(good.clone(), "code_challenge_method", Some("plain")),
        &user,
        None,
    )
    .await
    .assert_redirected_error("invalid_request", "S256");
    // the form must be a form: a correct body with another media type is refused
    let mut body = good.clone();
    body.push(("user_id".into(), inst.users[0].id.clone()));
    let resp = browser()
        .post(sim.authorize_url())
        .header("content-type", "text/plain")
        .body(encode(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("content-type: the sign-in form posts"),
        "{page}"
    );
    assert_eq!(sim.codes_issued(&inst.installation_id), 0);
}

#[tokio::test]
async fn a_browser_signed_in_to_the_account_is_redirected_at_once_as_the_same_user() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let user = &inst.users[2];
    let (_, done) = sign_in(&sim, &inst, &flow, &user.id).await;
    let cookie = done.cookie();

    // the hint names someone else: the session still decides (the hint is only a hint)
    let again = Flow::new();
    let params = with(again.params(&inst), "login_hint", Some(&inst.users[0].id));
    let q = get_authorize(&sim, &params, Some(&cookie))
        .await
        .redirect_query();
    assert_eq!(q["state"], again.state);
    let (status, body) = exchange(&sim, &inst, &again, &q["code"]).await;
    assert_eq!(status, 200, "{body}");
    let (_, me) = api(
        &sim,
        "GET",
        "/users/me",
        body["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(me["id"], user.id);

    // prompt=login asks again; an unknown cookie is no session; another account is not signed in
    let login = with(Flow::new().params(&inst), "prompt", Some("login"));
    assert_eq!(get_authorize(&sim, &login, Some(&cookie)).await.status, 200);
    let forged = format!("{SSO_COOKIE}=forged");
    assert_eq!(
        get_authorize(&sim, &Flow::new().params(&inst), Some(&forged))
            .await
            .status,
        200
    );
    let other = sso_install(&sim).await;
    assert_eq!(
        get_authorize(&sim, &Flow::new().params(&other), Some(&cookie))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn prompt_none_redirects_login_required_unless_signed_in() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let params = with(Flow::new().params(&inst), "prompt", Some("none"));
    get_authorize(&sim, &params, None)
        .await
        .assert_redirected_error("login_required", "prompt=none");
    let (_, done) = sign_in(&sim, &inst, &Flow::new(), &inst.users[0].id).await;
    let q = get_authorize(&sim, &params, Some(&done.cookie()))
        .await
        .redirect_query();
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn an_unlicensed_member_can_log_out_of_talkdesk_too() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let member = &inst.unlicensed_users[0];
    let sent = sim.logout(&inst.installation_id, &member.id).await.unwrap();
    assert_eq!(sent.event["data"]["user_email"], member.email);
}

#[tokio::test]
async fn a_user_who_logs_out_of_talkdesk_must_sign_in_again() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let (_, done) = sign_in(&sim, &inst, &Flow::new(), &inst.users[0].id).await;
    let cookie = done.cookie();
    assert_eq!(
        get_authorize(&sim, &Flow::new().params(&inst), Some(&cookie))
            .await
            .status,
        302
    );
    sim.logout(&inst.installation_id, &inst.users[0].email)
        .await
        .unwrap();
    assert_eq!(
        get_authorize(&sim, &Flow::new().params(&inst), Some(&cookie))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn auto_sign_in_signs_the_hinted_member_in_only_when_on() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let member = &inst.unlicensed_users[0];
    let hinted = with(Flow::new().params(&inst), "login_hint", Some(&member.email));
    assert_eq!(get_authorize(&sim, &hinted, None).await.status, 200);
    sim.set_auto_sign_in(true);
    let done = get_authorize(&sim, &hinted, None).await;
    assert!(done.redirect_query().contains_key("code"));
    assert!(done.set_cookie.is_some());
    let nobody = with(
        Flow::new().params(&inst),
        "login_hint",
        Some("nobody@acme.example"),
    );
    assert_eq!(get_authorize(&sim, &nobody, None).await.status, 200);
    let unhinted = Flow::new().params(&inst);
    assert_eq!(get_authorize(&sim, &unhinted, None).await.status, 200);
    assert_eq!(sim.codes_issued(&inst.installation_id), 1);
}

#[tokio::test]
async fn refuse_mode_shows_an_error_page_instead_of_signing_in() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    sim.set_authorize_mode(AuthorizeMode::Refuse);
    let params = Flow::new().params(&inst);
    get_authorize(&sim, &params, None)
        .await
        .assert_error_page("AuthorizeMode::Refuse");
    post_authorize(&sim, &params, &[("user_id", &inst.users[0].id)], None)
        .await
        .assert_error_page("AuthorizeMode::Refuse");
    sim.set_authorize_mode(AuthorizeMode::Normal);
    assert_eq!(get_authorize(&sim, &params, None).await.status, 200);
}

#[tokio::test]
async fn deny_mode_redirects_access_denied_with_the_state() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    sim.set_authorize_mode(AuthorizeMode::Deny);
    let flow = Flow::new();
    let q = get_authorize(&sim, &flow.params(&inst), None)
        .await
        .assert_redirected_error("access_denied", "AuthorizeMode::Deny");
    assert_eq!(q["state"], flow.state);
    // a bad client is still not redirected
    get_authorize(
        &sim,
        &with(flow.params(&inst), "client_id", Some("x")),
        None,
    )
    .await
    .assert_error_page("client_id: unknown client");
    assert_eq!(sim.codes_issued(&inst.installation_id), 0);
}

#[tokio::test]
async fn replay_mode_hands_out_the_previous_code_so_the_exchange_fails() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let first = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &first, &inst.users[0].id).await;
    assert_eq!(exchange(&sim, &inst, &first, &code).await.0, 200);
    sim.set_authorize_mode(AuthorizeMode::Replay);
    let second = Flow::new();
    let (replayed, _) = sign_in(&sim, &inst, &second, &inst.users[0].id).await;
    assert_eq!(replayed, code);
    let (status, body) = exchange(&sim, &inst, &second, &replayed).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(sim.codes_issued(&inst.installation_id), 1);

    // a client that never had a code gets one that was never issued
    let other = sso_install(&sim).await;
    let flow = Flow::new();
    let (never, _) = sign_in(&sim, &other, &flow, &other.users[0].id).await;
    let (status, body) = exchange(&sim, &other, &flow, &never).await;
    assert_eq!(status, 400);
    assert!(description(&body).starts_with("code: unknown"), "{body}");
}

#[tokio::test]
async fn authorize_requests_are_logged_for_the_installation_and_can_be_faulted() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let params = Flow::new().params(&inst);
    get_authorize(&sim, &params, None).await;
    post_authorize(&sim, &params, &[("user_id", &inst.users[0].id)], None).await;
    sim.fault(Endpoint::Authorize, Fault::status(503), 1);
    assert_eq!(get_authorize(&sim, &params, None).await.status, 503);
    get_authorize(
        &sim,
        &with(params, "redirect_uri", Some("https://x.example/")),
        None,
    )
    .await;
    let log = sim.requests_to(Endpoint::Authorize);
    assert_eq!(
        log.iter().map(|r| r.status.unwrap()).collect::<Vec<_>>(),
        vec![200, 302, 503, 400]
    );
    assert!(log
        .iter()
        .all(|r| r.installation_id.as_deref() == Some(inst.installation_id.as_str())));
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].body["user_id"], inst.users[0].id);
    assert!(log[3].error.as_deref().unwrap().contains("redirect_uri"));
}
