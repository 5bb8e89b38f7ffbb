//! `POST /admin/installations/{id}/verify`: what Talkdesk says of an installation now, read with
//! its stored credentials (a token from the cache, or one minted once for all callers).

use serde_json::{json, Value};

use super::outcome::Outcome;
use super::session::Session;
use super::{Ports, Settings};
use crate::store::records::Installation;
use crate::talkdesk::api;
use crate::talkdesk::token::DEFAULT_SCOPES;

/// Talkdesk's view beside ours; `Err` says why it could not be had (for the log only).
pub async fn verify<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    inst: &Installation,
) -> Result<Value, String> {
    if !inst.has_secrets() {
        return Err(format!(
            "the installation is {}: no credentials",
            inst.state
        ));
    }
    let sess = Session::open(p, s, inst, DEFAULT_SCOPES)
        .await
        .map_err(Outcome::reason)?;
    let info = sess
        .fetch(
            p,
            inst,
            "reading the installation",
            sess.api.installation(),
            api::parse_installation,
        )
        .await
        .map_err(Outcome::reason)?;
    Ok(json!({
        "installation_id": inst.installation_id,
        "local_state": inst.state,
        "talkdesk": {"state": info.state, "scopes": info.scopes, "app_id": info.app_id, "account_id": info.account_id},
        "credentials": "ok",
    }))
}
