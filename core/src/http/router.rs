//! The route table. Adding a route is one line in `resource` and one variant of [`Route`].

use super::ApiError;

/// The HTTP methods the worker answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// A request the worker knows how to answer, with the values taken from its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`
    Healthz,
    /// `POST /__bench/assertion`: signs assertions for the benchmark (only with
    /// `BENCH_ENDPOINTS=1`; 404 otherwise).
    BenchAssertion,
    /// `POST /events/{callback token}`: Talkdesk's lifecycle events. The token is checked
    /// against `CALLBACK_TOKEN` before anything else (`app::precheck`).
    Events(String),
    /// `GET /admin/installations`
    AdminInstallations,
    /// `GET /admin/installations/{id}`
    AdminInstallation(String),
    /// `POST /admin/installations/{id}/verify`: what Talkdesk says of it, now.
    AdminVerify(String),
    /// `GET /admin/accounts/{id}`
    AdminAccount(String),
    /// `PUT /admin/accounts/{id}/settings`: the partner's settings, kept across reinstalls.
    AdminAccountSettings(String),
    /// `POST /admin/events/{id}/retry`: an unconfirmed event is tried again from scratch.
    AdminEventRetry(String),
    /// `POST /admin/events/{id}/discard`: an unconfirmed event is dropped with its data.
    AdminEventDiscard(String),
    /// `POST /admin/events/{id}/replay`: a stored event's work runs again from scratch.
    AdminEventReplay(String),
    /// `GET /launch`: Talkdesk opens the app here; single sign-on starts.
    Launch,
    /// `GET /oauth/callback`: Talkdesk ID sends the browser back with a code.
    OAuthCallback,
    /// `GET /app`: the signed-in agent's first page.
    AppHome,
    /// `POST /logout`: the agent signs out (a form with its CSRF token).
    Logout,
    /// `POST /app/integration-key`: an integration admin issues the account's key (a form).
    AppIntegrationKey,
    /// `POST /bridge/auth`: Talkdesk Integrations checks the integration key.
    BridgeAuth,
    /// `POST /bridge/contacts`: contact sync (initial, incremental, next page).
    BridgeContacts,
    /// `POST /bridge/agents`
    BridgeAgents,
    /// `POST /bridge/interactions`
    BridgeInteractions,
    /// `POST /bridge/actions/{name}`
    BridgeAction(String),
    /// `POST /admin/accounts/{id}/integration-key`: a new key, shown once.
    AdminIntegrationKey(String),
    /// `POST /admin/accounts/{id}/{contacts,agents,interactions}`: the built-in source's import.
    AdminImport(String, ImportKind),
    /// `GET /integration/manifest` (operator): the integration configuration JSON.
    IntegrationManifest,
    /// `GET /admin/installations/{id}/events?before=`: every event with its status, newest first.
    AdminInstallationEvents(String),
    /// `POST /admin/installations/{id}/retry`: its pending jobs run now.
    AdminRetryNow(String),
    /// `GET /admin/sealing`: how many stored secrets each `SEALING_KEY` id still seals.
    AdminSealing,
    /// `POST /admin/sealing/reseal?after=`: re-seals a batch under the current key.
    AdminReseal,
    /// `POST /admin/installations/{id}/approve`: a person approves an install waiting for one.
    AdminApprove(String),
    /// `POST /admin/installations/{id}/reject` with `{"reason":…}`.
    AdminReject(String),
    /// `POST /partner/installations/{id}/decision`: the partner's backend decides, signed as a
    /// Standard Webhook with `PARTNER_WEBHOOK_SECRET`.
    PartnerDecision(String),
    /// `GET /admin/installations/{id}/webhooks`: the webhooks queued for the partner.
    AdminWebhooks(String),
    /// `POST /admin/webhooks/{webhook id}/replay`: delivers a webhook again.
    AdminWebhookReplay(String),
    /// `GET /admin`: the operator console's overview (a page; sign-in when there is no session).
    ConsoleHome,
    /// `POST /admin/login`: the operator token, for a console session.
    ConsoleLogin,
    /// `POST /admin/logout`
    ConsoleLogout,
    /// `GET /admin/console/installations?state=&q=`
    ConsoleList,
    /// `GET /admin/console/installations/{id}`
    ConsoleInstallation(String),
    /// `POST /admin/console/installations/{id}/{action}`
    ConsoleAction(String, String),
    /// `POST /admin/console/reseal`
    ConsoleReseal,
}

