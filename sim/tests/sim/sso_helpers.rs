//! Helpers for the single sign-on tests: a simulator with a registered redirect URI, a browser
//! that does not follow redirects, PKCE values, and the authorize → sign-in → exchange steps.

use crate::helpers::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use talkdesk_sim::{Alg, Installed, SimConfig, Simulator, JWT_BEARER};

/// The redirect URI the SSO tests register. Nothing listens there: redirects are never followed.
pub const REDIRECT: &str = "https://app.example/oauth/callback";

pub fn sso_sim() -> Simulator {
    Simulator::start(SimConfig {
        time_scale: 0.001,
        delivery_timeout: Duration::from_millis(500),
        redirect_uris: vec![REDIRECT.into()],
        ..Default::default()
    })
}

pub async fn sso_install(sim: &Simulator) -> Installed {
    install(sim, Alg::ES256).await
}

/// One sign-in attempt's secrets, as the app would keep them.
#[derive(Clone, Debug)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub challenge: String,
}

impl Flow {
    pub fn new() -> Flow {
        let verifier = format!("{}{}", random_jti(), random_jti()); // 64 hex characters
        let digest = openssl::sha::sha256(verifier.as_bytes());
        Flow {
            state: format!("st {} &=/?", random_jti()),
            nonce: random_jti(),
            challenge: URL_SAFE_NO_PAD.encode(digest),
            verifier,
        }
    }

    /// The parameters of a correct authorize request.
    pub fn params(&self, inst: &Installed) -> Vec<(String, String)> {
        [
            ("response_type", "code"),
            ("client_id", inst.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid account:read"),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
            ("code_challenge", self.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// Replaces (or, with `None`, removes) a parameter.
pub fn with(
    mut params: Vec<(String, String)>,
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    params.retain(|(k, _)| k != name);
    if let Some(v) = value {
        params.push((name.into(), v.into()));
    }
    params
}

pub fn encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// An answer of the authorize endpoint, seen by a browser that does not follow redirects.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl Answer {
    /// The query of the redirect, decoded; panics if this is not a redirect to [`REDIRECT`].
    pub fn redirect_query(&self) -> HashMap<String, String> {
        let loc = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("not a redirect: {} {}", self.status, self.body));
        assert_eq!(self.status, 302, "{loc}");
        let query = loc
            .strip_prefix(&format!("{REDIRECT}?"))
            .unwrap_or_else(|| panic!("{loc} does not go to {REDIRECT}"));
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The `td_sim_sso=…` pair of the Set-Cookie header, ready for a Cookie header.
    pub fn cookie(&self) -> String {
        self.set_cookie
            .as_deref()
            .expect("a Set-Cookie header")
            .split(';')
            .next()
            .unwrap()
            .to_string()
    }

    /// Asserts this is the error page (400, HTML, no redirect) and that it names `rule`.
    pub fn assert_error_page(&self, rule: &str) {
        assert_eq!(self.status, 400, "{self:?}");
        assert!(self.location.is_none(), "{self:?}");
        assert!(self.content_type.starts_with("text/html"), "{self:?}");
        assert!(self.body.contains(rule), "{rule} not in {}", self.body);
    }

    /// Asserts this redirects `error` with the given description fragment; returns the query.
    pub fn assert_redirected_error(&self, error: &str, rule: &str) -> HashMap<String, String> {
        let q = self.redirect_query();
        assert_eq!(q.get("error").map(String::as_str), Some(error), "{q:?}");
        assert!(q["error_description"].contains(rule), "{rule} not in {q:?}");
        assert!(!q.contains_key("code"));
        q
    }
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn answer(resp: reqwest::Response) -> Answer {
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    Answer {
        status: resp.status().as_u16(),
        content_type: header("content-type").unwrap_or_default(),
        location: header("location"),
        set_cookie: header("set-cookie"),
        body: resp.text().await.unwrap(),
    }
}

pub async fn get_authorize(
    sim: &Simulator,
    params: &[(String, String)],
    cookie: Option<&str>,
) -> Answer {
    let mut req = browser().get(format!("{}?{}", sim.authorize_url(), encode(params)));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    answer(req.send().await.unwrap()).await
}

/// The sign-in form's POST: `params` plus `choice` (e.g. `("user_id", id)` or `("cancel", "1")`).
pub async fn post_authorize(
    sim: &Simulator,
    params: &[(String, String)],
    choice: &[(&str, &str)],
    cookie: Option<&str>,
) -> Answer {
    let mut all = params.to_vec();
    all.extend(choice.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut req = browser()
        .post(sim.authorize_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&all));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    answer(req.send().await.unwrap()).await
}

/// Signs `user_id` in through the page; returns the code and the sign-in answer.
pub async fn sign_in(
    sim: &Simulator,
    inst: &Installed,
    flow: &Flow,
    user_id: &str,
) -> (String, Answer) {
    let page = get_authorize(sim, &flow.params(inst), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = post_authorize(sim, &flow.params(inst), &[("user_id", user_id)], None).await;
    let q = done.redirect_query();
    assert_eq!(q.get("state"), Some(&flow.state), "{q:?}");
    (q["code"].clone(), done)
}

/// The form of a code exchange authenticated with a fresh assertion of `inst`, plus `extra`.
pub fn exchange_form(
    sim: &Simulator,
    inst: &Installed,
    code: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let jwt = assertion(sim, inst, |_, _| {});
    let mut form: Vec<(String, String)> = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &jwt),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    form
}

pub async fn post_token_form(sim: &Simulator, form: &[(String, String)]) -> (u16, Value) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post_form(sim, &pairs, None).await
}

/// Exchanges `code` correctly (redirect URI and verifier of `flow`).
pub async fn exchange(sim: &Simulator, inst: &Installed, flow: &Flow, code: &str) -> (u16, Value) {
    let form = exchange_form(
        sim,
        inst,
        code,
        &[
            ("redirect_uri", REDIRECT),
            ("code_verifier", &flow.verifier),
        ],
    );
    post_token_form(sim, &form).await
}

/// A full sign-in and exchange as `user_id`; returns the token answer.
pub async fn user_tokens(sim: &Simulator, inst: &Installed, user_id: &str) -> Value {
    let flow = Flow::new();
    let (code, _) = sign_in(sim, inst, &flow, user_id).await;
    let (status, body) = exchange(sim, inst, &flow, &code).await;
    assert_eq!(status, 200, "{body}");
    body
}
