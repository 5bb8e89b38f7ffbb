//! The client against a tiny scripted bridge: what it sends, how it pages, and which answers it
//! refuses (the rules themselves are tested in `bridge_rules`).

use super::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};

/// Status, content type, body.
type Answer = (u16, &'static str, String);

fn ok(v: Value) -> Answer {
    (200, "application/json", v.to_string())
}

/// What the bridge received: path, JSON body, `Idempotency-Key`.
type Seen = (String, Value, Option<String>);

struct Bridge {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Bridge {
    /// A bridge answering each request with `script(path after /bridge, body)`.
    async fn start(script: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static) -> Bridge {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/bridge", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (script, log) = (Arc::new(script), seen.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, log) = (script.clone(), log.clone());
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (script, log) = (script.clone(), log.clone());
                    async move {
                        let path = req.uri().path().trim_start_matches("/bridge").to_string();
                        let key = req
                            .headers()
                            .get("idempotency-key")
                            .map(|v| v.to_str().unwrap().to_string());
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let (status, ct, text) = script(&path, &body);
                        log.lock().unwrap().push((path, body, key));
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(status)
                                .header("content-type", ct)
                                .body(Full::new(Bytes::from(text)))
                                .unwrap(),
                        )
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), svc));
            }
        });
        Bridge { base, seen }
    }

    fn client(&self) -> IntegrationsClient {
        IntegrationsClient::new(&self.base, "key-1")
    }

    fn metas(&self) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.1["meta"].clone())
            .collect()
    }
}

fn contact(id: &str) -> Value {
    json!({"id": id, "name": id, "emails": [], "phones": []})
}

/// A bridge with contacts `c1..=c{n}`, two per page, pages at offsets 0, 2, 4…, checkpoint
/// `cp{offset}`, and a context naming the next offset.
fn paged(n: usize) -> impl Fn(&str, &Value) -> Answer {
    move |_, body| {
        let offset = body["meta"]["offset"].as_u64().unwrap_or(0) as usize;
        let ids: Vec<Value> = (offset + 1..=(offset + 2).min(n))
            .map(|i| contact(&format!("c{i}")))
            .collect();
        let mut page =
            json!({"contacts": ids, "synchronization_checkpoint": format!("cp{offset}")});
        if offset + 2 < n {
            page["next_offset"] = json!(offset + 2);
            page["context"] = json!({"next": offset + 2});
        }
        ok(page)
    }
}

#[tokio::test]
async fn a_full_sync_starts_with_empty_meta_and_pages_with_offset_checkpoint_and_context() {
    let bridge = Bridge::start(paged(5)).await;
    let report = bridge.client().full_sync().await.unwrap();
    assert_eq!(report.pages, 3);
    assert_eq!(report.checkpoint, "cp4");
    let ids: Vec<&str> = report
        .contacts
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c1", "c2", "c3", "c4", "c5"]);
    assert!(report.repeated_ids.is_empty());
    assert_eq!(
        bridge.metas(),
        [
            json!({}),
            json!({"offset": 2, "synchronization_checkpoint": "cp0", "context": {"next": 2}}),
            json!({"offset": 4, "synchronization_checkpoint": "cp2", "context": {"next": 4}}),
        ]
    );
    let (path, body, _) = bridge.seen.lock().unwrap()[0].clone();
    assert_eq!(path, "/contacts");
    assert_eq!(body["auth"], json!({"integration_key": "key-1"}));
}

#[tokio::test]
async fn an_incremental_sync_sends_its_checkpoint_on_every_page() {
    let bridge = Bridge::start(paged(3)).await;
    let report = bridge.client().incremental_sync("cp-old").await.unwrap();
    assert_eq!(report.pages, 2);
    assert_eq!(
        bridge.metas(),
        [
            json!({"synchronization_checkpoint": "cp-old"}),
            json!({"offset": 2, "synchronization_checkpoint": "cp-old", "context": {"next": 2}}),
        ]
    );
}