/// What an import route imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Contacts,
    Agents,
    Interactions,
}

/// The paths a person opens in a browser: every answer there is an HTML page, errors included
/// (a wrong method, a broken deployment), never JSON.
pub const PAGE_PATHS: &[&str] = &[
    "/launch",
    "/oauth/callback",
    "/app",
    "/logout",
    "/app/integration-key",
];

pub fn is_page_path(path: &str) -> bool {
    PAGE_PATHS.contains(&path)
        || matches!(path, "/admin" | "/admin/login" | "/admin/logout")
        || path.starts_with("/admin/console/")
}

/// What lives at a path: the methods it takes and how the path becomes a [`Route`].
struct Resource {
    allow: &'static [Method],
    route: fn(Method, &[&str]) -> Route,
}

fn resource(segments: &[&str]) -> Option<Resource> {
    let r = |allow, route| Some(Resource { allow, route });
    match segments {
        ["healthz"] => r(&[Method::Get], |_, _| Route::Healthz),
        ["__bench", "assertion"] => r(&[Method::Post], |_, _| Route::BenchAssertion),
        ["events", token] if !token.is_empty() => {
            r(&[Method::Post], |_, s| Route::Events(s[1].to_owned()))
        }
        ["admin", "installations"] => r(&[Method::Get], |_, _| Route::AdminInstallations),
        ["admin", "installations", id] if !id.is_empty() => r(&[Method::Get], |_, s| {
            Route::AdminInstallation(s[2].to_owned())
        }),
        ["admin", "installations", id, "verify"] if !id.is_empty() => {
            r(&[Method::Post], |_, s| Route::AdminVerify(s[2].to_owned()))
        }
        ["admin", "accounts", id] if !id.is_empty() => {
            r(&[Method::Get], |_, s| Route::AdminAccount(s[2].to_owned()))
        }
        ["admin", "accounts", id, "settings"] if !id.is_empty() => r(&[Method::Put], |_, s| {
            Route::AdminAccountSettings(s[2].to_owned())
        }),
        ["admin", "events", id, "retry"] if !id.is_empty() => r(&[Method::Post], |_, s| {
            Route::AdminEventRetry(s[2].to_owned())
        }),
        ["admin", "events", id, "discard"] if !id.is_empty() => r(&[Method::Post], |_, s| {
            Route::AdminEventDiscard(s[2].to_owned())
        }),
        ["admin", "events", id, "replay"] if !id.is_empty() => r(&[Method::Post], |_, s| {
            Route::AdminEventReplay(s[2].to_owned())
        }),
        ["launch"] => r(&[Method::Get], |_, _| Route::Launch),
        ["app", "integration-key"] => r(&[Method::Post], |_, _| Route::AppIntegrationKey),
        ["bridge", "auth"] => r(&[Method::Post], |_, _| Route::BridgeAuth),
        ["bridge", "contacts"] => r(&[Method::Post], |_, _| Route::BridgeContacts),
        ["bridge", "agents"] => r(&[Method::Post], |_, _| Route::BridgeAgents),
        ["bridge", "interactions"] => r(&[Method::Post], |_, _| Route::BridgeInteractions),
        ["bridge", "actions", name] if !name.is_empty() => {
            r(&[Method::Post], |_, s| Route::BridgeAction(s[2].to_owned()))
        }
        ["admin", "accounts", id, "integration-key"] if !id.is_empty() => {
            r(&[Method::Post], |_, s| {
                Route::AdminIntegrationKey(s[2].to_owned())
            })
        }
        ["admin", "accounts", id, "contacts"] if !id.is_empty() => r(&[Method::Post], |_, s| {
            Route::AdminImport(s[2].to_owned(), ImportKind::Contacts)
        }),
        ["admin", "accounts", id, "agents"] if !id.is_empty() => r(&[Method::Post], |_, s| {
            Route::AdminImport(s[2].to_owned(), ImportKind::Agents)
        }),
        ["admin", "accounts", id, "interactions"] if !id.is_empty() => {
            r(&[Method::Post], |_, s| {
                Route::AdminImport(s[2].to_owned(), ImportKind::Interactions)
            })
        }
        ["integration", "manifest"] => r(&[Method::Get], |_, _| Route::IntegrationManifest),
        ["admin", "sealing"] => r(&[Method::Get], |_, _| Route::AdminSealing),
        ["admin", "installations", id, "events"] if !id.is_empty() => r(&[Method::Get], |_, s| {
            Route::AdminInstallationEvents(s[2].to_owned())
        }),
        ["admin", "installations", id, "retry"] if !id.is_empty() => r(&[Method::Post], |_, s| {
            Route::AdminRetryNow(s[2].to_owned())
        }),
        ["admin", "sealing", "reseal"] => r(&[Method::Post], |_, _| Route::AdminReseal),
        ["admin", "installations", id, "approve"] if !id.is_empty() => {
            r(&[Method::Post], |_, s| Route::AdminApprove(s[2].to_owned()))
        }
        ["admin", "installations", id, "reject"] if !id.is_empty() => {
            r(&[Method::Post], |_, s| Route::AdminReject(s[2].to_owned()))
        }
        ["partner", "installations", id, "decision"] if !id.is_empty() => {
            r(&[Method::Post], |_, s| {
                Route::PartnerDecision(s[2].to_owned())
            })
        }
        ["admin", "installations", id, "webhooks"] if !id.is_empty() => {
            r(&[Method::Get], |_, s| Route::AdminWebhooks(s[2].to_owned()))
        }
        ["admin"] => r(&[Method::Get], |_, _| Route::ConsoleHome),
        ["admin", "login"] => r(&[Method::Post], |_, _| Route::ConsoleLogin),
        ["admin", "logout"] => r(&[Method::Post], |_, _| Route::ConsoleLogout),
        ["admin", "console", "installations"] => r(&[Method::Get], |_, _| Route::ConsoleList),
        ["admin", "console", "installations", id] if !id.is_empty() => r(&[Method::Get], |_, s| {
            Route::ConsoleInstallation(s[3].to_owned())
        }),
        ["admin", "console", "installations", id, action]
            if !id.is_empty() && !action.is_empty() =>
        {
            r(&[Method::Post], |_, s| {
                Route::ConsoleAction(s[3].to_owned(), s[4].to_owned())
            })
        }
        ["admin", "console", "reseal"] => r(&[Method::Post], |_, _| Route::ConsoleReseal),
        ["admin", "webhooks", id, "replay"] if !id.is_empty() => r(&[Method::Post], |_, s| {
            Route::AdminWebhookReplay(s[2].to_owned())
        }),
        ["oauth", "callback"] => r(&[Method::Get], |_, _| Route::OAuthCallback),
        ["app"] => r(&[Method::Get], |_, _| Route::AppHome),
        ["logout"] => r(&[Method::Post], |_, _| Route::Logout),
        _ => None,
    }
}

