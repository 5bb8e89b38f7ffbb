//! The person-facing routes: `/launch`, `/oauth/callback`, `/app` and `/logout`, from request to
//! page or redirect. The flow itself is in [`crate::signin`]; this turns its answers into HTML.

use super::pages::{self, home, notices, Page};
use super::Head;
use crate::config::Config;
use crate::http::Reply;
use crate::lifecycle::hooks::Hooks;
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log};
use crate::signin::session::{sign_out, visitor, Visitor};
use crate::signin::{self, Refusal, SignIn};
use crate::weburl::form;

fn page(config: &Config, p: &Page) -> Reply {
    pages::render(p, &config.app_name, &config.frame_ancestors)
}

fn refusal(config: &Config, r: &Refusal) -> Reply {
    let reply = page(config, &notices::refusal(r));
    match r {
        Refusal::Installing => reply.with_header("retry-after", "30"),
        Refusal::Busy => reply.with_header("retry-after", "60"),
        _ => reply,
    }
}

pub async fn launch<P: Ports>(p: &P, config: &Config, head: &Head) -> Reply {
    let Some(s) = SignIn::from_config(config) else {
        return refusal(config, &Refusal::NotConfigured);
    };
    match signin::launch(p, &s, &head.query, head.cookie.as_deref()).await {
        Ok(r) => pages::redirect(&r.location, r.set_cookies),
        Err(r) => refusal(config, &r),
    }
}

pub async fn callback<P: Ports>(p: &P, config: &Config, head: &Head) -> Reply {
    let Some(s) = SignIn::from_config(config) else {
        return refusal(config, &Refusal::NotConfigured);
    };
    match signin::callback(p, &s, &head.query, head.cookie.as_deref()).await {
        Ok(signed_in) => pages::redirect(&s.base.join("/app"), signed_in.set_cookies),
        Err(r) => refusal(config, &r),
    }
}

pub async fn home<P: Ports>(p: &P, config: &Config, head: &Head) -> Reply {
    let Some(s) = SignIn::from_config(config) else {
        return refusal(config, &Refusal::NotConfigured);
    };
    let agent = match visitor(p, head.cookie.as_deref()).await {
        Ok(Visitor::SignedIn(agent)) => agent,
        // Signing in again is one redirect away while the agent's Talkdesk session lives.
        Ok(Visitor::Expired { installation_id }) => {
            let query = form::serialize(&[("talkdesk_installation_id", &installation_id)]);
            let launch = s.base.join(&format!("/launch?{query}"));
            return pages::redirect(&launch, Vec::new());
        }
        Ok(Visitor::Anonymous) => return page(config, &notices::sign_in_required()),
        Err(e) => {
            p.log().error("session_lookup_failed", &e.0);
            return page(config, &notices::internal());
        }
    };
    let store = p.store();
    let view = async {
        let inst = store.installation(&agent.installation_id).await?;
        let last = store.last_applied(&agent.installation_id).await?;
        let (pending, _) = store.pending_counts(&agent.installation_id, None).await?;
        let admin = match &inst {
            Some(i) => integration_admin(p, &i.account_id, &agent).await?,
            None => false,
        };
        Ok::<_, crate::ports::PortError>((inst, last, pending, admin))
    };
    match view.await {
        Ok((Some(inst), last_applied, pending, integration_admin)) => {
            let facts = crate::lifecycle::hooks::Facts::of(&inst);
            let partner_summary = p.hooks().home_summary(p, &facts).await;
            page(
                config,
                &home::page(&home::Home {
                    agent: &agent,
                    inst: &inst,
                    last_applied,
                    pending,
                    now_ms: p.clock().now_ms(),
                    integration_admin,
                    partner_summary,
                }),
            )
        }
        Ok((None, ..)) => page(config, &notices::sign_in_required()),
        Err(e) => {
            p.log().error(
                "home_read_failed",
                &format!("{}: {}", agent.installation_id, e.0),
            );
            page(config, &notices::internal())
        }
    }
}

