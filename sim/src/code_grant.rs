//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core
//! §3.1.3): the client is already authenticated (`client_auth`, as strictly as for
//! `client_credentials`); the code must be one `/oauth/authorize` issued to that client, unused and
//! unexpired, and the request must repeat the authorize request's `redirect_uri` and prove its PKCE
//! challenge. The answer is a user token, a refresh token and an `id_token`.
//!
//! Checks, in order: no `scope` (the authorize request set it), `code` present and known, unused
//! (a second use revokes what the first issued), unexpired, issued to this client, `redirect_uri`
//! present and equal, `code_verifier` as the recorded challenge demands. The first attempt that
//! reaches a known, unused code consumes it, even if a later check refuses: a code is worth one
//! try (inferred; RFC 6749 only promises it is worth at most one success).

use crate::client_auth::{invalid_grant, invalid_request, Client, OAuthError, Refusal};
use crate::clock::{millis_after, now_millis, now_secs};
use crate::http::Reply;
use crate::id_token::{IdClaims, IdTokenKey};
use crate::random::random_token;
use crate::sso_model::{IssuedUserToken, CODE_TTL_SECS};
use crate::state::{State, TokenInfo};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::{hash, MessageDigest};
use serde_json::json;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Exchanges the form's `code` for the authenticated `client`.
pub(crate) fn exchange(
    st: &mut State,
    client: &Client,
    form: &HashMap<String, String>,
    issuer: &str,
    ttl: u64,
    id_key: &OnceLock<IdTokenKey>,
) -> Result<Reply, Refusal> {
    let refuse = |e: OAuthError| (e, Some(client.installation_id.clone()));
    if form.contains_key("scope") {
        return Err(refuse(invalid_request(
            "scope: not accepted with authorization_code (the authorize request set the scope)",
        )));
    }
    let code = form
        .get("code")
        .ok_or_else(|| refuse(invalid_request("code: missing")))?;
    let i = st.sso.code_index(code).ok_or_else(|| {
        refuse(invalid_grant(
            "code: unknown (this Talkdesk ID never issued it)",
        ))
    })?;
    if st.sso.codes[i].used {
        revoke_issued_from(st, i);
        return Err(refuse(invalid_grant(
            "code: already used; the tokens issued from it are now revoked (RFC 6749 §4.1.2)",
        )));
    }
    st.sso.codes[i].used = true;
    let granted = st.sso.codes[i].clone();
    if granted.expires_at_ms <= now_millis() {
        return Err(refuse(invalid_grant(format!(
            "code: expired (a code lives {CODE_TTL_SECS} s)"
        ))));
    }
    if granted.client_id != client.client_id {
        return Err(refuse(invalid_grant(
            "code: issued to another client (the code is bound to the client_id it was requested with)",
        )));
    }
    match form.get("redirect_uri") {
        None => {
            return Err(refuse(invalid_request(
                "redirect_uri: missing (required: the authorize request sent one)",
            )))
        }
        Some(r) if *r != granted.redirect_uri => {
            return Err(refuse(invalid_grant(
                "redirect_uri: not the one the authorize request sent (exact match required)",
            )))
        }
        Some(_) => {}
    }
    check_verifier(
        granted.code_challenge.as_deref(),
        form.get("code_verifier").map(String::as_str),
    )
    .map_err(refuse)?;
    let user = st
        .inst(&granted.installation_id)
        .and_then(|inst| inst.member(&granted.user_id))
        .cloned()
        .ok_or_else(|| refuse(invalid_grant("user: no longer a member of the account")))?;

    let access_token = random_token();
    let refresh_token = random_token();
    st.tokens.insert(
        access_token.clone(),
        TokenInfo {
            installation_id: granted.installation_id.clone(),
            client_id: client.client_id.clone(),
            scopes: granted.scopes.clone(),
            expires_at_ms: millis_after(ttl),
            user_id: Some(user.id.clone()),
            revoked: false,
        },
    );
    let fault = st.sso.next_id_token_fault.take();
    let id_token = id_key.get_or_init(IdTokenKey::generate).issue(
        &IdClaims {
            issuer,
            client_id: &client.client_id,
            user: &user,
            auth_time: granted.auth_time,
            nonce: granted.nonce.as_deref(),
        },
        fault,
        now_secs(),
    );
    st.sso.codes[i].access_tokens.push(access_token.clone());
    st.sso.user_tokens.push(IssuedUserToken {
        installation_id: granted.installation_id,
        client_id: client.client_id.clone(),
        user_id: user.id,
        access_token: access_token.clone(),
        refresh_token: refresh_token.clone(),
        id_token: id_token.clone(),
        scopes: granted.scopes.clone(),
        revoked: false,
    });
    Ok(Reply::json(
        200,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh_token,
            "scope": granted.scopes.join(" "),
            "id_token": id_token,
        }),
    ))
}

