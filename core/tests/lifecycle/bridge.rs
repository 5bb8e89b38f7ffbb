//! The Talkdesk Integrations bridge over the built-in D1 source: keys, imports, contact sync
//! (initial, next page, incremental) under concurrent edits, agents, interactions, actions, the
//! manifest, and hostile bodies.

use appconnect_core::app::{self, Head};
use appconnect_core::http::{ImportKind, Route};
use serde_json::{json, Value};
use talkdesk_sim::Alg;

use super::app::{TestApp, ADMIN_TOKEN};

impl TestApp {
    /// An operator request with a body of `content_type`.
    pub async fn admin_post(&self, route: Route, content_type: &str, body: &[u8]) -> (u16, Value) {
        let head = Head {
            content_type: Some(content_type.to_owned()),
            authorization: Some(format!("Bearer {ADMIN_TOKEN}")),
            ..Head::default()
        };
        if let Some(r) = app::precheck(&self.config, &route, &head) {
            return (
                r.status,
                serde_json::from_str(&r.body).unwrap_or(Value::Null),
            );
        }
        let r = app::handle(&self.ports, &self.config, route, &head, body)
            .await
            .reply;
        (
            r.status,
            serde_json::from_str(&r.body).unwrap_or(Value::Null),
        )
    }

    /// A bridge call as Talkdesk Integrations makes it.
    pub async fn bridge(&self, route: Route, body: &Value) -> (u16, Value) {
        self.bridge_raw(route, body.to_string().as_bytes(), None)
            .await
    }

    pub async fn bridge_raw(
        &self,
        route: Route,
        body: &[u8],
        idempotency: Option<&str>,
    ) -> (u16, Value) {
        let head = Head {
            content_type: Some("application/json".into()),
            idempotency_key: idempotency.map(str::to_owned),
            ..Head::default()
        };
        if let Some(r) = app::precheck(&self.config, &route, &head) {
            return (
                r.status,
                serde_json::from_str(&r.body).unwrap_or(Value::Null),
            );
        }
        let r = app::handle(&self.ports, &self.config, route, &head, body)
            .await
            .reply;
        (
            r.status,
            serde_json::from_str(&r.body).unwrap_or(Value::Null),
        )
    }