pub async fn logout<P: Ports>(p: &P, config: &Config, head: &Head, body: &[u8]) -> Reply {
    let Some(s) = SignIn::from_config(config) else {
        return refusal(config, &Refusal::NotConfigured);
    };
    let form: Vec<(String, String)> = form::parse(body);
    match sign_out(p, &s, head.cookie.as_deref(), head.origin.as_deref(), &form).await {
        Ok(Ok(clear)) => page(config, &notices::signed_out()).with_header("set-cookie", clear),
        Ok(Err(refused)) => page(config, &notices::form_refused(refused)),
        Err(e) => {
            p.log().error("sign_out_failed", &e.0);
            page(config, &notices::internal())
        }
    }
}

/// Whether the agent may issue the account's integration key: their email is in the account
/// settings' `integration_admins` (the operator sets it; Talkdesk's users API names no roles).
async fn integration_admin<P: Ports>(
    p: &P,
    account_id: &str,
    agent: &crate::signin::session::Agent,
) -> Result<bool, crate::ports::PortError> {
    let Some(email) = agent.email.as_deref() else {
        return Ok(false);
    };
    let Some(account) = p.store().account(account_id).await? else {
        return Ok(false);
    };
    let settings: serde_json::Value = crate::json::parse(&account.settings).unwrap_or_default();
    Ok(settings["integration_admins"]
        .as_array()
        .is_some_and(|admins| {
            admins
                .iter()
                .filter_map(serde_json::Value::as_str)
                .any(|a| a.eq_ignore_ascii_case(email))
        }))
}

/// `POST /app/integration-key`: an integration admin issues a new key (a form with the page's
/// CSRF token); the key is shown once.
pub async fn issue_integration_key<P: Ports>(
    p: &P,
    config: &Config,
    head: &Head,
    body: &[u8],
) -> Reply {
    let Some(s) = SignIn::from_config(config) else {
        return refusal(config, &Refusal::NotConfigured);
    };
    let agent = match visitor(p, head.cookie.as_deref()).await {
        Ok(Visitor::SignedIn(agent)) => agent,
        Ok(_) => return page(config, &notices::sign_in_required()),
        Err(e) => {
            p.log().error("session_lookup_failed", &e.0);
            return page(config, &notices::internal());
        }
    };
    let form: Vec<(String, String)> = form::parse(body);
    let session_id = crate::signin::cookies::Cookies
        .read(head.cookie.as_deref(), crate::signin::cookies::SESSION)
        .unwrap_or_default();
    if let Err(refused) =
        crate::signin::session::check_form(&s, head.origin.as_deref(), session_id, &form)
    {
        return page(config, &notices::form_refused(refused));
    }
    let issued = async {
        let inst = p.store().installation(&agent.installation_id).await?;
        let Some(inst) = inst else { return Ok(None) };
        if !integration_admin(p, &inst.account_id, &agent).await? {
            return Ok(None);
        }
        let store = crate::store::bridge::BridgeStore::new(p.db());
        crate::bridge::keys::issue(&store, &inst.account_id, p.clock().now_ms())
            .await
            .map(|k| Some((inst.account_id, k)))
    };
    match issued.await {
        Ok(Some((account_id, key))) => {
            p.log().info(
                "integration_key_issued",
                &format!("{account_id}: by user {}", agent.user_id),
            );
            page(config, &home::issued_key(key.expose()))
        }
        Ok(None) => page(config, &notices::not_integration_admin()),
        Err(e) => {
            p.log().error("integration_key_failed", &e.0);
            page(config, &notices::internal())
        }
    }
}

/// An error answered on a person's path as JSON (a wrong method, a broken deployment, a body
/// too large, bindings missing) becomes the same status as an HTML page. The settings may be
/// what is broken, so the defaults dress it.
pub fn as_page(reply: Reply) -> Reply {
    let json = reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"));
    if !json || reply.status < 400 {
        return reply;
    }
    let mut page = pages::render(
        &notices::for_status(reply.status),
        crate::config::DEFAULT_APP_NAME,
        crate::config::DEFAULT_FRAME_ANCESTORS,
    );
    if let Some(allow) = reply.header("allow") {
        page = page.with_header("allow", allow.to_owned());
    }
    page
}

/// A sign-out form must come as a form.
pub fn not_a_form(config: &Config) -> Reply {
    page(config, &notices::not_a_form())
}
