use serde::Serialize;

/// An answer as a plain value; `platform` turns it into a `worker::Response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Extra headers; `content-type` and the security headers are added by [`Reply::json`].
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    /// A JSON answer. Every answer of the worker's API is JSON, errors included.
    pub fn json(status: u16, body: &impl Serialize) -> Reply {
        // Serialising our own plain structs and `serde_json::Value`s cannot fail.
        let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
        Reply {
            status,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("cache-control", "no-store".to_owned()),
                ("x-content-type-options", "nosniff".to_owned()),
            ],
            body,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
