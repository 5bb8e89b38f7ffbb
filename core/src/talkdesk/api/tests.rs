//! The request builders and answer parsers, against the exact bytes.

use super::*;
use crate::secret::SecretString;
use crate::talkdesk::hosts::{Allowlist, Region};
use crate::talkdesk::hosts::{HostError, TalkdeskUrl};
use crate::talkdesk::http::{HttpRequest, HttpResponse};
use serde_json::json;
use serde_json::Value;

const TOKEN: &str = "tok-SECRET-123";

fn root() -> TalkdeskUrl {
    Region::Us.api_root().unwrap()
}

fn token() -> SecretString {
    SecretString::new(TOKEN)
}

fn api(root: TalkdeskUrl, app: &str, installation: &str, token: SecretString) -> InstallationApi {
    InstallationApi::new(root, app, installation, token)
}

fn resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        body: body.as_bytes().to_vec(),
    }
}

fn ok(body: Value) -> HttpResponse {
    resp(200, &body.to_string())
}

fn get_headers() -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {TOKEN}")),
        ("accept", "application/json".to_owned()),
    ]
}

fn post_headers() -> Vec<(&'static str, String)> {
    let mut h = get_headers();
    h.push(("content-type", "application/json".to_owned()));
    h
}

fn assert_get(r: &HttpRequest, url: &str) {
    assert_eq!(r.method, "GET");
    assert_eq!(r.url, url);
    assert_eq!(r.headers, get_headers());
    assert_eq!(r.body.expose(), "");
}

// --- requests ------------------------------------------------------------------------

#[test]
fn approve_posts_the_approve_state_with_its_reason() {
    let r = api(root(), "app-1", "inst-9", token())
        .approve("provisioned")
        .unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/state"
    );
    assert_eq!(r.headers, post_headers());
    assert_eq!(
        r.body.expose(),
        r#"{"state":"approve","reason":"provisioned"}"#
    );
}

#[test]
fn reject_posts_the_reject_state_with_its_reason() {
    let r = api(root(), "app-1", "inst-9", token())
        .reject("account mismatch")
        .unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/state"
    );
    assert_eq!(r.headers, post_headers());
    assert_eq!(
        r.body.expose(),
        r#"{"state":"reject","reason":"account mismatch"}"#
    );
}

#[test]
fn a_reason_is_json_escaped_and_cannot_add_members() {
    let reason = "a \"quote\", a \\ and\n\"state\":\"reject\"";
    let r = api(root(), "app", "i", token()).approve(reason).unwrap();
    let body: Value = serde_json::from_str(r.body.expose()).unwrap();
    assert_eq!(body, json!({"state": "approve", "reason": reason}));
}

#[test]
fn get_installation_is_a_plain_get_of_the_installation() {
    let r = api(root(), "app-1", "inst-9", token())
        .installation()
        .unwrap();
    assert_get(
        &r,
        "https://api.talkdeskapp.com/apps/app-1/installations/inst-9",
    );
}

#[test]
fn get_users_asks_for_one_page() {
    let r = api(root(), "app-1", "inst-9", token())
        .users(3, USERS_PER_PAGE)
        .unwrap();
    assert_get(
        &r,
        "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/users?page=3&per_page=100",
    );
}

#[test]
fn get_subscription_is_a_plain_get() {
    let r = api(root(), "app-1", "inst-9", token())
        .subscription()
        .unwrap();
    assert_get(
        &r,
        "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/subscription",
    );
}

#[test]
fn get_account_is_a_plain_get_of_the_account() {
    let r = api(root(), "app", "i", token()).account().unwrap();
    assert_get(&r, "https://api.talkdeskapp.com/account");
}

#[test]
fn get_event_reads_the_event_under_the_app() {
    let r = api(root(), "app-1", "i", token()).event("evt-7").unwrap();
    assert_get(&r, "https://api.talkdeskapp.com/apps/app-1/events/evt-7");
}

#[test]
fn acknowledge_credentials_posts_the_acknowledged_state() {
    let r = api(root(), "app-1", "inst-9", token())
        .acknowledge_credentials("client-2")
        .unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        "https://api.talkdeskapp.com/apps/app-1/installations/inst-9/credentials/client-2/state"
    );
    assert_eq!(r.headers, post_headers());
    assert_eq!(r.body.expose(), r#"{"state":"acknowledged"}"#);
}

