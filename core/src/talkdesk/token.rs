//! The token request of the client-credentials grant with a JWT assertion (contract §3), as
//! plain data, and the classification of its answer.

use super::http::{HttpRequest, HttpResponse};
use crate::json::read_bytes;
use crate::secret::SecretString;
use crate::weburl::form;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The scopes the worker asks for. Keep in step with what the app version declares on Talkdesk.
pub const DEFAULT_SCOPES: &[&str] = &["apps:read", "apps:write", "account:read", "users:read"];

/// A scope set in canonical form (sorted, deduplicated, space separated): the cache key part.
pub fn scope_key(scopes: &[&str]) -> String {
    // Kept sorted as inserted: a handful of scopes, and no slice sort in the wasm for them.
    let mut s: Vec<&str> = Vec::new();
    for scope in scopes {
        if let Err(at) = s.binary_search(scope) {
            s.insert(at, scope);
        }
    }
    s.join(" ")
}

/// `POST {token_url}` with the form fields of RFC 7523 §2.2.
pub fn token_request(token_url: &str, assertion: &SecretString, scopes: &[&str]) -> HttpRequest {
    let mut form = form::serialize(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.expose()),
    ]);
    if !scopes.is_empty() {
        form::append_pair(&mut form, "scope", &scope_key(scopes));
    }
    HttpRequest {
        method: "POST",
        url: token_url.to_owned(),
        headers: vec![
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("accept", "application/json".to_owned()),
        ],
        body: SecretString::new(form),
    }
}

/// A minted access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: SecretString,
    pub expires_in: u64,
    pub scope: Option<String>,
}

/// Why no token came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Talkdesk refused the credentials or the request (`invalid_client`, `invalid_scope`, …):
    /// retrying the same request cannot help; the installation needs attention.
    Permanent { error: String, description: String },
    /// 5xx, 429, a malformed answer, a timeout or a connection error: retry with backoff.
    Transient(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Permanent { error, description } => {
                write!(f, "token refused: {error}: {description}")
            }
            TokenError::Transient(why) => write!(f, "token request failed (transient): {why}"),
        }
    }
}

/// A 200's fields (others are ignored).
struct Success {
    access_token: String,
    token_type: String,
    expires_in: u64,
    scope: Option<String>,
}

impl Success {
    fn read(body: &[u8]) -> Result<Success, String> {
        read_bytes(body, None, |r, o| Success {
            access_token: r.text(o, "access_token"),
            token_type: r.text(o, "token_type"),
            expires_in: r.number(o, "expires_in", u64::MAX),
            scope: r.opt_text(o, "scope"),
        })
    }
}

/// An OAuth error answer's fields (RFC 6749 §5.2).
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

impl OAuthError {
    fn read(body: &[u8]) -> Result<OAuthError, String> {
        read_bytes(body, None, |r, o| OAuthError {
            error: r.text(o, "error"),
            error_description: r.opt_text(o, "error_description"),
        })
    }
}

/// Longest OAuth error text kept (it is stored and shown to the operator).
const MAX_ERROR_TEXT: usize = 200;

