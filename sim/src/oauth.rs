//! Talkdesk ID's token endpoint: `client_credentials` with a JWT client assertion (RFC 7523 §2.2)
//! or HTTP Basic, verified strictly. Each refusal names the rule that failed.

use crate::core::{now_secs, random_token, State, TokenInfo};
use crate::jose::{parse_jwt, Alg};
use crate::model::{IAT_SKEW_SECS, MAX_ASSERTION_LIFETIME_SECS};
use crate::server::Reply;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An OAuth error answer: status, `error`, `error_description`.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

fn invalid_client(d: impl Into<String>) -> OAuthError {
    OAuthError {
        status: 401,
        error: "invalid_client",
        description: d.into(),
    }
}

fn invalid_request(d: impl Into<String>) -> OAuthError {
    OAuthError {
        status: 400,
        error: "invalid_request",
        description: d.into(),
    }
}

/// The client a verified request authenticated as.
#[derive(Debug)]
struct Client {
    installation_id: String,
    client_id: String,
}

/// Decodes the form body; a repeated parameter is a malformed request (RFC 6749 §3.2).
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(invalid_request(format!("parameter {k} is repeated")));
        }
    }
    Ok(out)
}

/// What the request log keeps of a token request: the form, with the assertion decoded and the
/// secret redacted.
pub fn loggable_form(body: &[u8]) -> Value {
    let mut m = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        let value = match k.as_ref() {
            "client_assertion" => match parse_jwt(&v) {
                Ok(jwt) => json!({"header": jwt.header, "claims": jwt.claims}),
                Err(e) => json!({"unparsable": e}),
            },
            "client_secret" => json!("[redacted]"),
            _ => json!(v),
        };
        m.insert(k.to_string(), value);
    }
    Value::Object(m)
}

/// Handles `POST /oauth/token`.
pub fn token(
    st: &mut State,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
    token_url: &str,
    ttl: u64,
) -> Reply {
    match token_inner(st, content_type, authorization, body, token_url, ttl) {
        Ok(reply) => reply,
        Err((e, installation_id)) => {
            let mut reply = Reply::json(
                e.status,
                json!({"error": e.error, "error_description": e.description}),
            );
            reply.error = Some(format!("{}: {}", e.error, e.description));
            reply.installation_id = installation_id;
            reply
        }
    }
}

type Refusal = (OAuthError, Option<String>);

fn token_inner(
    st: &mut State,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
    token_url: &str,
    ttl: u64,
) -> Result<Reply, Refusal> {
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if mime.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err((
            invalid_request("content-type: must be application/x-www-form-urlencoded"),
            None,
        ));
    }
    let form = parse_form(body).map_err(|e| (e, None))?;
    match form.get("grant_type").map(String::as_str) {
        None => return Err((invalid_request("grant_type: missing"), None)),
        Some("client_credentials") => {}
        Some(other) => {
            return Err((
                OAuthError {
                    status: 400,
                    error: "unsupported_grant_type",
                    description: format!("grant_type: {other} is not supported here"),
                },
                None,
            ))
        }
    }
    let basic = authorization.filter(|a| a.len() >= 6 && a[..6].eq_ignore_ascii_case("basic "));
    let has_assertion =
        form.contains_key("client_assertion") || form.contains_key("client_assertion_type");
    let client =
        match (basic, has_assertion) {
            (Some(_), true) => {
                return Err((
                    invalid_request(
                        "client authentication: use one method, not Basic and an assertion",
                    ),
                    None,
                ))
            }
            (Some(b), false) => verify_basic(st, &b[6..])?,
            (None, true) => {
                if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
                    return Err((
                        invalid_request(format!("client_assertion_type: must be {JWT_BEARER}")),
                        None,
                    ));
                }
                let Some(assertion) = form.get("client_assertion") else {
                    return Err((invalid_request("client_assertion: missing"), None));
                };
                let client = verify_assertion(st, assertion, token_url, now_secs())?;
                if let Some(cid) = form.get("client_id") {
                    if cid != &client.client_id {
                        return Err((
                            invalid_client("client_id: the form's client_id does not match iss"),
                            Some(client.installation_id),
                        ));
                    }
                }
                client
            }
            (None, false) => return Err((
                invalid_client(
                    "client authentication: missing (send a client_assertion or Basic credentials)",
                ),
                None,
            )),
        };

    let inst = st.inst(&client.installation_id).unwrap();
    let asked: Vec<String> = form
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let granted = if asked.is_empty() {
        inst.scopes.clone()
    } else {
        if let Some(missing) = asked.iter().find(|s| !inst.scopes.contains(s)) {
            return Err((
                OAuthError {
                    status: 400,
                    error: "invalid_scope",
                    description: format!("scope: {missing} is not granted to this installation"),
                },
                Some(client.installation_id),
            ));
        }
        asked
    };
    let access_token = random_token();
    st.tokens.insert(
        access_token.clone(),
        TokenInfo {
            installation_id: client.installation_id.clone(),
            client_id: client.client_id.clone(),
            scopes: granted.clone(),
            expires_at: now_secs() + ttl as i64,
        },
    );
    let mut reply = Reply::json(
        200,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": granted.join(" "),
        }),
    );
    reply.headers.push(("cache-control", "no-store".into()));
    reply.installation_id = Some(client.installation_id);
    Ok(reply)
}

