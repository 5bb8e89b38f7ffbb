//! A partner backend's webhook receiver, as strict as a real one: every request's Standard
//! Webhooks signature is checked by the `standardwebhooks` crate (an implementation that is not
//! the worker's), with its timestamp tolerance; unsigned or wrongly signed requests get 400.
//! Deliveries are kept in arrival order, and the ones accepted are deduplicated by
//! `webhook-id` as a receiver should. It can be down (503) for a while and fail (500) a number
//! of times, to test the sender's retries.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::oneshot;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub webhook_id: Option<String>,
    /// The payload's `type`.
    pub event_type: Option<String>,
    pub payload: Value,
    /// Whether `standardwebhooks` accepted its signature and timestamp.
    pub verified: bool,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    deliveries: Vec<Delivery>,
    down_until: Option<Instant>,
    fail_next: usize,
}

/// A running receiver; stopped when dropped.
pub struct WebhookReceiver {
    state: Arc<Mutex<State>>,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WebhookReceiver {
    /// Serves `POST /webhooks` on a free loopback port, verifying with `secret` (`whsec_…`).
    pub fn start(secret: &str) -> WebhookReceiver {
        let verifier = Arc::new(standardwebhooks::Webhook::new(secret).expect("a whsec_ secret"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!(
            "http://{}/webhooks",
            listener.local_addr().expect("local address")
        );
        let state = Arc::new(Mutex::new(State::default()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(listener).expect("listener")
        };
        let (tx, mut rx) = oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("webhook-receiver".into())
            .spawn(move || {
                rt.block_on(async move {
                    loop {
                        tokio::select! {
                            _ = &mut rx => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let (state, verifier) = (shared.clone(), verifier.clone());
                                tokio::spawn(async move {
                                    let svc = service_fn(move |req| {
                                        answer(state.clone(), verifier.clone(), req)
                                    });
                                    let _ = http1::Builder::new()
                                        .serve_connection(TokioIo::new(stream), svc)
                                        .await;
                                });
                            }
                        }
                    }
                });
                rt.shutdown_background();
            })
            .expect("thread");
        WebhookReceiver {
            state,
            url,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/webhooks`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Answers 503 to everything for this long (as a receiver that is down).
    pub fn down_for(&self, d: std::time::Duration) {
        self.state.lock().unwrap().down_until = Some(Instant::now() + d);
    }

    /// Answers 500 to the next `n` requests (after any down time).
    pub fn fail_next(&self, n: usize) {
        self.state.lock().unwrap().fail_next = n;
    }

    /// Every request, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }

    /// The payloads the receiver accepted, first arrival of each `webhook-id` only, in order.
    pub fn accepted(&self) -> Vec<Delivery> {
        let mut seen = std::collections::HashSet::new();
        self.deliveries()
            .into_iter()
            .filter(|d| (200..300).contains(&d.status))
            .filter(|d| seen.insert(d.webhook_id.clone()))
            .collect()
    }

    /// The accepted `type`s, in order.
    pub fn accepted_types(&self) -> Vec<String> {
        self.accepted()
            .into_iter()
            .filter_map(|d| d.event_type)
            .collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    verifier: Arc<standardwebhooks::Webhook>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let headers = req.headers().clone();
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match Limited::new(req.into_body(), 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let verified = verifier.verify(&body, &headers).is_ok();
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let event_type = payload["type"].as_str().map(str::to_owned);
    let status = {
        let mut st = state.lock().unwrap();
        let status = if !verified {
            400
        } else if st.down_until.is_some_and(|t| Instant::now() < t) {
            503
        } else if st.fail_next > 0 {
            st.fail_next -= 1;
            500
        } else {
            204
        };
        st.deliveries.push(Delivery {
            webhook_id,
            event_type,
            payload,
            verified,
            status,
        });
        status
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .expect("a response"))
}
