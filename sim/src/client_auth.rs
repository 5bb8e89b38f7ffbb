//! Talkdesk ID's client authentication, shared by every grant of the token endpoint: a JWT client
//! assertion (RFC 7523 §2.2) or HTTP Basic, verified strictly; and the OAuth form rules the token
//! and authorize endpoints share (no repeated parameters, scope syntax). Each refusal names the
//! rule that failed.

use crate::clock::now_secs;
use crate::jose::{parse_jwt, Alg};
use crate::model::{IAT_SKEW_SECS, MAX_ASSERTION_LIFETIME_SECS};
use crate::state::State;
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

pub(crate) fn invalid_client(d: impl Into<String>) -> OAuthError {
    OAuthError {
        status: 401,
        error: "invalid_client",
        description: d.into(),
    }
}

pub(crate) fn invalid_request(d: impl Into<String>) -> OAuthError {
    OAuthError {
        status: 400,
        error: "invalid_request",
        description: d.into(),
    }
}

pub(crate) fn invalid_scope(d: impl Into<String>) -> OAuthError {
    OAuthError {
        status: 400,
        error: "invalid_scope",
        description: d.into(),
    }
}

pub(crate) fn invalid_grant(d: impl Into<String>) -> OAuthError {
    OAuthError {
        status: 400,
        error: "invalid_grant",
        description: d.into(),
    }
}

/// The client a verified request authenticated as.
#[derive(Debug)]
pub(crate) struct Client {
    pub installation_id: String,
    pub client_id: String,
}

/// A refusal and the installation it is attributed to in the request log.
pub(crate) type Refusal = (OAuthError, Option<String>);

/// Decodes the form body. A repeated parameter is a malformed request (RFC 6749 §3.2: "request
/// and response parameters MUST NOT be included more than once"); a parameter sent without a
/// value is treated as omitted (RFC 6749 §3.1).
pub(crate) fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(invalid_request(format!("{k}: parameter is repeated")));
        }
    }
    out.retain(|_, v| !v.is_empty());
    Ok(out)
}

/// Best-effort: the installation a token request was meant for, from the Basic user name, the
/// assertion's `iss` (or `sub`), the form's `client_id` or, failing those, the installation an
/// authorization `code` was issued for, whether or not the request is valid. Used to attribute
/// refused and faulted requests in the request log (and the flood limit's account).
pub fn attribute(st: &State, authorization: Option<&str>, body: &[u8]) -> Option<String> {
    let mut candidates: Vec<String> = vec![];
    let mut code_installation = None;
    if let Some(b) = authorization.and_then(basic_payload) {
        if let Some(decoded) = STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            let id = decoded.split(':').next().unwrap_or_default();
            candidates.push(form_unescape(id));
        }
    }
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "client_assertion" => {
                if let Ok(jwt) = parse_jwt(&v) {
                    for c in ["iss", "sub"] {
                        if let Some(s) = jwt.claims[c].as_str() {
                            candidates.push(s.to_string());
                        }
                    }
                }
            }
            "client_id" => candidates.push(v.into_owned()),
            "code" => {
                code_installation = st
                    .sso
                    .code_index(&v)
                    .map(|i| st.sso.codes[i].installation_id.clone())
            }
            _ => {}
        }
    }
    candidates
        .iter()
        .find_map(|c| st.by_client(c).map(|(inst, _)| inst.id.clone()))
        .or(code_installation)
}

/// The credentials of an `Authorization: Basic …` header (scheme case-insensitive).
fn basic_payload(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("basic").then_some(rest)
}

/// RFC 6749 §2.3.1: both halves of Basic credentials are form-urlencoded before encoding.
fn form_unescape(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Splits `scope` (RFC 6749 §3.3: scope-tokens of %x21 / %x23-5B / %x5D-7E separated by single
/// spaces). Malformed lists are refused rather than repaired.
pub(crate) fn parse_scope(scope: &str) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = vec![];
    for token in scope.split(' ') {
        if token.is_empty() {
            return Err(invalid_scope(
                "scope: malformed (scope tokens are separated by single spaces)",
            ));
        }
        if !token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(invalid_scope(format!(
                "scope: {token:?} is not a valid scope token"
            )));
        }
        if !out.iter().any(|t| t == token) {
            out.push(token.to_string());
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
                Err(e) => json!({"unparsable": e.to_string()}),
            },
            "client_secret" => json!("[redacted]"),
            _ => json!(v),
        };
        m.insert(k.to_string(), value);
    }
    Value::Object(m)
}

/// Authenticates the client of a token request (any grant), in this order: the `Authorization`
/// scheme, no `client_secret` in the form, exactly one method (Basic or an assertion), the method's
/// own checks, then a form `client_id` (if sent) must name the authenticated client.
pub(crate) fn authenticate(
    st: &mut State,
    form: &HashMap<String, String>,
    authorization: Option<&str>,
    token_url: &str,
) -> Result<Client, Refusal> {
    let basic = authorization.and_then(basic_payload);
    if authorization.is_some() && basic.is_none() {
        return Err((
            invalid_client("authorization: only the Basic scheme is accepted here"),
            None,
        ));
    }
    let has_assertion =
        form.contains_key("client_assertion") || form.contains_key("client_assertion_type");
    // RFC 6749 §2.3: one authentication method per request. Talkdesk documents the secret in a
    // Basic header (`/reference/cc-basic`), not in the form.
    if form.contains_key("client_secret") {
        return Err((
            invalid_request(
                "client_secret: not accepted in the form; send it with HTTP Basic (and only one method)",
            ),
            None,
        ));
    }
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
            (Some(b), false) => verify_basic(st, b)?,
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
                verify_assertion(st, assertion, token_url, now_secs())?
            }
            (None, false) => return Err((
                invalid_client(
                    "client authentication: missing (send a client_assertion or Basic credentials)",
                ),
                None,
            )),
        };
    if let Some(cid) = form.get("client_id") {
        if cid != &client.client_id {
            return Err((
                invalid_client("client_id: the form's client_id is not the authenticated client"),
                Some(client.installation_id),
            ));
        }
    }
    Ok(client)
}

