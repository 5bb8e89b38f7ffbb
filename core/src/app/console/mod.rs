//! The operator console: `/admin` in a browser. Server-rendered HTML in the app's own layout,
//! readable without JavaScript.
//!
//! - **Sign-in.** The operator token is entered once (`POST /admin/login`). The browser then
//!   holds a random session id in an `HttpOnly`, `SameSite=Strict`, `__Host-` cookie, and the
//!   database keeps only its SHA-256 (8 hours).
//! - **Actions.** Every action is a form carrying a CSRF token derived from the session id, and
//!   its `Origin` is checked when `PUBLIC_BASE_URL` is set. Destructive actions need a ticked
//!   confirmation. Each action is recorded in the installation's timeline.
//! - **Without a session** every page answers 401 with the sign-in form.

mod overview;
mod views;

use super::{Handled, Head};
use crate::app::pages::{self, esc, Page};
use crate::config::Config;
use crate::crypto::{b64url, random_text, sha256};
use crate::http::Reply;
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log, PortError};
use crate::secret::constant_time_eq;

pub use overview::overview;
pub use views::{installation, list};

/// The console's cookie (`__Host-` prefixed).
pub const COOKIE: &str = "__Host-appconnect_console";
/// How long a console session lasts.
pub const SESSION_MS: u64 = 8 * 3600 * 1000;

fn hash(id: &str) -> String {
    b64url(&sha256(id.as_bytes()))
}

/// The CSRF token of a session's forms: derived from the id only the browser holds, in its own
/// hash domain.
pub fn csrf(id: &str) -> String {
    let mut input = b"appconnect-console-csrf\0".to_vec();
    input.extend_from_slice(id.as_bytes());
    b64url(&sha256(&input))
}

fn cookie_value(header: Option<&str>) -> Option<&str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| crate::signin::cookies::is_token(v))
}

/// A signed-in operator: the session id (for the forms' CSRF token).
pub struct Operator {
    pub csrf: String,
}

/// The operator behind the request's cookie, if the session is live.
pub async fn operator<P: Ports>(p: &P, head: &Head) -> Result<Option<Operator>, PortError> {
    let Some(id) = cookie_value(head.cookie.as_deref()) else {
        return Ok(None);
    };
    let live = p
        .store()
        .console_session(&hash(id), p.clock().now_ms())
        .await?;
    Ok(live.then(|| Operator { csrf: csrf(id) }))
}

/// A console page in the app's layout; never framed.
pub fn page(config: &Config, status: u16, title: &str, main: String) -> Reply {
    pages::render(
        &Page {
            status,
            title: title.to_owned(),
            main,
            script: None,
        },
        &config.app_name,
        "'none'",
    )
}

/// The sign-in form (401 for a page asked for without a session).
pub fn sign_in_page(config: &Config, status: u16, problem: Option<&str>) -> Reply {
    let problem = problem.map_or_else(String::new, |p| {
        format!(
            "<p class=\"bad\" role=\"alert\" id=\"sign-in-problem\">{}</p>",
            esc(p)
        )
    });
    page(
        config,
        status,
        "Operator sign-in",
        format!(
            "<section class=\"notice\"><h1>Operator console</h1>{problem}\
             <form method=\"post\" action=\"/admin/login\">\
             <p><label for=\"token\">Operator token (<code>ADMIN_TOKEN</code>)</label><br>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" \
             required size=\"40\"></p><button type=\"submit\" id=\"sign-in\">Sign in</button></form>\
             </section>"
        ),
    )
}

/// Parses a form body.
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    crate::weburl::form::parse(body)
}

pub fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `POST /admin/login`: the operator token, once; a session cookie after.
pub async fn login<P: Ports>(p: &P, config: &Config, body: &[u8]) -> Reply {
    let form = form(body);
    let token = field(&form, "token").unwrap_or_default();
    if !constant_time_eq(token.as_bytes(), config.admin_token.expose().as_bytes()) {
        p.log()
            .info("console_sign_in_refused", "a wrong operator token");
        return sign_in_page(config, 401, Some("That is not the operator token."));
    }
    let id = random_text::<32>();
    let now = p.clock().now_ms();
    if let Err(e) = p
        .store()
        .create_console_session(&hash(&id), now, now + SESSION_MS)
        .await
    {
        p.log().error("console_session_failed", &e.0);
        return page(
            config,
            500,
            "Error",
            "<p>Something went wrong; try again.</p>".into(),
        );
    }
    p.log().info("console_signed_in", "an operator signed in");
    pages::redirect(
        "/admin",
        vec![format!(
            "{COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
            SESSION_MS / 1000
        )],
    )
}

