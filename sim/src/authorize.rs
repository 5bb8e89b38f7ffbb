//! Talkdesk ID's authorization endpoint (contract §5; RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2).
//! `GET /oauth/authorize` validates the request and shows the sign-in page, or redirects at once
//! when this browser is already signed in to the account (the `td_sim_sso` cookie) or auto sign-in
//! applies; `POST /oauth/authorize` is that page's form: it validates everything again, signs the
//! chosen member in and redirects to `redirect_uri?code=…&state=…`.
//!
//! Checks, in order: the [`AuthorizeMode::Refuse`] switch; the POST's media type; then the client
//! and the redirect URI, whose failures are shown on a 400 page and never redirected (RFC 6749
//! §4.1.2.1): `client_id` and `redirect_uri` once each, a current credential set of an installation
//! that is not uninstalled, a redirect URI registered for the app (byte for byte). Every later
//! failure is redirected as `error`, `error_description` and `state`: no repeated parameter,
//! `response_type=code`, `state` present, `scope` well formed with `openid` and only scopes granted
//! to the installation, PKCE (S256 only, a 43-character challenge), `prompt`; then
//! [`AuthorizeMode::Deny`]. A POST then needs exactly one of `user_id` (a member of the account,
//! licensed or not) or `cancel=1`.

use crate::authorize_request::{trust, validate, Failure, Params, Target, Valid};
use crate::clock::{millis_after, now_secs};
use crate::http::{media_type, Reply};
use crate::pages::{self, Member};
use crate::random::random_token;
use crate::sso_model::{AuthorizeMode, CODE_TTL_SECS, SSO_COOKIE};
use crate::sso_state::{cookie, AuthCode};
use crate::state::{Core, Settings, State};

/// Handles `GET` and `POST /oauth/authorize`.
pub fn handle(
    core: &Core,
    method: &str,
    query: &str,
    content_type: Option<&str>,
    cookie_header: Option<&str>,
    body: &[u8],
) -> Reply {
    let settings = core.settings();
    let mut st = core.state();
    let params = Params::parse(if method == "GET" {
        query.as_bytes()
    } else {
        body
    });
    let attributed = params
        .get("client_id")
        .and_then(|c| st.by_client(c))
        .map(|(inst, _)| inst.id.clone());
    let sid = cookie(cookie_header, SSO_COOKIE);
    let mut reply = run(
        &mut st,
        &settings,
        method == "GET",
        content_type,
        sid,
        &params,
    );
    reply.installation_id = reply.installation_id.or(attributed);
    reply
}

fn run(
    st: &mut State,
    settings: &Settings,
    is_get: bool,
    content_type: Option<&str>,
    sid: Option<&str>,
    params: &Params,
) -> Reply {
    if settings.authorize_mode == AuthorizeMode::Refuse {
        return error_page((
            "access_denied",
            "Talkdesk ID refuses this authorization (AuthorizeMode::Refuse)".into(),
        ));
    }
    if !is_get && media_type(content_type).as_deref() != Some("application/x-www-form-urlencoded") {
        return error_page((
            "invalid_request",
            "content-type: the sign-in form posts application/x-www-form-urlencoded".into(),
        ));
    }
    let target = match trust(st, settings, params) {
        Ok(t) => t,
        Err(f) => return error_page(f),
    };
    let valid = match validate(st, &target, params) {
        Ok(v) => v,
        Err(f) => return redirect_error(&target, f),
    };
    if settings.authorize_mode == AuthorizeMode::Deny {
        return redirect_error(
            &target,
            (
                "access_denied",
                "the user denied access (AuthorizeMode::Deny)".into(),
            ),
        );
    }
    if is_get {
        show(st, settings, &target, &valid, sid)
    } else {
        submit(st, settings, &target, &valid, sid, params)
    }
}

/// A GET: redirect at once for a remembered sign-in (unless `prompt=login`), refuse `prompt=none`
/// otherwise, sign the hinted member in under auto sign-in, or show the page.
fn show(
    st: &mut State,
    settings: &Settings,
    target: &Target,
    valid: &Valid,
    sid: Option<&str>,
) -> Reply {
    let inst = st.inst(&target.installation_id).unwrap();
    // Members never leave an account here (a removed licence leaves an unlicensed member), so a
    // remembered user is still one.
    let remembered = st.sso.signed_in(sid, &target.account_id).cloned();
    if let Some(s) = remembered.filter(|_| !valid.prompt.iter().any(|p| p == "login")) {
        return issue(st, settings, target, valid, &s.user_id, s.auth_time);
    }
    if valid.prompt.iter().any(|p| p == "none") {
        return redirect_error(
            target,
            (
                "login_required",
                "no one is signed in to this account in this browser (prompt=none)".into(),
            ),
        );
    }
    let hinted = valid
        .login_hint
        .as_deref()
        .and_then(|h| inst.member(h))
        .cloned();
    if let Some(user) = hinted.as_ref().filter(|_| settings.auto_sign_in) {
        return sign_in_and_issue(st, settings, target, valid, sid, &user.id);
    }
    let members: Vec<Member> = inst
        .members()
        .map(|u| Member {
            user: u,
            licensed: inst.users.contains(u),
            hinted: hinted.as_ref() == Some(u),
        })
        .collect();
    let hidden: Vec<(&str, &str)> = valid
        .forwarded
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let mut reply = Reply::html(200, pages::sign_in(&inst.account_name, &members, &hidden));
    if let Some(framers) = &settings.sign_in_framers {
        for (name, value) in reply.headers.iter_mut() {
            if *name == "content-security-policy" {
                *value = format!("default-src 'none'; frame-ancestors {framers}");
            }
        }
    }
    reply
}

