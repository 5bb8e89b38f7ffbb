//! Single sign-on from Talkdesk (contract §5), as plain data: the authorize redirect, the
//! `authorization_code` token request, the `id_token` checks and `GET /users/me`.
//!
//! The `id_token` comes straight from Talkdesk ID's token endpoint over TLS, so its signature
//! is not checked (OIDC Core §3.1.3.7); its `iss`, `aud`, `exp` and `nonce` are.

use crate::json::Reader;
use serde_json::Value;

use super::api::ApiError;
use super::hosts::{HostError, TalkdeskUrl};
use super::http::{HttpRequest, HttpResponse};
use super::token::{TokenError, ASSERTION_TYPE};
use crate::secret::SecretString;
use crate::weburl::form;

/// The scope asked for at sign-in: `openid` names the user (`/users/me`) and brings an
/// `id_token`; the app needs nothing else of the user's token.
pub const SIGN_IN_SCOPE: &str = "openid";

/// Leeway for clocks that disagree, in seconds, when judging `exp` and `iat`.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// What the authorize redirect carries besides the endpoint.
pub struct AuthorizeRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    /// PKCE S256 challenge (RFC 7636). Talkdesk does not document PKCE; an authorization server
    /// ignores parameters it does not know (RFC 6749 §3.1), so sending it is safe either way.
    pub code_challenge: &'a str,
}

/// The URL the browser is sent to: `authorize_url` with the request as its query.
pub fn authorize_location(authorize_url: &TalkdeskUrl, req: &AuthorizeRequest<'_>) -> String {
    authorize_url
        .with_query(&[
            ("response_type", "code"),
            ("client_id", req.client_id),
            ("redirect_uri", req.redirect_uri),
            ("scope", SIGN_IN_SCOPE),
            ("state", req.state),
            ("nonce", req.nonce),
            ("code_challenge", req.code_challenge),
            ("code_challenge_method", "S256"),
        ])
        .as_str()
        .to_owned()
}

/// `POST {token_url}`: the code for the user's tokens, the client authenticated by its signed
/// assertion exactly as for its own tokens (contract §3).
pub fn code_request(
    token_url: &str,
    assertion: &SecretString,
    code: &SecretString,
    redirect_uri: &str,
    code_verifier: &SecretString,
) -> HttpRequest {
    let form = form::serialize(&[
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier.expose()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.expose()),
    ]);
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

/// What the code bought: the user's access token and the `id_token` (both secrets).
#[derive(Debug)]
pub struct UserTokens {
    pub access_token: SecretString,
    pub id_token: SecretString,
}

/// Parses the token endpoint's answer to [`code_request`]. A refusal (`invalid_grant`: a code
/// used twice, expired or issued to another client) is [`TokenError::Permanent`].
pub fn parse_code_answer(resp: &HttpResponse) -> Result<UserTokens, TokenError> {
    let token = super::token::parse_token_response(resp)?;
    // A 200 that `parse_token_response` accepted is a JSON object; only `id_token` is new here.
    let answer = serde_json::from_slice::<Value>(&resp.body).unwrap_or_default();
    let id_token = answer
        .get("id_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| TokenError::Permanent {
            error: "no_id_token".into(),
            description: "the token answer has no id_token (was openid granted?)".into(),
        })?;
    Ok(UserTokens {
        access_token: token.token,
        id_token: SecretString::new(id_token),
    })
}

/// What the `id_token` must say.
pub struct Expected<'a> {
    /// Talkdesk ID's origin ([`issuer_of`]).
    pub issuer: &'a str,
    /// The installation's `client_id`.
    pub client_id: &'a str,
    /// The nonce sent with the authorize request.
    pub nonce: &'a str,
    /// Now, unix seconds.
    pub now: u64,
}

/// Why an `id_token` was refused. Names the claim, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdTokenError {
    Malformed(&'static str),
    Issuer,
    Audience,
    Expired,
    IssuedInFuture,
    Nonce,
    NoSubject,
}

impl std::fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdTokenError::Malformed(why) => write!(f, "id_token is malformed: {why}"),
            IdTokenError::Issuer => f.write_str("id_token iss is not this account's Talkdesk ID"),
            IdTokenError::Audience => f.write_str("id_token aud is not this installation's client"),
            IdTokenError::Expired => f.write_str("id_token has expired"),
            IdTokenError::IssuedInFuture => f.write_str("id_token iat is in the future"),
            IdTokenError::Nonce => f.write_str("id_token nonce is not the one sent"),
            IdTokenError::NoSubject => f.write_str("id_token has no sub"),
        }
    }
}