#[tokio::test]
async fn a_contact_repeated_within_a_sync_is_reported_once() {
    let bridge = Bridge::start(|_, body| {
        let page = if body["meta"]["offset"].is_null() {
            json!({"contacts": [contact("a"), contact("b")], "next_offset": "p2",
                   "synchronization_checkpoint": "1"})
        } else {
            json!({"contacts": [contact("b"), contact("b"), contact("a")],
                   "synchronization_checkpoint": "2"})
        };
        ok(page)
    })
    .await;
    let report = bridge.client().full_sync().await.unwrap();
    assert_eq!(report.contacts.len(), 5);
    assert_eq!(report.repeated_ids, ["b", "a"]);
}

#[tokio::test]
async fn a_broken_page_is_a_contract_error_naming_page_and_rule() {
    let bridge = Bridge::start(|_, body| {
        if body["meta"]["offset"].is_null() {
            ok(json!({"contacts": [contact("a")], "next_offset": 1, "synchronization_checkpoint": "1"}))
        } else {
            ok(json!({"contacts": [{"id": "b", "name": "B", "emails": []}],
                      "synchronization_checkpoint": "2"}))
        }
    })
    .await;
    let err = bridge.client().full_sync().await.unwrap_err();
    assert_eq!(err.rule(), Some("page 2: contacts[0].phones: required"));
    assert_eq!(
        err.to_string(),
        "/contacts: page 2: contacts[0].phones: required"
    );
}

#[tokio::test]
async fn a_bridge_that_never_stops_paging_is_cut_off_by_the_page_guard() {
    let bridge = Bridge::start(|_, body| {
        let n = body["meta"]["offset"].as_u64().unwrap_or(0);
        ok(
            json!({"contacts": [contact(&format!("c{n}"))], "next_offset": n + 1,
                  "synchronization_checkpoint": "1"}),
        )
    })
    .await;
    let err = bridge
        .client()
        .with_max_pages(4)
        .full_sync()
        .await
        .unwrap_err();
    assert_eq!(
        err.rule(),
        Some("page 4: still a next_offset after 4 pages (a paging loop?)")
    );
    assert_eq!(bridge.seen.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_next_offset_equal_to_the_one_asked_for_is_a_loop() {
    let bridge = Bridge::start(|_, _| {
        ok(json!({"contacts": [contact("a")], "next_offset": 7, "synchronization_checkpoint": "1"}))
    })
    .await;
    let err = bridge.client().full_sync().await.unwrap_err();
    assert_eq!(
        err.rule(),
        Some("page 2: next_offset 7 is the offset just asked for (the sync would never end)")
    );
}

#[tokio::test]
async fn activation_succeeds_on_200_and_reports_401_as_a_status() {
    let bridge = Bridge::start(|_, body| {
        if body["auth"]["integration_key"] == "key-1" {
            (200, "application/json", String::new())
        } else {
            (
                401,
                "application/json",
                json!({"error": "bad key"}).to_string(),
            )
        }
    })
    .await;
    bridge.client().activate().await.unwrap();
    let err = IntegrationsClient::new(&bridge.base, "wrong")
        .activate()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err,
        BridgeError::Status {
            endpoint: "/auth".into(),
            status: 401,
            body: json!({"error": "bad key"})
        }
    );
    assert_eq!(
        bridge.seen.lock().unwrap()[0].1,
        json!({"auth": {"integration_key": "key-1"}})
    );
}

#[tokio::test]
async fn a_json_answer_must_say_so_in_its_content_type() {
    let bridge = Bridge::start(|_, _| (200, "text/plain", "{}".into())).await;
    let err = bridge.client().activate().await.unwrap_err();
    assert_eq!(
        err.rule(),
        Some("content-type: \"text/plain\" is not application/json")
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_contract_error() {
    let bridge = Bridge::start(|_, _| (200, "application/json", "{\"contacts\":".into())).await;
    let err = bridge.client().full_sync().await.unwrap_err();
    assert!(err.rule().unwrap().starts_with("answer: not JSON"), "{err}");
}

#[tokio::test]
async fn a_server_error_is_a_status_error_with_the_body_as_text() {
    let bridge = Bridge::start(|_, _| (503, "text/plain", "busy".into())).await;
    let err = bridge.client().agents().await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.to_json()["body"], "busy");
}

#[tokio::test]
async fn no_answer_at_all_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/bridge", listener.local_addr().unwrap());
    drop(listener);
    let err = IntegrationsClient::new(&base, "k")
        .activate()
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Transport { .. }), "{err:?}");
    assert_eq!(err.to_json()["kind"], "transport");
}

