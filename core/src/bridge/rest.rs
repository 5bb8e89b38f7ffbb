//! The partner's own REST backend as a [`BridgeSource`], described by a [`ConnectorConfig`]
//! (paths and field names) and reached with [`ConnectorSettings`] (base URL on a partner host,
//! bearer token).
//!
//! The backend's API, as the simulator's `PartnerBackend` serves it (every call
//! `Authorization: Bearer {token}`, JSON):
//!
//! - `GET {contacts}?since={u64}[&after={uid}]&limit={n}` →
//!   `{"items": [record…], "high_water": u64}`, ordered by uid, tombstones included;
//! - `GET {agents}[?after={uid}]&limit={n}` → `{"items": [record…]}`;
//! - `GET {interactions}?{contact|email|phone}={value}&kinds={a,b}` → `{"items": [record…]}`,
//!   newest first;
//! - `POST {actions}/{action}` `{"contact", "agent", "inputs", "request_key"}` → 200 or 201
//!   `{"uid", "link"}`.
//!
//! Records are checked and normalised by the same rules as imported ones ([`super::model`]):
//! a record that breaks them is skipped and counted ([`RestSource::skipped`],
//! [`RestSource::skip_notes`]), never failing its page. Every URL is derived from the checked
//! base URL with [`TalkdeskUrl::join_path`] and [`TalkdeskUrl::with_query`], which
//! percent-encode path segments and query values and keep the origin, so neither a hostile id
//! nor a configured path can move a request to another host. The token appears in the
//! `authorization` header only: errors are scrubbed of it and `Debug` prints none.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde_json::{json, Map, Value};

use super::connector::{ConnectorConfig, ConnectorSettings};
use super::model::{self, Agent, FieldError, Interaction};
use super::source::{
    ActionRequest, ActionResult, BridgeSource, ContactPage, ContactRef, SourceError,
};
use crate::ports::TalkdeskHttp;
use crate::secret::{SecretString, REDACTED};
use crate::talkdesk::hosts::TalkdeskUrl;
use crate::talkdesk::http::{HttpRequest, HttpResponse};

/// How many skip notes a source keeps (the count goes on).
pub const MAX_SKIP_NOTES: usize = 20;
/// The longest uid passed back as an `after` cursor, in bytes.
pub const MAX_CURSOR_LEN: usize = 1000;

/// A [`BridgeSource`] over the partner's REST backend. Built per request (it borrows its
/// parts); the skip counters cover that source's calls.
///
/// The backend serves one deployment, so `account_id` is not sent: one partner backend (and
/// token) per deployment.
pub struct RestSource<'a, H> {
    http: &'a H,
    config: &'a ConnectorConfig,
    settings: &'a ConnectorSettings,
    default_country_code: &'a str,
    skipped: Cell<u64>,
    notes: RefCell<Vec<String>>,
}

impl<H> fmt::Debug for RestSource<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestSource")
            .field("settings", self.settings)
            .field("config", self.config)
            .field("default_country_code", &self.default_country_code)
            .field("skipped", &self.skipped.get())
            .finish_non_exhaustive()
    }
}

/// A GET or POST, with what its errors may say about it.
struct Call {
    method: &'static str,
    url: TalkdeskUrl,
    /// The URL's path only (no host, no query: the query can hold emails and phones).
    shown: String,
    body: Option<Value>,
}

impl<'a, H: TalkdeskHttp> RestSource<'a, H> {
    /// `default_country_code` is the configuration's (`IntegrationConfig::default_country_code`),
    /// for phone numbers written without one.
    pub fn new(
        http: &'a H,
        config: &'a ConnectorConfig,
        settings: &'a ConnectorSettings,
        default_country_code: &'a str,
    ) -> Self {
        RestSource {
            http,
            config,
            settings,
            default_country_code,
            skipped: Cell::new(0),
            notes: RefCell::new(Vec::new()),
        }
    }

    /// How many records were skipped for breaking the rules so far. A record that is fetched
    /// again (a page re-read after a skipped last agent) counts again.
    pub fn skipped(&self) -> u64 {
        self.skipped.get()
    }

    /// Why, for the first [`MAX_SKIP_NOTES`] skipped records: `contacts: item 3 (uid "c7")
    /// skipped: phone_numbers[0]: is not a phone number`. They name partner fields and never
    /// repeat a field's value (the uid excepted), so they may be logged.
    pub fn skip_notes(&self) -> Vec<String> {
        self.notes.borrow().clone()
    }

    fn skip(&self, what: &str, index: usize, item: &Value, id_field: &str, why: &str) {
        self.skipped.set(self.skipped.get() + 1);
        let mut notes = self.notes.borrow_mut();
        if notes.len() < MAX_SKIP_NOTES {
            let uid = match item.get(id_field).map(|v| model::external_id(v, "")) {
                Some(Ok(uid)) => format!(" (uid {})", crate::json::quoted(&uid)),
                _ => String::new(),
            };
            notes.push(format!("{what}: item {index}{uid} skipped: {why}"));
        }
    }