    /// A new integration key for the account.
    pub async fn integration_key(&self, account_id: &str) -> String {
        let (status, v) = self
            .admin_post(
                Route::AdminIntegrationKey(account_id.into()),
                "application/json",
                b"",
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v["integration_key"].as_str().unwrap().to_owned()
    }

    pub async fn import(&self, account_id: &str, kind: ImportKind, records: &Value) -> Value {
        let (status, v) = self
            .admin_post(
                Route::AdminImport(account_id.into(), kind),
                "application/json",
                records.to_string().as_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

fn contact(i: usize) -> Value {
    json!({
        "id": format!("c{i:06}"),
        "name": format!("Contact {i}"),
        "emails": [format!("Person{i}@Example.com")],
        "phones": [format!("(415) 555-{:04}", i % 10_000)],
    })
}

fn auth(key: &str) -> Value {
    json!({ "integration_key": key })
}

/// A full sync (or an incremental one from `checkpoint`), with `between` run after each page.
async fn sync(
    app: &TestApp,
    key: &str,
    checkpoint: Option<&str>,
    mut between: impl FnMut(usize) -> Option<Value>,
) -> (Vec<String>, String, usize) {
    let mut ids = Vec::new();
    let mut meta = match checkpoint {
        Some(c) => json!({ "synchronization_checkpoint": c }),
        None => json!({}),
    };
    let mut pages = 0;
    loop {
        let (status, page) = app
            .bridge(
                Route::BridgeContacts,
                &json!({"auth": auth(key), "meta": meta}),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for c in page["contacts"].as_array().unwrap() {
            ids.push(c["id"].as_str().unwrap().to_owned());
        }
        let checkpoint_now = page["synchronization_checkpoint"]
            .as_str()
            .unwrap()
            .to_owned();
        match page.get("next_offset") {
            Some(offset) => {
                meta = json!({ "offset": offset, "synchronization_checkpoint": checkpoint });
                if let Some(records) = between(pages) {
                    app.import(&app.account(), ImportKind::Contacts, &records)
                        .await;
                }
            }
            None => return (ids, checkpoint_now, pages),
        }
    }
}

impl TestApp {
    fn account(&self) -> String {
        // The first account installed (tests that add others name them).
        self.ports
            .db
            .select("SELECT account_id FROM accounts ORDER BY created_at, account_id")[0]
            ["account_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

async fn with_contacts(n: usize) -> (TestApp, String) {
    let app = TestApp::new();
    app.active(Alg::ES256).await;
    let account = app.account();
    let key = app.integration_key(&account).await;
    let records: Vec<Value> = (0..n).map(contact).collect();
    for chunk in records.chunks(5_000) {
        app.import(&account, ImportKind::Contacts, &json!(chunk))
            .await;
    }
    (app, key)
}

#[tokio::test]
async fn a_full_sync_pages_every_contact_once_with_normalised_emails_and_phones() {
    let (app, key) = with_contacts(250).await;
    let (status, first) = app
        .bridge(
            Route::BridgeContacts,
            &json!({"auth": auth(&key), "meta": {}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(first["contacts"][0]["emails"][0], "person0@example.com");
    assert_eq!(first["contacts"][0]["phones"][0], "+14155550000");
    let (ids, _, pages) = sync(&app, &key, None, |_| None).await;
    assert_eq!(pages, 3);
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 250);
    assert_eq!(ids, sorted, "in external-id order, each once");
}

#[tokio::test]
async fn an_incremental_sync_sees_every_edit_insert_and_delete_since_the_checkpoint() {
    let (app, key) = with_contacts(300).await;
    let (_, checkpoint, _) = sync(&app, &key, None, |_| None).await;
    let account = app.account();
    let mut changes: Vec<Value> = (0..50)
        .map(|i| {
            let mut c = contact(i * 3);
            c["name"] = json!(format!("Edited {i}"));
            c
        })
        .collect();
    changes.extend((1000..1020).map(contact));
    changes.extend((200..210).map(|i| json!({"id": format!("c{i:06}"), "deleted": true})));
    app.import(&account, ImportKind::Contacts, &json!(changes))
        .await;
    let (ids, next, _) = sync(&app, &key, Some(&checkpoint), |_| None).await;
    assert_eq!(
        ids.len(),
        70,
        "50 edits and 20 inserts; deletions are not sent"
    );
    assert!(ids.contains(&"c000003".to_owned()) && ids.contains(&"c001019".to_owned()));
    assert!(!ids.contains(&"c000200".to_owned()));
    // Nothing changed since: an empty incremental sync.
    let (ids, _, pages) = sync(&app, &key, Some(&next), |_| None).await;
    assert_eq!((ids.len(), pages), (0, 1));
    // Re-importing the same records changes nothing.
    let again = app
        .import(&account, ImportKind::Contacts, &json!(changes))
        .await;
    assert_eq!(again["changed"], 0, "{again}");
}

/// A small deterministic generator, so a failing case can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

#[tokio::test]
async fn contacts_edited_inserted_and_deleted_between_pages_are_neither_skipped_nor_repeated() {
    for seed in [1_u64, 7, 42] {
        let (app, key) = with_contacts(400).await;
        let mut rng = Lcg(seed);
        let mut deleted = std::collections::BTreeSet::new();
        let mut touched = std::collections::BTreeSet::new();
        let (ids, checkpoint, _) = sync(&app, &key, None, |_| {
            // Between pages: edit 10 contacts anywhere, insert 3, delete 2.
            let mut records: Vec<Value> = (0..10)
                .map(|_| {
                    let mut c = contact(rng.next(400));
                    c["name"] = json!(format!("Edited {}", rng.next(1_000_000)));
                    c
                })
                .collect();
            records.extend((0..3).map(|_| contact(400 + rng.next(10_000))));
            for _ in 0..2 {
                let victim = rng.next(400);
                deleted.insert(format!("c{victim:06}"));
                records.push(json!({"id": format!("c{victim:06}"), "deleted": true}));
            }
            for r in &records {
                touched.insert(r["id"].as_str().unwrap().to_owned());
            }
            Some(json!(records))
        })
        .await;
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "seed {seed}: a contact was repeated"
        );
        for i in 0..400 {
            let id = format!("c{i:06}");
            assert!(
                ids.contains(&id) || deleted.contains(&id),
                "seed {seed}: {id} existed throughout and was skipped"
            );
        }
        // Every change made during the sync is in the next incremental sync (deletions are not
        // sent), each once.
        let (changed, _, _) = sync(&app, &key, Some(&checkpoint), |_| None).await;
        let changed: std::collections::BTreeSet<String> = changed.into_iter().collect();
        let live_touched: std::collections::BTreeSet<String> =
            touched.difference(&deleted).cloned().collect();
        assert_eq!(changed, live_touched, "seed {seed}");
    }
}

#[tokio::test]
async fn a_key_reaches_only_its_own_account_and_a_new_key_replaces_the_old() {
    let (app, key) = with_contacts(5).await;
    let (status, _) = app
        .bridge(Route::BridgeAuth, &json!({"auth": auth(&key)}))
        .await;
    assert_eq!(status, 200);
    let first_account = app.account();
    // Another account with its own contacts and key.
    let other = app
        .active_spec(talkdesk_sim::InstallSpec::new("globex", Alg::PS256))
        .await;
    let other_key = app.integration_key(&other.account_id).await;
    app.import(
        &other.account_id,
        ImportKind::Contacts,
        &json!([{"id": "g1", "name": "Globex One"}]),
    )
    .await;
    let (_, page) = app
        .bridge(
            Route::BridgeContacts,
            &json!({"auth": auth(&other_key), "meta": {}}),
        )
        .await;
    assert_eq!(page["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(page["contacts"][0]["id"], "g1");
    let stored = app.ports.db.select("SELECT key_hash FROM integration_keys");
    assert!(stored
        .iter()
        .all(|r| !key.contains(r["key_hash"].as_str().unwrap())));
    let replacement = app.integration_key(&first_account).await;
    assert_eq!(
        app.bridge(Route::BridgeAuth, &json!({"auth": auth(&key)}))
            .await
            .0,
        401
    );
    assert_eq!(
        app.bridge(Route::BridgeAuth, &json!({"auth": auth(&replacement)}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn agents_page_and_interactions_are_found_by_id_email_or_phone_newest_first() {
    let (app, key) = with_contacts(3).await;
    let account = app.account();
    let agents: Vec<Value> = (0..150)
        .map(|i| json!({"id": format!("a{i:04}"), "name": format!("Agent {i}"), "email": format!("A{i}@X.com")}))
        .collect();
    app.import(&account, ImportKind::Agents, &json!(agents))
        .await;
    let (_, first) = app
        .bridge(Route::BridgeAgents, &json!({"auth": auth(&key)}))
        .await;
    assert_eq!(first["agents"].as_array().unwrap().len(), 100);
    assert_eq!(first["agents"][0]["email"], "a0@x.com");
    let (_, second) = app
        .bridge(
            Route::BridgeAgents,
            &json!({"auth": auth(&key), "meta": {"offset": first["next_offset"]}}),
        )
        .await;
    assert_eq!(second["agents"].as_array().unwrap().len(), 50);
    assert!(second.get("next_offset").is_none());

    app.import(&account, ImportKind::Interactions, &json!([
        {"id": "i1", "contact_external_id": "c000001", "subject": "Old", "date": "2026-01-01T00:00:00Z", "type": "call"},
        {"id": "i2", "contact_external_id": "c000001", "subject": "New", "date": "2026-06-01T00:00:00Z", "type": "note", "priority": "high", "status": "open"},
        {"id": "i3", "contact_external_id": "c000002", "subject": "Other", "date": "2026-06-01T00:00:00Z", "type": "call"},
    ])).await;
    for data in [
        json!({"contact_external_id": "c000001"}),
        json!({"contact_emails": ["PERSON1@example.com"]}),
        json!({"contact_phones": ["+1 415 555 0001"]}),
    ] {
        let (status, found) = app
            .bridge(
                Route::BridgeInteractions,
                &json!({"auth": auth(&key), "meta": {"interaction_types": []}, "data": data}),
            )
            .await;
        assert_eq!(status, 200, "{found}");
        let subjects: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["subject"].as_str().unwrap())
            .collect();
        assert_eq!(subjects, ["New", "Old"], "{data}");
    }
    let (_, calls) = app
        .bridge(Route::BridgeInteractions, &json!({"auth": auth(&key), "meta": {"interaction_types": ["call"]}, "data": {"contact_external_id": "c000001"}}))
        .await;
    assert_eq!(calls.as_array().unwrap().len(), 1);
    assert_eq!(calls[0]["type"], "call");
}

#[tokio::test]
async fn an_action_answers_201_once_per_request_key_and_is_recorded() {
    let (app, key) = with_contacts(2).await;
    let body = json!({"auth": auth(&key), "meta": {"contact_external_id": "c000001", "agent_external_id": "a1"},
                      "data": {"subject": "Called back", "body": "All good"}});
    let (status, first) = app
        .bridge_raw(
            Route::BridgeAction("create_note".into()),
            body.to_string().as_bytes(),
            Some("req-1"),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert!(first["external_id"].as_str().unwrap().starts_with("act-"));
    assert_eq!(first["contact_external_id"], "c000001");
    assert!(first["contact_external_url"]
        .as_str()
        .unwrap()
        .ends_with("/app"));
    let (status, again) = app
        .bridge_raw(
            Route::BridgeAction("create_note".into()),
            body.to_string().as_bytes(),
            Some("req-1"),
        )
        .await;
    assert_eq!((status, &again), (201, &first));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM bridge_actions"), 1);
    // The operator sees it.
    let head = Head {
        authorization: Some(format!("Bearer {ADMIN_TOKEN}")),
        ..Head::default()
    };
    let view = app::handle(
        &app.ports,
        &app.config,
        Route::AdminAccount(app.account()),
        &head,
        b"",
    )
    .await
    .reply;
    let view: Value = serde_json::from_str(&view.body).unwrap();
    assert_eq!(view["bridge_actions"]["count"], 1, "{view}");
    assert_eq!(view["bridge_actions"]["recent"][0]["action"], "create_note");
    assert!(!view.to_string().contains(&key), "no key in the view");
    // The note is now in the contact's history.
    let (_, found) = app
        .bridge(
            Route::BridgeInteractions,
            &json!({"auth": auth(&key), "data": {"contact_external_id": "c000001"}}),
        )
        .await;
    assert_eq!(found[0]["subject"], "Called back");
}

#[tokio::test]
async fn the_manifest_lists_the_endpoints_under_the_public_base_url() {
    let app = TestApp::new();
    let head = Head {
        authorization: Some(format!("Bearer {ADMIN_TOKEN}")),
        ..Head::default()
    };
    assert!(app::precheck(&app.config, &Route::IntegrationManifest, &Head::default()).is_some());
    let r = app::handle(
        &app.ports,
        &app.config,
        Route::IntegrationManifest,
        &head,
        b"",
    )
    .await
    .reply;
    let m: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        m["auth_validation_endpoint"],
        format!("{}/bridge/auth", super::sso::BASE)
    );
    assert_eq!(
        m["actions"][1]["endpoint"],
        format!("{}/bridge/actions/log_call", super::sso::BASE)
    );
}

/// Hostile bodies: each is a 4xx and changes nothing.
#[tokio::test]
async fn hostile_bridge_bodies_are_refused_and_change_nothing() {
    let (app, key) = with_contacts(3).await;
    let k = auth(&key);
    let cases: Vec<(Route, Value, u16)> = vec![
        (Route::BridgeAuth, json!({}), 401),
        (Route::BridgeAuth, json!({"auth": {}}), 401),
        (
            Route::BridgeAuth,
            json!({"auth": {"integration_key": ""}}),
            401,
        ),
        (
            Route::BridgeAuth,
            json!({"auth": {"integration_key": 42}}),
            401,
        ),
        (
            Route::BridgeAuth,
            json!({"auth": {"integration_key": "x.y"}}),
            401,
        ),
        (
            Route::BridgeAuth,
            json!({"auth": {"integration_key": "a".repeat(300)}}),
            401,
        ),
        (
            Route::BridgeAuth,
            json!({"auth": {"integration_key": format!("{key}x")}}),
            401,
        ),
        (Route::BridgeAuth, json!({"auth": "key"}), 401),
        (Route::BridgeAuth, json!([1, 2]), 400),
        (Route::BridgeContacts, json!({"auth": k, "meta": "x"}), 400),
        (
            Route::BridgeContacts,
            json!({"auth": k, "meta": {"offset": "not-ours"}}),
            400,
        ),
        (
            Route::BridgeContacts,
            json!({"auth": k, "meta": {"offset": 7}}),
            400,
        ),
        (
            Route::BridgeContacts,
            json!({"auth": k, "meta": {"offset": "e30"}}),
            400,
        ),
        (
            Route::BridgeContacts,
            json!({"auth": k, "meta": {"synchronization_checkpoint": "-1"}}),
            400,
        ),
        (
            Route::BridgeContacts,
            json!({"auth": k, "meta": {"synchronization_checkpoint": "1e9"}}),
            400,
        ),
        (
            Route::BridgeContacts,
            json!({"auth": k, "meta": {"synchronization_checkpoint": ["1"]}}),
            400,
        ),
        (
            Route::BridgeAgents,
            json!({"auth": k, "meta": {"offset": "zzz"}}),
            400,
        ),
        (Route::BridgeAgents, json!({"auth": k, "meta": []}), 400),
        (Route::BridgeInteractions, json!({"auth": k}), 400),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": {}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": "c1"}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": {"contact_emails": "a@b.c"}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": {"contact_emails": ["not an email"]}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": {"contact_phones": ["call me"]}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": {"contact_external_id": ""}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": {"contact_external_id": {"$ne": 1}}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "meta": {"interaction_types": ["sms"]}, "data": {"contact_external_id": "c1"}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "meta": {"interaction_types": "call"}, "data": {"contact_external_id": "c1"}}),
            400,
        ),
        (
            Route::BridgeInteractions,
            json!({"auth": k, "data": {"contact_emails": vec!["a@b.co"; 50]}}),
            400,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": k}),
            400,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": k, "meta": {}}),
            400,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {}}),
            400,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {"subject": 5}}),
            400,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {"subject": "x".repeat(201)}}),
            400,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {"subject": "a\nb"}}),
            400,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {"subject": "s", "extra": 1}}),
            400,
        ),
        (
            Route::BridgeAction("log_call".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {"subject": "s", "duration_seconds": "long"}}),
            400,
        ),
        (
            Route::BridgeAction("log_call".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {"subject": "s", "duration_seconds": 3, "outcome": "maybe"}}),
            400,
        ),
        (
            Route::BridgeAction("drop_tables".into()),
            json!({"auth": k, "meta": {"contact_external_id": "c1"}}),
            404,
        ),
        (
            Route::BridgeAction("create_note".into()),
            json!({"auth": {"integration_key": "nope.nope"}, "meta": {"contact_external_id": "c1"}, "data": {"subject": "s"}}),
            401,
        ),
    ];
    assert!(cases.len() >= 40, "{}", cases.len());
    let counts = |app: &TestApp| {
        [
            "SELECT COUNT(*) AS n FROM bridge_contacts",
            "SELECT COUNT(*) AS n FROM bridge_interactions",
            "SELECT COUNT(*) AS n FROM bridge_actions",
            "SELECT COUNT(*) AS n FROM integration_keys",
        ]
        .map(|q| app.count(q))
    };
    let before = counts(&app);
    let outbound = app.sim.requests().len();
    for (route, body, status) in cases {
        let (got, answer) = app.bridge(route.clone(), &body).await;
        assert_eq!(got, status, "{route:?} {body}: {answer}");
        if status == 400 {
            assert!(answer["path"].is_string(), "names the field: {answer}");
            if body["meta"]["agent_external_id"].is_string() {
                assert!(
                    answer["path"].as_str().unwrap().starts_with("data."),
                    "an action's bad input is named: {answer}"
                );
            }
        }
    }
    for raw in [&b"not json"[..], b"", b"{\"auth\":", b"\xff\xfe"] {
        assert_eq!(app.bridge_raw(Route::BridgeAuth, raw, None).await.0, 400);
    }
    assert_eq!(
        app.bridge_raw(
            Route::BridgeAction("create_note".into()),
            b"{}",
            Some("\u{7f}bad")
        )
        .await
        .0,
        401,
        "the key is checked before the idempotency key"
    );
    assert_eq!(counts(&app), before, "nothing changed");
    assert_eq!(app.sim.requests().len(), outbound, "no outbound call");
}

