//! The Worker's entry points. Reads like a table of contents: load the settings, route, call the
//! use case, answer. Every error is mapped to its answer by `ApiError::reply`; nothing returns
//! `Err` to the runtime, so a bad request can never crash the isolate.

use futures_util::StreamExt;
use serde_json::json;
use worker::{event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

use crate::platform::{self, log, ports::WorkerPorts};
use appconnect_core::app::health;
use appconnect_core::config::Config;
use appconnect_core::http::{route, ApiError, Reply, Route};
use appconnect_core::lifecycle::{self, admin, intake, Received, Settings};
use appconnect_core::talkdesk::events::{parse_event, MAX_EVENT_BYTES};
use appconnect_core::talkdesk::hosts::Allowlist;

/// Installations the cron sweep works on per run.
const SWEEP_LIMIT: u32 = 25;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(platform::into_response(handle(req, env, ctx).await))
}

/// The cron trigger (`wrangler.toml` [triggers]): runs whatever work is due, so nothing waits
/// on a lost `waitUntil` or a crashed isolate for more than a minute.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = match platform::env::load_config(&env) {
        Ok(config) => config,
        Err(e) => return log::error("configuration_error", &e.to_string()),
    };
    let ports = match WorkerPorts::from_env(&env) {
        Ok(p) => p,
        Err(e) => return log::error("bindings_unavailable", &e.0),
    };
    let allowlist = Allowlist::new(&config.extra_hosts);
    let settings = settings(&config, &allowlist);
    match lifecycle::sweep(&ports, &settings, SWEEP_LIMIT).await {
        Ok(report) => {
            for (id, e) in &report.failures {
                log::error("sweep_installation_failed", &format!("{id}: {}", e.0));
            }
            log::info(
                "sweep",
                &format!("{} installations with due work", report.installations),
            );
        }
        Err(e) => log::error("sweep_failed", &e.0),
    }
}

fn settings<'a>(config: &'a Config, allowlist: &'a Allowlist) -> Settings<'a> {
    Settings {
        app_id: &config.app_id,
        keys: &config.sealing_keys,
        allowlist,
        time_scale: config.time_scale,
    }
}

async fn handle(mut req: Request, env: Env, ctx: Context) -> Reply {
    // Settings first: with a broken deployment every request says so, whatever its path.
    let config = match platform::env::load_config(&env) {
        Ok(config) => config,
        Err(e) => {
            log::error("configuration_error", &e.to_string());
            return ApiError::Config(e).reply();
        }
    };
    let path = match req.url() {
        Ok(url) => url.path().to_owned(),
        Err(e) => {
            log::error("request_url_unparsable", &e.to_string());
            return ApiError::Internal.reply();
        }
    };
    let route = match route(req.method().as_ref(), &path) {
        Ok(route) => route,
        Err(e) => return e.reply(),
    };
    match route {
        Route::Healthz => {
            let d1 = health::judge_schema(&platform::d1::schema_state(&env).await);
            let kv = platform::kv::probe(&env).await;
            health::reply(appconnect_core::VERSION, &d1, &kv)
        }
        Route::Events => events(&mut req, env, ctx, config).await,
        Route::AdminInstallations
        | Route::AdminInstallation(_)
        | Route::AdminVerify(_)
        | Route::AdminAccount(_)
        | Route::AdminAccountSettings(_) => {
            let auth = req.headers().get("authorization").ok().flatten();
            if !admin::authorized(auth.as_deref(), config.admin_token.expose()) {
                return ApiError::Unauthorized.reply();
            }
            admin_route(&mut req, &env, &config, route).await
        }
        Route::BenchAssertion if config.bench_endpoints => match read_body(&mut req).await {
            Ok(body) => platform::bench::assertion(&body).await,
            Err(reply) => reply,
        },
        Route::BenchAssertion => ApiError::NotFound { path }.reply(),
    }
}

/// The body, at most [`MAX_EVENT_BYTES`] (413 beyond).
async fn read_body(req: &mut Request) -> Result<Vec<u8>, Reply> {
    let too_large = || ApiError::PayloadTooLarge {
        limit: MAX_EVENT_BYTES,
    };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_EVENT_BYTES) {
        return Err(too_large().reply());
    }
    // Read as a stream with a running count, so a chunked body with no length cannot make the
    // isolate buffer more than the limit.
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(Vec::new()),
    };
    let mut body = Vec::new();
    let mut over = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            // Past the limit the rest is read and dropped, not kept: answering before the
            // client has sent it all can reset the connection before it reads the 413.
            Ok(_) if over => {}
            Ok(chunk) if body.len() + chunk.len() > MAX_EVENT_BYTES => {
                over = true;
                body = Vec::new();
            }
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(e) => {
                log::error("request_body_unreadable", &e.to_string());
                return Err(ApiError::Internal.reply());
            }
        }
    }
    if over {
        return Err(too_large().reply());
    }
    Ok(body)
}