    /// `{base}{path}/{extra…}?{query}`. `path` is a checked configuration path; `extra` is
    /// encoded as one segment each and refused when it cannot stay one (`..`).
    fn call(
        &self,
        method: &'static str,
        path: &str,
        extra: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Call, SourceError> {
        let mut segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        segments.extend_from_slice(extra);
        let url = self
            .settings
            .base_url()
            .join_path(&segments)
            .map_err(|e| {
                SourceError::Unavailable(format!("partner backend: {method} {path}: {e}"))
            })?
            .with_query(query);
        let shown = url.as_url().path().to_owned();
        Ok(Call {
            method,
            url,
            shown,
            body,
        })
    }

    /// Sends the call and returns its JSON answer; every failure is `Unavailable`. With
    /// `absent_ok`, a 404 is an answer too: `(404, null)`.
    async fn send(&self, call: &Call, absent_ok: bool) -> Result<(u16, Value), SourceError> {
        let mut headers = vec![
            (
                "authorization",
                format!("Bearer {}", self.settings.token().expose()),
            ),
            ("accept", "application/json".to_owned()),
        ];
        let body = match &call.body {
            Some(b) => {
                headers.push(("content-type", "application/json".to_owned()));
                b.to_string()
            }
            None => String::new(),
        };
        let request = HttpRequest {
            method: call.method,
            url: call.url.as_str().to_owned(),
            headers,
            body: SecretString::new(body),
        };
        let fail = |what: String| {
            SourceError::Unavailable(self.scrub(
                &format!("partner backend: {} {} {what}", call.method, call.shown),
                call,
            ))
        };
        let HttpResponse { status, body } = self
            .http
            .send(&request)
            .await
            .map_err(|e| fail(format!("got no answer: {}", e.0)))?;
        match status {
            401 | 403 => {
                return Err(SourceError::Unavailable(format!(
                    "partner backend refused the token ({status})"
                )))
            }
            429 => return Err(fail("answered 429 (rate limited)".into())),
            404 if absent_ok => return Ok((404, Value::Null)),
            200..=299 => {}
            _ => return Err(fail(format!("answered {status}"))),
        }
        // Parsed as a `Value` first: syntax errors name a position, never the text.
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("answered malformed JSON ({e})")))?;
        Ok((status, value))
    }

    /// The text without the token, and with the full URL (whose query may hold emails and
    /// phones) cut to its path: a port error may quote either.
    fn scrub(&self, text: &str, call: &Call) -> String {
        let mut out = text.replace(call.url.as_str(), &call.shown);
        let token = self.settings.token().expose();
        if !token.is_empty() {
            out = out.replace(token, REDACTED);
        }
        out
    }

    /// The answer's `items` array (cut to `limit`).
    fn items(&self, call: &Call, answer: &Value, limit: usize) -> Result<Vec<Value>, SourceError> {
        match answer.get("items") {
            Some(Value::Array(items)) => Ok(items.iter().take(limit).cloned().collect()),
            _ => Err(SourceError::Unavailable(format!(
                "partner backend: {} {} answered without an items array",
                call.method, call.shown
            ))),
        }
    }

    /// `limit` as asked for: at least 1, at most the settings' page limit.
    fn page(&self, limit: u32) -> u32 {
        limit.clamp(1, self.settings.page_limit())
    }
}

/// `(our field, the partner's field)` for each mapped field.
type Mapping<'m> = Vec<(&'static str, &'m str)>;

/// The record in our field names, for [`super::model`]'s checks; `None` if it is no object.
fn canonical(item: &Value, mapping: &Mapping<'_>) -> Option<Value> {
    let o = item.as_object()?;
    let mut out = Map::new();
    for (ours, theirs) in mapping {
        out.insert(
            (*ours).to_owned(),
            o.get(*theirs).cloned().unwrap_or(Value::Null),
        );
    }
    Some(Value::Object(out))
}

/// A model error (`.emails[0]: …`) with the partner's field name (`email_addresses[0]: …`).
fn partner_error(e: &FieldError, mapping: &Mapping<'_>) -> String {
    let path = e.path.trim_start_matches('.');
    let split = path.find('[').unwrap_or(path.len());
    let (ours, rest) = path.split_at(split);
    let theirs = mapping
        .iter()
        .find(|(o, _)| *o == ours)
        .map_or(ours, |(_, t)| *t);
    format!("{theirs}{rest}: {}", e.problem)
}

/// A uid usable as an `after` cursor: a string of printable ASCII or an integer.
fn cursor(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s)
            if (1..=MAX_CURSOR_LEN).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(s.clone())
        }
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn push<'m>(m: &mut Mapping<'m>, ours: &'static str, theirs: &'m Option<String>) {
    if let Some(t) = theirs {
        m.push((ours, t.as_str()));
    }
}

impl<H: TalkdeskHttp> RestSource<'_, H> {
    fn contact_mapping(&self) -> Mapping<'_> {
        let f = &self.config.fields.contacts;
        let mut m = vec![
            ("id", f.id.as_str()),
            ("name", f.name.as_str()),
            ("emails", f.emails.as_str()),
            ("phones", f.phones.as_str()),
            ("deleted", f.deleted.as_str()),
        ];
        push(&mut m, "company", &f.company);
        push(&mut m, "title", &f.title);
        push(&mut m, "url", &f.url);
        m
    }

    fn agent_mapping(&self) -> Mapping<'_> {
        let f = &self.config.fields.agents;
        vec![
            ("id", f.id.as_str()),
            ("name", f.name.as_str()),
            ("email", f.email.as_str()),
        ]
    }

    fn interaction_mapping(&self) -> Mapping<'_> {
        let f = &self.config.fields.interactions;
        let mut m = vec![
            ("id", f.id.as_str()),
            ("subject", f.subject.as_str()),
            ("date", f.date.as_str()),
            ("type", f.kind.as_str()),
        ];
        push(&mut m, "description", &f.description);
        push(&mut m, "url", &f.url);
        push(&mut m, "priority", &f.priority);
        push(&mut m, "status", &f.status);
        m
    }
}

