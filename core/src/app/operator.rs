//! The operator API's handlers (already authorised by [`super::precheck`]): list, detail,
//! verify, account settings. The views themselves are in [`super::admin`].

use serde_json::json;

use super::admin;
use super::Head;
use crate::config::Config;
use crate::http::{ApiError, Reply};
use crate::lifecycle::hooks::Hooks;
use crate::lifecycle::{verify as talkdesk_verify, Ports, Settings};
use crate::ports::{Clock, Log, PortError};

fn internal<P: Ports>(p: &P, e: PortError) -> Reply {
    p.log().error("admin_query_failed", &e.0);
    ApiError::Internal.reply()
}

/// `GET /admin/installations?limit=&cursor=`.
pub async fn list<P: Ports>(p: &P, head: &Head) -> Reply {
    let param = |k: &str| {
        head.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let limit = match param("limit").map(str::parse::<u32>) {
        None => admin::DEFAULT_PAGE,
        Some(Ok(n)) if (1..=admin::MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return ApiError::BadRequest {
                error: "invalid_query",
                path: Some("limit".into()),
                message: format!("limit must be 1 to {}", admin::MAX_PAGE),
            }
            .reply()
        }
    };
    match p.store().list_installations(param("cursor"), limit).await {
        Ok(page) => Reply::json(200, &admin::list_view(&page, limit)),
        Err(e) => internal(p, e),
    }
}

/// `GET /admin/installations/{id}`: the installation, its account settings and its jobs.
pub async fn installation<P: Ports>(p: &P, id: &str) -> Reply {
    let store = p.store();
    let inst = match store.installation(id).await {
        Ok(Some(inst)) => inst,
        Ok(None) => {
            return ApiError::NoSuch {
                what: "installation",
            }
            .reply()
        }
        Err(e) => return internal(p, e),
    };
    let jobs = match store.jobs_of(id).await {
        Ok(jobs) => jobs,
        Err(e) => return internal(p, e),
    };
    let account = match store.account(&inst.account_id).await {
        Ok(a) => a,
        Err(e) => return internal(p, e),
    };
    let decision = match store.manual_decision(id).await {
        Ok(d) => d,
        Err(e) => return internal(p, e),
    };
    let mut view = admin::installation_view(&inst, Some(&jobs));
    view["account"]["settings"] = admin::settings_value(account.as_ref());
    // What the partner's hooks say about it (the line the agent's first page shows).
    view["partner_summary"] = p
        .hooks()
        .home_summary(p, &crate::lifecycle::hooks::Facts::of(&inst))
        .await
        .into();
    // Manual provisioning: what waits for a person, and how long Talkdesk's window has left.
    view["manual_decision"] = match decision {
        None => serde_json::Value::Null,
        Some(d) => {
            let left = d.deadline_at.saturating_sub(p.clock().now_ms());
            json!({
                "state": d.state,
                "why_waiting": d.why_waiting,
                "reason": d.reason,
                "decided_by": d.decided_by,
                "deadline_at": crate::calendar::rfc3339_of_ms(d.deadline_at),
                "expires_in_ms": left,
                "expires_in": format!("{}d {}h {}m", left / 86_400_000, left / 3_600_000 % 24, left / 60_000 % 60),
                "warned_at": d.warned_at.map(crate::calendar::rfc3339_of_ms),
            })
        }
    };
    Reply::json(200, &view)
}

/// `POST /admin/installations/{id}/verify`: Talkdesk's view now. A failure answers 502 with
/// no internal text; the log has the detail.
pub async fn verify<P: Ports>(p: &P, config: &Config, id: &str) -> Reply {
    let inst = match p.store().installation(id).await {
        Ok(Some(inst)) => inst,
        Ok(None) => {
            return ApiError::NoSuch {
                what: "installation",
            }
            .reply()
        }
        Err(e) => return internal(p, e),
    };
    match talkdesk_verify(p, &Settings::from_config(config), &inst).await {
        Ok(view) => Reply::json(200, &view),
        Err(why) => {
            p.log().error("verify_failed", &format!("{id}: {why}"));
            Reply::json(
                502,
                &json!({
                    "error": "talkdesk_check_failed",
                    "message": "Talkdesk could not confirm the installation; the worker log has the detail",
                }),
            )
        }
    }
}

/// `GET /admin/accounts/{id}`.
pub async fn account<P: Ports>(p: &P, id: &str) -> Reply {
    match p.store().account(id).await {
        Ok(Some(account)) => {
            let mut view = serde_json::to_value(admin::account_view(&account)).unwrap_or_default();
            let bridge = crate::store::bridge::BridgeStore::new(p.db());
            match (
                bridge.action_count(id).await,
                bridge.recent_actions(id, 20).await,
            ) {
                (Ok(count), Ok(recent)) => {
                    view["bridge_actions"] = serde_json::json!({"count": count, "recent": recent});
                }
                (Err(e), _) | (_, Err(e)) => return internal(p, e),
            }
            Reply::json(200, &view)
        }
        Ok(None) => ApiError::NoSuch { what: "account" }.reply(),
        Err(e) => internal(p, e),
    }
}

/// `PUT /admin/accounts/{id}/settings`: replaces the partner's settings for the account.
pub async fn put_settings<P: Ports>(p: &P, id: &str, body: &[u8]) -> Reply {
    let settings = match admin::parse_settings(body) {
        Ok(s) => s,
        Err(message) => {
            return ApiError::BadRequest {
                error: "invalid_settings",
                path: Some("$".into()),
                message,
            }
            .reply()
        }
    };
    let now = p.clock().now_ms();
    match p.store().set_account_settings(id, &settings, now).await {
        Ok(true) => account(p, id).await,
        Ok(false) => ApiError::NoSuch { what: "account" }.reply(),
        Err(e) => internal(p, e),
    }
}

/// `POST /admin/events/{id}/retry`: an unconfirmed event is tried again from scratch (after a
/// Talkdesk outage, or once its read path is fixed); its installation's jobs run after the
/// answer.
pub async fn retry_event<P: Ports>(p: &P, event_id: &str) -> super::Handled {
    let now = p.clock().now_ms();
    match p.store().requeue_unconfirmed(event_id, now).await {
        Ok(Some(installation_id)) => {
            let detail = format!("unconfirmed event {event_id} tried again");
            if let Err(e) = record(p, &installation_id, "retry_event", &detail).await {
                return internal(p, e).into();
            }
            super::Handled {
                reply: Reply::json(200, &json!({"event_id": event_id, "status": "retrying"})),
                run_installation: Some(installation_id),
            }
        }
        Ok(None) => ApiError::NoSuch {
            what: "unconfirmed event",
        }
        .reply()
        .into(),
        Err(e) => internal(p, e).into(),
    }
}

/// `POST /admin/events/{id}/discard`: the operator judges an unconfirmed event not worth
/// keeping; its sealed data goes.
pub async fn discard_event<P: Ports>(p: &P, event_id: &str) -> Reply {
    let now = p.clock().now_ms();
    let installation = match p.store().event(event_id).await {
        Ok(event) => event.and_then(|e| e.installation_id),
        Err(e) => return internal(p, e),
    };
    match p.store().discard_unconfirmed(event_id, now).await {
        Ok(true) => {
            if let Some(id) = installation {
                let detail = format!("unconfirmed event {event_id} discarded");
                if let Err(e) = record(p, &id, "discard_event", &detail).await {
                    return internal(p, e);
                }
            }
            Reply::json(200, &json!({"event_id": event_id, "status": "discarded"}))
        }
        Ok(false) => ApiError::NoSuch {
            what: "unconfirmed event",
        }
        .reply(),
        Err(e) => internal(p, e),
    }
}

/// `GET /admin/sealing`: the current key id, the listed ones, and how many stored secrets each
/// key id still seals. An old key may leave `SEALING_KEY` once its count is zero.
pub async fn sealing<P: Ports>(p: &P, config: &crate::config::Config) -> Reply {
    let store = crate::store::sealed::SealedStore::new(p.db());
    match store.counts().await {
        Ok(counts) => {
            // Inserted one by one: collecting into a map sorts first (its own code in the wasm).
            let mut by_key = serde_json::Map::new();
            for (kid, n) in counts {
                by_key.insert(kid, n.into());
            }
            Reply::json(
                200,
                &serde_json::json!({
                    "current": config.sealing_keys.current().0,
                    "listed": config.sealing_keys.ids().collect::<Vec<_>>(),
                    "sealed_by_key": by_key,
                }),
            )
        }
        Err(e) => internal(p, e),
    }
}

/// `POST /admin/sealing/reseal?after=`: re-seals the next batch under the current key; call
/// again with `next` until it is null. Idempotent.
pub async fn reseal<P: Ports>(p: &P, config: &crate::config::Config, head: &Head) -> Reply {
    let after = head
        .query
        .iter()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.as_str());
    let settings = crate::lifecycle::Settings::from_config(config);
    match crate::lifecycle::reseal::reseal_batch(p, &settings, after).await {
        Ok(report) => {
            p.log().info(
                "resealed",
                &format!(
                    "{} values; next {}",
                    report.resealed,
                    report
                        .next
                        .as_deref()
                        .map_or("none".into(), crate::json::quoted)
                ),
            );
            Reply::json(200, &report)
        }
        Err(e) => internal(p, e),
    }
}