fn verify_basic(st: &State, encoded: &str) -> Result<Client, Refusal> {
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            (
                invalid_request("authorization: Basic credentials are not base64"),
                None,
            )
        })?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| {
        (
            invalid_request("authorization: Basic credentials lack ':'"),
            None,
        )
    })?;
    // RFC 6749 §2.3.1: both halves are form-urlencoded before encoding.
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (unescape(id), unescape(secret));
    let (inst, cred) = st
        .by_client(&id)
        .ok_or_else(|| (invalid_client("client_id: unknown client"), None))?;
    let installation_id = Some(inst.id.clone());
    if cred.revoked || inst.removed {
        return Err((
            invalid_client("client: credentials revoked"),
            installation_id,
        ));
    }
    let same = secret.len() == cred.client_secret.len()
        && openssl::memcmp::eq(secret.as_bytes(), cred.client_secret.as_bytes());
    if !same {
        return Err((
            invalid_client("client_secret: does not match"),
            installation_id,
        ));
    }
    Ok(Client {
        installation_id: inst.id.clone(),
        client_id: id,
    })
}

fn numeric(claims: &Value, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|f| Some(f.floor() as i64))
            .ok_or_else(|| format!("{name}: not a NumericDate")),
        Some(_) => Err(format!("{name}: not a NumericDate")),
    }
}

/// Verifies a client assertion against the simulator's credentials, in this order: structure,
/// `iss` (a known client), credential not revoked, `sub` = `iss`, header `alg`, header `kid`,
/// signature, `aud`, `exp`, `iat`, lifetime, `jti` (then records the `jti`).
fn verify_assertion(
    st: &mut State,
    assertion: &str,
    token_url: &str,
    now: i64,
) -> Result<Client, Refusal> {
    let jwt = parse_jwt(assertion).map_err(|e| (invalid_request(e), None))?;
    let claims = &jwt.claims;
    let iss = claims["iss"]
        .as_str()
        .ok_or_else(|| (invalid_client("iss: missing"), None))?;
    let (inst, cred) = st
        .by_client(iss)
        .ok_or_else(|| (invalid_client("iss: unknown client_id"), None))?;
    let installation_id = inst.id.clone();
    let fail = |d: String| (invalid_client(d), Some(installation_id.clone()));
    if cred.revoked || inst.removed {
        return Err(fail("client: credentials revoked".into()));
    }
    if claims["sub"].as_str() != Some(iss) {
        return Err(fail("sub: must equal iss (the client_id)".into()));
    }
    let alg: Alg = cred.keys.alg;
    match jwt.header["alg"].as_str() {
        Some(a) if a == alg.as_str() => {}
        other => {
            return Err(fail(format!(
                "alg: header alg {other:?} is not the installation's key_algorithm {alg}"
            )))
        }
    }
    match jwt.header["kid"].as_str() {
        None => return Err(fail("kid: missing from the header".into())),
        Some(k) if k == cred.key_id => {}
        Some(_) => return Err(fail("kid: not the installation's key_id".into())),
    }
    if !jwt.verify(alg, &cred.keys.public_spki) {
        return Err(fail(
            "signature: does not verify with the client's public key".into(),
        ));
    }
    let aud_ok = match &claims["aud"] {
        Value::String(s) => s == token_url,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(token_url)),
        _ => false,
    };
    if !aud_ok {
        return Err(fail(format!("aud: must be exactly {token_url}")));
    }
    let exp = numeric(claims, "exp")
        .map_err(&fail)?
        .ok_or_else(|| fail("exp: missing".into()))?;
    if exp <= now {
        return Err(fail("exp: the assertion has expired".into()));
    }
    let iat = numeric(claims, "iat")
        .map_err(&fail)?
        .ok_or_else(|| fail("iat: missing".into()))?;
    if iat > now + IAT_SKEW_SECS {
        return Err(fail("iat: in the future".into()));
    }
    if exp - iat > MAX_ASSERTION_LIFETIME_SECS {
        return Err(fail(format!(
            "lifetime: exp - iat is {} s, at most {MAX_ASSERTION_LIFETIME_SECS} s allowed",
            exp - iat
        )));
    }
    let jti = match claims.get("jti") {
        Some(Value::String(j)) if !j.is_empty() => j.clone(),
        _ => return Err(fail("jti: missing".into())),
    };
    let client_id = cred.client_id.clone();
    if !st.jtis.insert((client_id.clone(), jti)) {
        return Err(fail("jti: already used (replay)".into()));
    }
    Ok(Client {
        installation_id,
        client_id,
    })
}
