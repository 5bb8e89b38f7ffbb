//! The Worker's entry points, as a table of contents: load the settings, route, read what the
//! route needs, hand it to the core's handler, answer, then run the follow-up work. Every error
//! is mapped to its answer by `ApiError::reply`; nothing returns `Err` to the runtime, so a bad
//! request can never crash the isolate.

use futures_util::StreamExt;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{event, Context, Env, Request, ScheduleContext, ScheduledEvent};

use crate::platform::{self, log, ports::WorkerPorts};
use appconnect_core::app::{self, health, Head};
use appconnect_core::config::Config;
use appconnect_core::http::{self, route, ApiError, Reply, Route};
use appconnect_core::lifecycle::budget::{Budget, Invocation, Meter, Metered};
use appconnect_core::lifecycle::{self, Ports, Settings};
use appconnect_core::ports::{Clock, Log};
use appconnect_core::weburl::{form, request_target};

/// Due installations the cron sweep looks at per run; the invocation's budget decides how many
/// it works on (`lifecycle::budget`).
const SWEEP_LIMIT: u32 = 500;

/// The runtime's `fetch` entry, exported by hand where `#[event(fetch)]` would generate it: the
/// macro's error path (never taken, since this entry always answers) boxes a `worker::Error`
/// as `dyn Error`, which carried std's I/O error formatting, and with it Unicode's printable
/// tables, into the wasm (about 8 KB of gzip, README "Figures").
#[wasm_bindgen]
pub async fn fetch(
    req: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    let req = Request::from(req);
    let ctx = Context::new(ctx);
    // Every log line of this request carries its id (`cf-ray` at Cloudflare's edge).
    let ray = req.headers().get("cf-ray").ok().flatten();
    log::set_request_id(Some(
        ray.unwrap_or_else(|| format!("local-{}", js_random_id())),
    ));
    // Read once: each read crosses into JavaScript and copies the text.
    let url = req.inner().url();
    let for_a_person = http::is_page_path(request_target(&url).0);
    let reply = handle(req, &url, env, ctx).await;
    // A person's path answers in HTML whatever went wrong before its handler ran.
    let response = platform::into_response(if for_a_person {
        app::signin::as_page(reply)
    } else {
        reply
    });
    Ok(web_sys::Response::from(response).into())
}

async fn handle(mut req: Request, url: &str, env: Env, ctx: Context) -> Reply {
    // 1. Settings first: with a broken deployment every request says so, whatever its path.
    let config = match platform::env::config(&env) {
        Ok(config) => config,
        Err(e) => {
            log::error("configuration_error", &e.to_string());
            return ApiError::Config(e).reply();
        }
    };
    // 2. Route. The runtime hands the URL over in WHATWG form: only split, not judged again.
    let (path, query) = request_target(url);
    let route = match route(req.method().as_ref(), path) {
        Ok(route) => route,
        Err(e) => return e.reply(),
    };
    // Before any header is read: the probe needs none of them.
    if route == Route::Healthz {
        return healthz(&env).await;
    }
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let head = Head {
        path: path.to_owned(),
        query: form::parse(query.unwrap_or_default().as_bytes()),
        content_type: header("content-type"),
        authorization: header("authorization"),
        cookie: header("cookie"),
        origin: header("origin"),
        idempotency_key: header("idempotency-key"),
        webhook_id: header("webhook-id"),
        webhook_timestamp: header("webhook-timestamp"),
        webhook_signature: header("webhook-signature"),
    };
    // 3. What is refused before reading the body; the routes the runtime answers itself.
    if let Some(refused) = app::precheck(&config, &route, &head) {
        return refused;
    }
    if route == Route::BenchAssertion && !config.bench_endpoints {
        return ApiError::NotFound { path: head.path }.reply();
    }
    let body = if app::needs_body(&route) {
        match read_body(&mut req, app::body_limit(&route)).await {
            Ok(body) => body,
            Err(reply) => return reply,
        }
    } else {
        Vec::new()
    };
    if route == Route::BenchAssertion {
        return platform::bench::assertion(&body).await;
    }
    // 4. The handler.
    let ports = match WorkerPorts::from_env(&env, &config) {
        Ok(p) => p,
        Err(e) => {
            log::error("bindings_unavailable", &e.0);
            return ApiError::Internal.reply();
        }
    };
    let handled = app::handle(&ports, &config, route, &head, &body).await;
    // 5. The answer goes out now; the slow work runs after it (the cron sweep catches anything
    //    a lost waitUntil leaves).
    if let Some(installation_id) = handled.run_installation {
        ctx.wait_until(async move {
            let settings = Settings::from_config(&config);
            let meter = meter(&config, Invocation::AfterAnswer);
            let metered = Metered::new(&ports, &meter);
            if let Err(e) = lifecycle::run_installation(&metered, &settings, &installation_id).await
            {
                ports.log().record(
                    appconnect_core::ports::Level::Error,
                    "job_run_failed",
                    &[("installation_id", &installation_id), ("detail", &e.0)],
                );
            }
            spent("after_answer", &meter);
        });
    }
    handled.reply
}

