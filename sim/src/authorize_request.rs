//! What makes a request to `/oauth/authorize` valid (RFC 6749 §4.1.1, §4.1.2.1; RFC 7636 §4.3;
//! OIDC Core §3.1.2.1), split in two as RFC 6749 §4.1.2.1 demands: [`trust`] checks the client and
//! the redirect URI, whose failures must never be redirected; [`validate`] checks everything else,
//! whose failures are redirected to that (now trusted) URI.

use crate::client_auth::parse_scope;
use crate::state::{Settings, State};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::HashMap;

/// The parameters carried from the page to its form, in this order; others are ignored (RFC 6749
/// §3.1: unrecognised request parameters are ignored).
const FORWARDED: [&str; 10] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
    "prompt",
];

const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];

/// The query or form, decoded. A parameter sent without a value counts as omitted (RFC 6749 §3.1)
/// but still counts as sent for the rule against repeats (RFC 6749 §3.1: "MUST NOT be included
/// more than once").
pub(crate) struct Params {
    values: HashMap<String, String>,
    /// Names sent more than once, in order of first repeat.
    pub repeated: Vec<String>,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Params {
        let mut values = HashMap::new();
        let mut repeated: Vec<String> = vec![];
        for (k, v) in form_urlencoded::parse(raw) {
            if values.insert(k.to_string(), v.to_string()).is_some()
                && !repeated.contains(&k.to_string())
            {
                repeated.push(k.to_string());
            }
        }
        values.retain(|_, v| !v.is_empty());
        Params { values, repeated }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// An error and its description.
pub(crate) type Failure = (&'static str, String);

/// The client and redirect URI, once trusted: from here on errors go to the redirect URI.
pub(crate) struct Target {
    pub installation_id: String,
    pub account_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// The request's `state`, echoed in every redirect (absent if missing or repeated).
    pub state: Option<String>,
}

/// The rest of a valid request.
pub(crate) struct Valid {
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    pub prompt: Vec<String>,
    /// The recognised parameters, for the sign-in form's hidden inputs.
    pub forwarded: Vec<(&'static str, String)>,
}

/// The client and redirect URI checks, whose failures must not be redirected.
pub(crate) fn trust(st: &State, settings: &Settings, params: &Params) -> Result<Target, Failure> {
    for k in ["client_id", "redirect_uri"] {
        if params.repeated.iter().any(|r| r == k) {
            return Err(("invalid_request", format!("{k}: parameter is repeated")));
        }
    }
    let client_id = params
        .get("client_id")
        .ok_or(("invalid_request", "client_id: missing".to_string()))?;
    let (inst, cred) = st
        .by_client(client_id)
        .ok_or(("invalid_client", "client_id: unknown client".to_string()))?;
    if cred.revoked {
        return Err(("invalid_client", "client_id: credentials revoked".into()));
    }
    if !inst.live() {
        return Err((
            "invalid_client",
            "client_id: the app is uninstalled from this account".into(),
        ));
    }
    let redirect_uri = params.get("redirect_uri").ok_or((
        "invalid_request",
        "redirect_uri: missing (send one of the app's registered redirect URIs)".to_string(),
    ))?;
    if !settings.redirect_uris.iter().any(|r| r == redirect_uri) {
        let registered = if settings.redirect_uris.is_empty() {
            "none is registered: SimConfig::redirect_uris, Simulator::register_redirect_uri, \
             POST /_sim/redirect-uris or serve --redirect-uri"
                .to_string()
        } else {
            format!("registered: {}", settings.redirect_uris.join(", "))
        };
        return Err((
            "invalid_request",
            format!(
                "redirect_uri: not registered for this app, exact match required ({registered})"
            ),
        ));
    }
    let state_repeated = params.repeated.iter().any(|r| r == "state");
    Ok(Target {
        installation_id: inst.id.clone(),
        account_id: inst.account_id.clone(),
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: params
            .get("state")
            .filter(|_| !state_repeated)
            .map(str::to_string),
    })
}

/// Every check whose failure is redirected to the client.
pub(crate) fn validate(st: &State, target: &Target, params: &Params) -> Result<Valid, Failure> {
    let bad = |d: String| ("invalid_request", d);
    if let Some(k) = params.repeated.first() {
        return Err(bad(format!("{k}: parameter is repeated")));
    }
    match params.get("response_type") {
        None => return Err(bad("response_type: missing".into())),
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type: {other} is not supported (only code)"),
            ))
        }
    }
    if params.get("state").is_none() {
        return Err(bad(
            "state: missing (required, against cross-site request forgery)".into(),
        ));
    }
    let scope = params.get("scope").ok_or((
        "invalid_scope",
        "scope: missing (must include openid)".to_string(),
    ))?;
    let scopes = parse_scope(scope).map_err(|e| (e.error, e.description))?;
    if !scopes.iter().any(|s| s == "openid") {
        return Err(("invalid_scope", "scope: must include openid".into()));
    }
    let granted = &st.inst(&target.installation_id).unwrap().scopes;
    if let Some(missing) = scopes.iter().find(|s| !granted.contains(s)) {
        return Err((
            "invalid_scope",
            format!("scope: {missing} is not granted to this installation"),
        ));
    }
    let code_challenge = pkce(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )?;
    let prompt: Vec<String> = params
        .get("prompt")
        .map(|p| p.split(' ').map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(p) = prompt.iter().find(|p| !PROMPTS.contains(&p.as_str())) {
        return Err(bad(format!(
            "prompt: {p:?} is not none, login, consent or select_account"
        )));
    }
    if prompt.len() > 1 && prompt.iter().any(|p| p == "none") {
        return Err(bad(
            "prompt: none cannot be combined with other values (OIDC Core §3.1.2.1)".into(),
        ));
    }
    Ok(Valid {
        scopes,
        nonce: params.get("nonce").map(str::to_string),
        code_challenge,
        login_hint: params.get("login_hint").map(str::to_string),
        prompt,
        forwarded: FORWARDED
            .iter()
            .filter_map(|&k| Some((k, params.get(k)?.to_string())))
            .collect(),
    })
}

/// PKCE (RFC 7636 §4.3): optional, but a challenge must be S256 (`plain`, also the default when no
/// method is sent, is refused) and shaped like BASE64URL(SHA256(…)): 43 characters, 32 bytes.
fn pkce(challenge: Option<&str>, method: Option<&str>) -> Result<Option<String>, Failure> {
    let bad = |d: &str| Err(("invalid_request", d.to_string()));
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => bad("code_challenge_method: sent without a code_challenge"),
        (Some(_), None | Some("plain")) => {
            bad("code_challenge_method: must be S256 (plain, the default, is refused)")
        }
        (Some(_), Some(m)) if m != "S256" => Err((
            "invalid_request",
            format!("code_challenge_method: {m} is not supported (only S256)"),
        )),
        (Some(c), Some(_)) => {
            let decoded = URL_SAFE_NO_PAD.decode(c).map(|d| d.len());
            if c.len() != 43 || decoded != Ok(32) {
                return bad("code_challenge: must be 43 base64url characters, BASE64URL(SHA256(code_verifier))");
            }
            Ok(Some(c.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_must_be_s256_and_shaped_like_a_sha256_digest() {
        let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(pkce(Some(good), Some("S256")), Ok(Some(good.to_string())));
        assert_eq!(pkce(None, None), Ok(None));
        assert!(pkce(Some(good), None).is_err());
        assert!(pkce(Some(good), Some("plain")).is_err());
        assert!(pkce(Some(good), Some("s256")).is_err());
        assert!(pkce(None, Some("S256")).is_err());
        assert!(pkce(Some(&good[..42]), Some("S256")).is_err());
        assert!(pkce(Some(&format!("{}+", &good[..42])), Some("S256")).is_err());
    }

    #[test]
    fn an_empty_parameter_counts_as_omitted_but_still_as_a_repeat() {
        let p = Params::parse(b"a=&b=1&b=&c=");
        assert_eq!(p.get("a"), None);
        assert_eq!(p.repeated, vec!["b".to_string()]);
    }
}
