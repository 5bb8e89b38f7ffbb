//! The adapters to the Workers runtime, implementing the core's ports.
//! Each turns runtime values and errors into the crate's own types at the boundary, so no
//! `worker::Error` travels further in.

pub mod bench;
pub mod clock;
pub mod d1;
pub mod env;
pub mod fetch;
pub mod js;
pub mod kv;
pub mod log;
pub mod ports;
pub mod webcrypto;

use worker::{Headers, Response};

use appconnect_core::http::Reply;

/// Binding names; they must match `wrangler.toml` (a unit test checks).
pub mod bindings {
    /// The D1 database: installations, users, event log, outbox.
    pub const DB: &str = "DB";
    /// The KV namespace: access-token cache and short-lived state.
    pub const CACHE: &str = "CACHE";
}

/// Turns a [`Reply`] into the runtime's response. Infallible by construction: if the runtime
/// refuses a header, the answer degrades to a bare 500 rather than an error escaping `fetch`.
pub fn into_response(reply: Reply) -> Response {
    let build = || -> worker::Result<Response> {
        let headers = Headers::new();
        // `append`: a reply may set several cookies.
        for (name, value) in &reply.headers {
            headers.append(name, value)?;
        }
        Ok(Response::ok(reply.body.clone())?
            .with_status(reply.status)
            .with_headers(headers))
    };
    build().unwrap_or_else(|e| {
        log::error("response_build_failed", &e.to_string());
        Response::empty()
            .map(|r| r.with_status(500))
            .unwrap_or_else(|_| Response::empty().expect("an empty response always builds"))
    })
}

#[cfg(test)]
mod tests {
    use super::bindings;

    #[test]
    fn binding_names_match_wrangler_toml() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml")).unwrap();
        let cfg: toml::Table = text.parse().unwrap();
        let binding = |section: &str| cfg[section].as_array().unwrap()[0]["binding"].clone();
        assert_eq!(binding("d1_databases").as_str(), Some(bindings::DB));
        assert_eq!(binding("kv_namespaces").as_str(), Some(bindings::CACHE));
    }
}