/// The latest operator actions `GET /admin/installations/{id}/events` shows.
pub const ACTIONS_SHOWN: u32 = 50;

/// Events per page of `GET /admin/installations/{id}/events`.
pub const EVENTS_PAGE: u32 = 100;

/// `GET /admin/installations/{id}/events?before={received_at}`: every event of the
/// installation with its status and why, newest first; `next` pages on.
pub async fn events<P: Ports>(p: &P, id: &str, head: &Head) -> Reply {
    let before = head
        .query
        .iter()
        .find(|(k, _)| k == "before")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX >> 12);
    let actions = match p.store().actions_of(id, ACTIONS_SHOWN).await {
        Ok(actions) => actions,
        Err(e) => return internal(p, e),
    };
    match p.store().events_of(id, before, EVENTS_PAGE).await {
        Ok(events) => {
            let next = (events.len() == EVENTS_PAGE as usize)
                .then(|| events.last().and_then(|e| e["received_at"].as_u64()))
                .flatten();
            Reply::json(
                200,
                &json!({"events": events, "next_before": next, "operator_actions": actions}),
            )
        }
        Err(e) => internal(p, e),
    }
}

/// `POST /admin/installations/{id}/retry`: every pending job of the installation is due now
/// and runs after the answer (idempotent: retrying twice runs once more at most).
pub async fn retry_now<P: Ports>(p: &P, id: &str) -> super::Handled {
    match p.store().installation(id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return ApiError::NoSuch {
                what: "installation",
            }
            .reply()
            .into()
        }
        Err(e) => return internal(p, e).into(),
    }
    let woken = match p.store().wake_jobs(id, p.clock().now_ms()).await {
        Ok(()) => record(p, id, "retry_now", "pending jobs made due now").await,
        Err(e) => Err(e),
    };
    match woken {
        Ok(()) => {
            p.log().info("operator_retry_now", id);
            super::Handled {
                reply: Reply::json(202, &json!({"status": "retrying", "installation_id": id})),
                run_installation: Some(id.to_owned()),
            }
        }
        Err(e) => internal(p, e).into(),
    }
}

