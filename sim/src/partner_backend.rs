//! A strict fake of a partner's own CRM REST API, the system of record the worker's REST
//! connector reads from and writes actions to. One backend is one CRM (one Talkdesk account): it
//! serves `partner_http` on its own loopback port and thread, and its handle seeds, edits and
//! inspects the data directly, with no HTTP.
//!
//! ```no_run
//! use talkdesk_sim::PartnerBackend;
//! let crm = PartnerBackend::start("crm-token-1");
//! let uids = crm.add_contacts(250);
//! crm.edit_contact(&uids[3]);
//! // GET {crm.base_url()}/crm/contacts?since=0&limit=100 with `Authorization: Bearer crm-token-1`
//! ```

use crate::http::Reply;
use crate::partner_data::PartnerData;
use crate::partner_http::{self, FaultKind, FaultRule, Incoming, RecordedRequest, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// A running fake CRM. Dropping it stops the server.
pub struct PartnerBackend {
    shared: Arc<Shared>,
    base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PartnerBackend {
    /// Serves on a free port of 127.0.0.1; every request must carry `Authorization: Bearer
    /// {token}`. Panics if no port or thread can be had (a test cannot go on without it).
    pub fn start(token: &str) -> PartnerBackend {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        let base_url = format!("http://{}", listener.local_addr().expect("local address"));
        let shared = Arc::new(Shared {
            token: token.to_string(),
            data: Mutex::new(PartnerData::new(&base_url)),
            log: Mutex::default(),
            faults: Mutex::default(),
        });
        // Its own runtime on its own thread, as the simulator's: the handle then works from any
        // test runtime and from sync code.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(listener).expect("listener")
        };
        let (tx, rx) = oneshot::channel();
        let server = shared.clone();
        let thread = std::thread::Builder::new()
            .name("partner-backend".into())
            .spawn(move || {
                rt.block_on(serve(listener, server, rx));
                rt.shutdown_background();
            })
            .expect("thread");
        PartnerBackend {
            shared,
            base_url,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (the API is under `/crm/…`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn token(&self) -> String {
        self.shared.token.clone()
    }

    // ---- seeding and editing (each insert, edit and delete takes the next `updated_seq`) -------

    /// `n` generated contacts (`c000001`…, names with accents, mixed-case emails, US national
    /// and UK international phones); returns their uids in order.
    pub fn add_contacts(&self, n: usize) -> Vec<String> {
        self.shared.data().add_contacts(n)
    }
    /// Inserts or replaces a contact from `{uid?, full_name, company, job_title,
    /// email_addresses, phone_numbers, profile_url}`, values kept as given (hostile data welcome);
    /// missing strings are `null`, missing lists `[]`. Panics on an unknown member. Returns the uid.
    pub fn insert_contact(&self, contact: Value) -> String {
        self.shared.data().insert_contact(contact)
    }
    /// Renames a live contact (`… (rev N)`). Panics if it is unknown or deleted.
    pub fn edit_contact(&self, uid: &str) {
        self.shared.data().edit_contact(uid)
    }
    /// Overwrites the members in `patch` of a live contact. Panics if it is unknown or deleted.
    pub fn update_contact(&self, uid: &str, patch: Value) {
        self.shared.data().update_contact(uid, patch)
    }
    /// Leaves a tombstone (`deleted: true`, data members `null`). Panics if unknown or deleted.
    pub fn delete_contact(&self, uid: &str) {
        self.shared.data().delete_contact(uid)
    }
    /// `n` generated agents (`a000001`…, mixed-case emails); returns their uids.
    pub fn add_agents(&self, n: usize) -> Vec<String> {
        self.shared.data().add_agents(n)
    }
    /// Inserts or replaces an agent `{uid?, display_name, email}` as given; returns its uid.
    pub fn insert_agent(&self, agent: Value) -> String {
        self.shared.data().insert_agent(agent)
    }
    /// An interaction of a live contact, newer than every one added before it, priority `normal`,
    /// state `open`; returns its uid.
    pub fn add_interaction(&self, contact_uid: &str, kind: &str, title: &str) -> String {
        self.shared.data().add_interaction(contact_uid, kind, title)
    }
    /// An interaction of a live contact from `{uid?, title, body, occurred_at, link, kind,
    /// priority, state}`, values kept as given; returns its uid.
    pub fn insert_interaction(&self, contact_uid: &str, record: Value) -> String {
        self.shared.data().insert_interaction(contact_uid, record)
    }

    // ---- inspection ----------------------------------------------------------------------------

    /// Live contacts as the API shows them, by uid.
    pub fn contacts_live(&self) -> Vec<Value> {
        self.shared.data().contacts_live()
    }
    /// The highest `updated_seq` handed out.
    pub fn high_water(&self) -> u64 {
        self.shared.data().high_water()
    }
    /// Every request received, in order (faulted and refused ones included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().unwrap().clone()
    }
    /// Every action record created: `{name, contact, agent, inputs, request_key, uid, link}`.
    pub fn actions(&self) -> Vec<Value> {
        self.shared.data().actions()
    }

    // ---- faults --------------------------------------------------------------------------------

    /// The next `times` requests whose path and query start with `path_prefix` answer `status`
    /// with `{"error"}` (429 with `Retry-After: 1`), before auth is checked.
    pub fn fault(&self, path_prefix: &str, status: u16, times: usize) {
        self.arm(path_prefix, FaultKind::Status(status), times);
    }
    /// The next `times` requests whose path and query start with `path_prefix` wait `delay`,
    /// then are answered normally.
    pub fn stall(&self, path_prefix: &str, delay: Duration, times: usize) {
        self.arm(path_prefix, FaultKind::Stall(delay), times);
    }

    fn arm(&self, prefix: &str, kind: FaultKind, times: usize) {
        self.shared.faults.lock().unwrap().push(FaultRule {
            prefix: prefix.to_string(),
            kind,
            times,
        });
    }
}

impl Drop for PartnerBackend {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(shared.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

/// Faults first, then the API; every request is logged with its status.
async fn answer(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_string());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (authorization, content_type) = (header("authorization"), header("content-type"));
    let authorized = partner_http::authorized(&shared.token, authorization.as_deref());
    let body = Limited::new(req.into_body(), 1 << 20).collect().await;
    let reply = match (shared.take_fault(&path_and_query), body) {
        (Some(FaultKind::Status(status)), _) => fault_reply(status),
        (_, Err(_)) => Reply::json(
            400,
            serde_json::json!({"error": "body: too large or unreadable"}),
        ),
        (fault, Ok(body)) => {
            if let Some(FaultKind::Stall(delay)) = fault {
                tokio::time::sleep(delay).await;
            }
            let body = body.to_bytes();
            let incoming = Incoming {
                method: &method,
                path: &path,
                query: &query,
                authorization: authorization.as_deref(),
                content_type: content_type.as_deref(),
                body: &body,
            };
            partner_http::handle(&shared, &incoming)
        }
    };
    shared.log.lock().unwrap().push(RecordedRequest {
        method,
        path: path_and_query,
        authorized,
        status: reply.status,
    });
    Ok(reply.into_response())
}

fn fault_reply(status: u16) -> Reply {
    let mut r = Reply::json(
        status,
        serde_json::json!({"error": format!("fault injected: status {status}")}),
    );
    if status == 429 {
        r.headers.push(("retry-after", "1".into()));
    }
    r
}