/// Finds the route for a method and path: 404 when nothing lives at the path, 405 (with the
/// methods it takes) when something does but not with this method.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let not_found = || ApiError::NotFound {
        path: shown_path(path),
    };
    let segments: Vec<&str> = path
        .strip_prefix('/')
        .ok_or_else(not_found)?
        .split('/')
        .collect();
    let resource = resource(&segments).ok_or_else(not_found)?;
    match Method::parse(method).filter(|m| resource.allow.contains(m)) {
        Some(m) => Ok((resource.route)(m, &segments)),
        // Whether a callback path exists depends on its secret: a 405 would say the token is
        // right, so any other method finds nothing there.
        None if segments[0] == "events" => Err(not_found()),
        None => Err(ApiError::MethodNotAllowed {
            method: truncate(method, 20),
            allow: resource.allow,
        }),
    }
}

/// A path as an error may echo it: cut short, and never a callback path's token.
fn shown_path(path: &str) -> String {
    match path.strip_prefix("/events/") {
        Some(_) => "/events/…".to_owned(),
        None => truncate(path, 200),
    }
}

/// Caller-supplied text echoed in an error is cut short, on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthz_is_routed() {
        assert_eq!(route("GET", "/healthz"), Ok(Route::Healthz));
    }

    #[test]
    fn the_console_pages_and_actions_are_routed_and_answer_as_pages() {
        assert_eq!(route("GET", "/admin"), Ok(Route::ConsoleHome));
        assert_eq!(route("POST", "/admin/login"), Ok(Route::ConsoleLogin));
        assert_eq!(
            route("GET", "/admin/console/installations"),
            Ok(Route::ConsoleList)
        );
        assert_eq!(
            route("GET", "/admin/console/installations/i-1"),
            Ok(Route::ConsoleInstallation("i-1".into()))
        );
        assert_eq!(
            route("POST", "/admin/console/installations/i-1/retry"),
            Ok(Route::ConsoleAction("i-1".into(), "retry".into()))
        );
        assert_eq!(
            route("POST", "/admin/console/reseal"),
            Ok(Route::ConsoleReseal)
        );
        assert!(is_page_path("/admin") && is_page_path("/admin/console/installations"));
        assert!(
            !is_page_path("/admin/installations"),
            "the JSON API stays JSON"
        );
    }

    #[test]
    fn routes_take_their_path_values() {
        assert_eq!(
            route("POST", "/events/a-callback-token"),
            Ok(Route::Events("a-callback-token".into()))
        );
        assert_eq!(
            route("GET", "/admin/installations"),
            Ok(Route::AdminInstallations)
        );
        assert_eq!(
            route("GET", "/admin/installations/inst-1"),
            Ok(Route::AdminInstallation("inst-1".into()))
        );
        assert!(matches!(
            route("GET", "/admin/installations/"),
            Err(ApiError::NotFound { .. })
        ));
        // The callback path answers nothing but POST, and says nothing of its token.
        for (method, path) in [
            ("GET", "/events/t"),
            ("POST", "/events"),
            ("POST", "/events/"),
        ] {
            assert_eq!(
                route(method, path),
                Err(ApiError::NotFound {
                    path: if path == "/events" {
                        path.into()
                    } else {
                        "/events/…".into()
                    }
                }),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for p in [
            "/",
            "/nope",
            "/healthz/",
            "/healthz/x",
            "healthz",
            "//healthz",
            "",
        ] {
            assert!(
                matches!(route("GET", p), Err(ApiError::NotFound { .. })),
                "{p}"
            );
        }
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        for m in ["POST", "DELETE", "PUT", "get", "BREW"] {
            assert_eq!(
                route(m, "/healthz"),
                Err(ApiError::MethodNotAllowed {
                    method: m.to_owned(),
                    allow: &[Method::Get]
                })
            );
        }
    }

    #[test]
    fn echoed_path_is_cut_short() {
        let long = format!("/{}", "é".repeat(500));
        match route("GET", &long) {
            Err(ApiError::NotFound { path }) => assert_eq!(path.chars().count(), 200),
            other => panic!("{other:?}"),
        }
    }
}
