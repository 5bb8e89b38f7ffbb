//! The REST connector's configuration: where the partner's backend keeps contacts, agents,
//! interactions and actions ([`ConnectorConfig`], the `"connector"` object of
//! `integration/integration.json`), and how to reach it ([`ConnectorSettings`]: its base URL, on
//! a host of the partner allowlist, and its bearer token).
//!
//! The configuration only names paths and fields; [`super::rest`] builds every URL from the
//! checked base URL, so neither a path here nor an id in a record can move a request to another
//! host.

use serde::Serialize;
use serde_json::Value;

use crate::json::{Object, Reader};
use crate::secret::SecretString;
use crate::talkdesk::hosts::{Allowlist, HostKind, TalkdeskUrl};

/// Where each kind of record lives on the partner's backend, relative to the base URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorConfig {
    pub paths: Paths,
    pub fields: Fields,
}

/// Paths under the base URL, each `/segment[/segment…]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paths {
    pub contacts: String,
    pub agents: String,
    pub interactions: String,
    /// An action `name` is posted to `{actions}/{name}`.
    pub actions: String,
}

/// The partner's field names for each Talkdesk field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fields {
    pub contacts: ContactFields,
    pub agents: AgentFields,
    pub interactions: InteractionFields,
}

/// A contact record's fields. `None` (or the key left out) means the backend has no such field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactFields {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// An array of strings.
    pub emails: String,
    /// An array of strings, in any common notation; they are turned into E.164.
    pub phones: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The record's change counter. Described for completeness, not read: the backend itself
    /// filters by `since` and reports its `high_water`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<String>,
    /// `true` on a tombstone.
    pub deleted: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentFields {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InteractionFields {
    pub id: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339.
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The interaction type (one of the configuration's `interaction_types`).
    #[serde(rename = "type")]
    pub kind: String,
    /// One of [`super::model::PRIORITIES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// One of [`super::model::STATUSES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl ContactFields {
    fn read(r: &mut Reader, fields: &Object) -> ContactFields {
        let known = [
            "id", "name", "company", "title", "emails", "phones", "url", "seq", "deleted",
        ];
        let c = r.child(fields, "contacts", &known);
        ContactFields {
            id: r.text(&c, "id"),
            name: r.text(&c, "name"),
            company: r.opt_text(&c, "company"),
            title: r.opt_text(&c, "title"),
            emails: r.text(&c, "emails"),
            phones: r.text(&c, "phones"),
            url: r.opt_text(&c, "url"),
            seq: r.opt_text(&c, "seq"),
            deleted: r.text(&c, "deleted"),
        }
    }
}

impl AgentFields {
    fn read(r: &mut Reader, fields: &Object) -> AgentFields {
        let a = r.child(fields, "agents", &["id", "name", "email"]);
        AgentFields {
            id: r.text(&a, "id"),
            name: r.text(&a, "name"),
            email: r.text(&a, "email"),
        }
    }
}

impl InteractionFields {
    fn read(r: &mut Reader, fields: &Object) -> InteractionFields {
        let known = [
            "id",
            "subject",
            "description",
            "date",
            "url",
            "type",
            "priority",
            "status",
        ];
        let i = r.child(fields, "interactions", &known);
        InteractionFields {
            id: r.text(&i, "id"),
            subject: r.text(&i, "subject"),
            description: r.opt_text(&i, "description"),
            date: r.text(&i, "date"),
            url: r.opt_text(&i, "url"),
            kind: r.text(&i, "type"),
            priority: r.opt_text(&i, "priority"),
            status: r.opt_text(&i, "status"),
        }
    }
}

/// The longest configured path, in bytes.
pub const MAX_PATH_LEN: usize = 200;
/// The longest field name, in bytes.
pub const MAX_FIELD_LEN: usize = 100;

impl ConnectorConfig {
    /// Parses and checks a configuration from its JSON text; the error names the field.
    pub fn parse(text: &str) -> Result<ConnectorConfig, String> {
        let value = crate::json::parse(text).map_err(|e| format!("connector: {e}"))?;
        ConnectorConfig::from_value(&value)
    }

    /// Parses and checks the `"connector"` object; the error names the field.
    pub fn from_value(value: &Value) -> Result<ConnectorConfig, String> {
        let mut r = Reader::new();
        let c = ConnectorConfig::read(&mut r, value, "");
        let c = r.finish(c).map_err(|e| format!("connector: {e}"))?;
        c.check()?;
        Ok(c)
    }

    /// Reads the object's fields (the rules are [`crate::json`]'s); [`check`](Self::check) is
    /// what comes after.
    pub fn read(r: &mut Reader, value: &Value, path: &str) -> ConnectorConfig {
        let o = r.object(value, path, &["paths", "fields"]);
        let p = r.child(
            &o,
            "paths",
            &["contacts", "agents", "interactions", "actions"],
        );
        let f = r.child(&o, "fields", &["contacts", "agents", "interactions"]);
        ConnectorConfig {
            paths: Paths {
                contacts: r.text(&p, "contacts"),
                agents: r.text(&p, "agents"),
                interactions: r.text(&p, "interactions"),
                actions: r.text(&p, "actions"),
            },
            fields: Fields {
                contacts: ContactFields::read(r, &f),
                agents: AgentFields::read(r, &f),
                interactions: InteractionFields::read(r, &f),
            },
        }
    }

    /// The rules serde cannot express (for a configuration deserialised as part of a larger
    /// one): each path is `/` and plain segments; each field name is non-empty. The error names
    /// the field, as `connector.paths.contacts: …`.
    pub fn check(&self) -> Result<(), String> {
        let p = &self.paths;
        for (name, path) in [
            ("contacts", &p.contacts),
            ("agents", &p.agents),
            ("interactions", &p.interactions),
            ("actions", &p.actions),
        ] {
            check_path(path).map_err(|why| format!("connector.paths.{name}: {why}"))?;
        }
        let c = &self.fields.contacts;
        let a = &self.fields.agents;
        let i = &self.fields.interactions;
        let required = [
            ("contacts.id", &c.id),
            ("contacts.name", &c.name),
            ("contacts.emails", &c.emails),
            ("contacts.phones", &c.phones),
            ("contacts.deleted", &c.deleted),
            ("agents.id", &a.id),
            ("agents.name", &a.name),
            ("agents.email", &a.email),
            ("interactions.id", &i.id),
            ("interactions.subject", &i.subject),
            ("interactions.date", &i.date),
            ("interactions.type", &i.kind),
        ];
        let optional = [
            ("contacts.company", &c.company),
            ("contacts.title", &c.title),
            ("contacts.url", &c.url),
            ("contacts.seq", &c.seq),
            ("interactions.description", &i.description),
            ("interactions.url", &i.url),
            ("interactions.priority", &i.priority),
            ("interactions.status", &i.status),
        ];
        let all = required
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .chain(optional.into_iter().map(|(k, v)| (k, v.as_ref())));
        for (name, field) in all {
            if let Some(f) = field {
                check_field(f).map_err(|why| format!("connector.fields.{name}: {why}"))?;
            }
        }
        Ok(())
    }
}

/// A path: `/` then segments of letters, digits and `-._~`, none empty, `.` or `..`. This is
/// stricter than "no `?`, `#` or `..`": percent signs, backslashes and white space, which URL
/// parsers rewrite, are refused too, so the path called is the path written.
fn check_path(path: &str) -> Result<(), &'static str> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("must start with '/'");
    };
    if path.len() > MAX_PATH_LEN {
        return Err("is longer than 200 bytes");
    }
    if path.contains('?') || path.contains('#') {
        return Err("must not hold '?' or '#'");
    }
    let mut segments = rest.split('/');
    if segments.any(|s| s == "..") {
        return Err("must not hold '..'");
    }
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err("must not hold an empty segment ('//' or a trailing '/')");
        }
        if segment == "." {
            return Err("must not hold a '.' segment");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return Err("segments may hold only letters, digits and '-._~'");
        }
    }
    Ok(())
}

