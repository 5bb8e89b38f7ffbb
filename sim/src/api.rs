//! The Apps and Accounts API: Bearer tokens the simulator issued, unexpired, for the installation
//! addressed, with the scope each call needs.
//!
//! Checks run in this order: token (401: unknown, expired, its credential set revoked, or its
//! installation removed), app id and installation exist (404), token belongs to that installation
//! (403), scope (403), then the request itself (415 for a JSON body without
//! `Content-Type: application/json`, 400 for a body or query that breaks the call's rules, 404 for
//! an unknown credential set).
//!
//! `GET /users/me` checks token (401), that it is a user token (403 `forbidden`: an app token
//! names no user), scope `openid` (403), then answers `{id, sub, name, email}`.
//!
//! An event read (`GET /apps/{app_id}/events/{id}`) checks token (401), app id (404), then the
//! read-path setting ([`EventReads::Status`] answers its status), the event (404: unknown, not
//! genuine, or an envelope id under [`EventReads::ByResourceId`]), its installation (403
//! `forbidden` for another installation's token), scope (403).

use crate::clock::{now_millis, now_rfc3339};
use crate::http::{json_body, Reply};
use crate::model::{Acknowledgement, Endpoint, EventReads, StateChange};
use crate::state::{Core, State, TokenInfo};
use serde_json::{json, Value};

/// The token of an `Authorization: Bearer …` header, if the API accepts it.
pub(crate) fn bearer<'a>(
    st: &'a State,
    authorization: Option<&str>,
) -> Result<&'a TokenInfo, Reply> {
    let unauthorized = |d: &str| {
        let mut r = Reply::error(401, "invalid_token", d);
        r.headers
            .push(("www-authenticate", "Bearer error=\"invalid_token\"".into()));
        r
    };
    let auth = authorization.ok_or_else(|| unauthorized("missing bearer token"))?;
    // RFC 6750 §2.1: `Bearer` (scheme case-insensitive), one space, the token.
    let token = match auth.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
        _ => return Err(unauthorized("authorization is not a Bearer token")),
    };
    let info = st
        .tokens
        .get(token)
        .ok_or_else(|| unauthorized("unknown access token"))?;
    if info.expires_at_ms <= now_millis() {
        return Err(unauthorized("access token expired"));
    }
    if info.revoked {
        return Err(unauthorized(
            "access token revoked (its authorization code was used twice)",
        ));
    }
    match st.by_client(&info.client_id) {
        Some((_, cred)) if !cred.revoked => {}
        _ => {
            return Err(unauthorized(
                "access token revoked (its credentials were revoked)",
            ))
        }
    }
    match st.inst(&info.installation_id) {
        Some(i) if !i.removed => Ok(info),
        _ => Err(unauthorized("installation uninstalled")),
    }
}

fn need_scope(info: &TokenInfo, scope: &str) -> Result<(), Reply> {
    if info.scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(Reply::error(
            403,
            "insufficient_scope",
            format!("this call needs scope {scope}"),
        ))
    }
}