thread_local! {
    /// When this isolate's newest probe of D1 and KV started, and whether it passed.
    static PROBED: std::cell::Cell<Option<(u64, bool)>> = const { std::cell::Cell::new(None) };
}

/// `GET /healthz`: D1 (its schema) and KV probed at once, so the answer waits for the slower,
/// not for both; a passing probe answers for up to a second (`health::PASSING_PROBE_MS`).
async fn healthz(env: &Env) -> Reply {
    let version = env!("CARGO_PKG_VERSION");
    let now = platform::clock::WorkerClock.now_ms();
    let passed_at = PROBED
        .with(|p| p.get())
        .and_then(|(at, ok)| ok.then_some(at));
    if health::reuse_passing(passed_at, now) {
        return health::reply(version, &health::Probe::Ok, &health::Probe::Ok);
    }
    let (schema, kv) =
        futures_util::future::join(platform::d1::schema_state(env), platform::kv::probe(env)).await;
    let d1 = health::judge_schema(&schema);
    let passed = d1 == health::Probe::Ok && kv == health::Probe::Ok;
    // A failure always counts; a pass only if no probe started after it (a slow pass never
    // hides a later failure).
    PROBED.with(|p| {
        if !passed || p.get().is_none_or(|(at, _)| at < now) {
            p.set(Some((now, passed)));
        }
    });
    health::reply(version, &d1, &kv)
}

/// The cron trigger (`wrangler.toml` [triggers]): runs whatever work is due, so nothing waits
/// on a lost `waitUntil` or a crashed isolate for more than a minute.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    log::set_request_id(Some(format!("cron-{}", js_random_id())));
    let config = match platform::env::config(&env) {
        Ok(config) => config,
        Err(e) => return log::error("configuration_error", &e.to_string()),
    };
    let ports = match WorkerPorts::from_env(&env, &config) {
        Ok(p) => p,
        Err(e) => return log::error("bindings_unavailable", &e.0),
    };
    sweep(&ports, &config).await;
}

async fn sweep(ports: &WorkerPorts, config: &Config) {
    let meter = meter(config, Invocation::Cron);
    let metered = Metered::new(ports, &meter);
    match lifecycle::sweep(&metered, &Settings::from_config(config), SWEEP_LIMIT).await {
        Ok(report) => {
            for (id, e) in &report.failures {
                ports.log().record(
                    appconnect_core::ports::Level::Error,
                    "sweep_installation_failed",
                    &[("installation_id", id), ("detail", &e.0)],
                );
            }
            log::info(
                "sweep",
                &format!(
                    "{} installations run, {} left for the next sweep",
                    report.installations, report.left
                ),
            );
        }
        Err(e) => log::error("sweep_failed", &e.0),
    }
    spent("cron", &meter);
}

/// A meter for this invocation, with the budget of the configured Workers plan.
fn meter(config: &Config, invocation: Invocation) -> Meter {
    Meter::new(
        Budget::for_plan(config.plan, invocation),
        platform::clock::WorkerClock.now_ms(),
    )
}

/// Logs what the invocation spent against its budget (one JSON line Workers Logs indexes).
fn spent(invocation: &str, meter: &Meter) {
    let used = meter.used();
    let budget = meter.budget();
    log::info_fields(
        "invocation_budget",
        serde_json::json!({
            "invocation": invocation,
            "queries": used.queries,
            "subrequests": used.subrequests,
            "kv_ops": used.kv_ops,
            "refused": used.refused,
            "budget_queries": budget.queries,
            "budget_subrequests": budget.subrequests,
        }),
    );
}

/// A short random id for requests that come without `cf-ray` (local runs, cron).
fn js_random_id() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::getrandom(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The body, at most `limit` bytes (413 beyond).
async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, Reply> {
    let too_large = || ApiError::PayloadTooLarge { limit };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large().reply());
    }
    if declared.is_some() {
        // A declared length bounds what the connection can carry, so the body is read in one
        // piece (`arrayBuffer`), at a fraction of a chunked read's CPU.
        let body = match req.inner().array_buffer() {
            Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await,
            Err(e) => Err(e),
        };
        return match body {
            Ok(buffer) => {
                let body = js_sys::Uint8Array::new(&buffer).to_vec();
                if body.len() > limit {
                    return Err(too_large().reply());
                }
                Ok(body)
            }
            Err(e) => {
                log::error("request_body_unreadable", &platform::js::error_text(&e));
                Err(ApiError::Internal.reply())
            }
        };
    }
    // No length (a chunked body): read as a stream with a running count, so it cannot make
    // the isolate buffer more than the limit.
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
            Ok(chunk) if body.len() + chunk.len() > limit => {
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