/// A field name: 1 to [`MAX_FIELD_LEN`] printable ASCII characters.
fn check_field(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.len() > MAX_FIELD_LEN || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be 1 to 100 printable ASCII characters");
    }
    Ok(())
}

/// The most records asked for in one request unless set otherwise.
pub const DEFAULT_PAGE_LIMIT: u32 = 1000;
/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

/// How to reach the partner's backend. `Debug` never prints the token. The fields are private
/// so that [`ConnectorSettings::new`] is the only way to make one: no base URL skips its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSettings {
    /// On a host of the partner allowlist (see [`ConnectorSettings::new`]); without a query.
    base_url: TalkdeskUrl,
    /// Sent as `Authorization: Bearer {token}` on every call.
    token: SecretString,
    /// The most records asked for in one request: a larger `limit` from the bridge is lowered
    /// to this (1 to 1,000; [`DEFAULT_PAGE_LIMIT`] unless set by
    /// [`ConnectorSettings::with_page_limit`]).
    page_limit: u32,
}

impl ConnectorSettings {
    /// Checks the base URL against `hosts`, the partner allowlist the caller built from
    /// `PARTNER_API_HOSTS` (same syntax as `TALKDESK_EXTRA_HOSTS`, through
    /// [`crate::talkdesk::hosts::parse_extra_hosts`] and [`Allowlist::new`]).
    ///
    /// The base must be on one of those listed hosts: [`Allowlist::check`] also admits the
    /// built-in Talkdesk hosts, which are refused here, so the partner token is never sent to
    /// Talkdesk and bridge traffic goes to the listed hosts only. `https` is required except to
    /// loopback (the allowlist's rule). A query is refused (it would ride along on every call);
    /// a path is kept as the prefix of the configured paths. The token must be 1 to
    /// [`MAX_TOKEN_LEN`] printable ASCII characters (it goes into a header). Errors never hold
    /// the token.
    pub fn new(base: &str, token: SecretString, hosts: &Allowlist) -> Result<Self, String> {
        let base_url = hosts
            .check(base)
            .map_err(|e| format!("the partner base URL is refused: {e}"))?;
        if *base_url.kind() != HostKind::Extra {
            return Err(format!(
                "the partner base URL is refused: the host {} is a Talkdesk host, not one of the partner hosts",
                crate::json::quoted(base_url.host())
            ));
        }
        if base_url.as_url().query().is_some() {
            return Err("the partner base URL is refused: it must not have a query".into());
        }
        let t = token.expose();
        if t.is_empty() || t.len() > MAX_TOKEN_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "the partner token must be 1 to {MAX_TOKEN_LEN} printable ASCII characters"
            ));
        }
        Ok(ConnectorSettings {
            base_url,
            token,
            page_limit: DEFAULT_PAGE_LIMIT,
        })
    }

    pub fn base_url(&self) -> &TalkdeskUrl {
        &self.base_url
    }

    pub fn token(&self) -> &SecretString {
        &self.token
    }

    /// The most records asked for in one request.
    pub fn page_limit(&self) -> u32 {
        self.page_limit
    }

    /// The same settings asking for at most `limit` records per request (1 to 1,000).
    pub fn with_page_limit(self, limit: u32) -> Result<Self, String> {
        if !(1..=1000).contains(&limit) {
            return Err("the partner page limit must be 1 to 1000".into());
        }
        Ok(ConnectorSettings {
            page_limit: limit,
            ..self
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::talkdesk::hosts::parse_extra_hosts;
    use serde_json::json;

    /// The configuration of the brief (and of the simulator's partner backend).
    pub(crate) fn sample() -> Value {
        json!({
            "paths": {"contacts": "/crm/contacts", "agents": "/crm/agents",
                      "interactions": "/crm/interactions", "actions": "/crm/actions"},
            "fields": {
                "contacts": {"id": "uid", "name": "full_name", "company": "company",
                             "title": "job_title", "emails": "email_addresses",
                             "phones": "phone_numbers", "url": "profile_url",
                             "seq": "updated_seq", "deleted": "deleted"},
                "agents": {"id": "uid", "name": "display_name", "email": "email"},
                "interactions": {"id": "uid", "subject": "title", "description": "body",
                                 "date": "occurred_at", "url": "link", "type": "kind",
                                 "priority": "priority", "status": "state"}
            }
        })
    }

    pub(crate) fn hosts() -> Allowlist {
        Allowlist::new(&parse_extra_hosts("crm.partner.example,127.0.0.1:*").unwrap())
    }

    fn with(path: &[&str], value: Value) -> Result<ConnectorConfig, String> {
        let mut v = sample();
        let mut at = &mut v;
        for k in &path[..path.len() - 1] {
            at = &mut at[*k];
        }
        at[path[path.len() - 1]] = value;
        ConnectorConfig::from_value(&v)
    }

    #[test]
    fn the_sample_configuration_parses() {
        let c = ConnectorConfig::from_value(&sample()).unwrap();
        assert_eq!(c.paths.actions, "/crm/actions");
        assert_eq!(c.fields.contacts.phones, "phone_numbers");
        assert_eq!(c.fields.interactions.kind, "kind");
        assert_eq!(c.fields.interactions.status.as_deref(), Some("state"));
        // Round trip through its JSON text.
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(ConnectorConfig::parse(&text).unwrap(), c);
    }

    #[test]
    fn optional_fields_may_be_left_out() {
        let mut v = sample();
        v["fields"]["contacts"]
            .as_object_mut()
            .unwrap()
            .remove("company");
        v["fields"]["interactions"]
            .as_object_mut()
            .unwrap()
            .remove("priority");
        let c = ConnectorConfig::from_value(&v).unwrap();
        assert_eq!(c.fields.contacts.company, None);
        assert_eq!(c.fields.interactions.priority, None);
    }

    #[test]
    fn bad_paths_are_refused_and_named() {
        for (bad, why) in [
            ("crm/contacts", "must start with '/'"),
            ("/crm/contacts?x=1", "'?' or '#'"),
            ("/crm/contacts#x", "'?' or '#'"),
            ("/crm/../admin", "'..'"),
            ("/..", "'..'"),
            ("/crm//contacts", "empty segment"),
            ("/crm/contacts/", "empty segment"),
            ("/", "empty segment"),
            ("/crm/./contacts", "'.' segment"),
            ("/crm/%2e%2e", "only letters"),
            ("/crm\\contacts", "only letters"),
            ("/crm contacts", "only letters"),
            ("/crm/kontakté", "only letters"),
        ] {
            let err = with(&["paths", "contacts"], json!(bad)).unwrap_err();
            assert!(
                err.starts_with("connector.paths.contacts: "),
                "{bad}: {err}"
            );
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = with(
            &["paths", "actions"],
            json!(format!("/{}", "a".repeat(300))),
        )
        .unwrap_err();
        assert!(err.starts_with("connector.paths.actions: "), "{err}");
        // A path may have several plain segments.
        assert!(with(&["paths", "agents"], json!("/api/v2/crm.agents_x~1")).is_ok());
    }

    #[test]
    fn empty_field_names_are_refused_and_named() {
        for (path, name) in [
            (["fields", "contacts", "id"], "connector.fields.contacts.id"),
            (
                ["fields", "contacts", "company"],
                "connector.fields.contacts.company",
            ),
            (
                ["fields", "agents", "email"],
                "connector.fields.agents.email",
            ),
            (
                ["fields", "interactions", "type"],
                "connector.fields.interactions.type",
            ),
            (
                ["fields", "interactions", "status"],
                "connector.fields.interactions.status",
            ),
        ] {
            let err = with(&path, json!("")).unwrap_err();
            assert_eq!(err, format!("{name}: must not be empty"));
            let err = with(&path, json!("a b")).unwrap_err();
            assert!(err.starts_with(&format!("{name}: ")), "{err}");
        }
    }

    #[test]
    fn missing_and_unknown_keys_are_named() {
        let mut v = sample();
        v["fields"]["contacts"]
            .as_object_mut()
            .unwrap()
            .remove("phones");
        let err = ConnectorConfig::from_value(&v).unwrap_err();
        assert!(err.contains("phones"), "{err}");
        let err = with(&["paths", "surprise"], json!("/x")).unwrap_err();
        assert!(err.contains("surprise"), "{err}");
        let err = with(&["fields", "agents", "name"], json!(5)).unwrap_err();
        assert!(err.starts_with("connector: "), "{err}");
        assert!(ConnectorConfig::parse("{")
            .unwrap_err()
            .starts_with("connector: "));
    }

    #[test]
    fn the_base_url_must_be_on_a_partner_host() {
        let token = || SecretString::new("tok-secret-1");
        let s =
            ConnectorSettings::new("https://crm.partner.example/api/", token(), &hosts()).unwrap();
        assert_eq!(s.base_url.as_str(), "https://crm.partner.example/api/");
        assert_eq!(s.page_limit, DEFAULT_PAGE_LIMIT);
        assert!(ConnectorSettings::new("http://127.0.0.1:8790", token(), &hosts()).is_ok());
        for (bad, why) in [
            ("https://evil.example/api", "not an allowed"),
            ("https://crm.partner.example.evil.example", "not an allowed"),
            ("http://crm.partner.example", "plain http"),
            ("https://crm.partner.example:8443", "port"),
            ("https://user@crm.partner.example", "user name"),
            ("https://crm.partner.example/#x", "fragment"),
            ("https://crm.partner.example/?x=1", "query"),
            ("https://api.talkdeskapp.com", "Talkdesk host"),
            ("crm.partner.example", "not an absolute URL"),
        ] {
            let err = ConnectorSettings::new(bad, token(), &hosts()).unwrap_err();
            assert!(
                err.starts_with("the partner base URL is refused: "),
                "{bad}: {err}"
            );
            assert!(err.contains(why), "{bad}: {err}");
        }
        // The built-in Talkdesk hosts are refused even with the default allowlist.
        assert!(ConnectorSettings::new(
            "https://api.talkdeskapp.com",
            token(),
            &Allowlist::default()
        )
        .is_err());
    }

    #[test]
    fn the_token_is_checked_and_never_printed() {
        let base = "https://crm.partner.example";
        for bad in ["", "tok en", "tok\nen", "tökén"] {
            let err = ConnectorSettings::new(base, SecretString::new(bad), &hosts()).unwrap_err();
            assert!(err.starts_with("the partner token must be"), "{err}");
        }
        let err = ConnectorSettings::new(
            "https://evil.example",
            SecretString::new("tok-secret-1"),
            &hosts(),
        )
        .unwrap_err();
        assert!(!err.contains("tok-secret-1"));
        let s = ConnectorSettings::new(base, SecretString::new("tok-secret-1"), &hosts()).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("tok-secret-1"), "{shown}");
        assert!(shown.contains("crm.partner.example"), "{shown}");
    }

    #[test]
    fn the_page_limit_is_1_to_1000() {
        let s = ConnectorSettings::new(
            "https://crm.partner.example",
            SecretString::new("t"),
            &hosts(),
        )
        .unwrap();
        assert_eq!(s.clone().with_page_limit(50).unwrap().page_limit, 50);
        assert!(s.clone().with_page_limit(0).is_err());
        assert!(s.with_page_limit(1001).is_err());
    }
}