#[test]
fn hostile_ids_are_encoded_and_stay_in_their_segment() {
    let t = token();
    let built = [
        api(root(), "../x", "a/b", t.clone()).approve("r").unwrap(),
        api(root(), "../x", "a/b", t.clone())
            .installation()
            .unwrap(),
        api(root(), "../x", "a/b", t.clone()).users(1, 1).unwrap(),
        api(root(), "../x", "a/b", t.clone())
            .subscription()
            .unwrap(),
        api(root(), "../x", "i", t.clone()).event("a/b").unwrap(),
        api(root(), "../x", "a/b", t.clone())
            .acknowledge_credentials("?q=1#f")
            .unwrap(),
    ];
    for r in &built {
        assert!(
            r.url
                .starts_with("https://api.talkdeskapp.com/apps/..%2Fx/"),
            "{}",
            r.url
        );
        let url = url::Url::parse(&r.url).unwrap();
        assert_eq!(url.host_str(), Some("api.talkdeskapp.com"));
        assert_eq!(url.fragment(), None);
        let segments: Vec<&str> = url.path_segments().unwrap().collect();
        assert_eq!(segments[..2], ["apps", "..%2Fx"], "{}", r.url);
        assert_eq!(segments[3], "a%2Fb", "{}", r.url);
    }
    assert_eq!(
        built[5].url,
        "https://api.talkdeskapp.com/apps/..%2Fx/installations/a%2Fb/credentials/%3Fq=1%23f/state"
    );
    assert_eq!(
        built[2].url,
        "https://api.talkdeskapp.com/apps/..%2Fx/installations/a%2Fb/users?page=1&per_page=1"
    );
}

#[test]
fn ids_the_parser_would_resolve_away_are_refused() {
    let t = token();
    for bad in ["", ".", ".."] {
        assert!(matches!(
            api(root(), "app", bad, t.clone()).installation(),
            Err(HostError::PathSegment { .. })
        ));
        assert!(matches!(
            api(root(), bad, "i", t.clone()).event("evt"),
            Err(HostError::PathSegment { .. })
        ));
        assert!(matches!(
            api(root(), "app", "i", t.clone()).acknowledge_credentials(bad),
            Err(HostError::PathSegment { .. })
        ));
    }
}

#[test]
fn paths_are_appended_to_a_root_with_a_base_path() {
    let base = Allowlist::default()
        .check("https://api.talkdeskapp.eu/v1/")
        .unwrap();
    assert_eq!(
        api(base.clone(), "app", "i", token())
            .account()
            .unwrap()
            .url,
        "https://api.talkdeskapp.eu/v1/account"
    );
    assert_eq!(
        api(base, "a", "i", token()).approve("r").unwrap().url,
        "https://api.talkdeskapp.eu/v1/apps/a/installations/i/state"
    );
}

