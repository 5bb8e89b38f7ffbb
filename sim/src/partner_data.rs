//! The records of the fake partner CRM (`partner_backend`) and the queries its REST API answers,
//! as plain data with no HTTP in sight. One change sequence numbers every contact insert, edit and
//! delete, so a reader can ask for "what changed since N".

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Members a contact has besides `uid`, `updated_seq` and `deleted`.
const CONTACT_FIELDS: [&str; 6] = [
    "full_name",
    "company",
    "job_title",
    "email_addresses",
    "phone_numbers",
    "profile_url",
];
const INTERACTION_FIELDS: [&str; 7] = [
    "title",
    "body",
    "occurred_at",
    "link",
    "kind",
    "priority",
    "state",
];
// Names with accents, apostrophes and non-Latin letters: a bridge that mangles them is caught.
const FIRST: [&str; 12] = [
    "Ada", "José", "Zoë", "Łukasz", "Grace", "Seán", "Mei", "Ravi", "Ingrid", "Kwame", "Amélie",
    "Yūki",
];
const FIRST_ASCII: [&str; 12] = [
    "ada", "jose", "zoe", "lukasz", "grace", "sean", "mei", "ravi", "ingrid", "kwame", "amelie",
    "yuki",
];
const LAST: [&str; 10] = [
    "Lovelace", "García", "O'Brien", "Nowak", "Hopper", "Müller", "Chen", "Patel", "Berg", "Mensah",
];
const LAST_ASCII: [&str; 10] = [
    "lovelace", "garcia", "obrien", "nowak", "hopper", "mueller", "chen", "patel", "berg", "mensah",
];
const COMPANIES: [&str; 4] = ["Acme Corp", "Globex", "Initech", "Umbrella Ltd"];
const TITLES: [&str; 4] = ["CTO", "Buyer", "Support Lead", "Office Manager"];
const AREA_CODES: [u32; 3] = [415, 212, 617];

/// What one CRM holds. Methods panic on a uid that names nothing: they are test scripting, and a
/// typo there should stop the test, not pass silently.
#[derive(Debug, Default)]
pub struct PartnerData {
    pub base_url: String,
    contacts: BTreeMap<String, Map<String, Value>>,
    agents: BTreeMap<String, Value>,
    interactions: Vec<(String, Map<String, Value>)>,
    actions: Vec<Value>,
    /// request_key → (the request it was first used with, the answer given).
    action_keys: BTreeMap<String, (Value, Value)>,
    seq: u64,
    next_contact: u64,
    next_agent: u64,
    next_interaction: u64,
}

impl PartnerData {
    pub fn new(base_url: &str) -> PartnerData {
        PartnerData {
            base_url: base_url.to_string(),
            ..Default::default()
        }
    }

    /// The highest `updated_seq` handed out (0 before the first change).
    pub fn high_water(&self) -> u64 {
        self.seq
    }

    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// `c000123`-style uids, zero-padded so byte order is numeric order (up to 999,999).
    fn fresh_uid(counter: &mut u64, prefix: char, taken: impl Fn(&str) -> bool) -> String {
        loop {
            *counter += 1;
            let uid = format!("{prefix}{:06}", *counter);
            if !taken(&uid) {
                return uid;
            }
        }
    }

