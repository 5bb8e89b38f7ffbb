//! Outbound HTTP as data: each Talkdesk call is built as an [`HttpRequest`] by a pure function
//! and its [`HttpResponse`] parsed by another; the platform's fetch adapter only moves bytes.

use std::fmt;

use crate::secret::{SecretString, REDACTED};

/// A request to Talkdesk. The body may hold a credential (an assertion) and the
/// `authorization` header a bearer token: `Debug` prints neither.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: SecretString,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case("authorization") {
                    (*n, REDACTED)
                } else {
                    (*n, v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Talkdesk's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_the_bearer_token_nor_the_body() {
        let r = HttpRequest {
            method: "POST",
            url: "https://api.talkdeskapp.com/account".into(),
            headers: vec![
                ("authorization", "Bearer tok-123".into()),
                ("accept", "application/json".into()),
            ],
            body: SecretString::new("client_assertion=abc"),
        };
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("tok-123") && !shown.contains("abc"),
            "{shown}"
        );
        assert!(shown.contains("application/json") && shown.contains("/account"));
        assert_eq!(r.header("Authorization"), Some("Bearer tok-123"));
    }
}
