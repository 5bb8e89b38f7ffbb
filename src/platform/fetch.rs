//! Outbound HTTP: moves the bytes of a request built in `talkdesk`, and nothing else.
//! Redirects are not followed (a redirect could carry a client assertion to another host), and
//! every call has a deadline.

use std::time::Duration;

use futures_util::future::{select, Either};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::Delay;

use super::js::error_text;
use appconnect_core::ports::{PortError, TalkdeskHttp};
use appconnect_core::talkdesk::http::{HttpRequest, HttpResponse};

/// How long one call to Talkdesk may take before it counts as a (transient) failure.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Answers larger than this are refused: nothing Talkdesk sends us is that big.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

pub struct WorkerFetch;

impl TalkdeskHttp for WorkerFetch {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PortError> {
        // The URL is logged without its query (which could someday carry a code or token).
        let shown = request.url.split('?').next().unwrap_or_default().to_owned();
        let failed = |e: JsValue| PortError(format!("{shown}: {}", error_text(&e)));
        let headers = web_sys::Headers::new().map_err(failed)?;
        for (name, value) in &request.headers {
            headers
                .set(name, value)
                .map_err(|e| PortError(format!("header {name}: {}", error_text(&e))))?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(request.method);
        init.set_headers(&headers);
        init.set_redirect(web_sys::RequestRedirect::Manual);
        if !request.body.expose().is_empty() {
            init.set_body(&JsValue::from_str(request.body.expose()));
        }
        let controller = web_sys::AbortController::new().map_err(failed)?;
        init.set_signal(Some(&controller.signal()));
        // The runtime's own fetch, and the body read in one piece (`arrayBuffer`): the
        // `worker` crate's wrappers read it as a stream, chunk by chunk, at several times
        // the CPU (README, "Side by side").
        let global = js_sys::global();
        let fetch = js_sys::Reflect::get(&global, &"fetch".into()).map_err(failed)?;
        let started = js_sys::Function::from(fetch)
            .call2(&global, &JsValue::from_str(&request.url), &init)
            .map_err(failed)?;
        let answer = Box::pin(async move {
            let resp: web_sys::Response =
                JsFuture::from(js_sys::Promise::from(started)).await?.into();
            let status = resp.status();
            let body = js_sys::Uint8Array::new(&JsFuture::from(resp.array_buffer()?).await?);
            // Judged before it is copied into the wasm's memory.
            if body.length() as usize > MAX_RESPONSE_BYTES {
                return Ok(None);
            }
            Ok::<_, JsValue>(Some((status, body.to_vec())))
        });
        let timeout = Box::pin(Delay::from(TIMEOUT));
        match select(answer, timeout).await {
            Either::Left((Ok(Some((status, body))), _)) => Ok(HttpResponse { status, body }),
            Either::Left((Ok(None), _)) => Err(PortError(format!(
                "{shown}: answer over {MAX_RESPONSE_BYTES} bytes"
            ))),
            Either::Left((Err(e), _)) => Err(failed(e)),
            Either::Right(_) => {
                controller.abort();
                Err(PortError(format!(
                    "{shown}: no answer in {} s",
                    TIMEOUT.as_secs()
                )))
            }
        }
    }
}
