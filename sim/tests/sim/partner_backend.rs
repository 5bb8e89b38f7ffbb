//! The fake partner CRM over HTTP: auth, paging by change sequence and uid, tombstones, strict
//! query parameters, interaction lookups, idempotent actions, faults.

use crate::helpers::http;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use talkdesk_sim::PartnerBackend;

const TOKEN: &str = "crm-token-1";

async fn get(crm: &PartnerBackend, path_and_query: &str) -> (u16, Value) {
    let resp = http()
        .get(format!("{}{path_and_query}", crm.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn post(crm: &PartnerBackend, path: &str, body: Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{}{path}", crm.base_url()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn uids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uid"].as_str().unwrap().to_string())
        .collect()
}

/// Every contact changed after `since`, read page by page with `after`.
async fn read_all(crm: &PartnerBackend, since: u64, limit: usize) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut after) = (vec![], 0, String::new());
    loop {
        let cursor = if after.is_empty() {
            String::new()
        } else {
            format!("&after={after}")
        };
        let (status, page) = get(
            crm,
            &format!("/crm/contacts?since={since}&limit={limit}{cursor}"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let got = page["items"].as_array().unwrap().clone();
        if got.is_empty() {
            return (items, pages);
        }
        after = got.last().unwrap()["uid"].as_str().unwrap().to_string();
        items.extend(got);
    }
}

#[tokio::test]
async fn a_request_without_the_token_is_refused_with_401_and_logged_as_unauthorized() {
    let crm = PartnerBackend::start(TOKEN);
    for auth in [None, Some("Bearer wrong"), Some("Basic Y3JtOg==")] {
        let mut req = http().get(format!("{}/crm/agents?limit=5", crm.base_url()));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"].is_string());
    }
    let (status, _) = get(&crm, "/crm/agents?limit=5").await;
    assert_eq!(status, 200);
    let log = crm.requests();
    assert_eq!(log.len(), 4);
    assert!(!log[0].authorized && log[3].authorized);
    assert_eq!(
        (log[3].method.as_str(), log[3].path.as_str()),
        ("GET", "/crm/agents?limit=5")
    );
    assert_eq!(log[0].status, 401);
}

#[tokio::test]
async fn paging_by_uid_reads_every_contact_once_in_uid_order() {
    let crm = PartnerBackend::start(TOKEN);
    let ids = crm.add_contacts(25);
    let (items, pages) = read_all(&crm, 0, 10).await;
    let got: Vec<String> = items
        .iter()
        .map(|c| c["uid"].as_str().unwrap().into())
        .collect();
    assert_eq!(got, ids);
    assert_eq!(pages, 4);
    let (_, first) = get(&crm, "/crm/contacts?since=0&limit=1").await;
    assert_eq!(first["high_water"], 25);
    let c = &first["items"][0];
    for key in ["full_name", "company", "job_title", "profile_url"] {
        assert!(c[key].is_string(), "{key} in {c}");
    }
    assert_eq!(c["deleted"], false);
    assert_eq!(c["updated_seq"], 1);
}

#[tokio::test]
async fn since_returns_only_later_changes_including_tombstones() {
    let crm = PartnerBackend::start(TOKEN);
    let ids = crm.add_contacts(5);
    let mark = crm.high_water();
    crm.edit_contact(&ids[3]);
    crm.delete_contact(&ids[1]);
    let (_, page) = get(&crm, &format!("/crm/contacts?since={mark}&limit=100")).await;
    assert_eq!(uids(&page), [ids[1].clone(), ids[3].clone()]);
    assert_eq!(page["high_water"], mark + 2);
    let tomb = &page["items"][0];
    assert_eq!(tomb["deleted"], true);
    assert_eq!(tomb["full_name"], Value::Null);
    assert!(page["items"][1]["full_name"]
        .as_str()
        .unwrap()
        .ends_with("(rev 6)"));
    assert_eq!(crm.contacts_live().len(), 4);
}

#[tokio::test]
async fn malformed_or_unknown_query_parameters_are_refused_by_name() {
    let crm = PartnerBackend::start(TOKEN);
    for (query, error) in [
        ("/crm/contacts?limit=10", "since: required"),
        ("/crm/contacts?since=0", "limit: required"),
        (
            "/crm/contacts?since=-1&limit=10",
            "since: \"-1\" is not an unsigned integer",
        ),
        (
            "/crm/contacts?since=0&limit=0",
            "limit: 0 is not in 1..=1000",
        ),
        (
            "/crm/contacts?since=0&limit=1001",
            "limit: 1001 is not in 1..=1000",
        ),
        (
            "/crm/contacts?since=0&limit=5&after=",
            "after: must not be empty",
        ),
        (
            "/crm/contacts?since=0&limit=5&offset=5",
            "query: unknown parameter \"offset\" (allowed: since, after, limit)",
        ),
        (
            "/crm/contacts?since=0&since=1&limit=5",
            "query: parameter \"since\" repeated",
        ),
        (
            "/crm/agents?limit=abc",
            "limit: \"abc\" is not an unsigned integer",
        ),
        (
            "/crm/agents?limit=5&since=0",
            "query: unknown parameter \"since\" (allowed: after, limit)",
        ),
    ] {
        let (status, body) = get(&crm, query).await;
        assert_eq!(
            (status, body["error"].as_str().unwrap()),
            (400, error),
            "{query}"
        );
    }
}

#[tokio::test]
async fn agents_page_by_uid() {
    let crm = PartnerBackend::start(TOKEN);
    let ids = crm.add_agents(3);
    let (_, page) = get(&crm, "/crm/agents?limit=2").await;
    assert_eq!(uids(&page), ids[..2]);
    let (_, page) = get(&crm, &format!("/crm/agents?limit=2&after={}", ids[1])).await;
    assert_eq!(uids(&page), ids[2..]);
    let a = &page["items"][0];
    assert!(a["display_name"].is_string() && a["email"].as_str().unwrap().contains('@'));
}

#[tokio::test]
async fn interactions_are_found_by_contact_email_or_e164_phone_newest_first() {
    let crm = PartnerBackend::start(TOKEN);
    let c = crm.insert_contact(
        json!({"full_name": "Ada", "email_addresses": ["Ada@Example.COM"],
                                     "phone_numbers": ["(415) 555-0123"]}),
    );
    let older = crm.add_interaction(&c, "call", "First call");
    let newer = crm.add_interaction(&c, "ticket", "A ticket");
    for query in [
        format!("contact={c}"),
        "email=ada%40example.com".into(),
        "phone=%2B14155550123".into(),
    ] {
        let (status, page) = get(&crm, &format!("/crm/interactions?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(uids(&page), [newer.clone(), older.clone()], "{query}");
    }
    let (_, page) = get(
        &crm,
        &format!("/crm/interactions?contact={c}&kinds=call,email"),
    )
    .await;
    assert_eq!(uids(&page), [older]);
    let item = &page["items"][0];
    for key in [
        "title",
        "body",
        "occurred_at",
        "link",
        "kind",
        "priority",
        "state",
    ] {
        assert!(item[key].is_string(), "{key}");
    }
    let (_, none) = get(&crm, "/crm/interactions?email=someone%40else.io").await;
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn an_interaction_lookup_names_exactly_one_valid_key() {
    let crm = PartnerBackend::start(TOKEN);
    let c = crm.add_contacts(1).remove(0);
    for (query, status, error) in [
        (
            "",
            400,
            "query: exactly one of contact, email, phone is required",
        ),
        (
            "contact=c000001&email=a%40b.c",
            400,
            "query: exactly one of contact, email, phone is required",
        ),
        // An unencoded `+` reads as a space: the client must percent-encode it.
        (
            "phone=+14155550123",
            400,
            "phone: \" 14155550123\" is not E.164 (+ and digits)",
        ),
        (
            "phone=(415)%20555-0123",
            400,
            "phone: \"(415) 555-0123\" is not E.164 (+ and digits)",
        ),
        (
            "email=nobody",
            400,
            "email: \"nobody\" is not an email address",
        ),
        (
            "contact=c999999",
            404,
            "contact: no such contact \"c999999\"",
        ),
        (
            "contact=c000001&kinds=call,",
            400,
            "kinds: \"call,\" has an empty kind",
        ),
    ] {
        let (got, body) = get(&crm, &format!("/crm/interactions?{query}")).await;
        assert_eq!(
            (got, body["error"].as_str().unwrap()),
            (status, error),
            "{query}"
        );
    }
    crm.delete_contact(&c);
    let (status, _) = get(&crm, &format!("/crm/interactions?contact={c}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_action_is_created_once_per_request_key() {
    let crm = PartnerBackend::start(TOKEN);
    let c = crm.add_contacts(1).remove(0);
    let a = crm.add_agents(1).remove(0);
    let req =
        json!({"contact": c, "agent": a, "inputs": {"subject": "Call back"}, "request_key": "k1"});
    let (status, first) = post(&crm, "/crm/actions/create_ticket", req.clone()).await;
    assert_eq!(status, 201);
    assert!(first["uid"].is_string() && first["link"].is_string());
    let (status, again) = post(&crm, "/crm/actions/create_ticket", req.clone()).await;
    assert_eq!((status, &again), (200, &first));
    let mut changed = req;
    changed["inputs"] = json!({"subject": "Other"});
    let (status, _) = post(&crm, "/crm/actions/create_ticket", changed).await;
    assert_eq!(status, 409);
    let actions = crm.actions();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["name"], "create_ticket");
    assert_eq!(actions[0]["inputs"], json!({"subject": "Call back"}));
    assert_eq!(actions[0]["uid"], first["uid"]);
}

#[tokio::test]
async fn an_action_request_is_checked_member_by_member() {
    let crm = PartnerBackend::start(TOKEN);
    let c = crm.add_contacts(1).remove(0);
    let a = crm.add_agents(1).remove(0);
    let good = json!({"contact": c, "agent": a, "inputs": {}, "request_key": "k"});
    let with = |key: &str, v: Value| {
        let mut b = good.clone();
        b[key] = v;
        b
    };
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("request_key");
    for (body, status, error) in [
        (missing, 400, "request_key: required"),
        (
            with("request_key", json!("")),
            400,
            "request_key: must be a non-empty string",
        ),
        (
            with("inputs", json!([])),
            400,
            "inputs: must be a JSON object",
        ),
        (
            with("extra", json!(1)),
            400,
            "body: unknown member \"extra\" (allowed: contact, agent, inputs, request_key)",
        ),
        (
            with("contact", json!("c404")),
            404,
            "contact: no such contact \"c404\"",
        ),
        (
            with("agent", json!("a404")),
            404,
            "agent: no such agent \"a404\"",
        ),
    ] {
        let (got, answer) = post(&crm, "/crm/actions/note", body).await;
        assert_eq!((got, answer["error"].as_str().unwrap()), (status, error));
    }
    let resp = http()
        .post(format!("{}/crm/actions/note", crm.base_url()))
        .bearer_auth(TOKEN)
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert!(crm.actions().is_empty());
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let crm = PartnerBackend::start(TOKEN);
    let (status, _) = get(&crm, "/crm/contacts/").await;
    assert_eq!(status, 404);
    let (status, _) = get(&crm, "/crm/actions/note").await;
    assert_eq!(status, 405);
    let (status, body) = post(&crm, "/crm/contacts?since=0&limit=5", json!({})).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (405, "method: POST not allowed (use GET)")
    );
}

#[tokio::test]
async fn a_fault_answers_its_status_for_the_next_calls_then_stops() {
    let crm = PartnerBackend::start(TOKEN);
    crm.fault("/crm/contacts", 503, 2);
    crm.fault("/crm/agents", 429, 1);
    for _ in 0..2 {
        let (status, body) = get(&crm, "/crm/contacts?since=0&limit=5").await;
        assert_eq!(
            (status, body["error"].as_str().unwrap()),
            (503, "fault injected: status 503")
        );
    }
    let (status, _) = get(&crm, "/crm/contacts?since=0&limit=5").await;
    assert_eq!(status, 200);
    let resp = http()
        .get(format!("{}/crm/agents?limit=1", crm.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let log = crm.requests();
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 200, 429]
    );
}

#[tokio::test]
async fn a_stall_delays_the_answer_without_changing_it() {
    let crm = PartnerBackend::start(TOKEN);
    crm.stall("/crm/agents", Duration::from_millis(300), 1);
    let started = Instant::now();
    let (status, _) = get(&crm, "/crm/agents?limit=1").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn each_backend_holds_its_own_data_and_stops_when_dropped() {
    let one = PartnerBackend::start(TOKEN);
    let two = PartnerBackend::start(TOKEN);
    one.add_contacts(3);
    let (_, page) = get(&two, "/crm/contacts?since=0&limit=10").await;
    assert_eq!(
        (page["items"].clone(), page["high_water"].clone()),
        (json!([]), json!(0))
    );
    let url = one.base_url();
    drop(one);
    assert!(http()
        .get(format!("{url}/crm/agents?limit=1"))
        .send()
        .await
        .is_err());
}