impl<H: TalkdeskHttp> BridgeSource for RestSource<'_, H> {
    /// `GET {contacts}?since=0&limit=1`, read for its `high_water`. The backend reports the
    /// counter on every contacts page; `since=0` with one record is the cheapest page that is
    /// always valid (a huge `since` such as `u64::MAX` would be cheaper still, but a backend
    /// holding numbers as doubles cannot read it exactly).
    async fn high_water(&self, _account_id: &str) -> Result<u64, SourceError> {
        let call = self.call(
            "GET",
            &self.config.paths.contacts,
            &[],
            &[("since", "0"), ("limit", "1")],
            None,
        )?;
        let (_, answer) = self.send(&call, false).await?;
        answer
            .get("high_water")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                SourceError::Unavailable(format!(
                    "partner backend: GET {} answered without a high_water (an unsigned integer)",
                    call.shown
                ))
            })
    }

    async fn contacts(
        &self,
        _account_id: &str,
        since: u64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ContactPage, SourceError> {
        let limit = self.page(limit);
        let (since, limit_text) = (since.to_string(), limit.to_string());
        let mut query = vec![("since", since.as_str())];
        if let Some(a) = after.filter(|a| !a.is_empty()) {
            query.push(("after", a));
        }
        query.push(("limit", limit_text.as_str()));
        let call = self.call("GET", &self.config.paths.contacts, &[], &query, None)?;
        let (_, answer) = self.send(&call, false).await?;
        let items = self.items(&call, &answer, limit as usize)?;
        let mapping = self.contact_mapping();
        let id_field = self.config.fields.contacts.id.as_str();
        let mut contacts = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let checked = match canonical(item, &mapping) {
                None => Err("is not an object".to_owned()),
                Some(v) => model::contact(&v, "", self.default_country_code)
                    .map_err(|e| partner_error(&e, &mapping)),
            };
            match checked {
                Ok((_, true)) => {}
                Ok((contact, false)) => contacts.push(contact),
                Err(why) => self.skip("contacts", i, item, id_field, &why),
            }
        }
        // Where the next page starts: the last item's uid, tombstones and skipped records
        // included, so one bad record cannot stall the sync; failing that, the last usable one.
        let last_id = items
            .iter()
            .rev()
            .find_map(|item| cursor(item.get(id_field)));
        if last_id.is_none() && !items.is_empty() {
            return Err(SourceError::Unavailable(format!(
                "partner backend: GET {} answered a page without a usable {id_field} to continue from",
                call.shown
            )));
        }
        Ok(ContactPage {
            contacts,
            last_id,
            more: items.len() >= limit as usize,
        })
    }

    /// A page whose every agent was skipped while more may follow cannot be continued (the
    /// bridge pages from the last agent it got), so it fails rather than end the list early.
    async fn agents(
        &self,
        _account_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Agent>, bool), SourceError> {
        let limit = self.page(limit);
        let limit_text = limit.to_string();
        let mut query = Vec::new();
        if let Some(a) = after.filter(|a| !a.is_empty()) {
            query.push(("after", a));
        }
        query.push(("limit", limit_text.as_str()));
        let call = self.call("GET", &self.config.paths.agents, &[], &query, None)?;
        let (_, answer) = self.send(&call, false).await?;
        let items = self.items(&call, &answer, limit as usize)?;
        let mapping = self.agent_mapping();
        let id_field = self.config.fields.agents.id.as_str();
        let mut agents = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let checked = match canonical(item, &mapping) {
                None => Err("is not an object".to_owned()),
                Some(v) => model::agent(&v, "").map_err(|e| partner_error(&e, &mapping)),
            };
            match checked {
                Ok((agent, false)) => agents.push(agent),
                Ok((_, true)) => {}
                Err(why) => self.skip("agents", i, item, id_field, &why),
            }
        }
        let more = items.len() >= limit as usize;
        if more && agents.is_empty() {
            return Err(SourceError::Unavailable(format!(
                "partner backend: GET {} answered a full page of agents that all break the rules",
                call.shown
            )));
        }
        Ok((agents, more))
    }

    /// Asks by the contact's external id, else its first email, else its first phone (one of
    /// them per call); a contact with none of them, or no `types`, has no interactions, and so
    /// has one the backend answers 404 for when asked by id (deleted there since the last
    /// sync). Items of other types are dropped (not counted as skipped); the backend's order
    /// is kept.
    async fn interactions(
        &self,
        _account_id: &str,
        contact: &ContactRef,
        types: &[String],
        limit: u32,
    ) -> Result<Vec<Interaction>, SourceError> {
        let who = match (
            &contact.external_id,
            contact.emails.first(),
            contact.phones.first(),
        ) {
            (Some(id), _, _) => ("contact", id.as_str()),
            (None, Some(email), _) => ("email", email.as_str()),
            (None, None, Some(phone)) => ("phone", phone.as_str()),
            (None, None, None) => return Ok(Vec::new()),
        };
        if types.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let kinds = types.join(",");
        let query = [who, ("kinds", kinds.as_str())];
        let call = self.call("GET", &self.config.paths.interactions, &[], &query, None)?;
        let (status, answer) = self.send(&call, who.0 == "contact").await?;
        if status == 404 {
            return Ok(Vec::new());
        }
        let items = self.items(&call, &answer, usize::MAX)?;
        let mapping = self.interaction_mapping();
        let fields = &self.config.fields.interactions;
        // `model::interaction` wants the contact the record belongs to; here that is implied
        // by the query, so any valid id does.
        let owner = Value::String(contact.external_id.clone().unwrap_or_else(|| "-".into()));
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if out.len() >= limit as usize {
                break;
            }
            if let Some(Value::String(kind)) = item.get(&fields.kind) {
                if !types.contains(kind) {
                    continue;
                }
            }
            let checked = match canonical(item, &mapping) {
                None => Err("is not an object".to_owned()),
                Some(mut v) => {
                    v["contact_external_id"] = owner.clone();
                    model::interaction(&v, "", types).map_err(|e| partner_error(&e, &mapping))
                }
            };
            match checked {
                Ok((interaction, _, false)) => out.push(interaction),
                Ok((_, _, true)) => {}
                Err(why) => self.skip("interactions", i, item, &fields.id, &why),
            }
        }
        Ok(out)
    }

    async fn act(
        &self,
        _account_id: &str,
        req: &ActionRequest,
    ) -> Result<ActionResult, SourceError> {
        let body = json!({
            "contact": req.contact_external_id,
            "agent": req.agent_external_id,
            "inputs": req.inputs,
            "request_key": req.request_key,
        });
        let call = self.call(
            "POST",
            &self.config.paths.actions,
            &[req.action.as_str()],
            &[],
            Some(body),
        )?;
        let (status, answer) = self.send(&call, false).await?;
        let bad = |what: &str| {
            SourceError::Unavailable(format!(
                "partner backend: POST {} answered {status} {what}",
                call.shown
            ))
        };
        if status != 200 && status != 201 {
            return Err(bad("(expected 200 or 201)"));
        }
        let uid = model::external_id(answer.get("uid").unwrap_or(&Value::Null), "uid")
            .map_err(|e| bad(&format!("with a bad uid: {}", e.problem)))?;
        let link = match model::text(answer.get("link").unwrap_or(&Value::Null), "link", true) {
            Ok(Some(l)) if l.starts_with("https://") || l.starts_with("http://") => l,
            _ => return Err(bad("without a link (an http(s) URL)")),
        };
        Ok(ActionResult {
            external_id: uid,
            contact_external_url: link,
            message: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::connector::tests::{hosts, sample};
    use crate::bridge::model::Contact;
    use crate::ports::PortError;
    use std::collections::VecDeque;

    const TOKEN: &str = "tok-SECRET-42";

    /// The partner backend, scripted: records every request, answers the next canned answer
    /// (the last one repeats).
    struct Fake {
        answers: RefCell<VecDeque<Result<HttpResponse, PortError>>>,
        requests: RefCell<Vec<HttpRequest>>,
    }

    fn ok(status: u16, body: Value) -> Result<HttpResponse, PortError> {
        raw(status, &body.to_string())
    }

    fn raw(status: u16, body: &str) -> Result<HttpResponse, PortError> {
        Ok(HttpResponse {
            status,
            body: body.as_bytes().to_vec(),
        })
    }

    impl Fake {
        fn new(answers: Vec<Result<HttpResponse, PortError>>) -> Fake {
            Fake {
                answers: RefCell::new(answers.into()),
                requests: RefCell::new(Vec::new()),
            }
        }

        fn urls(&self) -> Vec<String> {
            self.requests
                .borrow()
                .iter()
                .map(|r| r.url.clone())
                .collect()
        }

        fn last(&self) -> HttpRequest {
            self.requests.borrow().last().cloned().expect("a request")
        }
    }

    impl TalkdeskHttp for Fake {
        async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PortError> {
            self.requests.borrow_mut().push(request.clone());
            let mut answers = self.answers.borrow_mut();
            if answers.len() > 1 {
                answers.pop_front().unwrap()
            } else {
                answers[0].clone()
            }
        }
    }

    fn config() -> ConnectorConfig {
        ConnectorConfig::from_value(&sample()).unwrap()
    }

    fn settings(base: &str) -> ConnectorSettings {
        ConnectorSettings::new(base, SecretString::new(TOKEN), &hosts()).unwrap()
    }

    const BASE: &str = "https://crm.partner.example/api/";

    /// Runs `f` against a source over `answers`; returns what it gave and the fake.
    async fn with_source<T>(
        answers: Vec<Result<HttpResponse, PortError>>,
        f: impl AsyncFnOnce(&RestSource<'_, Fake>) -> T,
    ) -> (T, Fake, u64, Vec<String>) {
        let fake = Fake::new(answers);
        let (cfg, set) = (config(), settings(BASE));
        let source = RestSource::new(&fake, &cfg, &set, "1");
        let out = f(&source).await;
        let (skipped, notes) = (source.skipped(), source.skip_notes());
        drop(source);
        (out, fake, skipped, notes)
    }

    fn query(url: &str) -> Vec<(String, String)> {
        ::url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn contact_item(uid: &str) -> Value {
        json!({"uid": uid, "full_name": "Ann Lee", "company": "Acme", "job_title": "CTO",
               "email_addresses": [" Ann@Example.COM "], "phone_numbers": ["(415) 555-0123"],
               "profile_url": "https://crm.partner.example/c/1", "updated_seq": 7,
               "deleted": false})
    }

    fn unavailable<T: fmt::Debug>(r: Result<T, SourceError>) -> String {
        match r {
            Err(SourceError::Unavailable(text)) => text,
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn contacts_are_mapped_and_normalised() {
        let answer = json!({"items": [contact_item("c1"),
            {"uid": "c2", "full_name": "Bo", "email_addresses": [], "phone_numbers": ["020 7946 0000", "+44 20 7946 0001"],
             "deleted": false}], "high_water": 9});
        let (page, fake, skipped, _) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 5, Some("c0"), 3).await
        })
        .await;
        let page = page.unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(
            page.contacts[0],
            Contact {
                id: "c1".into(),
                name: "Ann Lee".into(),
                company: Some("Acme".into()),
                title: Some("CTO".into()),
                emails: vec!["ann@example.com".into()],
                phones: vec!["+14155550123".into()],
                photo_url: None,
                address: None,
                websites: vec![],
                url: Some("https://crm.partner.example/c/1".into()),
            }
        );
        // The default country code applies to national numbers; trunk 0 dropped.
        assert_eq!(
            page.contacts[1].phones,
            vec!["+12079460000", "+442079460001"]
        );
        assert_eq!(page.contacts[1].company, None);
        let r = fake.last();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "https://crm.partner.example/api/crm/contacts?since=5&after=c0&limit=3"
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.header("accept"), Some("application/json"));
        assert_eq!(r.body.expose(), "");
    }

    #[tokio::test]
    async fn the_default_country_code_is_the_callers() {
        let fake = Fake::new(vec![ok(
            200,
            json!({"items": [
            {"uid": "c1", "full_name": "A", "email_addresses": [], "phone_numbers": ["020 7946 0000"], "deleted": false}
        ], "high_water": 1}),
        )]);
        let (cfg, set) = (config(), settings(BASE));
        let source = RestSource::new(&fake, &cfg, &set, "44");
        let page = source.contacts("acc", 0, None, 10).await.unwrap();
        assert_eq!(page.contacts[0].phones, vec!["+442079460000"]);
    }

    #[tokio::test]
    async fn a_page_covers_tombstones_and_says_whether_more_follow() {
        let tomb = json!({"uid": "c3", "deleted": true});
        let answer =
            json!({"items": [contact_item("c1"), contact_item("c2"), tomb], "high_water": 9});
        let (page, fake, _, _) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 0, None, 3).await
        })
        .await;
        let page = page.unwrap();
        assert_eq!(page.contacts.len(), 2, "the tombstone is not sent");
        assert_eq!(
            page.last_id.as_deref(),
            Some("c3"),
            "the tombstone is covered"
        );
        assert!(page.more, "a full page");
        // `after` is left out when there is none.
        assert_eq!(
            query(&fake.last().url),
            pairs(&[("since", "0"), ("limit", "3")])
        );

        let answer =
            json!({"items": [contact_item("c1"), {"uid": "c2", "deleted": true}], "high_water": 9});
        let (page, _, _, _) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 0, None, 3).await
        })
        .await;
        let page = page.unwrap();
        assert_eq!((page.last_id.as_deref(), page.more), (Some("c2"), false));

        let (page, _, _, _) = with_source(
            vec![ok(200, json!({"items": [], "high_water": 9}))],
            async |s| s.contacts("acc", 9, Some("c9"), 3).await,
        )
        .await;
        assert_eq!(
            page.unwrap(),
            ContactPage {
                contacts: vec![],
                last_id: None,
                more: false
            }
        );
    }

    #[tokio::test]
    async fn the_limit_asked_for_is_within_the_page_limit() {
        let fake = Fake::new(vec![ok(
            200,
            json!({"items": [contact_item("c1"), contact_item("c2")], "high_water": 1}),
        )]);
        let cfg = config();
        let set = settings(BASE).with_page_limit(2).unwrap();
        let source = RestSource::new(&fake, &cfg, &set, "1");
        let page = source.contacts("acc", 0, None, 500).await.unwrap();
        assert!(query(&fake.last().url).contains(&("limit".into(), "2".into())));
        assert!(page.more, "a full page of the lowered limit");
        source.contacts("acc", 0, None, 0).await.unwrap();
        assert!(query(&fake.last().url).contains(&("limit".into(), "1".into())));
        // More items than asked for: only `limit` of them are read.
        let page = source.contacts("acc", 0, None, 1).await.unwrap();
        assert_eq!(
            (page.contacts.len(), page.last_id.as_deref()),
            (1, Some("c1"))
        );
    }

    #[tokio::test]
    async fn a_bad_record_is_skipped_and_counted_not_the_page() {
        let mut bad_phone = contact_item("c2");
        bad_phone["phone_numbers"] = json!(["call me"]);
        let mut bad_email = contact_item("c3");
        bad_email["email_addresses"] = json!(["ok@example.com", "nope"]);
        let mut no_name = contact_item("c4");
        no_name.as_object_mut().unwrap().remove("full_name");
        let mut bad_url = contact_item("c5");
        bad_url["profile_url"] = json!("javascript:alert(1)");
        let answer = json!({"items": [contact_item("c1"), bad_phone, bad_email, "junk", no_name,
                                      bad_url, contact_item("c6")], "high_water": 9});
        let (page, _, skipped, notes) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 0, None, 10).await
        })
        .await;
        let page = page.unwrap();
        let ids: Vec<&str> = page.contacts.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c1", "c6"]);
        assert_eq!(skipped, 5);
        assert_eq!(
            notes,
            [
                "contacts: item 1 (uid \"c2\") skipped: phone_numbers[0]: is not a phone number",
                "contacts: item 2 (uid \"c3\") skipped: email_addresses[1]: is not an email address",
                "contacts: item 3 skipped: is not an object",
                "contacts: item 4 (uid \"c4\") skipped: full_name: is missing",
                "contacts: item 5 (uid \"c5\") skipped: profile_url: must be an http(s) URL",
            ]
        );
        // The notes name fields, never their values.
        assert!(!notes.concat().contains("call me") && !notes.concat().contains("javascript"));
    }

    #[tokio::test]
    async fn skipped_records_still_advance_the_cursor() {
        // The last item breaks the rules (an id too long for Talkdesk) but is still covered.
        let long = "x".repeat(300);
        let answer = json!({"items": [contact_item("c1"), {"uid": long, "full_name": "A", "deleted": false}], "high_water": 9});
        let (page, _, skipped, _) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 0, None, 2).await
        })
        .await;
        let page = page.unwrap();
        assert_eq!((skipped, page.contacts.len()), (1, 1));
        assert_eq!(page.last_id.as_deref(), Some(long.as_str()));
        // A numeric uid is its decimal text.
        let answer = json!({"items": [{"uid": 17, "full_name": "A", "email_addresses": [], "phone_numbers": [], "deleted": false}], "high_water": 9});
        let (page, _, _, _) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 0, None, 2).await
        })
        .await;
        let page = page.unwrap();
        assert_eq!(
            (page.contacts[0].id.as_str(), page.last_id.as_deref()),
            ("17", Some("17"))
        );
        // Without any uid to continue from, the page fails rather than loop.
        let answer = json!({"items": [{"full_name": "A"}, {"uid": null}], "high_water": 9});
        let (page, _, _, _) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 0, None, 2).await
        })
        .await;
        assert!(unavailable(page).contains("without a usable uid"));
        // With an earlier one, the page ends there.
        let answer = json!({"items": [contact_item("c1"), {"full_name": "A"}], "high_water": 9});
        let (page, _, _, _) = with_source(vec![ok(200, answer)], async |s| {
            s.contacts("acc", 0, None, 2).await
        })
        .await;
        assert_eq!(page.unwrap().last_id.as_deref(), Some("c1"));
    }

    #[tokio::test]
    async fn high_water_reads_one_record_from_zero() {
        let (hw, fake, _, _) = with_source(
            vec![ok(
                200,
                json!({"items": [contact_item("c1")], "high_water": 1234}),
            )],
            async |s| s.high_water("acc").await,
        )
        .await;
        assert_eq!(hw, Ok(1234));
        assert_eq!(
            fake.last().url,
            "https://crm.partner.example/api/crm/contacts?since=0&limit=1"
        );
        for bad in [
            json!({"items": []}),
            json!({"items": [], "high_water": -1}),
            json!({"items": [], "high_water": "5"}),
        ] {
            let (hw, _, _, _) =
                with_source(vec![ok(200, bad)], async |s| s.high_water("acc").await).await;
            assert!(unavailable(hw).contains("without a high_water"));
        }
    }

    #[tokio::test]
    async fn agents_are_mapped_and_paged() {
        let answer = json!({"items": [
            {"uid": "a1", "display_name": "Ann", "email": "ANN@Example.com"},
            {"uid": "a2", "display_name": "Bo", "email": "not-an-email"},
        ]});
        let (got, fake, skipped, notes) = with_source(vec![ok(200, answer)], async |s| {
            s.agents("acc", Some("a0"), 2).await
        })
        .await;
        let (agents, more) = got.unwrap();
        assert_eq!(
            agents,
            vec![Agent {
                id: "a1".into(),
                name: "Ann".into(),
                email: "ann@example.com".into()
            }]
        );
        assert!(more);
        assert_eq!(skipped, 1);
        assert_eq!(
            notes,
            ["agents: item 1 (uid \"a2\") skipped: email: is not an email address"]
        );
        let r = fake.last();
        assert_eq!(
            r.url,
            "https://crm.partner.example/api/crm/agents?after=a0&limit=2"
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );

        let (got, fake, _, _) = with_source(vec![ok(200, json!({"items": []}))], async |s| {
            s.agents("acc", None, 2).await
        })
        .await;
        assert_eq!(got.unwrap(), (vec![], false));
        assert_eq!(
            fake.last().url,
            "https://crm.partner.example/api/crm/agents?limit=2"
        );

        // A full page of bad agents cannot be continued from: it fails.
        let answer = json!({"items": [{"uid": "a1"}, {"uid": "a2"}]});
        let (got, _, _, _) = with_source(vec![ok(200, answer)], async |s| {
            s.agents("acc", None, 2).await
        })
        .await;
        assert!(unavailable(got).contains("all break the rules"));
    }

    fn interaction_item(uid: &str, kind: &str) -> Value {
        json!({"uid": uid, "title": "Call back", "body": "About the invoice",
               "occurred_at": "2026-11-27T10:00:00Z", "link": "https://crm.partner.example/i/1",
               "kind": kind, "priority": "high", "state": "open"})
    }

    fn who(id: Option<&str>, emails: &[&str], phones: &[&str]) -> ContactRef {
        ContactRef {
            external_id: id.map(str::to_owned),
            emails: emails.iter().map(|s| (*s).to_owned()).collect(),
            phones: phones.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn types() -> Vec<String> {
        vec!["note".into(), "call".into()]
    }

    #[tokio::test]
    async fn interactions_are_mapped_filtered_and_capped() {
        let answer = json!({"items": [
            interaction_item("i1", "call"),
            interaction_item("i2", "ticket"),
            {"uid": "i3", "title": "T", "occurred_at": "2026-11-26T10:00:00Z", "kind": "note", "priority": "p1"},
            {"uid": "i4", "title": "T", "occurred_at": "2026-11-25T10:00:00+02:00", "kind": "note"},
            interaction_item("i5", "note"),
        ]});
        let (got, fake, skipped, notes) = with_source(vec![ok(200, answer)], async |s| {
            s.interactions(
                "acc",
                &who(Some("c1"), &["a@b.co"], &["+14155550123"]),
                &types(),
                2,
            )
            .await
        })
        .await;
        let got = got.unwrap();
        assert_eq!(
            got[0],
            Interaction {
                id: "i1".into(),
                subject: "Call back".into(),
                description: Some("About the invoice".into()),
                date: "2026-11-27T10:00:00Z".into(),
                url: Some("https://crm.partner.example/i/1".into()),
                kind: "call".into(),
                priority: Some("high".into()),
                status: Some("open".into()),
            }
        );
        let ids: Vec<&str> = got.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            ["i1", "i4"],
            "ticket dropped, bad priority skipped, capped at 2"
        );
        assert_eq!(skipped, 1, "a dropped type is not a skip");
        assert_eq!(notes, ["interactions: item 2 (uid \"i3\") skipped: priority: must be one of [\"none\", \"low\", \"normal\", \"high\", \"urgent\"]"]);
        let r = fake.last();
        assert_eq!(
            r.url,
            "https://crm.partner.example/api/crm/interactions?contact=c1&kinds=note%2Ccall"
        );
        assert_eq!(
            query(&r.url),
            pairs(&[("contact", "c1"), ("kinds", "note,call")])
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }

    #[tokio::test]
    async fn interactions_ask_by_id_else_email_else_phone() {
        for (contact, want) in [
            (who(Some("c1"), &["a@b.co"], &["+1415"]), ("contact", "c1")),
            (
                who(None, &["a@b.co", "z@b.co"], &["+14155550123"]),
                ("email", "a@b.co"),
            ),
            (
                who(None, &[], &["+14155550123", "+14155550124"]),
                ("phone", "+14155550123"),
            ),
        ] {
            let (_, fake, _, _) = with_source(vec![ok(200, json!({"items": []}))], async |s| {
                s.interactions("acc", &contact, &types(), 5).await
            })
            .await;
            let url = fake.last().url;
            assert_eq!(query(&url), pairs(&[want, ("kinds", "note,call")]), "{url}");
            // '+' is encoded, so it is not read back as a space.
            assert!(!url.contains('+'), "{url}");
        }
        // Nothing to ask by, no types or no room: no call at all.
        for (contact, types, limit) in [
            (who(None, &[], &[]), types(), 5),
            (who(Some("c1"), &[], &[]), vec![], 5),
            (who(Some("c1"), &[], &[]), types(), 0),
        ] {
            let (got, fake, _, _) = with_source(vec![ok(200, json!({"items": []}))], async |s| {
                s.interactions("acc", &contact, &types, limit).await
            })
            .await;
            assert_eq!(got, Ok(vec![]));
            assert!(fake.requests.borrow().is_empty());
        }
    }

    #[tokio::test]
    async fn an_empty_cursor_is_no_cursor() {
        let (_, fake, _, _) = with_source(
            vec![ok(200, json!({"items": [], "high_water": 0}))],
            async |s| {
                s.contacts("acc", 3, Some(""), 5).await.unwrap();
                s.agents("acc", Some(""), 5).await.unwrap();
            },
        )
        .await;
        assert_eq!(
            fake.urls(),
            [
                "https://crm.partner.example/api/crm/contacts?since=3&limit=5",
                "https://crm.partner.example/api/crm/agents?limit=5",
            ]
        );
    }

    #[tokio::test]
    async fn a_contact_the_backend_no_longer_has_has_no_interactions() {
        let gone = raw(404, r#"{"error": "contact: no such contact"}"#);
        let (got, _, _, _) = with_source(vec![gone.clone()], async |s| {
            s.interactions("acc", &who(Some("c1"), &[], &[]), &types(), 5)
                .await
        })
        .await;
        assert_eq!(got, Ok(vec![]));
        // Asked by email or phone, a 404 is the backend's failure.
        let (got, _, _, _) = with_source(vec![gone], async |s| {
            s.interactions("acc", &who(None, &["a@b.co"], &[]), &types(), 5)
                .await
        })
        .await;
        assert!(unavailable(got).ends_with("answered 404"));
    }

    #[tokio::test]
    async fn hostile_ids_stay_query_values_on_the_base_host() {
        for hostile in [
            "a/b?c#d",
            "..",
            "../../admin",
            "x&since=0",
            "evil.example/@x",
            "%2e%2e",
        ] {
            let (_, fake, _, _) = with_source(
                vec![ok(200, json!({"items": [], "high_water": 0}))],
                async |s| {
                    s.contacts("acc", 1, Some(hostile), 5).await.unwrap();
                    s.agents("acc", Some(hostile), 5).await.unwrap();
                    s.interactions("acc", &who(Some(hostile), &[], &[]), &types(), 5)
                        .await
                        .unwrap();
                },
            )
            .await;
            let urls = fake.urls();
            let paths = [
                "/api/crm/contacts",
                "/api/crm/agents",
                "/api/crm/interactions",
            ];
            let keys = ["after", "after", "contact"];
            for ((u, path), key) in urls.iter().zip(paths).zip(keys) {
                let parsed = url::Url::parse(u).unwrap();
                assert_eq!(parsed.host_str(), Some("crm.partner.example"), "{u}");
                assert_eq!(parsed.path(), path, "{u}");
                assert_eq!(parsed.fragment(), None, "{u}");
                let value: Vec<String> = query(u)
                    .into_iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v)
                    .collect();
                assert_eq!(value, [hostile], "{u}");
            }
        }
    }

    fn action(name: &str, agent: Option<&str>) -> ActionRequest {
        let mut inputs = Map::new();
        inputs.insert("subject".into(), json!("Hi"));
        inputs.insert("duration_seconds".into(), json!(42));
        ActionRequest {
            action: name.into(),
            request_key: "rk-1".into(),
            contact_external_id: "a/b?c#d".into(),
            agent_external_id: agent.map(str::to_owned),
            inputs,
        }
    }

    #[tokio::test]
    async fn actions_post_their_request_and_read_uid_and_link() {
        for status in [201, 200] {
            let answer = json!({"uid": "n-1", "link": "https://crm.partner.example/n/1"});
            let (got, fake, _, _) = with_source(vec![ok(status, answer)], async |s| {
                s.act("acc", &action("log_call", Some("ag1"))).await
            })
            .await;
            assert_eq!(
                got.unwrap(),
                ActionResult {
                    external_id: "n-1".into(),
                    contact_external_url: "https://crm.partner.example/n/1".into(),
                    message: None,
                }
            );
            let r = fake.last();
            assert_eq!(r.method, "POST");
            assert_eq!(
                r.url,
                "https://crm.partner.example/api/crm/actions/log_call"
            );
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {TOKEN}").as_str())
            );
            let body: Value = serde_json::from_str(r.body.expose()).unwrap();
            assert_eq!(
                body,
                json!({"contact": "a/b?c#d", "agent": "ag1",
                       "inputs": {"subject": "Hi", "duration_seconds": 42}, "request_key": "rk-1"})
            );
        }
        let (_, fake, _, _) = with_source(
            vec![ok(201, json!({"uid": 7, "link": "http://127.0.0.1/x"}))],
            async |s| s.act("acc", &action("create_note", None)).await.unwrap(),
        )
        .await;
        let body: Value = serde_json::from_str(fake.last().body.expose()).unwrap();
        assert_eq!(body["agent"], Value::Null);
    }

    #[tokio::test]
    async fn an_action_name_is_one_path_segment() {
        let answer = json!({"uid": "n-1", "link": "https://crm.partner.example/n/1"});
        let (_, fake, _, _) = with_source(vec![ok(201, answer)], async |s| {
            s.act("acc", &action("a/b?c#d", None)).await.unwrap()
        })
        .await;
        let u = url::Url::parse(&fake.last().url).unwrap();
        assert_eq!(u.host_str(), Some("crm.partner.example"));
        assert_eq!(u.path(), "/api/crm/actions/a%2Fb%3Fc%23d");
        assert_eq!((u.query(), u.fragment()), (None, None));
        for bad in ["..", ".", ""] {
            let (got, fake, _, _) = with_source(vec![ok(201, json!({}))], async |s| {
                s.act("acc", &action(bad, None)).await
            })
            .await;
            assert!(unavailable(got).contains("would not stay one segment"));
            assert!(fake.requests.borrow().is_empty(), "{bad:?} sent nothing");
        }
    }

    #[tokio::test]
    async fn a_bad_action_answer_is_unavailable() {
        for (status, answer, why) in [
            (
                201,
                json!({"link": "https://crm.partner.example/n/1"}),
                "bad uid",
            ),
            (
                201,
                json!({"uid": "n 1", "link": "https://crm.partner.example/n/1"}),
                "bad uid",
            ),
            (201, json!({"uid": "n-1"}), "without a link"),
            (
                200,
                json!({"uid": "n-1", "link": "javascript:alert(1)"}),
                "without a link",
            ),
            (
                202,
                json!({"uid": "n-1", "link": "https://x.example"}),
                "expected 200 or 201",
            ),
            (409, json!({"error": "conflict"}), "answered 409"),
        ] {
            let (got, _, _, _) = with_source(vec![ok(status, answer)], async |s| {
                s.act("acc", &action("create_note", None)).await
            })
            .await;
            let text = unavailable(got);
            assert!(text.contains(why), "{text}");
            assert!(
                text.starts_with("partner backend: POST /api/crm/actions/create_note"),
                "{text}"
            );
        }
    }

    /// Every call of the source, for the failure tests.
    async fn every_call(s: &RestSource<'_, Fake>) -> Vec<Result<(), SourceError>> {
        let c = who(None, &["secret.person@example.com"], &[]);
        vec![
            s.high_water("acc").await.map(drop),
            s.contacts("acc", 0, Some("c1"), 5).await.map(drop),
            s.agents("acc", None, 5).await.map(drop),
            s.interactions("acc", &c, &types(), 5).await.map(drop),
            s.act("acc", &action("create_note", None)).await.map(drop),
        ]
    }

    #[tokio::test]
    async fn failures_are_unavailable_and_name_the_cause() {
        let cases = [
            (
                Err(PortError("connection refused".into())),
                "got no answer: connection refused",
            ),
            (
                Err(PortError("timed out".into())),
                "got no answer: timed out",
            ),
            (raw(500, "oops"), "answered 500"),
            (raw(503, ""), "answered 503"),
            (raw(429, "{}"), "answered 429 (rate limited)"),
            (raw(404, "{}"), "answered 404"),
            (raw(200, "{not json"), "answered malformed JSON"),
            (raw(201, "<html>"), "answered malformed JSON"),
        ];
        for (answer, why) in cases {
            let (results, _, _, _) = with_source(vec![answer], every_call).await;
            let paths = [
                "GET /api/crm/contacts",
                "GET /api/crm/contacts",
                "GET /api/crm/agents",
                "GET /api/crm/interactions",
                "POST /api/crm/actions/create_note",
            ];
            for (r, path) in results.into_iter().zip(paths) {
                let text = unavailable(r);
                assert!(
                    text.starts_with(&format!("partner backend: {path} {why}")),
                    "{text}"
                );
            }
        }
        // An answer without items.
        let (results, _, _, _) =
            with_source(vec![raw(200, "{\"high_water\": 1}")], every_call).await;
        for r in &results[1..4] {
            assert!(unavailable(r.clone()).ends_with("answered without an items array"));
        }
    }

    #[tokio::test]
    async fn a_refused_token_is_named_as_such() {
        for status in [401, 403] {
            let (results, _, _, _) = with_source(vec![raw(status, "{}")], every_call).await;
            for r in results {
                assert_eq!(
                    r,
                    Err(SourceError::Unavailable(format!(
                        "partner backend refused the token ({status})"
                    )))
                );
            }
        }
    }

    #[tokio::test]
    async fn the_token_and_the_query_never_reach_an_error() {
        // A port error that quotes the request (as HTTP clients' errors do).
        let fake_for_urls = Fake::new(vec![ok(200, json!({"items": [], "high_water": 0}))]);
        let (cfg, set) = (config(), settings(BASE));
        let s = RestSource::new(&fake_for_urls, &cfg, &set, "1");
        every_call(&s).await;
        let urls = fake_for_urls.urls();
        for (i, u) in urls.iter().enumerate() {
            let quoting = PortError(format!(
                "error sending request for url ({u}): Bearer {TOKEN}"
            ));
            let (results, _, _, _) = with_source(vec![Err(quoting)], every_call).await;
            let text = unavailable(results[i].clone());
            assert!(!text.contains(TOKEN), "{text}");
            assert!(!text.contains("secret.person"), "{text}");
            assert!(!text.contains('?'), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
        // Nor Debug output of the source or its requests.
        let shown = format!("{s:?} {:?}", fake_for_urls.requests.borrow());
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains("crm.partner.example"));
    }

    #[tokio::test]
    async fn every_request_stays_on_the_base_origin() {
        for base in ["https://crm.partner.example", "http://127.0.0.1:8790/v1"] {
            let fake = Fake::new(vec![ok(200, json!({"items": [], "high_water": 0}))]);
            let (cfg, set) = (config(), settings(base));
            let s = RestSource::new(&fake, &cfg, &set, "1");
            every_call(&s).await;
            let origin = url::Url::parse(base).unwrap().origin();
            let prefix = url::Url::parse(base)
                .unwrap()
                .path()
                .trim_end_matches('/')
                .to_owned();
            let urls = fake.urls();
            assert_eq!(urls.len(), 5);
            for u in urls {
                let parsed = url::Url::parse(&u).unwrap();
                assert_eq!(parsed.origin(), origin, "{u}");
                assert!(parsed.path().starts_with(&format!("{prefix}/crm/")), "{u}");
            }
        }
    }
}
