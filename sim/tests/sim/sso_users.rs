//! Around single sign-on: `/users/me`, account members without a licence, the header widget, the
//! launch URL, and the SSO control routes and CLI.

use crate::helpers::*;
use crate::sso_helpers::*;
use serde_json::{json, Value};
use std::process::Command;
use talkdesk_sim::{
    Alg, AuthorizeMode, Endpoint, Fault, InstallSpec, SimConfig, SimUser, Simulator, UpdateSpec,
    Users, HEADER_SCRIPT,
};

#[tokio::test]
async fn users_me_names_the_user_of_a_user_token() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let tokens = user_tokens(&sim, &inst, &inst.users[1].id).await;
    let (status, me) = api(
        &sim,
        "GET",
        "/users/me",
        tokens["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    let u = &inst.users[1];
    assert_eq!(
        me,
        json!({"id": u.id, "sub": u.id, "name": u.name, "email": u.email})
    );
}

#[tokio::test]
async fn users_me_refuses_an_app_token_as_not_a_user_token() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    // an app token with every scope, openid included
    let token = mint(&sim, &inst, None).await;
    let (status, body) = api(&sim, "GET", "/users/me", Some(&token), None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    assert!(description(&body).starts_with("not a user token"), "{body}");
}

#[tokio::test]
async fn users_me_refuses_missing_unknown_expired_and_revoked_tokens() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    assert_eq!(api(&sim, "GET", "/users/me", None, None).await.0, 401);
    assert_eq!(
        api(&sim, "GET", "/users/me", Some("nope"), None).await.0,
        401
    );
    let tokens = user_tokens(&sim, &inst, &inst.users[0].id).await;
    let token = tokens["access_token"].as_str().unwrap();
    sim.expire_tokens(&inst.installation_id);
    let (status, body) = api(&sim, "GET", "/users/me", Some(token), None).await;
    assert_eq!((status, description(&body)), (401, "access token expired"));
    // the credential set that exchanged the code is revoked: its user tokens stop working too
    let tokens = user_tokens(&sim, &inst, &inst.users[0].id).await;
    sim.revoke(&inst.installation_id, &inst.client_id).unwrap();
    let (status, _) = api(
        &sim,
        "GET",
        "/users/me",
        tokens["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn users_me_is_logged_for_the_installation_and_can_be_faulted() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let tokens = user_tokens(&sim, &inst, &inst.users[0].id).await;
    let token = tokens["access_token"].as_str();
    sim.fault(Endpoint::UsersMe, Fault::status(502), 1);
    assert_eq!(api(&sim, "GET", "/users/me", token, None).await.0, 502);
    assert_eq!(api(&sim, "GET", "/users/me", token, None).await.0, 200);
    let log = sim.requests_to(Endpoint::UsersMe);
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|r| r.installation_id.as_deref() == Some(inst.installation_id.as_str())));
}