    /// `n` generated contacts; returns their uids in order.
    pub fn add_contacts(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let uid = Self::fresh_uid(&mut self.next_contact, 'c', |u| {
                    self.contacts.contains_key(u)
                });
                let k = self.next_contact as usize - 1;
                let fields = generated_contact(k, &self.base_url, &uid);
                self.put_contact(uid, fields)
            })
            .collect()
    }

    /// Inserts (or replaces) a contact from the members given; `uid` is generated when absent,
    /// missing string members are `null`, missing lists `[]`, a missing `profile_url` the CRM's
    /// own page. Values are kept as given, however odd (hostile data). Returns the uid.
    pub fn insert_contact(&mut self, contact: Value) -> String {
        let Value::Object(mut given) = contact else {
            panic!("insert_contact: a JSON object, got {contact}");
        };
        let uid = match given.remove("uid") {
            Some(Value::String(u)) if !u.is_empty() => u,
            None => Self::fresh_uid(&mut self.next_contact, 'c', |u| {
                self.contacts.contains_key(u)
            }),
            Some(other) => panic!("insert_contact: uid must be a non-empty string, got {other}"),
        };
        if let Some(k) = given.keys().find(|k| !CONTACT_FIELDS.contains(&k.as_str())) {
            panic!("insert_contact: unknown member {k:?} (allowed: uid, {CONTACT_FIELDS:?})");
        }
        for key in CONTACT_FIELDS {
            let default = match key {
                "email_addresses" | "phone_numbers" => json!([]),
                "profile_url" => json!(format!("{}/app/contacts/{uid}", self.base_url)),
                _ => Value::Null,
            };
            given.entry(key).or_insert(default);
        }
        self.put_contact(uid, given)
    }

    fn put_contact(&mut self, uid: String, mut fields: Map<String, Value>) -> String {
        let seq = self.bump();
        fields.insert("uid".into(), json!(uid));
        fields.insert("updated_seq".into(), json!(seq));
        fields.insert("deleted".into(), json!(false));
        self.contacts.insert(uid.clone(), fields);
        uid
    }

    fn live_contact(&mut self, uid: &str) -> &mut Map<String, Value> {
        match self.contacts.get_mut(uid) {
            Some(c) if c["deleted"] == json!(false) => c,
            Some(_) => panic!("contact {uid} is deleted"),
            None => panic!("no contact {uid}"),
        }
    }

    /// Renames the contact (`… (rev N)`, N its new `updated_seq`) and bumps its sequence.
    pub fn edit_contact(&mut self, uid: &str) {
        self.update_contact(uid, Value::Object(Map::new()));
        let seq = self.seq;
        let c = self.live_contact(uid);
        let name = c["full_name"].as_str().unwrap_or("Contact").to_string();
        let base = name.split(" (rev ").next().unwrap_or_default().to_string();
        c.insert("full_name".into(), json!(format!("{base} (rev {seq})")));
    }

    /// Overwrites the members in `patch` (an object of contact members) and bumps the sequence.
    pub fn update_contact(&mut self, uid: &str, patch: Value) {
        let Value::Object(patch) = patch else {
            panic!("update_contact: a JSON object, got {patch}");
        };
        if let Some(k) = patch.keys().find(|k| !CONTACT_FIELDS.contains(&k.as_str())) {
            panic!("update_contact: unknown member {k:?} (allowed: {CONTACT_FIELDS:?})");
        }
        let seq = self.bump();
        let c = self.live_contact(uid);
        c.extend(patch);
        c.insert("updated_seq".into(), json!(seq));
    }

    /// Turns the contact into a tombstone (every member but `uid`, `updated_seq` and `deleted`
    /// null) and bumps its sequence. Deleting it again is refused.
    pub fn delete_contact(&mut self, uid: &str) {
        let seq = self.bump();
        let c = self.live_contact(uid);
        for key in CONTACT_FIELDS {
            c.insert(key.into(), Value::Null);
        }
        c.insert("updated_seq".into(), json!(seq));
        c.insert("deleted".into(), json!(true));
    }

    /// Live contacts, as the API shows them, by uid.
    pub fn contacts_live(&self) -> Vec<Value> {
        self.contacts
            .values()
            .filter(|c| c["deleted"] == json!(false))
            .map(|c| Value::Object(c.clone()))
            .collect()
    }

    /// `GET /crm/contacts`: changed after `since`, uid after `after`, by uid, at most `limit`.
    pub fn contacts_page(&self, since: u64, after: Option<&str>, limit: usize) -> Value {
        let items: Vec<Value> = self
            .contacts
            .values()
            .filter(|c| c["updated_seq"].as_u64().unwrap_or(0) > since)
            .filter(|c| after.is_none_or(|a| c["uid"].as_str().unwrap_or_default() > a))
            .take(limit)
            .map(|c| Value::Object(c.clone()))
            .collect();
        json!({"items": items, "high_water": self.seq})
    }

    /// `n` generated agents (`a000001`, display name, email in mixed case); returns their uids.
    pub fn add_agents(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let uid =
                    Self::fresh_uid(&mut self.next_agent, 'a', |u| self.agents.contains_key(u));
                let k = self.next_agent as usize - 1;
                let (first, last) = (FIRST_ASCII[k % 12], LAST_ASCII[(k / 12) % 10]);
                let email = if k.is_multiple_of(2) {
                    format!("{first}.{last}.agent{k}@support.example.com")
                } else {
                    format!("{}.{last}.Agent{k}@Support.Example.com", capitalize(first))
                };
                let name = format!("{} {} (agent {k})", FIRST[k % 12], LAST[(k / 12) % 10]);
                self.insert_agent(json!({"uid": uid, "display_name": name, "email": email}))
            })
            .collect()
    }

    /// Inserts (or replaces) an agent `{uid?, display_name, email}` as given; returns its uid.
    pub fn insert_agent(&mut self, agent: Value) -> String {
        let Value::Object(mut a) = agent else {
            panic!("insert_agent: a JSON object, got {agent}");
        };
        let uid = match a.get("uid") {
            Some(Value::String(u)) => u.clone(),
            _ => Self::fresh_uid(&mut self.next_agent, 'a', |u| self.agents.contains_key(u)),
        };
        a.insert("uid".into(), json!(uid));
        if let Some(k) = a
            .keys()
            .find(|k| !["uid", "display_name", "email"].contains(&k.as_str()))
        {
            panic!("insert_agent: unknown member {k:?} (allowed: uid, display_name, email)");
        }
        self.agents.insert(uid.clone(), Value::Object(a));
        uid
    }

    pub fn has_agent(&self, uid: &str) -> bool {
        self.agents.contains_key(uid)
    }

    /// `GET /crm/agents`: uid after `after`, by uid, at most `limit`.
    pub fn agents_page(&self, after: Option<&str>, limit: usize) -> Value {
        let items: Vec<&Value> = self
            .agents
            .iter()
            .filter(|(uid, _)| after.is_none_or(|a| uid.as_str() > a))
            .take(limit)
            .map(|(_, a)| a)
            .collect();
        json!({"items": items})
    }

    /// An interaction of `kind` titled `title` for a live contact, each one an hour after the one
    /// before (so the latest added is the newest), priority `normal`, state `open`.
    pub fn add_interaction(&mut self, contact_uid: &str, kind: &str, title: &str) -> String {
        let hours = self.next_interaction as i64;
        let at = chrono::DateTime::from_timestamp(1_704_067_200 + hours * 3600, 0)
            .expect("a valid time")
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.insert_interaction(
            contact_uid,
            json!({"kind": kind, "title": title, "body": format!("{title}: details"),
                   "occurred_at": at, "priority": "normal", "state": "open"}),
        )
    }

    /// An interaction with the members given, kept as given (any values); `uid` generated when
    /// absent, missing members `null`, a missing `link` the CRM's own page. Returns its uid.
    pub fn insert_interaction(&mut self, contact_uid: &str, record: Value) -> String {
        self.live_contact(contact_uid);
        let Value::Object(mut r) = record else {
            panic!("insert_interaction: a JSON object, got {record}");
        };
        self.next_interaction += 1;
        let uid = match r.remove("uid") {
            Some(Value::String(u)) => u,
            _ => format!("i{:06}", self.next_interaction),
        };
        if let Some(k) = r.keys().find(|k| !INTERACTION_FIELDS.contains(&k.as_str())) {
            panic!(
                "insert_interaction: unknown member {k:?} (allowed: uid, {INTERACTION_FIELDS:?})"
            );
        }
        for key in INTERACTION_FIELDS {
            let default = match key {
                "link" => json!(format!("{}/app/interactions/{uid}", self.base_url)),
                _ => Value::Null,
            };
            r.entry(key).or_insert(default);
        }
        r.insert("uid".into(), json!(uid));
        self.interactions.push((contact_uid.to_string(), r));
        uid
    }

    pub fn contact_is_live(&self, uid: &str) -> bool {
        self.contacts
            .get(uid)
            .is_some_and(|c| c["deleted"] == json!(false))
    }

    /// The interactions of the live contacts `matches` selects, of one of `kinds` (all when
    /// `None`), newest first (undated last).
    pub fn interactions_of(
        &self,
        matches: impl Fn(&Map<String, Value>) -> bool,
        kinds: Option<&[String]>,
    ) -> Value {
        let mut items: Vec<&Map<String, Value>> = self
            .interactions
            .iter()
            .filter(|(contact, _)| {
                self.contacts
                    .get(contact)
                    .is_some_and(|c| c["deleted"] == json!(false) && matches(c))
            })
            .map(|(_, r)| r)
            .filter(|r| kinds.is_none_or(|k| k.iter().any(|k| r["kind"] == json!(k))))
            .collect();
        let when = |r: &Map<String, Value>| {
            r["occurred_at"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        };
        items.sort_by(|a, b| (when(b), b["uid"].as_str()).cmp(&(when(a), a["uid"].as_str())));
        json!({"items": items})
    }

    /// Runs an action once per `request_key`: the first request records it and answers 201
    /// `{uid, link}`; the same request again answers 200 with the same body; the same key with a
    /// different request answers 409.
    pub fn run_action(&mut self, request: Value) -> (u16, Value) {
        let key = request["request_key"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some((first, answer)) = self.action_keys.get(&key) {
            if *first == request {
                return (200, answer.clone());
            }
            return (
                409,
                json!({"error": "request_key: already used for a different request"}),
            );
        }
        let uid = format!("x{:06}", self.actions.len() + 1);
        let link = format!("{}/app/records/{uid}", self.base_url);
        let answer = json!({"uid": uid, "link": link});
        let mut record = request.clone();
        record["uid"] = json!(uid);
        record["link"] = json!(link);
        self.actions.push(record);
        self.action_keys.insert(key, (request, answer.clone()));
        (201, answer)
    }

    /// Every action record: the request (`name`, `contact`, `agent`, `inputs`, `request_key`)
    /// plus the `uid` and `link` it was given.
    pub fn actions(&self) -> Vec<Value> {
        self.actions.clone()
    }
}

/// The fields of generated contact number `k`: mixed-case emails (every third has two), US
/// national and UK international phone formats (every tenth has none).
fn generated_contact(k: usize, base_url: &str, uid: &str) -> Map<String, Value> {
    let (first, last) = (FIRST[k % 12], LAST[(k / 12) % 10]);
    let (fa, la) = (FIRST_ASCII[k % 12], LAST_ASCII[(k / 12) % 10]);
    let mut emails = vec![if k.is_multiple_of(2) {
        format!("{fa}.{la}{k}@example.com")
    } else {
        format!("{}.{}{k}@Example.COM", capitalize(fa), capitalize(la))
    }];
    if k.is_multiple_of(3) {
        emails.push(format!("{fa}{k}@mail.example.org"));
    }
    let phones: Vec<String> = match k % 10 {
        0 => vec![],
        n if n % 2 == 0 => vec![format!("({}) 555-{:04}", AREA_CODES[k % 3], k % 10_000)],
        _ => vec![format!("+44 20 7946 {:04}", k % 10_000)],
    };
    let Value::Object(m) = json!({
        "full_name": format!("{first} {last}"),
        "company": COMPANIES[k % 4],
        "job_title": TITLES[(k / 4) % 4],
        "email_addresses": emails,
        "phone_numbers": phones,
        "profile_url": format!("{base_url}/app/contacts/{uid}"),
    }) else {
        unreachable!()
    };
    m
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A phone number in E.164 (`+` and 8 to 15 digits), or `None`: stored numbers are written in
/// national (North American, 10 digits) or international form, with any punctuation.
pub fn e164(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let international = phone.trim_start().starts_with('+');
    let full = match (international, digits.len()) {
        (true, 8..=15) => digits,
        (false, 10) => format!("1{digits}"),
        (false, 11) if digits.starts_with('1') => digits,
        _ => return None,
    };
    Some(format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> PartnerData {
        PartnerData::new("http://crm.test")
    }

    fn uids(page: &Value) -> Vec<&str> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["uid"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn generated_uids_sort_by_bytes_in_numeric_order() {
        let mut d = data();
        let ids = d.add_contacts(12);
        assert_eq!(ids[0], "c000001");
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn every_insert_edit_and_delete_takes_the_next_sequence_number() {
        let mut d = data();
        let ids = d.add_contacts(2);
        d.edit_contact(&ids[0]);
        d.delete_contact(&ids[1]);
        assert_eq!(d.high_water(), 4);
        let page = d.contacts_page(0, None, 10);
        assert_eq!(page["items"][0]["updated_seq"], 3);
        assert_eq!(page["items"][1]["updated_seq"], 4);
        assert_eq!(page["high_water"], 4);
    }

    #[test]
    fn a_page_holds_changes_after_since_and_uids_after_after_by_uid() {
        let mut d = data();
        let ids = d.add_contacts(5);
        d.edit_contact(&ids[0]);
        assert_eq!(
            uids(&d.contacts_page(3, None, 10)),
            ["c000001", "c000004", "c000005"]
        );
        assert_eq!(uids(&d.contacts_page(3, Some("c000001"), 1)), ["c000004"]);
        assert_eq!(uids(&d.contacts_page(6, None, 10)), Vec::<&str>::new());
    }

    #[test]
    fn an_edit_renames_without_stacking_suffixes() {
        let mut d = data();
        let id = d.add_contacts(1).remove(0);
        d.edit_contact(&id);
        d.edit_contact(&id);
        assert_eq!(d.contacts_live()[0]["full_name"], "Ada Lovelace (rev 3)");
    }

    #[test]
    fn a_deleted_contact_remains_as_a_tombstone_only() {
        let mut d = data();
        let id = d.add_contacts(1).remove(0);
        d.delete_contact(&id);
        assert!(d.contacts_live().is_empty());
        let tomb = &d.contacts_page(0, None, 10)["items"][0];
        assert_eq!(tomb["deleted"], true);
        assert_eq!(tomb["full_name"], Value::Null);
        assert_eq!(tomb["email_addresses"], Value::Null);
    }

    #[test]
    #[should_panic(expected = "contact c000001 is deleted")]
    fn editing_a_deleted_contact_is_a_test_bug() {
        let mut d = data();
        let id = d.add_contacts(1).remove(0);
        d.delete_contact(&id);
        d.edit_contact(&id);
    }

    #[test]
    fn generated_contacts_mix_email_case_and_phone_formats() {
        let mut d = data();
        d.add_contacts(10);
        let all = d.contacts_live();
        let emails: Vec<&str> = all
            .iter()
            .flat_map(|c| c["email_addresses"].as_array().unwrap())
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(emails
            .iter()
            .any(|e| e.chars().any(|c| c.is_ascii_uppercase())));
        assert!(emails
            .iter()
            .any(|e| !e.chars().any(|c| c.is_ascii_uppercase())));
        let phones: Vec<&str> = all
            .iter()
            .flat_map(|c| c["phone_numbers"].as_array().unwrap())
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(phones.iter().any(|p| p.starts_with('(')));
        assert!(phones.iter().any(|p| p.starts_with("+44 ")));
        assert!(all.iter().any(|c| c["phone_numbers"] == json!([])));
    }

    #[test]
    fn an_inserted_contact_keeps_odd_values_and_fills_the_rest() {
        let mut d = data();
        let id = d.insert_contact(json!({"uid": "zz", "full_name": "", "company": 7}));
        assert_eq!(id, "zz");
        let c = &d.contacts_live()[0];
        assert_eq!(c["company"], 7);
        assert_eq!(c["job_title"], Value::Null);
        assert_eq!(c["phone_numbers"], json!([]));
        assert_eq!(c["profile_url"], "http://crm.test/app/contacts/zz");
    }

    #[test]
    fn generated_uids_skip_inserted_ones() {
        let mut d = data();
        d.insert_contact(json!({"uid": "c000001"}));
        assert_eq!(d.add_contacts(1), ["c000002"]);
    }

    #[test]
    fn agents_page_by_uid() {
        let mut d = data();
        let ids = d.add_agents(3);
        let page = d.agents_page(Some(&ids[0]), 1);
        assert_eq!(uids(&page), [ids[1].as_str()]);
        assert!(page["items"][0]["email"].as_str().unwrap().contains('@'));
    }

    #[test]
    fn interactions_come_newest_first_and_filter_by_kind() {
        let mut d = data();
        let c = d.add_contacts(1).remove(0);
        let old = d.add_interaction(&c, "call", "first");
        let new = d.add_interaction(&c, "ticket", "second");
        let all = d.interactions_of(|x| x["uid"] == json!(c), None);
        assert_eq!(uids(&all), [new.as_str(), old.as_str()]);
        let calls = d.interactions_of(|_| true, Some(&["call".to_string()]));
        assert_eq!(uids(&calls), [old.as_str()]);
    }

    #[test]
    fn interactions_of_deleted_contacts_are_gone() {
        let mut d = data();
        let c = d.add_contacts(1).remove(0);
        d.add_interaction(&c, "call", "x");
        d.delete_contact(&c);
        assert_eq!(d.interactions_of(|_| true, None)["items"], json!([]));
    }

    #[test]
    fn an_action_runs_once_per_request_key() {
        let mut d = data();
        let req = json!({"name": "note", "contact": "c1", "agent": "a1", "inputs": {}, "request_key": "k"});
        let (status, first) = d.run_action(req.clone());
        assert_eq!(status, 201);
        assert_eq!(d.run_action(req.clone()), (200, first));
        let mut other = req;
        other["inputs"] = json!({"x": 1});
        assert_eq!(d.run_action(other).0, 409);
        assert_eq!(d.actions().len(), 1);
    }

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(e164("(415) 555-0123").as_deref(), Some("+14155550123"));
        assert_eq!(e164("+44 20 7946 0000").as_deref(), Some("+442079460000"));
        assert_eq!(e164("1-415-555-0123").as_deref(), Some("+14155550123"));
        assert_eq!(e164("555-0123"), None);
    }
}
