//! The requests, built from one value: [`InstallationApi`] holds what every call for an
//! installation needs (the region's API root, our app id, the installation id and a token), so
//! no caller passes those four again and again, and none can mix one installation's token with
//! another's id.

use serde_json::Value;

use crate::secret::SecretString;
use crate::talkdesk::hosts::{HostError, TalkdeskUrl};
use crate::talkdesk::http::HttpRequest;

/// Talkdesk's API as one installation may call it.
#[derive(Debug, Clone)]
pub struct InstallationApi {
    root: TalkdeskUrl,
    app_id: String,
    installation_id: String,
    token: SecretString,
}

impl InstallationApi {
    /// `root` is the installation's allowlisted API root (contract §1); `token` an access token
    /// minted with the installation's credentials.
    pub fn new(
        root: TalkdeskUrl,
        app_id: &str,
        installation_id: &str,
        token: SecretString,
    ) -> InstallationApi {
        InstallationApi {
            root,
            app_id: app_id.to_owned(),
            installation_id: installation_id.to_owned(),
            token,
        }
    }

    pub fn installation_id(&self) -> &str {
        &self.installation_id
    }

    /// `POST /apps/{app_id}/installations/{installation_id}/state` with
    /// `{"state":"approve","reason":…}`: confirms an install, update or uninstall (contract §4).
    pub fn approve(&self, reason: &str) -> Result<HttpRequest, HostError> {
        self.set_state("approve", reason)
    }

    /// The same call with `{"state":"reject","reason":…}`: refuses an installation (e.g. it
    /// lacks the scopes the app needs).
    pub fn reject(&self, reason: &str) -> Result<HttpRequest, HostError> {
        self.set_state("reject", reason)
    }

    fn set_state(&self, action: &str, reason: &str) -> Result<HttpRequest, HostError> {
        let url = self.installation_url(&["state"])?;
        // Members in the documented order; `Value`'s `Display` writes each string JSON-escaped.
        let body = format!(
            "{{\"state\":{},\"reason\":{}}}",
            Value::from(action),
            Value::from(reason)
        );
        Ok(self.request("POST", &url, Some(body)))
    }

    /// `GET /apps/{app_id}/installations/{installation_id}`: the installation as Talkdesk has
    /// it, to check an event's claims (app, account) before acting on them.
    pub fn installation(&self) -> Result<HttpRequest, HostError> {
        let url = self.installation_url(&[])?;
        Ok(self.request("GET", &url, None))
    }

    /// `GET /apps/{app_id}/installations/{installation_id}/users?page={page}&per_page={per_page}`.
    /// Pages count from 1; see [`USERS_PER_PAGE`](super::USERS_PER_PAGE) and
    /// [`MAX_USER_PAGES`](super::MAX_USER_PAGES).
    pub fn users(&self, page: u32, per_page: u32) -> Result<HttpRequest, HostError> {
        let url = self.installation_url(&["users"])?.with_query(&[
            ("page", &page.to_string()),
            ("per_page", &per_page.to_string()),
        ]);
        Ok(self.request("GET", &url, None))
    }

    /// `GET /apps/{app_id}/installations/{installation_id}/subscription`: plan and licences.
    pub fn subscription(&self) -> Result<HttpRequest, HostError> {
        let url = self.installation_url(&["subscription"])?;
        Ok(self.request("GET", &url, None))
    }

    /// `GET {api root}/{segments…}?{query}`: any read the partner's code makes. Each segment
    /// is escaped, so the request stays below the installation's API root.
    pub fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<HttpRequest, HostError> {
        let mut url = self.root.join_path(segments)?;
        if !query.is_empty() {
            url = url.with_query(query);
        }
        Ok(self.request("GET", &url, None))
    }

    /// `GET /account`: the account the token was minted for (scope `account:read`).
    pub fn account(&self) -> Result<HttpRequest, HostError> {
        let url = self.root.join_path(&["account"])?;
        Ok(self.request("GET", &url, None))
    }

    /// `GET /apps/{app_id}/events/{event_id}`: the event as Talkdesk sent it. Events carry no
    /// signature (contract §2), so reading one back with the installation's own token is how a
    /// delivered event is told from a forged one.
    pub fn event(&self, event_id: &str) -> Result<HttpRequest, HostError> {
        let url = self
            .root
            .join_path(&["apps", &self.app_id, "events", event_id])?;
        Ok(self.request("GET", &url, None))
    }

    /// The event's own link (`_links.self`), when it is one to read the event at: on this
    /// installation's API root (same origin, below its path), at the app's event path
    /// `apps/{app_id}/events/{one id}`, with no query. Talkdesk's event resources may have ids
    /// of their own (contract §2), so this, not a path built from the envelope id, is where
    /// an event is read back; anything else is not followed.
    pub fn event_link(&self, href: &TalkdeskUrl) -> Option<TalkdeskUrl> {
        let events = self
            .root
            .join_path(&["apps", &self.app_id, "events"])
            .ok()?;
        let url = href.as_url();
        if href.origin() != self.root.origin() || url.query().is_some() || url.fragment().is_some()
        {
            return None;
        }
        let id = url
            .path()
            .strip_prefix(events.as_url().path())?
            .strip_prefix('/')?;
        let plain = !id.is_empty() && id != "." && id != ".." && !id.contains('/');
        plain.then(|| href.clone())
    }

    /// `GET` an event's own link (one [`InstallationApi::event_link`] accepted).
    pub fn event_at(&self, link: &TalkdeskUrl) -> HttpRequest {
        self.request("GET", link, None)
    }

    /// `POST /apps/{app_id}/installations/{installation_id}/credentials/{client_id}/state` with
    /// `{"state":"acknowledged"}`: tells Talkdesk the rotated credentials `client_id` are in use.
    pub fn acknowledge_credentials(&self, client_id: &str) -> Result<HttpRequest, HostError> {
        let url = self.installation_url(&["credentials", client_id, "state"])?;
        let body = r#"{"state":"acknowledged"}"#.to_owned();
        Ok(self.request("POST", &url, Some(body)))
    }

    fn installation_url(&self, rest: &[&str]) -> Result<TalkdeskUrl, HostError> {
        let mut segments = vec![
            "apps",
            self.app_id.as_str(),
            "installations",
            self.installation_id.as_str(),
        ];
        segments.extend_from_slice(rest);
        self.root.join_path(&segments)
    }

    /// The request with the bearer token, `accept: application/json`, and `content-type` only
    /// when there is a body (a GET has the empty body).
    fn request(
        &self,
        method: &'static str,
        url: &TalkdeskUrl,
        body: Option<String>,
    ) -> HttpRequest {
        let mut headers = vec![
            ("authorization", format!("Bearer {}", self.token.expose())),
            ("accept", "application/json".to_owned()),
        ];
        if body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        HttpRequest {
            method,
            url: url.as_str().to_owned(),
            headers,
            body: SecretString::new(body.unwrap_or_default()),
        }
    }
}