/// Inferred (contract §5, §7): Talkdesk ID issues tokens as the origin of its token endpoint,
/// `https://{account}.talkdeskid.com`.
pub fn issuer_of(token_url: &TalkdeskUrl) -> String {
    token_url.origin()
}

/// Checks the `id_token`'s claims and returns its subject (the Talkdesk user id).
pub fn check_id_token(
    id_token: &SecretString,
    expected: &Expected<'_>,
) -> Result<String, IdTokenError> {
    let mut parts = id_token.expose().split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed("not three dot-separated parts"));
    };
    let bytes = crate::crypto::b64url_decode(payload)
        .ok_or(IdTokenError::Malformed("the payload is not base64url"))?;
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(IdTokenError::Malformed("the payload is not a JSON object"));
    };
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(IdTokenError::Issuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected.client_id,
        // Several audiences: ours among them and `azp` naming us (OIDC Core §3.1.3.7 items 3-5).
        Some(Value::Array(auds)) => {
            auds.iter().any(|a| a.as_str() == Some(expected.client_id))
                && (auds.len() == 1
                    || claims.get("azp").and_then(Value::as_str) == Some(expected.client_id))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(IdTokenError::Audience);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(IdTokenError::Malformed("exp is not a number"))?;
    if exp + CLOCK_SKEW_SECS <= expected.now {
        return Err(IdTokenError::Expired);
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_u64) {
        if iat > expected.now + CLOCK_SKEW_SECS {
            return Err(IdTokenError::IssuedInFuture);
        }
    }
    let nonce_ok = claims
        .get("nonce")
        .and_then(Value::as_str)
        .is_some_and(|n| crate::secret::constant_time_eq(n.as_bytes(), expected.nonce.as_bytes()));
    if !nonce_ok {
        return Err(IdTokenError::Nonce);
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() => Ok(sub.to_owned()),
        _ => Err(IdTokenError::NoSubject),
    }
}

/// `GET {api_root}/users/me` with the user's token.
pub fn me_request(
    api_root: &TalkdeskUrl,
    user_token: &SecretString,
) -> Result<HttpRequest, HostError> {
    let url = api_root.join_path(&["users", "me"])?;
    Ok(HttpRequest {
        method: "GET",
        url: url.as_str().to_owned(),
        headers: vec![
            ("authorization", format!("Bearer {}", user_token.expose())),
            ("accept", "application/json".to_owned()),
        ],
        body: SecretString::new(String::new()),
    })
}

/// The signed-in user, as `/users/me` names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub id: String,
    /// OIDC subject, when Talkdesk sends one apart from `id`.
    pub sub: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

impl Me {
    /// Whether this is the user the `id_token` is about.
    pub fn is_subject(&self, sub: &str) -> bool {
        self.id == sub || self.sub.as_deref() == Some(sub)
    }
}

/// Parses `/users/me`: `{id, sub, name, email}`.
pub fn parse_me(resp: &HttpResponse) -> Result<Me, ApiError> {
    super::api::check_status(resp)?;
    let shape = || ApiError::Transient("/users/me is not {id, name, email}".into());
    let v: Value = serde_json::from_slice(&resp.body).map_err(|_| shape())?;
    let mut r = Reader::new();
    let o = r.open(&v, "");
    // `id` must be there (null too is "there": it is refused below as no id).
    let id = v.get("id").cloned();
    let (sub, name, email) = (
        r.opt_text(&o, "sub"),
        r.opt_text(&o, "name"),
        r.opt_text(&o, "email"),
    );
    let a = r.finish(()).ok().zip(id).ok_or_else(shape)?;
    let id = match a.1 {
        Value::String(s) if !s.is_empty() => s,
        Value::Number(n) => n.to_string(),
        _ => return Err(ApiError::Transient("/users/me has no id".into())),
    };
    let short = |s: Option<String>| s.map(|s| s.chars().take(200).collect::<String>());
    Ok(Me {
        id,
        sub,
        name: short(name),
        email: short(email),
    })
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
