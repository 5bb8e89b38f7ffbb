//! Who is asking: the session behind the browser's cookie, the CSRF token of its forms, and
//! signing out.

use super::cookies::{Cookies, SESSION};
use super::SignIn;
use crate::crypto::{b64url, sha256};
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log, PortError};
use crate::secret::constant_time_eq;

/// The stored form of a session id.
pub fn session_hash(session_id: &str) -> String {
    b64url(&sha256(session_id.as_bytes()))
}

/// The CSRF token of a session's forms. Derived from the session id, which only the browser
/// holds (the cookie is `HttpOnly`) and the database keeps only hashed, so another site cannot
/// know it; a second hash domain keeps it from being the stored hash.
pub fn csrf_token(session_id: &str) -> String {
    let mut input = b"appconnect-csrf\0".to_vec();
    input.extend_from_slice(session_id.as_bytes());
    b64url(&sha256(&input))
}

/// A signed-in agent, as the pages see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub installation_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// For the forms of the page.
    pub csrf: String,
}

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visitor {
    SignedIn(Agent),
    /// Their session ran out: sign in again through this installation's launch.
    Expired {
        installation_id: String,
    },
    /// No session (never signed in, signed out, or it was ended).
    Anonymous,
}

/// The visitor behind the request's `Cookie` header. A session that may no longer be used
/// (installation not active, licence gone, expired) is deleted as it is found.
pub async fn visitor<P: Ports>(p: &P, cookie_header: Option<&str>) -> Result<Visitor, PortError> {
    let Some(id) = Cookies.read(cookie_header, SESSION) else {
        return Ok(Visitor::Anonymous);
    };
    let hash = session_hash(id);
    let Some(found) = p.sessions().find(&hash).await? else {
        return Ok(Visitor::Anonymous);
    };
    if found.expires_at <= p.clock().now_ms() {
        p.sessions().end(&hash).await?;
        return Ok(Visitor::Expired {
            installation_id: found.installation_id,
        });
    }
    if found.entitled == 0 {
        p.sessions().end(&hash).await?;
        p.log().info(
            "session_ended_not_entitled",
            &format!("{}: user {}", found.installation_id, found.user_id),
        );
        return Ok(Visitor::Anonymous);
    }
    Ok(Visitor::SignedIn(Agent {
        installation_id: found.installation_id,
        user_id: found.user_id,
        name: found.user_name,
        email: found.user_email,
        csrf: csrf_token(id),
    }))
}

/// Why a sign-out form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormRefusal {
    /// Posted from another origin.
    CrossOrigin,
    /// The CSRF token is missing or not this session's.
    BadToken,
}

/// Checks a state-changing form: its `Origin` (when the browser sent one) must be ours, and
/// its `csrf` field must be the session's token. `session_id` is the cookie's value.
pub fn check_form(
    s: &SignIn<'_>,
    origin: Option<&str>,
    session_id: &str,
    form: &[(String, String)],
) -> Result<(), FormRefusal> {
    if origin.is_some_and(|o| o != s.base.origin()) {
        return Err(FormRefusal::CrossOrigin);
    }
    let sent = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if constant_time_eq(sent.as_bytes(), csrf_token(session_id).as_bytes()) {
        Ok(())
    } else {
        Err(FormRefusal::BadToken)
    }
}

/// `POST /logout`: ends the browser's session after checking the form. `Ok` with the cookie to
/// clear, whether or not there was a session.
pub async fn sign_out<P: Ports>(
    p: &P,
    s: &SignIn<'_>,
    cookie_header: Option<&str>,
    origin: Option<&str>,
    form: &[(String, String)],
) -> Result<Result<String, FormRefusal>, PortError> {
    let cookies = Cookies;
    if let Some(id) = cookies.read(cookie_header, SESSION) {
        if let Err(refused) = check_form(s, origin, id, form) {
            return Ok(Err(refused));
        }
        p.sessions().end(&session_hash(id)).await?;
    }
    Ok(Ok(cookies.clear(SESSION)))
}
