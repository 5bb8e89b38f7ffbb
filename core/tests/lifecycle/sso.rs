//! A browser's part in single sign-on, natively: a cookie jar for the app's origin, the app's
//! person-facing routes called through the same handler as the worker's, and Talkdesk ID's
//! sign-in page (the simulator) answered over HTTP as a person would, by choosing a user.

use std::collections::BTreeMap;

use appconnect_core::app::{self, Head};
use appconnect_core::http::{Reply, Route};

use super::app::TestApp;

/// The app's public origin in the native tier.
pub const BASE: &str = "https://app.example.test";

/// One browser's cookies for the app's origin.
#[derive(Debug, Clone, Default)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    /// Applies a reply's `Set-Cookie` headers (`Max-Age=0` deletes).
    pub fn take(&mut self, reply: &Reply) {
        for (name, value) in &reply.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = value.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub fn session(&self) -> Option<&str> {
        self.0.get("__Host-appconnect_session").map(String::as_str)
    }
}

/// The query pairs of a URL.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

impl TestApp {
    /// A person-facing request through the worker's handler: `path` with `query`, the jar's
    /// cookies, and `body` (a form) for `POST /logout`. The jar takes what the reply sets.
    pub async fn visit(
        &self,
        jar: &mut Jar,
        route: Route,
        query: Vec<(String, String)>,
        body: &[u8],
    ) -> Reply {
        let head = Head {
            path: String::new(),
            query,
            content_type: matches!(route, Route::Logout | Route::AppIntegrationKey)
                .then(|| "application/x-www-form-urlencoded".to_owned()),
            cookie: jar.header(),
            origin: matches!(route, Route::Logout | Route::AppIntegrationKey)
                .then(|| BASE.to_owned()),
            ..Head::default()
        };
        if let Some(refused) = app::precheck(&self.config, &route, &head) {
            return refused;
        }
        let reply = app::handle(&self.ports, &self.config, route, &head, body)
            .await
            .reply;
        jar.take(&reply);
        reply
    }

    /// `POST /logout` with `form`, as sent by a page of `origin`.
    pub async fn post_form_from(&self, jar: &mut Jar, origin: &str, form: &str) -> Reply {
        let head = Head {
            content_type: Some("application/x-www-form-urlencoded".into()),
            cookie: jar.header(),
            origin: Some(origin.to_owned()),
            ..Head::default()
        };
        let reply = app::handle(
            &self.ports,
            &self.config,
            Route::Logout,
            &head,
            form.as_bytes(),
        )
        .await
        .reply;
        jar.take(&reply);
        reply
    }

    /// `GET /launch?talkdesk_installation_id=…&talkdesk_user_id=…`.
    pub async fn launch(&self, jar: &mut Jar, installation_id: &str) -> Reply {
        let query = vec![
            (
                "talkdesk_installation_id".to_owned(),
                installation_id.to_owned(),
            ),
            ("talkdesk_user_id".to_owned(), "hint-only".to_owned()),
        ];
        self.visit(jar, Route::Launch, query, b"").await
    }

    /// Talkdesk ID's sign-in page, answered by choosing `user_id`: where it sends the browser.
    pub async fn choose_user(&self, authorize_url: &str, user_id: &str) -> String {
        let mut form = query_of(authorize_url);
        form.push(("user_id".into(), user_id.into()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = client
            .post(authorize_url.split('?').next().unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
        resp.headers()["location"].to_str().unwrap().to_owned()
    }

    /// `GET /oauth/callback` with the query Talkdesk ID sent the browser back with.
    pub async fn come_back(&self, jar: &mut Jar, redirect: &str) -> Reply {
        assert!(
            redirect.starts_with(&format!("{BASE}/oauth/callback?")),
            "{redirect}"
        );
        self.visit(jar, Route::OAuthCallback, query_of(redirect), b"")
            .await
    }

    /// The whole sign-in of `user_id` into `installation_id` in a fresh browser: the callback's
    /// reply (303 to `/app` when it worked) and the browser's jar.
    pub async fn sign_in(&self, installation_id: &str, user_id: &str) -> (Reply, Jar) {
        let mut jar = Jar::default();
        let reply = self.sign_in_with(&mut jar, installation_id, user_id).await;
        (reply, jar)
    }

    pub async fn sign_in_with(&self, jar: &mut Jar, installation_id: &str, user_id: &str) -> Reply {
        let launched = self.launch(jar, installation_id).await;
        assert_eq!(launched.status, 303, "{}", launched.body);
        let authorize = launched.header("location").unwrap().to_owned();
        let back = self.choose_user(&authorize, user_id).await;
        self.come_back(jar, &back).await
    }

    /// `GET /app`.
    pub async fn home(&self, jar: &mut Jar) -> Reply {
        self.visit(jar, Route::AppHome, Vec::new(), b"").await
    }

    pub fn sessions(&self) -> i64 {
        self.count("SELECT COUNT(*) AS n FROM sessions")
    }
}
