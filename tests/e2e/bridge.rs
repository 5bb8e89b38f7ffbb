//! The CRM bridge in workerd, driven by the simulator playing Talkdesk Integrations: 20,000
//! contacts imported through the operator API, a full sync, then an incremental sync after 500
//! edits, inserts and deletes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use talkdesk_sim::{Alg, InstallSpec, IntegrationsClient};

use crate::harness::{default_vars, shared, Worker};
use crate::lifecycle::{sim_for, wait_view};

/// An operator POST with a body of `content_type`.
pub async fn admin_post(w: &Worker, path: &str, content_type: &str, body: String) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(w.url(path))
        .bearer_auth(&default_vars()["ADMIN_TOKEN"])
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn contact(i: usize, name: &str) -> Value {
    json!({
        "id": format!("c{i:06}"),
        "name": name,
        "emails": [format!("Person{i}@Example.com")],
        "phones": [format!("(415) 555-{:04}", i % 10_000)],
    })
}

/// An account with an integration key.
pub async fn account_with_key(w: &Worker, name: &str) -> (String, String) {
    account_with_key_as(w, name, None).await
}

/// The same, with the account id chosen.
pub async fn account_with_key_as(
    w: &Worker,
    name: &str,
    account_id: Option<&str>,
) -> (String, String) {
    let sim = sim_for(w);
    let spec = InstallSpec {
        account_id: account_id.map(str::to_owned),
        ..InstallSpec::new(name, Alg::ES256)
    };
    let inst = sim.install(spec).await.unwrap();
    wait_view(w, &inst.installation_id, |v| v["state"] == "active").await;
    let (status, v) = admin_post(
        w,
        &format!("/admin/accounts/{}/integration-key", inst.account_id),
        "application/json",
        String::new(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    (
        inst.account_id,
        v["integration_key"].as_str().unwrap().to_owned(),
    )
}

pub async fn import(w: &Worker, account: &str, records: &[Value]) {
    for chunk in records.chunks(5_000) {
        let (status, v) = admin_post(
            w,
            &format!("/admin/accounts/{account}/contacts"),
            "application/json",
            json!(chunk).to_string(),
        )
        .await;
        assert_eq!(status, 200, "{v}");
    }
}

fn ids(report: &talkdesk_sim::SyncReport) -> Vec<String> {
    report
        .contacts
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn twenty_thousand_contacts_sync_fully_then_incrementally_with_every_change_seen_once() {
    let w = shared();
    let (account, key) = account_with_key(w, "bigcrm").await;
    let all: Vec<Value> = (0..20_000)
        .map(|i| contact(i, &format!("Contact {i}")))
        .collect();
    import(w, &account, &all).await;
    let talkdesk = IntegrationsClient::new(&w.url("/bridge"), &key);
    talkdesk.activate().await.unwrap();
    let full = talkdesk.full_sync().await.unwrap();
    assert!(full.repeated_ids.is_empty(), "{:?}", full.repeated_ids);
    let got = ids(&full);
    assert_eq!(got.len(), 20_000);
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 20_000);
    assert_eq!(full.contacts[7]["phones"][0], "+14155550007");
    assert_eq!(full.contacts[7]["emails"][0], "person7@example.com");

    // 500 changes: 300 edits, 150 inserts, 50 deletes.
    let mut changes: Vec<Value> = (0..300)
        .map(|i| contact(i * 61, &format!("Edited {i}")))
        .collect();
    changes.extend((20_000..20_150).map(|i| contact(i, "New")));
    let deleted: BTreeSet<String> = (0..50).map(|i| format!("c{:06}", 19_000 + i * 7)).collect();
    changes.extend(deleted.iter().map(|id| json!({"id": id, "deleted": true})));
    import(w, &account, &changes).await;
    let inc = talkdesk.incremental_sync(&full.checkpoint).await.unwrap();
    assert!(inc.repeated_ids.is_empty());
    let seen: BTreeMap<String, Value> = inc
        .contacts
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    assert_eq!(seen.len(), 450, "300 edits and 150 inserts, each once");
    for i in 0..300 {
        assert_eq!(
            seen[&format!("c{:06}", i * 61)]["name"],
            format!("Edited {i}")
        );
    }
    assert!(deleted.iter().all(|d| !seen.contains_key(d)));
    // Nothing since: an empty incremental sync.
    let none = talkdesk.incremental_sync(&inc.checkpoint).await.unwrap();
    assert_eq!(none.contacts.len(), 0);
}

#[tokio::test]
async fn agents_interactions_and_actions_answer_talkdesk_integrations() {
    let w = shared();
    let (account, key) = account_with_key(w, "smallcrm").await;
    import(w, &account, &[contact(1, "Ann"), contact(2, "Bob")]).await;
    let agents: Vec<Value> = (0..120)
        .map(|i| json!({"id": format!("a{i:03}"), "name": format!("Agent {i}"), "email": format!("agent{i}@x.com")}))
        .collect();
    let (status, _) = admin_post(
        w,
        &format!("/admin/accounts/{account}/agents"),
        "application/json",
        json!(agents).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let csv = "id,contact_external_id,subject,date,type\n\
               i1,c000001,First call,2026-01-01T10:00:00Z,call\n\
               i2,c000001,Later note,2026-02-01T10:00:00Z,note\n";
    let (status, v) = admin_post(
        w,
        &format!("/admin/accounts/{account}/interactions"),
        "text/csv",
        csv.into(),
    )
    .await;
    assert_eq!(status, 200, "{v}");

    let talkdesk = IntegrationsClient::new(&w.url("/bridge"), &key);
    assert_eq!(talkdesk.agents().await.unwrap().len(), 120);
    let found = talkdesk
        .interactions(None, &[], &["+1 (415) 555-0001"], &[])
        .await
        .unwrap();
    let subjects: Vec<&str> = found
        .iter()
        .map(|i| i["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Later note", "First call"]);
    let (status, made) = talkdesk
        .action(
            "log_call",
            "c000001",
            "a001",
            json!({"subject": "Follow-up", "duration_seconds": 95, "outcome": "answered"}),
            Some("k-1"),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    let (_, again) = talkdesk
        .action(
            "log_call",
            "c000001",
            "a001",
            json!({"subject": "Follow-up", "duration_seconds": 95, "outcome": "answered"}),
            Some("k-1"),
        )
        .await
        .unwrap();
    assert_eq!(made["external_id"], again["external_id"]);
    let calls = talkdesk
        .interactions(Some("c000001"), &[], &[], &["call"])
        .await
        .unwrap();
    assert_eq!(calls[0]["subject"], "Follow-up");
    assert_eq!(calls.len(), 2);
}

#[tokio::test]
async fn a_wrong_key_or_another_accounts_key_reads_nothing() {
    let w = shared();
    let (a, key_a) = account_with_key(w, "alpha").await;
    let (_, key_b) = account_with_key(w, "beta").await;
    import(w, &a, &[contact(1, "Alpha's contact")]).await;
    let wrong = IntegrationsClient::new(
        &w.url("/bridge"),
        "AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    );
    assert_eq!(wrong.activate().await.unwrap_err().status(), Some(401));
    let b = IntegrationsClient::new(&w.url("/bridge"), &key_b);
    assert_eq!(b.full_sync().await.unwrap().contacts.len(), 0);
    let a = IntegrationsClient::new(&w.url("/bridge"), &key_a);
    assert_eq!(a.full_sync().await.unwrap().contacts.len(), 1);
}

/// Contacts served per second from D1 during a full sync of 20,000 contacts, at page sizes of
/// 100 and 1,000, and the time per page. Opt-in: `make bench`.
#[tokio::test]
#[ignore = "benchmark: make bench"]
async fn bench_bridge_contact_sync_from_d1() {
    use std::time::{Duration, Instant};
    let mut rows = vec![
        "| page size | contacts/s (full sync of 20,000) | page p50 | page p99 |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    for page_size in [100, 1000] {
        let mut options = crate::harness::Options::default();
        options
            .vars
            .insert("BRIDGE_PAGE_SIZE".into(), page_size.to_string());
        let w = Worker::start(options);
        let (account, key) = account_with_key(&w, "benchcrm").await;
        let all: Vec<Value> = (0..20_000)
            .map(|i| contact(i, &format!("Contact {i}")))
            .collect();
        import(&w, &account, &all).await;
        let client = reqwest::Client::new();
        let mut times: Vec<Duration> = Vec::new();
        let mut meta = json!({});
        let mut served = 0;
        let started = Instant::now();
        loop {
            let t = Instant::now();
            let page: Value = client
                .post(w.url("/bridge/contacts"))
                .json(&json!({"auth": {"integration_key": key}, "meta": meta}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            times.push(t.elapsed());
            served += page["contacts"].as_array().unwrap().len();
            match page.get("next_offset") {
                Some(o) => meta = json!({"offset": o}),
                None => break,
            }
        }
        let total = started.elapsed();
        assert_eq!(served, 20_000);
        times.sort();
        let pct = |p: f64| {
            let rank = ((p / 100.0) * times.len() as f64).ceil() as usize;
            times[rank.clamp(1, times.len()) - 1].as_secs_f64() * 1000.0
        };
        rows.push(format!(
            "| {page_size} | {:.0} | {:.0} ms | {:.0} ms |",
            served as f64 / total.as_secs_f64(),
            pct(50.0),
            pct(99.0)
        ));
    }
    let table = rows.join("\n");
    println!("\n{table}\n");
    let out = crate::harness::root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("bridge.md"), format!("{table}\n")).unwrap();
}

#[tokio::test]
async fn the_partner_backend_connector_syncs_twenty_thousand_contacts_and_every_change_once() {
    let backend = talkdesk_sim::PartnerBackend::start("partner-token-0123456789");
    let uids = backend.add_contacts(20_000);
    let mut options = crate::harness::Options::default();
    options
        .vars
        .insert("PARTNER_API_BASE_URL".into(), backend.base_url());
    options.vars.insert(
        "PARTNER_API_TOKEN".into(),
        "partner-token-0123456789".into(),
    );
    options
        .vars
        .insert("PARTNER_API_HOSTS".into(), "127.0.0.1:*".into());
    options
        .vars
        .insert("PARTNER_API_ACCOUNT_ID".into(), "acct-restcrm".into());
    let w = Worker::start(options);
    let (_, key) = account_with_key_as(&w, "restcrm", Some("acct-restcrm")).await;
    // Another account's key reads its own (empty) data, never the partner's backend.
    let (_, other_key) = account_with_key(&w, "othercrm").await;
    let before = backend.requests().len();
    let other = IntegrationsClient::new(&w.url("/bridge"), &other_key);
    assert_eq!(other.full_sync().await.unwrap().contacts.len(), 0);
    assert_eq!(backend.requests().len(), before);
    let talkdesk = IntegrationsClient::new(&w.url("/bridge"), &key);
    let full = talkdesk.full_sync().await.unwrap();
    assert!(full.repeated_ids.is_empty());
    assert_eq!(full.contacts.len(), 20_000);
    assert!(full.contacts.iter().all(|c| c["phones"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p.as_str().unwrap().starts_with('+'))));

    for uid in uids.iter().step_by(61).take(300) {
        backend.edit_contact(uid);
    }
    let inserted: Vec<String> = (0..150)
        .map(|i| backend.insert_contact(json!({"full_name": format!("New {i}"), "email_addresses": [format!("new{i}@x.com")]})))
        .collect();
    let deleted: BTreeSet<String> = uids.iter().skip(5).step_by(97).take(50).cloned().collect();
    for uid in &deleted {
        backend.delete_contact(uid);
    }
    let inc = talkdesk.incremental_sync(&full.checkpoint).await.unwrap();
    assert!(inc.repeated_ids.is_empty());
    let seen: BTreeSet<String> = inc
        .contacts
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let edited: BTreeSet<String> = uids
        .iter()
        .step_by(61)
        .take(300)
        .filter(|u| !deleted.contains(*u))
        .cloned()
        .collect();
    assert!(edited.is_subset(&seen));
    assert!(inserted.iter().all(|u| seen.contains(u)));
    assert!(deleted.iter().all(|d| !seen.contains(d)));
    assert_eq!(seen.len(), edited.len() + inserted.len());
    // Every call the worker made carried the token, and went only to the backend.
    assert!(backend.requests().iter().all(|r| r.authorized));

    // Hostile bodies: refused before any call to the partner's backend.
    let calls = backend.requests().len();
    let k = json!({"integration_key": key});
    for (path, body) in [
        (
            "/contacts",
            json!({"auth": {"integration_key": "nope.nope"}}),
        ),
        (
            "/contacts",
            json!({"auth": k, "meta": {"offset": "forged"}}),
        ),
        (
            "/contacts",
            json!({"auth": k, "meta": {"synchronization_checkpoint": "x"}}),
        ),
        ("/agents", json!({"auth": k, "meta": {"offset": 1}})),
        ("/interactions", json!({"auth": k, "data": {}})),
        (
            "/interactions",
            json!({"auth": k, "data": {"contact_phones": ["../../etc"]}}),
        ),
        (
            "/interactions",
            json!({"auth": k, "meta": {"interaction_types": ["x"]}, "data": {"contact_external_id": "c1"}}),
        ),
        (
            "/actions/create_note",
            json!({"auth": k, "meta": {"contact_external_id": "c1"}}),
        ),
        (
            "/actions/create_note",
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}, "data": {"subject": 1}}),
        ),
        ("/actions/..", json!({"auth": k})),
        (
            "/actions/unknown",
            json!({"auth": k, "meta": {"contact_external_id": "c1", "agent_external_id": "a1"}}),
        ),
    ] {
        let (status, answer) = talkdesk.raw(path, body.clone()).await;
        assert!(
            (400..500).contains(&status),
            "{path} {body}: {status} {answer}"
        );
    }
    assert_eq!(
        backend.requests().len(),
        calls,
        "no call reached the backend"
    );
}