/// A POST from the sign-in page: the chosen member signs in, or the user cancels.
fn submit(
    st: &mut State,
    settings: &Settings,
    target: &Target,
    valid: &Valid,
    sid: Option<&str>,
    params: &Params,
) -> Reply {
    let user_id = match (params.get("user_id"), params.get("cancel")) {
        (Some(_), Some(_)) => {
            return error_page((
                "invalid_request",
                "send either user_id or cancel, not both".into(),
            ))
        }
        (None, Some("1")) => {
            return redirect_error(
                target,
                ("access_denied", "the user cancelled the sign-in".into()),
            )
        }
        (None, Some(_)) => return error_page(("invalid_request", "cancel: must be 1".into())),
        (None, None) => {
            return error_page((
                "invalid_request",
                "user_id: missing (choose a member of the account)".into(),
            ))
        }
        (Some(u), None) => u,
    };
    let inst = st.inst(&target.installation_id).unwrap();
    if !inst.members().any(|m| m.id == user_id) {
        return error_page((
            "invalid_request",
            format!("user_id: not a member of account {}", inst.account_name),
        ));
    }
    sign_in_and_issue(st, settings, target, valid, sid, user_id)
}

/// Remembers the sign-in for this browser (the cookie) and redirects with a code.
fn sign_in_and_issue(
    st: &mut State,
    settings: &Settings,
    target: &Target,
    valid: &Valid,
    sid: Option<&str>,
    user_id: &str,
) -> Reply {
    let now = now_secs();
    let user = st
        .inst(&target.installation_id)
        .and_then(|i| i.member(user_id))
        .cloned()
        .unwrap();
    let sid = st.sso.sign_in(sid, &target.account_id, &user, now);
    let mut reply = issue(st, settings, target, valid, user_id, now);
    reply.headers.push((
        "set-cookie",
        format!("{SSO_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"),
    ));
    reply
}

/// Redirects with a fresh code for `user_id` or, under [`AuthorizeMode::Replay`], an old one.
fn issue(
    st: &mut State,
    settings: &Settings,
    target: &Target,
    valid: &Valid,
    user_id: &str,
    auth_time: i64,
) -> Reply {
    let code = if settings.authorize_mode == AuthorizeMode::Replay {
        st.sso
            .last_code_for(&target.client_id)
            .map(|c| c.code.clone())
            .unwrap_or_else(random_token)
    } else {
        let code = random_token();
        st.sso.codes.push(AuthCode {
            code: code.clone(),
            client_id: target.client_id.clone(),
            installation_id: target.installation_id.clone(),
            user_id: user_id.to_string(),
            redirect_uri: target.redirect_uri.clone(),
            scopes: valid.scopes.clone(),
            code_challenge: valid.code_challenge.clone(),
            nonce: valid.nonce.clone(),
            auth_time,
            expires_at_ms: millis_after(CODE_TTL_SECS as u64),
            used: false,
            access_tokens: vec![],
        });
        code
    };
    let mut reply = Reply::redirect(location(target, &[("code", &code)]));
    reply.installation_id = Some(target.installation_id.clone());
    reply
}

/// `redirect_uri` with `pairs` and the request's `state` added to its query, form-encoded (RFC
/// 6749 §4.1.2); a query the registered URI already has is kept (RFC 6749 §3.1.2).
fn location(target: &Target, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(pairs);
    if let Some(s) = &target.state {
        query.append_pair("state", s);
    }
    let uri = &target.redirect_uri;
    let sep = match uri.find('?') {
        None => "?",
        Some(_) if uri.ends_with('?') || uri.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{uri}{sep}{}", query.finish())
}

fn redirect_error(target: &Target, (error, description): Failure) -> Reply {
    let mut reply = Reply::redirect(location(
        target,
        &[("error", error), ("error_description", &description)],
    ));
    reply.error = Some(format!("{error}: {description}"));
    reply.installation_id = Some(target.installation_id.clone());
    reply
}

fn error_page((error, description): Failure) -> Reply {
    let mut reply = Reply::html(400, pages::error(error, &description));
    reply.error = Some(format!("{error}: {description}"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str, state: Option<&str>) -> Target {
        Target {
            installation_id: "i".into(),
            account_id: "a".into(),
            client_id: "c".into(),
            redirect_uri: uri.into(),
            state: state.map(str::to_string),
        }
    }

    #[test]
    fn the_location_keeps_the_registered_query_and_form_encodes_the_state() {
        assert_eq!(
            location(
                &target("https://app.example/cb", Some("a b&c=d")),
                &[("code", "x")]
            ),
            "https://app.example/cb?code=x&state=a+b%26c%3Dd"
        );
        assert_eq!(
            location(
                &target("https://app.example/cb?t=1", None),
                &[("code", "x")]
            ),
            "https://app.example/cb?t=1&code=x"
        );
        assert_eq!(
            location(&target("https://app.example/cb?", None), &[("code", "x")]),
            "https://app.example/cb?code=x"
        );
    }
}
