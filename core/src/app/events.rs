//! `POST /events`: validate, store durably, answer; the jobs run after the answer.

use serde_json::json;

use super::Handled;
use crate::config::Config;
use crate::http::{ApiError, Reply};
use crate::lifecycle::intake::{self, IntakeError};
use crate::lifecycle::{receive, Ports, Received};
use crate::ports::{Clock, Log};
use crate::talkdesk::events::parse_event;

/// Whether the media type is JSON (`application/json`, any parameters, any case).
pub fn is_json(content_type: Option<&str>) -> bool {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    media.eq_ignore_ascii_case("application/json")
}

fn invalid(path: String, message: String) -> Handled {
    ApiError::BadRequest {
        error: "invalid_event",
        path: Some(path),
        message,
    }
    .reply()
    .into()
}

/// Parses, checks and stores the event; answers 200 once it is durable. A refused event
/// changes nothing and calls nobody.
pub async fn post<P: Ports>(p: &P, config: &Config, body: &[u8]) -> Handled {
    let event = match parse_event(body) {
        Ok(event) => event,
        Err(e) => return invalid(e.path.clone(), e.to_string()),
    };
    let now = p.clock().now_ms();
    let intake = match intake::build(
        &event,
        &config.app_id,
        &config.allowlist,
        &config.sealing_keys,
        now,
    ) {
        Ok(intake) => intake,
        Err(IntakeError::WrongApp) => {
            return ApiError::BadRequest {
                error: "wrong_app",
                path: Some("app_id".into()),
                message: "app_id: this event is for another app".into(),
            }
            .reply()
            .into()
        }
        Err(IntakeError::Invalid(e)) => return invalid(e.path.clone(), e.to_string()),
    };
    let installation_id = event.data.installation_id().unwrap_or_default().to_owned();
    let logged = |status: &str| {
        p.log().record(
            crate::ports::Level::Info,
            "event_received",
            &[
                ("event_id", event.id.as_str()),
                ("event_type", event.event_type.as_str()),
                ("installation_id", installation_id.as_str()),
                ("status", status),
            ],
        )
    };
    let lease_ms = crate::lifecycle::Settings::from_config(config)
        .scaled(crate::lifecycle::outbox::JOB_LEASE_MS);
    match receive(p, intake, Some(lease_ms)).await {
        Ok(Received::Duplicate) => {
            logged("duplicate");
            Reply::json(200, &json!({"status": "duplicate", "event_id": event.id})).into()
        }
        Ok(Received::New { run }) => {
            logged("accepted");
            Handled {
                reply: Reply::json(200, &json!({"status": "accepted", "event_id": event.id})),
                run_installation: run,
            }
        }
        Err(e) => {
            p.log().record(
                crate::ports::Level::Error,
                "event_store_failed",
                &[
                    ("event_id", event.id.as_str()),
                    ("installation_id", installation_id.as_str()),
                    ("detail", e.0.as_str()),
                ],
            );
            // D1 is down: keep the event sealed in KV, replayed by the sweep; Talkdesk sends an
            // install's credentials once, so a 500 here could lose them for good.
            let settings = crate::lifecycle::Settings::from_config(config);
            match crate::lifecycle::capture::capture(p, &settings, &event.id, body).await {
                Ok(()) => {
                    p.log().info("event_captured", &event.id);
                    Reply::json(200, &json!({"status": "captured", "event_id": event.id})).into()
                }
                Err(kv) => {
                    p.log().error(
                        "event_capture_failed",
                        &format!("event {}: {}", event.id, kv.0),
                    );
                    ApiError::Internal.reply().into()
                }
            }
        }
    }
}
