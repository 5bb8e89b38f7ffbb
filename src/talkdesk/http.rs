//! Outbound HTTP as data: each Talkdesk call is built as an [`HttpRequest`] by a pure function
//! and its [`HttpResponse`] parsed by another; the platform's fetch adapter only moves bytes.

use crate::secret::SecretString;

/// A request to Talkdesk. The body may hold a credential (an assertion), so it is a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: SecretString,
}

/// Talkdesk's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}