#[tokio::test]
async fn a_bad_import_names_its_record_and_stores_nothing() {
    let app = TestApp::new();
    app.active(Alg::ES256).await;
    let account = app.account();
    let records = json!([contact(1), {"id": "c2", "name": "Bad", "emails": ["nope"]}]);
    let (status, v) = app
        .admin_post(
            Route::AdminImport(account.clone(), ImportKind::Contacts),
            "application/json",
            records.to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["path"], "$[1].emails[0]");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM bridge_contacts"), 0);
    let (status, _) = app
        .admin_post(
            Route::AdminImport("no-such-account".into(), ImportKind::Contacts),
            "application/json",
            b"[]",
        )
        .await;
    assert_eq!(status, 404);
    let csv = "id,name,emails\nc9,Nine,NINE@X.COM\n";
    let (status, v) = app
        .admin_post(
            Route::AdminImport(account, ImportKind::Contacts),
            "text/csv",
            csv.as_bytes(),
        )
        .await;
    assert_eq!((status, v["changed"].as_u64()), (200, Some(1)));
}

#[tokio::test]
async fn an_integration_admin_issues_the_key_from_the_app_page_and_others_cannot() {
    let app = TestApp::new();
    let inst = app.active(Alg::ES256).await;
    let (admin, other) = (&inst.users[0], &inst.users[1]);
    let settings = json!({ "integration_admins": [admin.email.to_uppercase()] });
    let (status, _) = app
        .admin_post(
            Route::AdminAccountSettings(inst.account_id.clone()),
            "application/json",
            settings.to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, 200);

    let (_, mut jar) = app.sign_in(&inst.installation_id, &admin.id).await;
    let home = app.home(&mut jar).await;
    assert!(home.body.contains("id=\"issue-key\""), "{}", home.body);
    let at = home.body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = home.body[at..at + 43].to_owned();
    let issued = app
        .visit(
            &mut jar,
            Route::AppIntegrationKey,
            vec![],
            format!("csrf={csrf}").as_bytes(),
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let marker = "id=\"integration-key\" readonly size=\"64\" value=\"";
    let at = issued.body.find(marker).unwrap() + marker.len();
    let key: String = issued.body[at..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    assert_eq!(
        app.bridge(Route::BridgeAuth, &json!({"auth": auth(&key)}))
            .await
            .0,
        200
    );
    assert!(!app.ports.log.text().contains(&key));
    // Without the page's token nothing is issued.
    let refused = app
        .visit(&mut jar, Route::AppIntegrationKey, vec![], b"csrf=x")
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        app.bridge(Route::BridgeAuth, &json!({"auth": auth(&key)}))
            .await
            .0,
        200
    );

    let (_, mut other_jar) = app.sign_in(&inst.installation_id, &other.id).await;
    let home = app.home(&mut other_jar).await;
    assert!(!home.body.contains("issue-key"));
    let at = home.body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = home.body[at..at + 43].to_owned();
    let denied = app
        .visit(
            &mut other_jar,
            Route::AppIntegrationKey,
            vec![],
            format!("csrf={csrf}").as_bytes(),
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        app.bridge(Route::BridgeAuth, &json!({"auth": auth(&key)}))
            .await
            .0,
        200,
        "the key stands"
    );
}