/// RFC 6749 §4.1.2: a code used twice revokes the tokens previously issued from it.
fn revoke_issued_from(st: &mut State, code_index: usize) {
    let issued = st.sso.codes[code_index].access_tokens.clone();
    for t in &issued {
        if let Some(info) = st.tokens.get_mut(t) {
            info.revoked = true;
        }
    }
    for u in st
        .sso
        .user_tokens
        .iter_mut()
        .filter(|u| issued.contains(&u.access_token))
    {
        u.revoked = true;
    }
}

/// RFC 7636 §4.1 `unreserved`: ALPHA / DIGIT / "-" / "." / "_" / "~".
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// PKCE (RFC 7636 §4.6, S256 only): a recorded challenge needs a well-formed verifier whose
/// BASE64URL(SHA256) equals it; a verifier with no recorded challenge is refused as well, since
/// the client and Talkdesk ID disagree about the flow.
fn check_verifier(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    let (challenge, verifier) = match (challenge, verifier) {
        (None, None) => return Ok(()),
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier: the authorize request sent no code_challenge",
            ))
        }
        (Some(_), None) => {
            return Err(invalid_grant(
                "code_verifier: missing (the authorize request sent a code_challenge)",
            ))
        }
        (Some(c), Some(v)) => (c, v),
    };
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(unreserved) {
        return Err(invalid_request(
            "code_verifier: must be 43 to 128 unreserved characters (RFC 7636 §4.1)",
        ));
    }
    let digest = hash(MessageDigest::sha256(), verifier.as_bytes()).expect("sha256");
    if URL_SAFE_NO_PAD.encode(digest) != challenge {
        return Err(invalid_grant(
            "code_verifier: BASE64URL(SHA256(code_verifier)) does not match the code_challenge",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        assert_eq!(check_verifier(Some(CHALLENGE), Some(VERIFIER)), Ok(()));
        assert_eq!(check_verifier(None, None), Ok(()));
    }

    #[test]
    fn a_verifier_must_match_be_well_formed_and_be_expected() {
        let other = "a".repeat(43);
        let refused = |c, v| check_verifier(c, v).unwrap_err();
        assert_eq!(
            refused(Some(CHALLENGE), Some(other.as_str())).error,
            "invalid_grant"
        );
        assert_eq!(refused(Some(CHALLENGE), None).error, "invalid_grant");
        assert_eq!(refused(None, Some(VERIFIER)).error, "invalid_grant");
        let short = &VERIFIER[..42];
        assert_eq!(
            refused(Some(CHALLENGE), Some(short)).error,
            "invalid_request"
        );
        let long = "a".repeat(129);
        assert_eq!(
            refused(Some(CHALLENGE), Some(long.as_str())).error,
            "invalid_request"
        );
        let bad_char = format!("{}+", &VERIFIER[..42]);
        assert_eq!(
            refused(Some(CHALLENGE), Some(bad_char.as_str())).error,
            "invalid_request"
        );
    }
}