pub fn handle(
    core: &Core,
    endpoint: Endpoint,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Reply {
    let settings = core.settings();
    let app_id = settings.app_id;
    let root = core.base_url.clone();
    let mut st = core.state();
    st.time_out_pending(settings.time_scale);
    let info = match bearer(&st, authorization) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let token_inst = info.installation_id.clone();
    // Copied out so the state can be borrowed mutably below.
    let token = info.clone();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut reply = handle_authorized(
        &mut st,
        &app_id,
        &root,
        endpoint,
        &segs,
        query,
        &token,
        settings.event_reads,
        content_type,
        body,
    )
    .unwrap_or_else(|r| r);
    reply.installation_id.get_or_insert(token_inst);
    reply
}

#[allow(clippy::too_many_arguments)]
fn handle_authorized(
    st: &mut State,
    app_id: &str,
    root: &str,
    endpoint: Endpoint,
    segs: &[&str],
    query: &str,
    token: &TokenInfo,
    event_reads: EventReads,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply, Reply> {
    if endpoint == Endpoint::Account {
        need_scope(token, "account:read")?;
        let inst = st.inst(&token.installation_id).unwrap();
        return Ok(Reply::json(
            200,
            json!({
                "id": inst.account_id,
                "name": inst.account_name,
                "company_name": company_name(&inst.account_name),
                "timezone": "UTC",
                "created_at": inst.account_created_at,
            }),
        ));
    }
    if endpoint == Endpoint::UsersMe {
        return users_me(st, token);
    }
    if segs.get(1) != Some(&app_id) {
        return Err(Reply::error(404, "not_found", "unknown app"));
    }
    if endpoint == Endpoint::Event {
        return read_event(st, event_reads, segs[3], token);
    }
    let id = segs[3];
    if st.inst(id).is_none() {
        return Err(Reply::error(404, "not_found", "unknown installation"));
    }
    if id != token.installation_id {
        return Err(Reply::error(
            403,
            "forbidden",
            "the token belongs to another installation",
        ));
    }
    let base = format!("{root}/apps/{app_id}/installations/{id}");
    match endpoint {
        Endpoint::Installation => {
            need_scope(token, "apps:read")?;
            let inst = st.inst(id).unwrap();
            Ok(Reply::json(
                200,
                json!({
                    "id": inst.id,
                    "app_id": app_id,
                    "account_id": inst.account_id,
                    "scopes": inst.scopes,
                    "created_at": inst.created_at,
                    "_embedded": {"state": {
                        "state": inst.state,
                        "reason": inst.reason,
                        "updated_at": inst.state_updated_at,
                    }},
                    "_links": {
                        "self": {"href": base},
                        "users": {"href": format!("{base}/users")},
                        "subscription": {"href": format!("{base}/subscription")},
                    },
                }),
            ))
        }
        Endpoint::Users => {
            need_scope(token, "apps:read")?;
            let (page, per_page) = paging(query)?;
            let inst = st.inst(id).unwrap();
            let total = inst.users.len();
            let users: Vec<Value> = inst
                .users
                .iter()
                .skip((page - 1).saturating_mul(per_page))
                .take(per_page)
                .map(|u| json!({"id": u.id, "email": u.email, "name": u.name, "active": u.active}))
                .collect();
            let mut links = json!({
                "self": {"href": format!("{base}/users?page={page}&per_page={per_page}")},
            });
            if page.saturating_mul(per_page) < total {
                links["next"] =
                    json!({"href": format!("{base}/users?page={}&per_page={per_page}", page + 1)});
            }
            Ok(Reply::json(
                200,
                json!({
                    "total": total, "page": page, "per_page": per_page,
                    "_embedded": {"users": users},
                    "_links": links,
                }),
            ))
        }
        Endpoint::Subscription => {
            need_scope(token, "apps:read")?;
            let s = &st.inst(id).unwrap().subscription;
            Ok(Reply::json(
                200,
                json!({
                    "type": s.kind, "license_type": s.license_type,
                    "name": s.name, "total_licenses": s.total_licenses,
                }),
            ))
        }
        Endpoint::State => {
            need_scope(token, "apps:write")?;
            let body = json_body(content_type, body, &["state", "reason"])?;
            let action = body
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // Inferred: `reason` is optional (the contract's examples always send one), but when
            // present it is a string.
            let reason = match body.get("reason") {
                None => None,
                Some(Value::String(r)) => Some(r.clone()),
                Some(_) => {
                    return Err(Reply::error(
                        400,
                        "invalid_request",
                        "reason: must be a string",
                    ))
                }
            };
            let inst = st.inst_mut(id).unwrap();
            if inst.state == "timed_out" {
                return Err(Reply::error(
                    409,
                    "conflict",
                    "state: the installation timed out (not confirmed within 7 days)",
                ));
            }
            let uninstalled = inst.state == "uninstalled";
            let new_state = match (action, uninstalled) {
                ("approve", false) => "approved",
                ("reject", false) => "rejected",
                ("approve", true) => "uninstalled",
                ("reject", true) => {
                    return Err(Reply::error(
                        409,
                        "conflict",
                        "state: an uninstall can only be approved",
                    ))
                }
                _ => {
                    return Err(Reply::error(
                        400,
                        "invalid_request",
                        "state: must be \"approve\" or \"reject\"",
                    ))
                }
            };
            let at = now_rfc3339();
            inst.history.push(StateChange {
                action: action.to_string(),
                state: new_state.to_string(),
                reason: reason.clone(),
                at: at.clone(),
                confirms: inst.last_event_type.clone(),
            });
            inst.state = new_state.to_string();
            inst.reason = reason.clone();
            inst.state_updated_at = at.clone();
            if uninstalled {
                // The uninstall is confirmed: the installation is deprovisioned.
                inst.removed = true;
            }
            Ok(Reply::json(
                200,
                json!({
                    "state": new_state, "reason": reason, "updated_at": at,
                    "_links": {
                        "self": {"href": format!("{base}/state")},
                        "installation": {"href": base},
                    },
                }),
            ))
        }
        Endpoint::CredentialsState => {
            need_scope(token, "apps:write")?;
            let client_id = segs[5];
            let inst = st.inst_mut(id).unwrap();
            if !inst.creds.iter().any(|c| c.client_id == client_id) {
                return Err(Reply::error(404, "not_found", "unknown credentials"));
            }
            let body = json_body(content_type, body, &["state"])?;
            if body.get("state").and_then(Value::as_str) != Some("acknowledged") {
                return Err(Reply::error(
                    400,
                    "invalid_request",
                    "state: must be \"acknowledged\"",
                ));
            }
            inst.acks.push(Acknowledgement {
                client_id: client_id.to_string(),
                state: "acknowledged".into(),
                at: now_rfc3339(),
                token_client_id: token.client_id.clone(),
            });
            Ok(Reply::empty(202))
        }
        Endpoint::Token
        | Endpoint::Account
        | Endpoint::Event
        | Endpoint::UsersMe
        | Endpoint::Authorize
        | Endpoint::Jwks
        | Endpoint::Widget => unreachable!(),
    }
}

/// `GET /users/me`: the user a user token acts for.
fn users_me(st: &State, token: &TokenInfo) -> Result<Reply, Reply> {
    let Some(user_id) = &token.user_id else {
        return Err(Reply::error(
            403,
            "forbidden",
            "not a user token: this is an app token (client_credentials), which names no user; \
             use the token of the authorization_code grant",
        ));
    };
    need_scope(token, "openid")?;
    let user = st
        .inst(&token.installation_id)
        .and_then(|i| i.member(user_id))
        .ok_or_else(|| Reply::error(404, "not_found", "the user is no longer a member"))?;
    Ok(Reply::json(
        200,
        json!({"id": user.id, "sub": user.id, "name": user.name, "email": user.email}),
    ))
}

/// `GET /apps/{app_id}/events/{id}` (app id already checked): the configured broken status, else
/// the genuine event whose resource id (or, under [`EventReads::ByEnvelopeId`], envelope id) is
/// `id` (404 otherwise), if it is for the token's installation (403 otherwise), with `apps:read`.
fn read_event(st: &State, reads: EventReads, id: &str, token: &TokenInfo) -> Result<Reply, Reply> {
    let resource = match reads {
        EventReads::Status(status) => return Err(broken_read(status)),
        EventReads::ByResourceId => st.event_resources.get(id),
        EventReads::ByEnvelopeId => st
            .event_resources
            .get(id)
            .or_else(|| st.event_resources.values().find(|r| r.event_id == id)),
    };
    let (resource, event) = resource
        .and_then(|r| Some((r, st.events.get(&r.event_id)?)))
        .ok_or_else(|| Reply::error(404, "not_found", "unknown event"))?;
    if resource.installation_id != token.installation_id {
        return Err(Reply::error(
            403,
            "forbidden",
            "the event concerns another installation",
        ));
    }
    need_scope(token, "apps:read")?;
    Ok(Reply::json(200, event.clone()))
}

/// The answer of a broken read path ([`EventReads::Status`]).
fn broken_read(status: u16) -> Reply {
    let error = match status {
        401 => "invalid_token",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        429 => "too_many_requests",
        500..=599 => "server_error",
        _ => "simulated_error",
    };
    Reply::error(
        status,
        error,
        format!("event reads answer {status} (EventReads::Status)"),
    )
}

fn company_name(account: &str) -> String {
    let mut c = account.chars();
    match c.next() {
        Some(f) => format!("{}{} Inc.", f.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

/// `page` (from 1, default 1) and `per_page` (default 50, from 1; more than 100 is capped at 100,
/// as paged APIs commonly do). Each may appear once; other query parameters are ignored.
fn paging(query: &str) -> Result<(usize, usize), Reply> {
    let (mut page, mut per_page) = (None, None);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "page" => &mut page,
            "per_page" => &mut per_page,
            _ => continue,
        };
        let n: usize = v
            .parse()
            .map_err(|_| Reply::error(400, "invalid_request", format!("{k}: not a number")))?;
        if n == 0 {
            return Err(Reply::error(
                400,
                "invalid_request",
                format!("{k}: must be at least 1"),
            ));
        }
        if slot.replace(n).is_some() {
            return Err(Reply::error(
                400,
                "invalid_request",
                format!("{k}: given more than once"),
            ));
        }
    }
    Ok((page.unwrap_or(1), per_page.unwrap_or(50).min(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every user token carries openid (the authorize endpoint demands it), so only a token made
    // by hand can show that `/users/me` checks it.
    #[test]
    fn users_me_needs_openid_even_for_a_user_token() {
        let token = TokenInfo {
            installation_id: "i".into(),
            client_id: "c".into(),
            scopes: vec!["account:read".into()],
            expires_at_ms: i64::MAX,
            user_id: Some("u".into()),
            revoked: false,
        };
        let refused = users_me(&State::default(), &token).unwrap_err();
        assert_eq!(refused.status, 403);
        assert_eq!(
            refused.error.as_deref(),
            Some("insufficient_scope: this call needs scope openid")
        );
    }
}
