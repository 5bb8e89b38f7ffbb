//! Outbound HTTP: moves the bytes of a request built in `talkdesk`, and nothing else.
//! Redirects are not followed (a redirect could carry a client assertion to another host), and
//! every call has a deadline.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use appconnect_core::ports::{PortError, TalkdeskHttp};
use appconnect_core::talkdesk::http::{HttpRequest, HttpResponse};

/// How long one call to Talkdesk may take before it counts as a (transient) failure.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Answers larger than this are refused: nothing Talkdesk sends us is that big.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

pub struct WorkerFetch;

impl TalkdeskHttp for WorkerFetch {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PortError> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers
                .set(name, value)
                .map_err(|e| PortError(format!("header {name}: {e}")))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.to_owned()))
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        if !request.body.expose().is_empty() {
            init.with_body(Some(request.body.expose().into()));
        }
        // The URL is logged without its query (which could someday carry a code or token).
        let shown = request.url.split('?').next().unwrap_or_default().to_owned();
        let req = Request::new_with_init(&request.url, &init)
            .map_err(|e| PortError(format!("request to {shown}: {e}")))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Box::pin(async move {
            let mut resp = Fetch::Request(req).send_with_signal(&signal).await?;
            let status = resp.status_code();
            let body = resp.bytes().await?;
            Ok::<_, worker::Error>((status, body))
        });
        let timeout = Box::pin(Delay::from(TIMEOUT));
        match select(fetch, timeout).await {
            Either::Left((Ok((status, body)), _)) => {
                if body.len() > MAX_RESPONSE_BYTES {
                    return Err(PortError(format!(
                        "{shown}: answer over {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                Ok(HttpResponse { status, body })
            }
            Either::Left((Err(e), _)) => Err(PortError(format!("{shown}: {e}"))),
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