#[test]
fn debug_of_a_request_never_shows_the_bearer_token() {
    let t = token();
    for r in [
        api(root(), "app", "i", t.clone()).approve("r").unwrap(),
        api(root(), "app", "i", t.clone()).users(1, 100).unwrap(),
        api(root(), "app", "i", t.clone()).account().unwrap(),
        api(root(), "app", "i", t.clone())
            .acknowledge_credentials("c")
            .unwrap(),
    ] {
        let shown = format!("{r:?}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains(&r.url), "{shown}");
    }
}

// --- classification --------------------------------------------------------------------

#[test]
fn a_401_means_mint_a_new_token() {
    let sim = r#"{"error":"invalid_token","error_description":"access token expired"}"#;
    assert_eq!(
        parse_installation(&resp(401, sim)),
        Err(ApiError::Unauthorized)
    );
    assert_eq!(
        parse_acknowledged(&resp(401, "")),
        Err(ApiError::Unauthorized)
    );
}

#[test]
fn a_403_is_forbidden_with_talkdesks_reason() {
    let e = parse_state(&resp(
        403,
        r#"{"error":"insufficient_scope","error_description":"this call needs scope apps:write"}"#,
    ))
    .unwrap_err();
    assert_eq!(
        e,
        ApiError::Forbidden("insufficient_scope: this call needs scope apps:write".into())
    );
    assert_eq!(
        parse_users(&resp(403, "<html>nope</html>")),
        Err(ApiError::Forbidden("no error body".into()))
    );
}

#[test]
fn a_404_on_an_event_means_it_was_never_sent() {
    let e = parse_event(&resp(
        404,
        r#"{"error":"not_found","error_description":"unknown event"}"#,
    ))
    .unwrap_err();
    assert_eq!(e, ApiError::NotFound);
    assert_eq!(parse_account(&resp(404, "")), Err(ApiError::NotFound));
}

#[test]
fn a_409_is_a_conflict() {
    assert_eq!(
        parse_state(&resp(
            409,
            r#"{"error":"conflict","error_description":"state: an uninstall can only be approved"}"#
        )),
        Err(ApiError::Conflict(
            "conflict: state: an uninstall can only be approved".into()
        ))
    );
}

#[test]
fn other_client_errors_are_rejected_for_good() {
    assert_eq!(
        parse_state(&resp(
            400,
            r#"{"error":"invalid_request","error_description":"reason: must be a string"}"#
        )),
        Err(ApiError::Rejected {
            status: 400,
            error: "invalid_request: reason: must be a string".into()
        })
    );
    assert_eq!(
        parse_acknowledged(&resp(415, "")),
        Err(ApiError::Rejected {
            status: 415,
            error: "no error body".into()
        })
    );
}

#[test]
fn other_error_shapes_are_read_too() {
    for (body, text) in [
        (
            r#"{"code":"1234","message":"Installation not active"}"#,
            "1234: Installation not active",
        ),
        (r#"{"message":"Bad page"}"#, "Bad page"),
        (
            r#"{"error":{"code":"E1","message":"nested"},"x":1}"#,
            "E1: nested",
        ),
        (r#"{"error":"only_code"}"#, "only_code"),
        (r#"{"error":7,"other":"x"}"#, "no error body"),
    ] {
        assert_eq!(
            parse_state(&resp(422, body)),
            Err(ApiError::Rejected {
                status: 422,
                error: text.into()
            }),
            "{body}"
        );
    }
}

#[test]
fn throttling_server_errors_and_odd_statuses_are_transient() {
    for (status, body) in [
        (500, "{}"),
        (502, "<html>bad gateway</html>"),
        (503, ""),
        (429, r#"{"error":"slow_down"}"#),
        (408, ""),
        (302, ""),
        (100, ""),
    ] {
        for result in [
            parse_state(&resp(status, body)).map(|_| ()),
            parse_users(&resp(status, body)).map(|_| ()),
            parse_acknowledged(&resp(status, body)),
        ] {
            assert!(
                matches!(result, Err(ApiError::Transient(_))),
                "{status} {body}: {result:?}"
            );
        }
    }
    assert_eq!(
        parse_account(&resp(
            503,
            r#"{"error":"unavailable","message":"maintenance"}"#
        )),
        Err(ApiError::Transient(
            "status 503: unavailable: maintenance".into()
        ))
    );
}

#[test]
fn text_from_the_body_is_clipped_and_kept_on_one_line() {
    let long = "x".repeat(1000);
    let body = json!({"error": "e", "error_description": format!("line1\nline2\r{long}")});
    let ApiError::Forbidden(text) = parse_state(&resp(403, &body.to_string())).unwrap_err() else {
        panic!()
    };
    assert_eq!(text.chars().count(), MAX_ERROR_TEXT);
    assert!(text.starts_with("e: line1 line2 xxx"), "{text}");
    let ApiError::Transient(text) = parse_state(&resp(500, &body.to_string())).unwrap_err() else {
        panic!()
    };
    assert_eq!(text.chars().count(), MAX_ERROR_TEXT);
}

#[test]
fn garbage_on_a_2xx_is_transient_and_not_repeated() {
    let garbage = r#"{"state": "approved", "reason": "secret@example.com"#;
    for r in [
        parse_state(&resp(200, garbage)).map(|_| ()),
        parse_installation(&resp(200, garbage)).map(|_| ()),
        parse_users(&resp(200, garbage)).map(|_| ()),
        parse_subscription(&resp(200, garbage)).map(|_| ()),
        parse_account(&resp(200, garbage)).map(|_| ()),
        parse_event(&resp(200, garbage)).map(|_| ()),
    ] {
        let Err(ApiError::Transient(why)) = r else {
            panic!("{r:?}")
        };
        assert!(why.contains("malformed JSON"), "{why}");
        assert!(!why.contains("secret@"), "{why}");
    }
    for not_an_object in ["", "[]", "\"approved\"", "null", "42"] {
        assert!(
            matches!(
                parse_event(&resp(200, not_an_object)),
                Err(ApiError::Transient(_))
            ),
            "{not_an_object:?}"
        );
    }
}

#[test]
fn errors_display_without_any_token() {
    let errors = [
        ApiError::Unauthorized,
        ApiError::Forbidden("insufficient_scope".into()),
        ApiError::NotFound,
        ApiError::Conflict("c".into()),
        ApiError::Rejected {
            status: 400,
            error: "bad".into(),
        },
        ApiError::Transient("status 503".into()),
    ];
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "Talkdesk refused the access token (401)",
            "Talkdesk forbade the call (403): insufficient_scope",
            "Talkdesk does not know it (404)",
            "Talkdesk reported a conflict (409): c",
            "Talkdesk rejected the request (400): bad",
            "Talkdesk call failed (transient): status 503",
        ]
    );
}

// --- parsers on the simulator's shapes and beyond ----------------------------------------

#[test]
fn the_state_answer_is_parsed() {
    let sim = json!({
        "state": "approved", "reason": "provisioned", "updated_at": "2026-01-01T00:00:00Z",
        "_links": {"self": {"href": "http://127.0.0.1:8790/apps/a/installations/i/state"},
                   "installation": {"href": "http://127.0.0.1:8790/apps/a/installations/i"}},
    });
    assert_eq!(
        parse_state(&ok(sim)).unwrap(),
        StateAnswer {
            state: "approved".into(),
            reason: Some("provisioned".into())
        }
    );
    assert_eq!(
        parse_state(&ok(
            json!({"state": "rejected", "reason": null, "extra": [1]})
        ))
        .unwrap(),
        StateAnswer {
            state: "rejected".into(),
            reason: None
        }
    );
    assert_eq!(
        parse_state(&ok(json!({"state": "uninstalled"})))
            .unwrap()
            .reason,
        None
    );
}

#[test]
fn a_state_answer_without_a_state_is_transient() {
    for body in [json!({}), json!({"state": ""}), json!({"state": 1})] {
        assert!(
            matches!(parse_state(&ok(body.clone())), Err(ApiError::Transient(_))),
            "{body}"
        );
    }
    assert!(matches!(
        parse_state(&resp(204, "")),
        Err(ApiError::Transient(_))
    ));
}

#[test]
fn the_installation_is_parsed() {
    let sim = json!({
        "id": "inst-9", "app_id": "app-1", "account_id": "acc-3",
        "scopes": ["apps:read", "apps:write"], "created_at": "2026-01-01T00:00:00Z",
        "_embedded": {"state": {"state": "pending", "reason": null, "updated_at": "x"}},
        "_links": {"self": {"href": "h"}, "users": {"href": "h/users"},
                   "subscription": {"href": "h/subscription"}},
    });
    assert_eq!(
        parse_installation(&ok(sim)).unwrap(),
        InstallationInfo {
            id: "inst-9".into(),
            app_id: "app-1".into(),
            account_id: "acc-3".into(),
            scopes: vec!["apps:read".into(), "apps:write".into()],
            state: Some("pending".into()),
        }
    );
}

#[test]
fn an_installation_without_optional_members_is_parsed() {
    let bare = json!({"id": "i", "app_id": "a", "account_id": 42, "new_field": {"x": 1}});
    assert_eq!(
        parse_installation(&ok(bare)).unwrap(),
        InstallationInfo {
            id: "i".into(),
            app_id: "a".into(),
            account_id: "42".into(),
            scopes: vec![],
            state: None,
        }
    );
    let odd = json!({"id": "i", "app_id": "a", "account_id": "c",
                     "scopes": "apps:read  users:read", "_embedded": {"state": "approved"}});
    let info = parse_installation(&ok(odd)).unwrap();
    assert_eq!(info.scopes, ["apps:read", "users:read"]);
    assert_eq!(info.state, None);
}

#[test]
fn an_installation_without_its_ids_is_transient() {
    for body in [
        json!({"app_id": "a", "account_id": "c"}),
        json!({"id": "i", "account_id": "c"}),
        json!({"id": "i", "app_id": "a", "account_id": ""}),
        json!({"id": "i", "app_id": null, "account_id": "c"}),
    ] {
        assert!(
            matches!(
                parse_installation(&ok(body.clone())),
                Err(ApiError::Transient(_))
            ),
            "{body}"
        );
    }
}

#[test]
fn a_users_page_is_parsed() {
    let sim = json!({
        "total": 3, "page": 1, "per_page": 2,
        "_embedded": {"users": [
            {"id": "u1", "email": "a@acme.test", "name": "Ann", "active": true},
            {"id": "u2", "email": "b@acme.test", "name": "Bob", "active": false},
        ]},
        "_links": {"self": {"href": "h?page=1&per_page=2"},
                   "next": {"href": "h?page=2&per_page=2"}},
    });
    assert_eq!(
        parse_users(&ok(sim)).unwrap(),
        UsersPage {
            total: Some(3),
            page: 1,
            users: vec![
                TalkdeskUser {
                    id: "u1".into(),
                    email: Some("a@acme.test".into()),
                    name: Some("Ann".into()),
                    active: true
                },
                TalkdeskUser {
                    id: "u2".into(),
                    email: Some("b@acme.test".into()),
                    name: Some("Bob".into()),
                    active: false
                },
            ],
            has_next: true,
        }
    );
}

#[test]
fn the_last_users_page_has_no_next() {
    let last = json!({
        "total": 3, "page": 2, "per_page": 2,
        "_embedded": {"users": [{"id": "u3", "email": "c@acme.test", "name": "Cy", "active": true}]},
        "_links": {"self": {"href": "h"}},
    });
    let page = parse_users(&ok(last)).unwrap();
    assert!(!page.has_next);
    assert_eq!(page.page, 2);
    assert_eq!(page.users.len(), 1);
    let null_next = json!({"_embedded": {"users": []}, "_links": {"next": null}});
    assert!(!parse_users(&ok(null_next)).unwrap().has_next);
}

#[test]
fn users_without_an_id_are_skipped_and_missing_fields_default() {
    let body = json!({
        "total": "5", "page": "1",
        "_embedded": {"users": [
            {"email": "noid@acme.test"},
            {"id": "", "name": "empty"},
            "not an object",
            {"id": 77},
            {"id": "u1", "email": null, "active": null, "roles": ["agent"]},
            {"id": "u2", "active": "false"},
            {"id": "u3", "active": 1},
        ]},
    });
    let page = parse_users(&ok(body)).unwrap();
    assert_eq!(page.total, Some(5));
    assert_eq!(page.page, 1);
    assert!(!page.has_next);
    assert_eq!(
        page.users,
        vec![
            TalkdeskUser {
                id: "77".into(),
                email: None,
                name: None,
                active: true
            },
            TalkdeskUser {
                id: "u1".into(),
                email: None,
                name: None,
                active: true
            },
            TalkdeskUser {
                id: "u2".into(),
                email: None,
                name: None,
                active: false
            },
            TalkdeskUser {
                id: "u3".into(),
                email: None,
                name: None,
                active: false
            },
        ]
    );
}

#[test]
fn a_users_page_without_a_list_is_empty_only_when_it_says_so() {
    let empty = parse_users(&ok(json!({"total": 0, "page": 1}))).unwrap();
    assert_eq!(
        empty,
        UsersPage {
            total: Some(0),
            page: 1,
            users: vec![],
            has_next: false
        }
    );
    for body in [
        json!({}),
        json!({"total": 4}),
        json!({"total": 0, "_links": {"next": {"href": "h"}}}),
        json!({"total": 0, "_embedded": {"users": {"id": "u1"}}}),
        json!({"data": [{"id": "u1"}]}),
    ] {
        assert!(
            matches!(parse_users(&ok(body.clone())), Err(ApiError::Transient(_))),
            "{body}"
        );
    }
}

#[test]
fn the_subscription_is_parsed() {
    let sim = json!({"type": "paid", "license_type": "per_user", "name": "Pro",
                     "total_licenses": 25});
    assert_eq!(
        parse_subscription(&ok(sim)).unwrap(),
        Subscription {
            kind: Some("paid".into()),
            license_type: Some("per_user".into()),
            name: Some("Pro".into()),
            total_licenses: Some(25),
        }
    );
}

#[test]
fn total_licenses_may_be_a_number_or_a_numeric_string() {
    for (value, expected) in [
        (json!(10), Some(10)),
        (json!("10"), Some(10)),
        (json!(" 7 "), Some(7)),
        (json!(3.0), Some(3)),
        (json!(0), Some(0)),
        (json!(-1), None),
        (json!(2.5), None),
        (json!("unlimited"), None),
        (json!(null), None),
        (json!([1]), None),
    ] {
        let body = json!({"type": "trial", "total_licenses": value});
        assert_eq!(
            parse_subscription(&ok(body)).unwrap().total_licenses,
            expected,
            "{value}"
        );
    }
}

#[test]
fn a_subscription_with_nothing_known_is_all_none() {
    assert_eq!(
        parse_subscription(&ok(json!({"plan_id": "x", "type": null}))).unwrap(),
        Subscription {
            kind: None,
            license_type: None,
            name: None,
            total_licenses: None
        }
    );
    assert!(matches!(
        parse_subscription(&resp(200, "[]")),
        Err(ApiError::Transient(_))
    ));
}

#[test]
fn the_account_is_parsed() {
    let sim = json!({"id": "acc-3", "name": "acme", "company_name": "Acme Inc.",
                     "timezone": "UTC", "created_at": "2026-01-01T00:00:00Z"});
    assert_eq!(
        parse_account(&ok(sim)).unwrap(),
        Account {
            id: "acc-3".into(),
            name: "acme".into(),
            company_name: Some("Acme Inc.".into()),
            timezone: Some("UTC".into()),
        }
    );
    let bare = parse_account(&ok(json!({"id": "a", "name": "acme", "plan": {}}))).unwrap();
    assert_eq!((bare.company_name, bare.timezone), (None, None));
}

#[test]
fn an_account_without_id_or_name_is_transient() {
    for body in [
        json!({"name": "acme"}),
        json!({"id": "a"}),
        json!({"id": "a", "name": ""}),
    ] {
        assert!(
            matches!(
                parse_account(&ok(body.clone())),
                Err(ApiError::Transient(_))
            ),
            "{body}"
        );
    }
}

#[test]
fn the_event_comes_back_as_talkdesk_has_it() {
    let event = json!({
        "id": "evt-7", "type": "app.updated", "app_id": "app-1",
        "data": {"installation_id": "inst-9", "users": {"adding": ["u1"]}},
        "_links": {"self": {"href": "h/apps/app-1/events/evt-7"}},
    });
    assert_eq!(parse_event(&ok(event.clone())).unwrap(), event);
}

#[test]
fn an_acknowledgement_is_any_2xx() {
    assert_eq!(parse_acknowledged(&resp(202, "")), Ok(()));
    assert_eq!(parse_acknowledged(&resp(200, "{\"x\":1}")), Ok(()));
    assert_eq!(parse_acknowledged(&resp(204, "not json")), Ok(()));
    assert_eq!(
        parse_acknowledged(&resp(404, r#"{"error":"not_found"}"#)),
        Err(ApiError::NotFound)
    );
}

#[test]
fn an_events_own_link_is_followed_only_on_its_installations_root_at_the_app_event_path() {
    let allow = Allowlist::new(&crate::talkdesk::hosts::parse_extra_hosts("127.0.0.1:*").unwrap());
    let root = allow.check("https://api.talkdeskapp.com/").unwrap();
    let a = api(root, "app-1", "inst-9", token());
    let link = |href: &str| a.event_link(&allow.check(href).unwrap());
    let ok =
        link("https://api.talkdeskapp.com/apps/app-1/events/3214155a170c4d4aaa344a540ceckrik1");
    assert_eq!(
        ok.map(|u| a.event_at(&u).url),
        Some(
            "https://api.talkdeskapp.com/apps/app-1/events/3214155a170c4d4aaa344a540ceckrik1"
                .into()
        )
    );
    for refused in [
        // Another region's root, another app, another resource, no id, two ids, a query.
        "https://api.talkdeskapp.eu/apps/app-1/events/e1",
        "https://api.talkdeskapp.com/apps/app-2/events/e1",
        "https://api.talkdeskapp.com/apps/app-1/installations/e1",
        "https://api.talkdeskapp.com/apps/app-1/events/",
        "https://api.talkdeskapp.com/apps/app-1/events/e1/x",
        "https://api.talkdeskapp.com/apps/app-1/events/e1?x=1",
        "https://api.talkdeskapp.com/account",
        "http://127.0.0.1:8790/apps/app-1/events/e1",
    ] {
        assert!(link(refused).is_none(), "{refused}");
    }
}