/// Adds an operator action to the installation's history.
async fn record<P: Ports>(p: &P, id: &str, action: &str, detail: &str) -> Result<(), PortError> {
    p.store()
        .record_action(id, action, detail, p.clock().now_ms())
        .await
}

/// `POST /admin/events/{id}/replay`: a stored event's job runs again from scratch (fresh
/// attempts, a fresh confirmation window), after the answer. Idempotent: while the job is
/// pending, a replay changes nothing. The event is confirmed with Talkdesk again like any
/// other, so replaying cannot make a forged event act.
pub async fn replay_event<P: Ports>(p: &P, event_id: &str) -> super::Handled {
    use crate::store::history::Replay;
    let now = p.clock().now_ms();
    let window = crate::lifecycle::intake::CONFIRM_WINDOW_MS;
    match p.store().replay_event(event_id, now, window).await {
        Ok(Replay::Queued(id)) => {
            let detail = format!("event {event_id} replayed");
            if let Err(e) = record(p, &id, "replay_event", &detail).await {
                return internal(p, e).into();
            }
            super::Handled {
                reply: Reply::json(202, &json!({"event_id": event_id, "status": "replaying"})),
                run_installation: Some(id),
            }
        }
        Ok(Replay::AlreadyPending(id)) => super::Handled {
            reply: Reply::json(200, &json!({"event_id": event_id, "status": "pending"})),
            run_installation: Some(id),
        },
        Ok(Replay::NoWork) => ApiError::Conflict {
            error: "nothing_to_replay",
            message: "this event has no work to run again".into(),
        }
        .reply()
        .into(),
        Ok(Replay::Refused(why)) => ApiError::Conflict {
            error: "cannot_replay",
            message: why.into(),
        }
        .reply()
        .into(),
        Ok(Replay::NoSuchEvent) => ApiError::NoSuch { what: "event" }.reply().into(),
        Err(e) => internal(p, e).into(),
    }
}
