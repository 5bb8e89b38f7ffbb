//! Shared test helpers: signing assertions with OpenSSL, calling the simulator, a tiny receiver.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use talkdesk_sim::{sign_jwt, Alg, InstallSpec, Installed, SimConfig, Simulator, JWT_BEARER};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn random_jti() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn sim() -> Simulator {
    Simulator::start(SimConfig {
        time_scale: 0.001,
        delivery_timeout: Duration::from_millis(500),
        ..Default::default()
    })
}

pub async fn install(sim: &Simulator, alg: Alg) -> Installed {
    sim.install(InstallSpec::new("acme", alg)).await.unwrap()
}

/// The header and claims a correct assertion carries.
pub fn good_parts(inst: &Installed, token_url: &str) -> (Value, Value) {
    let now = now();
    (
        json!({"alg": inst.algorithm.as_str(), "typ": "JWT", "kid": inst.key_id}),
        json!({
            "iss": inst.client_id, "sub": inst.client_id, "aud": token_url,
            "jti": random_jti(), "iat": now, "exp": now + 300,
        }),
    )
}

/// A correct assertion after `mutate` changed its header or claims.
pub fn assertion(
    sim: &Simulator,
    inst: &Installed,
    mutate: impl FnOnce(&mut Value, &mut Value),
) -> String {
    let (mut header, mut claims) = good_parts(inst, &sim.token_url());
    mutate(&mut header, &mut claims);
    sign_jwt(inst.algorithm, &inst.private_key, &header, &claims)
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub async fn post_form(
    sim: &Simulator,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = http()
        .post(sim.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        );
    if let Some((u, p)) = basic {
        req = req.basic_auth(u, Some(p));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn post_assertion(sim: &Simulator, jwt: &str, scope: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", jwt),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    post_form(sim, &form, None).await
}

/// Mints an access token with a correct assertion.
pub async fn mint(sim: &Simulator, inst: &Installed, scope: Option<&str>) -> String {
    let (status, body) = post_assertion(sim, &assertion(sim, inst, |_, _| {}), scope).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub async fn api(
    sim: &Simulator,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{path}", sim.base_url());
    let mut req = match method {
        "GET" => http().get(url),
        _ => http().post(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The path of an event's `_links.self` on the simulator (its origin stripped).
pub fn self_path(sim: &Simulator, event: &Value) -> String {
    let href = event["_links"]["self"]["href"]
        .as_str()
        .expect("a self link");
    href.strip_prefix(&sim.base_url())
        .unwrap_or_else(|| panic!("self link {href} is not on the simulator"))
        .to_string()
}

pub fn inst_path(sim: &Simulator, inst: &Installed) -> String {
    format!(
        "/apps/{}/installations/{}",
        sim.app_id(),
        inst.installation_id
    )
}

/// A tiny HTTP receiver standing in for the worker's `POST /events`: records bodies and answers
/// scripted statuses (then 200), optionally after a delay.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Value>>>,
    pub script: Arc<Mutex<VecDeque<(u16, Duration)>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            received: Arc::default(),
            script: Arc::default(),
        };
        let me = r.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let me = me.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let me = me.clone();
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let (status, delay) = me
                                .script
                                .lock()
                                .unwrap()
                                .pop_front()
                                .unwrap_or((200, Duration::ZERO));
                            me.received
                                .lock()
                                .unwrap()
                                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                            tokio::time::sleep(delay).await;
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        r
    }

    pub fn answer(&self, status: u16, delay: Duration) {
        self.script.lock().unwrap().push_back((status, delay));
    }

    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

/// A token request with full control of the `Content-Type`, `Authorization` and raw body.
pub async fn post_token_raw(
    sim: &Simulator,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: String,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = http().post(sim.token_url()).body(body);
    if let Some(c) = content_type {
        req = req.header("content-type", c);
    }
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

/// The form of a correct assertion request, plus `extra` pairs, encoded.
pub fn assertion_form(jwt: &str, extra: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", jwt),
        ])
        .extend_pairs(extra)
        .finish()
}

/// A POST with a raw body and an explicit `Content-Type` (or none).
pub async fn post_raw(
    sim: &Simulator,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut req = http()
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(token)
        .body(body.to_string());
    if let Some(c) = content_type {
        req = req.header("content-type", c);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The `error_description` of an answer; panics if there is none.
pub fn description(body: &Value) -> &str {
    body["error_description"]
        .as_str()
        .unwrap_or_else(|| panic!("no error_description in {body}"))
}
