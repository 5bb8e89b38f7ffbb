//! What the HTTP handlers share: the [`Reply`] they build (JSON, or a page or script for a
//! browser, with what the request log should say about it) and the checks of a request body's
//! media type and JSON shape.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::{json, Map, Value};

/// A computed answer plus what the request log should say about it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub raw: Option<&'static str>,
    /// A non-JSON body and its media type (an HTML page, a script).
    pub text: Option<(&'static str, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub installation_id: Option<String>,
    pub error: Option<String>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            raw: None,
            text: None,
            headers: vec![],
            installation_id: None,
            error: None,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            body: None,
            ..Reply::json(status, Value::Null)
        }
    }

    /// A body for a browser: `content_type` (with its charset) and the text.
    pub fn text(status: u16, content_type: &'static str, text: String) -> Reply {
        Reply {
            body: None,
            text: Some((content_type, text)),
            ..Reply::json(status, Value::Null)
        }
    }

    /// An HTML page that cannot be framed, cached, or made to run anything (it needs neither
    /// script nor style).
    pub fn html(status: u16, page: String) -> Reply {
        let mut r = Reply::text(status, "text/html; charset=utf-8", page);
        r.headers.extend([
            ("cache-control", "no-store".to_string()),
            (
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'".to_string(),
            ),
            ("x-content-type-options", "nosniff".to_string()),
            ("referrer-policy", "no-referrer".to_string()),
        ]);
        r
    }

    /// `302 Found` to `location`, not cached (it may carry a code).
    pub fn redirect(location: String) -> Reply {
        let mut r = Reply::empty(302);
        r.headers.push(("location", location));
        r.headers.push(("cache-control", "no-store".to_string()));
        r
    }

    /// An API error: `{"error", "error_description"}`.
    pub fn error(status: u16, error: &str, description: impl Into<String>) -> Reply {
        let description = description.into();
        let mut r = Reply::json(
            status,
            json!({"error": error, "error_description": description}),
        );
        r.error = Some(format!("{error}: {description}"));
        r
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut b = Response::builder().status(self.status);
        let body = if let Some((content_type, text)) = self.text {
            b = b.header("content-type", content_type);
            Bytes::from(text)
        } else if let Some(raw) = self.raw {
            b = b.header("content-type", "application/json");
            Bytes::from_static(raw.as_bytes())
        } else if let Some(v) = self.body {
            b = b.header("content-type", "application/json");
            Bytes::from(serde_json::to_vec(&v).unwrap())
        } else {
            Bytes::new()
        };
        for (k, v) in self.headers {
            b = b.header(k, v);
        }
        b.body(Full::new(body)).unwrap()
    }
}

/// The media type of a `Content-Type` header, lowercase, parameters dropped.
pub fn media_type(content_type: Option<&str>) -> Option<String> {
    content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
}

/// The JSON object body of a POST: `Content-Type: application/json` (415 otherwise), an object
/// (400 otherwise) with no members but `allowed` (400: a misspelt member is a client bug).
pub fn json_body(
    content_type: Option<&str>,
    body: &[u8],
    allowed: &[&str],
) -> Result<Map<String, Value>, Reply> {
    if media_type(content_type).as_deref() != Some("application/json") {
        return Err(Reply::error(
            415,
            "unsupported_media_type",
            "content-type: must be application/json",
        ));
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(Reply::error(
            400,
            "invalid_request",
            "body: must be a JSON object",
        ));
    };
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Reply::error(
            400,
            "invalid_request",
            format!(
                "body: unknown member {k:?} (allowed: {})",
                allowed.join(", ")
            ),
        ));
    }
    Ok(map)
}
