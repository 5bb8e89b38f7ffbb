//! Nothing lost when D1 is down at intake. An `app.installed` carries credentials Talkdesk sends
//! once; if the event cannot be stored in D1, its body is sealed (`SEALING_KEY`) and kept in KV,
//! and Talkdesk gets its 200. The cron sweep replays captured events into D1 as soon as D1
//! answers, through the same intake, and deletes each capture once it is stored (a duplicate
//! counts as stored). Only when KV fails too does Talkdesk get a 500 and retry.

use super::intake::{self, receive};
use super::{Ports, Settings};
use crate::crypto::seal::{open, seal, SealContext};
use crate::ports::{Cache, Clock, Log, PortError};
use crate::talkdesk::events::parse_event;

/// KV key prefix of captured events.
pub const PREFIX: &str = "capture:";
/// How long a capture waits for D1: past Talkdesk's 7-day window for the event's work.
pub const CAPTURE_TTL_SECS: u64 = 8 * 24 * 3600;
/// Captures replayed per sweep (each is a few D1 queries).
pub const REPLAY_LIMIT: u32 = 50;

fn context(event_id: &str) -> SealContext<'_> {
    SealContext {
        record: event_id,
        field: "captured_event",
    }
}

/// Seals and keeps an event body D1 could not take.
pub async fn capture<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    event_id: &str,
    body: &[u8],
) -> Result<(), PortError> {
    let sealed = seal(s.keys, context(event_id), body);
    p.cache()
        .put(&format!("{PREFIX}{event_id}"), &sealed, CAPTURE_TTL_SECS)
        .await
}

/// Replays captured events into D1; how many were stored. The installations they touched run
/// with the rest of the sweep.
pub async fn replay<P: Ports>(p: &P, s: &Settings<'_>) -> Result<usize, PortError> {
    let keys = p.cache().list(PREFIX, REPLAY_LIMIT).await?;
    let mut stored = 0;
    for key in keys {
        let event_id = &key[PREFIX.len()..];
        let Some(sealed) = p.cache().get(&key).await? else {
            continue;
        };
        let Ok(body) = open(s.keys, context(event_id), &sealed) else {
            p.log().error("capture_unreadable", event_id);
            continue;
        };
        // It passed these checks once; a body that no longer does is dropped, logged.
        let built = parse_event(&body)
            .map_err(|e| e.to_string())
            .and_then(|event| {
                intake::build(&event, s.app_id, s.allowlist, s.keys, p.clock().now_ms())
                    .map_err(|_| "refused at replay".to_owned())
            });
        let intake = match built {
            Ok(intake) => intake,
            Err(why) => {
                p.log()
                    .error("capture_dropped", &format!("{event_id}: {why}"));
                let _ = p.cache().delete(&key).await;
                continue;
            }
        };
        // D1 still down: leave it for the next sweep.
        // The sweep runs what it stored in its own pass: nothing is leased for a handoff.
        receive(p, intake, None).await?;
        p.cache().delete(&key).await?;
        p.log().info("capture_replayed", event_id);
        stored += 1;
    }
    Ok(stored)
}
