//! `GET /launch?talkdesk_installation_id=…&talkdesk_user_id=…`: Talkdesk opens the app here.
//! An installation that can sign agents in sends the browser to its Talkdesk ID authorize URL;
//! any other gets a page saying what is happening. Nothing is written to storage.

use super::cookies::{Cookies, BINDING};
use super::state::LoginState;
use super::{is_id, single, Refusal, SignIn, STATE_TTL_MS};
use crate::crypto::random_text;
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log};
use crate::store::records::{Installation, InstallationState};
use crate::talkdesk::oidc::{authorize_location, AuthorizeRequest};

/// Where to send the browser, and the cookies to set on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub location: String,
    pub set_cookies: Vec<String>,
}

pub async fn launch<P: Ports>(
    p: &P,
    s: &SignIn<'_>,
    query: &[(String, String)],
    cookie_header: Option<&str>,
) -> Result<Redirect, Refusal> {
    let installation_id =
        single(query, "talkdesk_installation_id")?.ok_or(Refusal::NotFromTalkdesk)?;
    if !is_id(installation_id) {
        return Err(Refusal::BadParameter {
            name: "talkdesk_installation_id",
            problem: "is not a Talkdesk id",
        });
    }
    // A hint only: checked for shape so junk is refused, never used to sign anyone in.
    if single(query, "talkdesk_user_id")?.is_some_and(|u| !is_id(u)) {
        return Err(Refusal::BadParameter {
            name: "talkdesk_user_id",
            problem: "is not a Talkdesk id",
        });
    }
    let inst = signable(p, installation_id).await?;
    let authorize_url = s
        .lifecycle
        .allowlist
        .check(&inst.authorize_url)
        .map_err(|e| {
            p.log().error(
                "sign_in_authorize_url_refused",
                &format!("{installation_id}: {e}"),
            );
            Refusal::NeedsAttention
        })?;
    let cookies = Cookies;
    // The browser keeps one binding value while it has one, so two tabs signing in at once
    // both finish.
    let binding = cookies
        .read(cookie_header, BINDING)
        .map_or_else(random_text::<32>, str::to_owned);
    let now = p.clock().now_ms();
    let state = LoginState::new(installation_id, &binding, now + STATE_TTL_MS);
    let redirect_uri = s.base.redirect_uri();
    let location = authorize_location(
        &authorize_url,
        &AuthorizeRequest {
            client_id: inst.client_id(),
            redirect_uri: &redirect_uri,
            state: &state.seal(s.lifecycle.keys),
            nonce: &state.nonce,
            code_challenge: &state.challenge(),
        },
    );
    Ok(Redirect {
        location,
        set_cookies: vec![cookies.set(BINDING, &binding, STATE_TTL_MS / 1000)],
    })
}

/// The installation, if its agents can sign in now; otherwise the page that says why not.
pub async fn signable<P: Ports>(p: &P, installation_id: &str) -> Result<Installation, Refusal> {
    let internal = |e: crate::ports::PortError| {
        p.log().error(
            "sign_in_storage_failed",
            &format!("{installation_id}: {}", e.0),
        );
        Refusal::Internal
    };
    let Some(inst) = p
        .store()
        .installation(installation_id)
        .await
        .map_err(internal)?
    else {
        let installing = p
            .store()
            .install_in_progress(installation_id)
            .await
            .map_err(internal)?;
        return Err(if installing {
            Refusal::Installing
        } else {
            Refusal::UnknownInstallation
        });
    };
    match inst.state {
        InstallationState::Active if inst.has_secrets() => Ok(inst),
        InstallationState::Received | InstallationState::Installing => Err(Refusal::Installing),
        InstallationState::Uninstalled => Err(Refusal::Uninstalled),
        InstallationState::Forged => Err(Refusal::UnknownInstallation),
        InstallationState::Active | InstallationState::Attention | InstallationState::Rejected => {
            Err(Refusal::NeedsAttention)
        }
    }
}