#[tokio::test]
async fn unlicensed_members_are_members_but_not_in_the_users_api() {
    let sim = sso_sim();
    let inst = sim
        .install(InstallSpec {
            users: Users::Count(2),
            unlicensed_users: Users::Count(2),
            ..InstallSpec::new("acme", Alg::ES256)
        })
        .await
        .unwrap();
    assert_eq!(inst.unlicensed_users.len(), 2);
    let licensed_ids: Vec<&str> = inst.users.iter().map(|u| u.id.as_str()).collect();
    for m in &inst.unlicensed_users {
        assert!(!licensed_ids.contains(&m.id.as_str()));
        assert!(!inst.users.iter().any(|u| u.email == m.email));
    }
    let members = sim.account_members(&inst.installation_id).unwrap();
    let expected: Vec<SimUser> = inst
        .users
        .iter()
        .chain(&inst.unlicensed_users)
        .cloned()
        .collect();
    assert_eq!(members, expected);
    let view = sim.installation(&inst.installation_id).unwrap();
    assert_eq!(view.unlicensed_users, inst.unlicensed_users);
    let token = mint(&sim, &inst, None).await;
    let (_, users) = api(
        &sim,
        "GET",
        &format!("{}/users", inst_path(&sim, &inst)),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(users["total"], 2);
    assert!(sim.account_members("nope").is_err());
}

#[tokio::test]
async fn unlicensed_users_may_not_reuse_a_licensed_users_id_or_email() {
    let sim = sso_sim();
    let u = SimUser::new("u1", "a@acme.example", "A");
    for clash in [
        SimUser::new("u1", "b@acme.example", "B"),
        SimUser::new("u2", "a@acme.example", "B"),
    ] {
        let err = sim
            .install(InstallSpec {
                users: Users::List(vec![u.clone()]),
                unlicensed_users: Users::List(vec![clash]),
                ..InstallSpec::default()
            })
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("has the id or email of a licensed user"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_removed_licence_leaves_an_unlicensed_member_and_an_added_one_moves_them_back() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let gone = inst.users[0].clone();
    sim.update(
        &inst.installation_id,
        UpdateSpec {
            remove_users: vec![gone.id.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let view = sim.installation(&inst.installation_id).unwrap();
    assert!(!view.users.contains(&gone));
    assert!(view.unlicensed_users.contains(&gone));
    // still a member: the page lists them and they can sign in
    let page = get_authorize(&sim, &Flow::new().params(&inst), None).await;
    assert!(page.body.contains(&format!("value=\"{}\"", gone.id)));
    let member = inst.unlicensed_users[0].clone();
    sim.update(
        &inst.installation_id,
        UpdateSpec {
            add_users: vec![member.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let view = sim.installation(&inst.installation_id).unwrap();
    assert!(view.users.contains(&member));
    assert!(!view.unlicensed_users.contains(&member));
    assert_eq!(sim.account_members(&inst.installation_id).unwrap().len(), 4);
}

#[tokio::test]
async fn the_installed_event_links_the_widget_script() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    assert_eq!(
        inst.event["_links"]["widget_url"]["href"],
        json!(sim.widget_url())
    );
    let updated = sim
        .update(&inst.installation_id, UpdateSpec::default())
        .await
        .unwrap();
    assert!(updated.event["_links"].get("widget_url").is_none());
    let resp = http().get(sim.widget_url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.text().await.unwrap(), HEADER_SCRIPT);
    assert_eq!(sim.requests_to(Endpoint::Widget).len(), 1);
}

/// Runs the widget in Node against a minimal DOM that throws on what a strict CSP blocks (an
/// `innerHTML` write, a `style` or `on…` attribute; `eval` and `Function` are disabled in the
/// context), then reports the bar it inserted.
const DOM_HARNESS: &str = r#"
const vm = require("vm");
const fs = require("fs");
const made = [];
function element(tag) {
  const attrs = {};
  const e = { tagName: tag, style: {}, children: [], textContent: "" };
  e.setAttribute = (k, v) => { if (k === "style" || k.startsWith("on")) throw new Error("CSP: " + k); attrs[k] = v; };
  Object.defineProperty(e, "innerHTML", { set() { throw new Error("CSP: innerHTML"); } });
  made.push(e);
  return e;
}
const body = element("body");
body.firstChild = { existing: true };
body.insertBefore = (n, ref) => { body.children.unshift(n); body.inserted = { n, ref }; };
const document = {
  body,
  createElement: element,
  getElementById: (id) => made.find((e) => e.id === id) || null,
  addEventListener: () => { throw new Error("body exists: no need to wait"); },
};
const ctx = vm.createContext({ document }, { codeGeneration: { strings: false, wasm: false } });
const src = fs.readFileSync(0, "utf8");
// twice, as a page that includes the script twice would: still one bar
vm.runInContext(src, ctx);
vm.runInContext(src, ctx);
const bar = body.children[0];
console.log(JSON.stringify({
  count: body.children.length, id: bar.id, text: bar.textContent,
  first: body.inserted.ref.existing === true, styled: Object.keys(bar.style).length > 0,
}));
"#;

#[tokio::test]
async fn the_widget_inserts_one_visible_header_bar_first_in_the_body_without_csp_violations() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node not found: the DOM check of the widget is skipped (the static check in widget.rs still runs)");
        return;
    }
    let script = HEADER_SCRIPT.to_string();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new("node")
            .args(["-e", DOM_HARNESS])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["count"], 1, "{got}");
    assert_eq!(got["id"], "talkdesk-header");
    assert!(got["text"].as_str().unwrap().contains("Talkdesk"));
    assert_eq!(got["first"], true);
    assert_eq!(got["styled"], true);
}

#[tokio::test]
async fn the_launch_url_names_the_installation_and_a_member_encoded() {
    let sim = sso_sim();
    let inst = sim
        .install(InstallSpec {
            users: Users::List(vec![SimUser::new("u 1&x", "a@acme.example", "A")]),
            ..InstallSpec::new("acme", Alg::ES256)
        })
        .await
        .unwrap();
    let id = &inst.installation_id;
    assert_eq!(
        sim.launch_url(id, None, "http://127.0.0.1:8787/").unwrap(),
        format!(
            "http://127.0.0.1:8787/launch?talkdesk_installation_id={id}&talkdesk_user_id=u+1%26x"
        )
    );
    let member = &inst.unlicensed_users[0];
    assert!(sim
        .launch_url(id, Some(&member.email), "https://w.example")
        .unwrap()
        .ends_with(&format!("talkdesk_user_id={}", member.id)));
    assert!(sim
        .launch_url(id, Some("nobody"), "https://w.example")
        .is_err());
    assert!(sim.launch_url("nope", None, "https://w.example").is_err());
}

fn cli(port: u16, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--port".to_string(), port.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    Command::new(env!("CARGO_BIN_EXE_talkdesk-sim"))
        .args(all)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_cli_prints_the_launch_url_for_the_first_licensed_user_or_a_named_member() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let port = sim.port();
    let (id, member) = (
        inst.installation_id.clone(),
        inst.unlicensed_users[0].email.clone(),
    );
    let (default, named, unknown) = tokio::task::spawn_blocking(move || {
        (
            cli(port, &["launch", &id]),
            cli(
                port,
                &[
                    "launch",
                    &id,
                    "--user",
                    &member,
                    "--worker",
                    "https://w.example",
                ],
            ),
            cli(port, &["launch", &id, "--user", "nobody"]),
        )
    })
    .await
    .unwrap();
    assert!(
        default.status.success(),
        "{}",
        String::from_utf8_lossy(&default.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&default.stdout).trim(),
        format!(
            "http://127.0.0.1:8787/launch?talkdesk_installation_id={}&talkdesk_user_id={}",
            inst.installation_id, inst.users[0].id
        )
    );
    assert_eq!(
        String::from_utf8_lossy(&named.stdout).trim(),
        sim.launch_url(
            &inst.installation_id,
            Some(&inst.unlicensed_users[0].id),
            "https://w.example"
        )
        .unwrap()
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("has no user nobody"));
}

async fn control(sim: &Simulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/_sim/{path}", sim.base_url());
    let req = match method {
        "GET" => http().get(url),
        _ => http().post(url).json(&body.unwrap_or(json!({}))),
    };
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_control_api_registers_redirect_uris_and_sets_modes_faults_and_auto_sign_in() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let id = inst.installation_id.clone();
    let (status, uris) = control(
        &sim,
        "POST",
        "redirect-uris",
        Some(json!({"uri": REDIRECT})),
    )
    .await;
    assert_eq!((status, uris), (200, json!([REDIRECT])));
    assert_eq!(
        control(&sim, "GET", "redirect-uris", None).await.1,
        json!([REDIRECT])
    );
    let (status, body) = control(
        &sim,
        "POST",
        "redirect-uris",
        Some(json!({"uri": "/relative"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(sim.redirect_uris(), vec![REDIRECT.to_string()]);

    assert_eq!(
        control(
            &sim,
            "POST",
            "authorize-mode",
            Some(json!({"mode": "deny"}))
        )
        .await
        .0,
        200
    );
    get_authorize(&sim, &Flow::new().params(&inst), None)
        .await
        .assert_redirected_error("access_denied", "Deny");
    assert_eq!(
        control(
            &sim,
            "POST",
            "authorize-mode",
            Some(json!({"mode": "maybe"}))
        )
        .await
        .0,
        400
    );
    sim.set_authorize_mode(AuthorizeMode::Normal);

    let (status, _) = control(&sim, "POST", "config", Some(json!({"auto_sign_in": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        control(&sim, "GET", "health", None).await.1["auto_sign_in"],
        true
    );
    let hinted = with(
        Flow::new().params(&inst),
        "login_hint",
        Some(&inst.users[0].id),
    );
    assert_eq!(get_authorize(&sim, &hinted, None).await.status, 302);

    let (status, _) = control(
        &sim,
        "POST",
        "id-token-fault",
        Some(json!({"fault": "missing_nonce"})),
    )
    .await;
    assert_eq!(status, 200);
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let (_, body) = exchange(&sim, &inst, &flow, &code).await;
    let claims = talkdesk_sim::jose::parse_jwt(body["id_token"].as_str().unwrap())
        .unwrap()
        .claims;
    assert!(claims.get("nonce").is_none());

    let (_, members) = control(&sim, "GET", &format!("installations/{id}/members"), None).await;
    assert_eq!(members.as_array().unwrap().len(), 4);
    let (_, tokens) = control(
        &sim,
        "GET",
        &format!("installations/{id}/user-tokens"),
        None,
    )
    .await;
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    assert_eq!(
        control(
            &sim,
            "POST",
            &format!("installations/{id}/codes/expire"),
            None
        )
        .await
        .0,
        200
    );
    assert!(description(&exchange(&sim, &inst, &flow, &code).await.1).starts_with("code: expired"));
}

#[test]
fn a_malformed_redirect_uri_is_refused_at_start_and_at_registration() {
    let err = Simulator::try_start(SimConfig {
        redirect_uris: vec!["https://app.example/cb#x".into()],
        ..Default::default()
    })
    .err()
    .expect("refused");
    assert!(err.to_string().contains("fragment"), "{err}");
    let sim = sim();
    assert!(sim.register_redirect_uri("ftp://app.example/cb").is_err());
    sim.register_redirect_uri(REDIRECT).unwrap();
    sim.register_redirect_uri(REDIRECT).unwrap();
    assert_eq!(sim.redirect_uris(), vec![REDIRECT.to_string()]);
}

#[tokio::test]
async fn serve_registers_the_default_redirect_uri_and_install_takes_unlicensed_users() {
    // a free port for the served simulator
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = env!("CARGO_BIN_EXE_talkdesk-sim");
    let mut serve = Command::new(bin)
        .args(["--port", &port.to_string(), "serve", "--auto-sign-in"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/_sim/health");
    let mut state = Value::Null;
    for _ in 0..100 {
        if let Ok(r) = http().get(&health).send().await {
            state = r.json().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let out = tokio::task::spawn_blocking(move || {
        cli(
            port,
            &["install", "--users", "2", "--unlicensed-users", "3"],
        )
    })
    .await
    .unwrap();
    let (_, list) = {
        let r = http()
            .get(format!("http://127.0.0.1:{port}/_sim/installations"))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert_eq!(
        state["redirect_uris"],
        json!([talkdesk_sim::DEFAULT_REDIRECT_URI]),
        "{state}"
    );
    assert_eq!(state["auto_sign_in"], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(list[0]["users"].as_array().unwrap().len(), 2);
    assert_eq!(list[0]["unlicensed_users"].as_array().unwrap().len(), 3);
}