/// Classifies the token endpoint's answer.
pub fn parse_token_response(resp: &HttpResponse) -> Result<AccessToken, TokenError> {
    let clip = |s: &str| s.chars().take(MAX_ERROR_TEXT).collect::<String>();
    match resp.status {
        200 => {
            let ok = Success::read(&resp.body)
                .map_err(|_| TokenError::Transient("200 with a malformed body".into()))?;
            if !ok.token_type.eq_ignore_ascii_case("bearer") {
                return Err(TokenError::Permanent {
                    error: "unsupported_token_type".into(),
                    description: clip(&ok.token_type),
                });
            }
            if ok.access_token.is_empty() || ok.expires_in == 0 {
                return Err(TokenError::Transient("200 with an empty token".into()));
            }
            Ok(AccessToken {
                token: SecretString::new(ok.access_token),
                expires_in: ok.expires_in,
                scope: ok.scope,
            })
        }
        // Timing, not a wrong request: try again later.
        408 | 425 | 429 | 500..=599 => {
            Err(TokenError::Transient(format!("status {}", resp.status)))
        }
        // Only an OAuth error from Talkdesk ID is a verdict on the credentials; a 4xx without
        // one (an HTML page from a proxy or the edge) says nothing about them.
        400..=499 => match OAuthError::read(&resp.body) {
            Ok(e) if !e.error.is_empty() => Err(TokenError::Permanent {
                error: clip(&e.error),
                description: clip(e.error_description.as_deref().unwrap_or("")),
            }),
            _ => Err(TokenError::Transient(format!(
                "status {} without an OAuth error",
                resp.status
            ))),
        },
        other => Err(TokenError::Transient(format!("unexpected status {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_request_is_exactly_the_rfc7523_form() {
        let r = token_request(
            "https://acme.talkdeskid.com/oauth/token",
            &SecretString::new("h.c.s"),
            &["users:read", "apps:read", "apps:read"],
        );
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://acme.talkdeskid.com/oauth/token");
        assert_eq!(
            r.headers[0],
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned()
            )
        );
        let fields: Vec<(String, String)> =
            ::url::form_urlencoded::parse(r.body.expose().as_bytes())
                .into_owned()
                .collect();
        assert_eq!(
            fields,
            vec![
                ("grant_type".into(), "client_credentials".into()),
                ("client_assertion_type".into(), ASSERTION_TYPE.into()),
                ("client_assertion".into(), "h.c.s".into()),
                ("scope".into(), "apps:read users:read".into()),
            ]
        );
        assert!(
            !format!("{r:?}").contains("h.c.s"),
            "the assertion never prints"
        );
    }

    #[test]
    fn no_scope_means_no_scope_field() {
        let r = token_request("https://x/oauth/token", &SecretString::new("a"), &[]);
        assert!(!r.body.expose().contains("scope="));
    }

    #[test]
    fn a_success_is_parsed() {
        let t = parse_token_response(&resp(
            200,
            r#"{"access_token":"tok","token_type":"Bearer","expires_in":600,"scope":"apps:read"}"#,
        ))
        .unwrap();
        assert_eq!(t.token.expose(), "tok");
        assert_eq!(t.expires_in, 600);
        assert_eq!(t.scope.as_deref(), Some("apps:read"));
    }

    #[test]
    fn oauth_errors_are_permanent() {
        let e = parse_token_response(&resp(
            401,
            r#"{"error":"invalid_client","error_description":"bad signature"}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            TokenError::Permanent {
                error: "invalid_client".into(),
                description: "bad signature".into()
            }
        );
        for (status, body) in [
            (400, "<html>"),
            (403, ""),
            (404, "{}"),
            (401, r#"{"error":""}"#),
        ] {
            assert!(
                matches!(
                    parse_token_response(&resp(status, body)),
                    Err(TokenError::Transient(_))
                ),
                "{status} {body}: no OAuth error, no verdict"
            );
        }
    }

    #[test]
    fn server_errors_throttling_and_garbage_are_transient() {
        for (status, body) in [
            (500, "{}"),
            (503, ""),
            (429, r#"{"error":"slow_down"}"#),
            (200, "{not json"),
            (
                200,
                r#"{"access_token":"","token_type":"Bearer","expires_in":600}"#,
            ),
            (302, ""),
            (408, ""),
            (425, ""),
        ] {
            assert!(
                matches!(
                    parse_token_response(&resp(status, body)),
                    Err(TokenError::Transient(_))
                ),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn a_non_bearer_token_is_refused() {
        assert!(matches!(
            parse_token_response(&resp(
                200,
                r#"{"access_token":"t","token_type":"mac","expires_in":600}"#
            )),
            Err(TokenError::Permanent { .. })
        ));
    }
}
