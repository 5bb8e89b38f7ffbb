//! The Worker's entry points. Reads like a table of contents: load the settings, route, call the
//! use case, answer. Every error is mapped to its answer by `ApiError::reply`; nothing returns
//! `Err` to the runtime, so a bad request can never crash the isolate.

use worker::{event, Context, Env, Request, Response};

use crate::health;
use crate::http::{route, ApiError, Reply, Route};
use crate::platform::{self, log};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    Ok(platform::into_response(handle(req, env).await))
}

async fn handle(mut req: Request, env: Env) -> Reply {
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
            health::reply(crate::VERSION, &d1, &kv)
        }
        Route::BenchAssertion if config.bench_endpoints => match req.bytes().await {
            Ok(body) => platform::bench::assertion(&body).await,
            Err(e) => {
                log::error("request_body_unreadable", &e.to_string());
                ApiError::Internal.reply()
            }
        },
        Route::BenchAssertion => ApiError::NotFound { path }.reply(),
    }
}
