//! Talkdesk ID's token endpoint, `POST /oauth/token`: checks the request's form, authenticates
//! the client (`client_auth`), then answers the grant: `client_credentials` (an app token, here)
//! or `authorization_code` (a user token, `code_grant`). Each refusal names the rule that failed.

use crate::client_auth::{
    authenticate, invalid_request, invalid_scope, parse_form, parse_scope, Client, OAuthError,
    Refusal,
};
use crate::clock::millis_after;
use crate::code_grant;
use crate::http::{media_type, Reply};
use crate::id_token::IdTokenKey;
use crate::random::random_token;
use crate::state::{State, TokenInfo};
use serde_json::json;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What the token endpoint needs besides the state.
pub(crate) struct TokenContext<'a> {
    /// The exact `aud` client assertions must carry.
    pub token_url: &'a str,
    /// The `iss` of `id_token`s: the simulator's base URL.
    pub issuer: &'a str,
    /// `expires_in` of access tokens.
    pub ttl: u64,
    /// Generated on first use (`Core::id_key`).
    pub id_key: &'a OnceLock<IdTokenKey>,
}

/// The grants the endpoint knows.
enum Grant {
    ClientCredentials,
    AuthorizationCode,
}

/// Handles `POST /oauth/token`.
pub fn token(
    st: &mut State,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
    ctx: &TokenContext,
) -> Reply {
    match token_inner(st, content_type, authorization, body, ctx) {
        Ok(reply) => reply,
        Err((e, installation_id)) => {
            let mut reply = Reply::json(
                e.status,
                json!({"error": e.error, "error_description": e.description}),
            );
            reply.error = Some(format!("{}: {}", e.error, e.description));
            reply.installation_id = installation_id;
            // RFC 6749 §5.2: a 401 to a client that used an Authorization header names the scheme.
            if e.status == 401 && authorization.is_some() {
                reply
                    .headers
                    .push(("www-authenticate", "Basic realm=\"Talkdesk ID\"".into()));
            }
            reply
        }
    }
}

fn token_inner(
    st: &mut State,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
    ctx: &TokenContext,
) -> Result<Reply, Refusal> {
    if media_type(content_type).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err((
            invalid_request("content-type: must be application/x-www-form-urlencoded"),
            None,
        ));
    }
    let form = parse_form(body).map_err(|e| (e, None))?;
    let grant = match form.get("grant_type").map(String::as_str) {
        None => return Err((invalid_request("grant_type: missing"), None)),
        Some("client_credentials") => Grant::ClientCredentials,
        Some("authorization_code") => Grant::AuthorizationCode,
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
    };
    let client = authenticate(st, &form, authorization, ctx.token_url)?;
    let mut reply = match grant {
        Grant::ClientCredentials => client_credentials(st, &client, &form, ctx.ttl)?,
        Grant::AuthorizationCode => {
            code_grant::exchange(st, &client, &form, ctx.issuer, ctx.ttl, ctx.id_key)?
        }
    };
    // RFC 6749 §5.1.
    reply.headers.push(("cache-control", "no-store".into()));
    reply.headers.push(("pragma", "no-cache".into()));
    reply.installation_id = Some(client.installation_id);
    Ok(reply)
}

/// An app token for the authenticated client, with the scopes asked for (all of them must be
/// granted to the installation) or, if none, every scope the installation has.
fn client_credentials(
    st: &mut State,
    client: &Client,
    form: &HashMap<String, String>,
    ttl: u64,
) -> Result<Reply, Refusal> {
    let inst = st.inst(&client.installation_id).unwrap();
    let asked = match form.get("scope") {
        None => vec![],
        Some(s) => parse_scope(s).map_err(|e| (e, Some(client.installation_id.clone())))?,
    };
    let granted = if asked.is_empty() {
        inst.scopes.clone()
    } else {
        if let Some(missing) = asked.iter().find(|s| !inst.scopes.contains(s)) {
            return Err((
                invalid_scope(format!(
                    "scope: {missing} is not granted to this installation"
                )),
                Some(client.installation_id.clone()),
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
            expires_at_ms: millis_after(ttl),
            user_id: None,
            revoked: false,
        },
    );
    st.issued
        .push((client.installation_id.clone(), access_token.clone()));
    Ok(Reply::json(
        200,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": granted.join(" "),
        }),
    ))
}