#[tokio::test]
async fn agents_are_paged_with_offset_only() {
    let bridge = Bridge::start(|_, body| {
        let agent = |id: &str| json!({"id": id, "name": id, "email": format!("{id}@x.io")});
        if body["meta"]["offset"].is_null() {
            ok(json!({"agents": [agent("a1")], "next_offset": "n2"}))
        } else {
            ok(json!({"agents": [agent("a2")]}))
        }
    })
    .await;
    let agents = bridge.client().agents().await.unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(bridge.metas(), [json!({}), json!({"offset": "n2"})]);
    assert_eq!(bridge.seen.lock().unwrap()[1].0, "/agents");
}

#[tokio::test]
async fn an_agent_repeated_across_pages_is_a_contract_error() {
    let bridge = Bridge::start(|_, body| {
        let a = json!({"id": "a1", "name": "A", "email": "a@x.io"});
        if body["meta"]["offset"].is_null() {
            ok(json!({"agents": [a], "next_offset": 1}))
        } else {
            ok(json!({"agents": [a]}))
        }
    })
    .await;
    let err = bridge.client().agents().await.unwrap_err();
    assert_eq!(err.rule(), Some("page 2: agent id \"a1\" repeated"));
}

#[tokio::test]
async fn interactions_send_the_contact_and_types_and_check_the_bare_array() {
    let bridge = Bridge::start(|_, _| {
        ok(json!([{"id": "i1", "subject": "S", "date": "2024-01-01T00:00:00Z", "type": "call"}]))
    })
    .await;
    let got = bridge
        .client()
        .interactions(Some("c1"), &["a@x.io"], &["+14155550123"], &["call"])
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let (path, body, _) = bridge.seen.lock().unwrap()[0].clone();
    assert_eq!(path, "/interactions");
    assert_eq!(
        body,
        json!({"auth": {"integration_key": "key-1"}, "meta": {"interaction_types": ["call"]},
               "data": {"contact_external_id": "c1", "contact_name": null,
                        "contact_emails": ["a@x.io"], "contact_phones": ["+14155550123"]}})
    );
    let err = bridge
        .client()
        .interactions(None, &[], &[], &["email"])
        .await
        .unwrap_err();
    assert!(err
        .rule()
        .unwrap()
        .starts_with("[0].type: \"call\" was not asked for"));
}

#[tokio::test]
async fn an_action_carries_meta_data_and_idempotency_key_and_needs_201() {
    let bridge = Bridge::start(|path, _| {
        let answer = json!({"external_id": "t1", "contact_external_url": "https://crm/t1"});
        match path {
            "/actions/create_ticket" => (201, "application/json", answer.to_string()),
            _ => ok(answer),
        }
    })
    .await;
    let (status, answer) = bridge
        .client()
        .action(
            "create_ticket",
            "c1",
            "a1",
            json!({"subject": "Hi"}),
            Some("k-1"),
        )
        .await
        .unwrap();
    assert_eq!((status, answer["external_id"].clone()), (201, json!("t1")));
    let (path, body, key) = bridge.seen.lock().unwrap()[0].clone();
    assert_eq!(path, "/actions/create_ticket");
    assert_eq!(key.as_deref(), Some("k-1"));
    assert_eq!(
        body["meta"],
        json!({"contact_external_id": "c1", "agent_external_id": "a1"})
    );
    assert_eq!(body["data"], json!({"subject": "Hi"}));
    let err = bridge
        .client()
        .action("other", "c1", "a1", json!({}), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(200));
    assert_eq!(bridge.seen.lock().unwrap()[1].2, None);
}

#[tokio::test]
async fn raw_sends_the_body_as_given_and_returns_whatever_came_back() {
    let bridge = Bridge::start(|_, _| (400, "text/plain", "nope".into())).await;
    let (status, body) = bridge.client().raw("/contacts", json!({"meta": 1})).await;
    assert_eq!((status, body), (400, json!("nope")));
    assert_eq!(bridge.seen.lock().unwrap()[0].1, json!({"meta": 1}));
}