/// `POST /admin/logout`.
pub async fn logout<P: Ports>(p: &P, config: &Config, head: &Head, body: &[u8]) -> Reply {
    if let Some(id) = cookie_value(head.cookie.as_deref()) {
        if check_form(config, head, id, &form(body)).is_err() {
            return page(
                config,
                403,
                "Refused",
                "<p>This form is not from the console.</p>".into(),
            );
        }
        if let Err(e) = p
            .store()
            .end_console_session(&hash(id), p.clock().now_ms())
            .await
        {
            p.log().error("console_session_failed", &e.0);
        }
    }
    pages::redirect(
        "/admin",
        vec![format!(
            "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
        )],
    )
}

/// A console form's checks: our origin (when known and sent) and the session's CSRF token.
fn check_form(
    config: &Config,
    head: &Head,
    id: &str,
    form: &[(String, String)],
) -> Result<(), &'static str> {
    if let (Some(base), Some(origin)) = (&config.public_base_url, head.origin.as_deref()) {
        if origin != base.origin() {
            return Err("the form came from another site");
        }
    }
    let sent = field(form, "csrf").unwrap_or_default();
    if constant_time_eq(sent.as_bytes(), csrf(id).as_bytes()) {
        Ok(())
    } else {
        Err("the form's token is not this session's")
    }
}

/// A signed-in operator's POST: the session and the form checked, or the page to answer.
pub async fn authorized_form<P: Ports>(
    p: &P,
    config: &Config,
    head: &Head,
    body: &[u8],
) -> Result<Vec<(String, String)>, Reply> {
    let Some(id) = cookie_value(head.cookie.as_deref()) else {
        return Err(sign_in_page(config, 401, None));
    };
    match p
        .store()
        .console_session(&hash(id), p.clock().now_ms())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(sign_in_page(
                config,
                401,
                Some("Your session ended; sign in again."),
            ))
        }
        Err(e) => {
            p.log().error("console_session_failed", &e.0);
            return Err(page(
                config,
                500,
                "Error",
                "<p>Something went wrong; try again.</p>".into(),
            ));
        }
    }
    let form = form(body);
    if let Err(why) = check_form(config, head, id, &form) {
        return Err(page(
            config,
            403,
            "Refused",
            format!("<p>Refused: {why}.</p>"),
        ));
    }
    Ok(form)
}

/// `POST /admin/console/installations/{id}/{action}`: an operator action from its page.
pub async fn action<P: Ports>(
    p: &P,
    config: &Config,
    head: &Head,
    id: &str,
    action: &str,
    body: &[u8],
) -> Handled {
    let form = match authorized_form(p, config, head, body).await {
        Ok(form) => form,
        Err(reply) => return reply.into(),
    };
    views::act(p, config, id, action, &form).await
}

/// `POST /admin/console/reseal`: re-seals every secret under the current key, batch by batch.
pub async fn reseal<P: Ports>(p: &P, config: &Config, head: &Head, body: &[u8]) -> Reply {
    if let Err(reply) = authorized_form(p, config, head, body).await {
        return reply;
    }
    let settings = crate::lifecycle::Settings::from_config(config);
    let mut after: Option<String> = None;
    let mut total = 0u64;
    for _ in 0..50 {
        match crate::lifecycle::reseal::reseal_batch(p, &settings, after.as_deref()).await {
            Ok(report) => {
                total += report.resealed;
                match report.next {
                    Some(next) => after = Some(next),
                    None => {
                        return pages::redirect(
                            &format!("/admin?done=resealed+{total}+secrets"),
                            vec![],
                        )
                    }
                }
            }
            Err(e) => {
                p.log().error("console_reseal_failed", &e.0);
                return page(
                    config,
                    500,
                    "Error",
                    "<p>Re-sealing failed; try again.</p>".into(),
                );
            }
        }
    }
    pages::redirect(
        &format!("/admin?done=resealed+{total}+secrets;+more+remain:+run+it+again"),
        vec![],
    )
}