fn verify_basic(st: &State, encoded: &str) -> Result<Client, Refusal> {
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            (
                invalid_client("authorization: Basic credentials are not base64"),
                None,
            )
        })?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| {
        (
            invalid_client("authorization: Basic credentials lack ':'"),
            None,
        )
    })?;
    let (id, secret) = (form_unescape(id), form_unescape(secret));
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

/// A NumericDate claim (RFC 7519 §2). Strings, booleans and fractions are refused: every Talkdesk
/// sample sends whole seconds, and refusing the rest cannot fail a correct client.
fn numeric(claims: &Value, name: &str) -> Result<Option<i64>, OAuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid_client(format!("{name}: not an integer NumericDate"))),
        Some(_) => Err(invalid_client(format!(
            "{name}: not a NumericDate (a JSON number of seconds)"
        ))),
    }
}

/// The JOSE header `typ` accepted when present (RFC 7519 §5.1; compared case-insensitively, as a
/// media type is). Inferred: Talkdesk's samples send `JWT`.
pub const ASSERTION_TYP: &str = "JWT";

/// Verifies a client assertion against the simulator's credentials, in this order: structure,
/// `iss` (a known client), credential not revoked, `sub` = `iss`, header `alg`, `kid`, `typ`,
/// `crit`, signature, `aud`, `exp`, `iat`, `nbf`, lifetime, `jti` (then records the `jti`).
fn verify_assertion(
    st: &mut State,
    assertion: &str,
    token_url: &str,
    now: i64,
) -> Result<Client, Refusal> {
    let jwt = parse_jwt(assertion).map_err(|e| (invalid_request(e.to_string()), None))?;
    let claims = &jwt.claims;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| (invalid_client("iss: missing"), None))?;
    let (inst, cred) = st
        .by_client(iss)
        .ok_or_else(|| (invalid_client("iss: unknown client_id"), None))?;
    let installation_id = inst.id.clone();
    let refuse = |e: OAuthError| (e, Some(installation_id.clone()));
    let fail = |d: String| refuse(invalid_client(d));
    if cred.revoked || inst.removed {
        return Err(fail("client: credentials revoked".into()));
    }
    if claims.get("sub").and_then(Value::as_str) != Some(iss) {
        return Err(fail("sub: must equal iss (the client_id)".into()));
    }
    let alg: Alg = cred.keys.alg;
    match jwt.header.get("alg").and_then(Value::as_str) {
        Some(a) if a == alg.as_str() => {}
        other => {
            return Err(fail(format!(
                "alg: header alg {other:?} is not the installation's key_algorithm {alg}"
            )))
        }
    }
    match jwt.header.get("kid") {
        None => return Err(fail("kid: missing from the header".into())),
        Some(Value::String(k)) if *k == cred.key_id => {}
        Some(_) => return Err(fail("kid: not the installation's key_id".into())),
    }
    match jwt.header.get("typ") {
        None => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case(ASSERTION_TYP) => {}
        Some(other) => {
            return Err(fail(format!(
                "typ: header typ {other} is not {ASSERTION_TYP}"
            )))
        }
    }
    // RFC 7515 §4.1.11: extensions the recipient does not understand must be refused.
    if jwt.header.get("crit").is_some() {
        return Err(fail(
            "crit: critical header extensions are not supported".into(),
        ));
    }
    if !jwt.verify(alg, &cred.keys.public_spki) {
        return Err(fail(
            "signature: does not verify with the client's public key".into(),
        ));
    }
    // Inferred: one audience, this token URL (a single-element array is the same thing).
    let aud_ok = match claims.get("aud") {
        Some(Value::String(s)) => s == token_url,
        Some(Value::Array(a)) => a.len() == 1 && a[0].as_str() == Some(token_url),
        _ => false,
    };
    if !aud_ok {
        return Err(fail(format!(
            "aud: must be exactly {token_url} (one audience)"
        )));
    }
    let exp = numeric(claims, "exp")
        .map_err(refuse)?
        .ok_or_else(|| fail("exp: missing".into()))?;
    if exp <= now {
        return Err(fail("exp: the assertion has expired".into()));
    }
    let iat = numeric(claims, "iat")
        .map_err(refuse)?
        .ok_or_else(|| fail("iat: missing".into()))?;
    if iat > now.saturating_add(IAT_SKEW_SECS) {
        return Err(fail("iat: in the future".into()));
    }
    if let Some(nbf) = numeric(claims, "nbf").map_err(refuse)? {
        if nbf > now.saturating_add(IAT_SKEW_SECS) {
            return Err(fail("nbf: the assertion is not valid yet".into()));
        }
    }
    let lifetime = exp.checked_sub(iat).unwrap_or(i64::MAX);
    if lifetime <= 0 {
        return Err(fail("lifetime: exp must be after iat".into()));
    }
    if lifetime > MAX_ASSERTION_LIFETIME_SECS {
        return Err(fail(format!(
            "lifetime: exp - iat is {lifetime} s, at most {MAX_ASSERTION_LIFETIME_SECS} s allowed"
        )));
    }
    let jti = match claims.get("jti") {
        Some(Value::String(j)) if !j.is_empty() => j.clone(),
        Some(Value::String(_)) | None => return Err(fail("jti: missing".into())),
        Some(_) => return Err(fail("jti: must be a string".into())),
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