/// `POST /events`: validate, store durably, answer, then work.
async fn events(req: &mut Request, env: Env, ctx: Context, config: Config) -> Reply {
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return ApiError::UnsupportedMediaType.reply();
    }
    let body = match read_body(req).await {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let event = match parse_event(&body) {
        Ok(event) => event,
        Err(e) => {
            return ApiError::BadRequest {
                error: "invalid_event",
                path: Some(e.path.clone()),
                message: e.to_string(),
            }
            .reply()
        }
    };
    let allowlist = Allowlist::new(&config.extra_hosts);
    let now = worker::Date::now().as_millis();
    let intake = match intake::build(
        &event,
        &config.app_id,
        &allowlist,
        &config.sealing_keys,
        now,
    ) {
        Ok(intake) => intake,
        Err(intake::IntakeError::WrongApp) => {
            return ApiError::BadRequest {
                error: "wrong_app",
                path: Some("app_id".into()),
                message: "app_id: this event is for another app".into(),
            }
            .reply()
        }
        Err(intake::IntakeError::Invalid(e)) => {
            return ApiError::BadRequest {
                error: "invalid_event",
                path: Some(e.path.clone()),
                message: e.to_string(),
            }
            .reply()
        }
    };
    let ports = match WorkerPorts::from_env(&env) {
        Ok(p) => p,
        Err(e) => {
            log::error("bindings_unavailable", &e.0);
            return ApiError::Internal.reply();
        }
    };
    let received = match lifecycle::receive(&ports, intake).await {
        Ok(r) => r,
        Err(e) => {
            log::error(
                "event_store_failed",
                &format!("event {}: {}", event.id, e.0),
            );
            return ApiError::Internal.reply();
        }
    };
    match received {
        Received::Duplicate => {
            Reply::json(200, &json!({"status": "duplicate", "event_id": event.id}))
        }
        Received::New { run } => {
            if let Some(installation_id) = run {
                // The slow work runs after the answer; the cron sweep catches anything lost.
                ctx.wait_until(async move {
                    let allowlist = Allowlist::new(&config.extra_hosts);
                    let settings = settings(&config, &allowlist);
                    if let Err(e) =
                        lifecycle::run_installation(&ports, &settings, &installation_id).await
                    {
                        log::error("job_run_failed", &format!("{installation_id}: {}", e.0));
                    }
                });
            }
            Reply::json(200, &json!({"status": "accepted", "event_id": event.id}))
        }
    }
}

/// The operator API (already authorised).
async fn admin_route(req: &mut Request, env: &Env, config: &Config, route: Route) -> Reply {
    use appconnect_core::lifecycle::Ports;
    use appconnect_core::ports::LifecycleStore;
    let ports = match WorkerPorts::from_env(env) {
        Ok(p) => p,
        Err(e) => {
            log::error("bindings_unavailable", &e.0);
            return ApiError::Internal.reply();
        }
    };
    let store = ports.store();
    let internal = |e: appconnect_core::ports::PortError| {
        log::error("admin_query_failed", &e.0);
        ApiError::Internal.reply()
    };
    match route {
        Route::AdminInstallation(ref id) | Route::AdminVerify(ref id) => {
            let inst = match store.installation(id).await {
                Ok(Some(inst)) => inst,
                Ok(None) => {
                    return ApiError::NoSuch {
                        what: "installation",
                    }
                    .reply()
                }
                Err(e) => return internal(e),
            };
            if matches!(route, Route::AdminVerify(_)) {
                let allowlist = Allowlist::new(&config.extra_hosts);
                return match lifecycle::verify(&ports, &settings(config, &allowlist), &inst).await {
                    Ok(view) => Reply::json(200, &view),
                    Err(why) => {
                        log::error("verify_failed", &format!("{id}: {why}"));
                        Reply::json(
                            502,
                            &json!({
                                "error": "talkdesk_check_failed",
                                "message": "Talkdesk could not confirm the installation; the worker log has the detail",
                            }),
                        )
                    }
                };
            }
            let jobs = match store.jobs_of(id).await {
                Ok(jobs) => jobs,
                Err(e) => return internal(e),
            };
            let account = match store.account(&inst.account_id).await {
                Ok(a) => a,
                Err(e) => return internal(e),
            };
            let mut view = admin::installation_view(&inst, Some(&jobs));
            view["account"]["settings"] = admin::settings_value(account.as_ref());
            Reply::json(200, &view)
        }
        Route::AdminAccount(id) => match store.account(&id).await {
            Ok(Some(account)) => Reply::json(200, &admin::account_view(&account)),
            Ok(None) => ApiError::NoSuch { what: "account" }.reply(),
            Err(e) => internal(e),
        },
        Route::AdminAccountSettings(id) => {
            let body = match read_body(req).await {
                Ok(body) => body,
                Err(reply) => return reply,
            };
            let settings = match admin::parse_settings(&body) {
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
            let now = worker::Date::now().as_millis();
            match store.set_account_settings(&id, &settings, now).await {
                Ok(true) => match store.account(&id).await {
                    Ok(Some(account)) => Reply::json(200, &admin::account_view(&account)),
                    Ok(None) => ApiError::NoSuch { what: "account" }.reply(),
                    Err(e) => internal(e),
                },
                Ok(false) => ApiError::NoSuch { what: "account" }.reply(),
                Err(e) => internal(e),
            }
        }
        _ => {
            let query: Vec<(String, String)> = req
                .url()
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
            let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
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
            match store.list_installations(param("cursor"), limit).await {
                Ok(page) => Reply::json(200, &admin::list_view(&page, limit)),
                Err(e) => internal(e),
            }
        }
    }
}
