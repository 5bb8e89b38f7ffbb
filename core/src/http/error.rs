use serde_json::json;

use super::{Method, Reply};
use crate::config::ConfigError;

/// Every way a request can fail, and the one place that decides what the caller sees.
/// Internal detail is logged by `entry`, never put in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 404: no resource at this path.
    NotFound { path: String },
    /// 405: the resource exists but not with this method; `Allow` lists the ones it takes.
    MethodNotAllowed {
        method: String,
        allow: &'static [Method],
    },
    /// 500: a setting is missing or malformed. The body names the setting (not its value), so
    /// the operator can fix the deployment.
    Config(ConfigError),
    /// 400: the body is malformed; `path` names the bad field (`data.private_key`, …).
    BadRequest {
        error: &'static str,
        path: Option<String>,
        message: String,
    },
    /// 401: the operator API needs `Authorization: Bearer <ADMIN_TOKEN>`.
    Unauthorized,
    /// 404 for a resource that is not there (an unknown installation id).
    NoSuch { what: &'static str },
    /// 409: the request is well formed but the resource's state does not allow it.
    Conflict {
        error: &'static str,
        message: String,
    },
    /// 413: the body is larger than `limit` bytes.
    PayloadTooLarge { limit: usize },
    /// 415: the body must be JSON.
    UnsupportedMediaType,
    /// 500: anything else that went wrong inside. The body is generic.
    Internal,
}

impl ApiError {
    /// The status and JSON body `{ "error": code, "message": text }` of this error.
    pub fn reply(&self) -> Reply {
        match self {
            ApiError::NotFound { path } => Reply::json(
                404,
                &json!({"error": "not_found", "message": format!("no resource at {path}")}),
            ),
            ApiError::MethodNotAllowed { method, allow } => {
                let allow = allow
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                Reply::json(
                    405,
                    &json!({
                        "error": "method_not_allowed",
                        "message": format!("method {method} is not allowed here; allowed: {allow}"),
                    }),
                )
                .with_header("allow", allow)
            }
            ApiError::Config(e) => Reply::json(
                500,
                &json!({
                    "error": "configuration_error",
                    "message": format!("the worker is misconfigured: {e}"),
                    "setting": e.setting,
                }),
            ),
            ApiError::BadRequest {
                error,
                path,
                message,
            } => Reply::json(
                400,
                &json!({"error": error, "message": message, "path": path}),
            ),
            ApiError::Unauthorized => Reply::json(
                401,
                &json!({"error": "unauthorized", "message": "send Authorization: Bearer <ADMIN_TOKEN>"}),
            )
            .with_header("www-authenticate", "Bearer"),
            ApiError::NoSuch { what } => Reply::json(
                404,
                &json!({"error": "not_found", "message": format!("no such {what}")}),
            ),
            ApiError::Conflict { error, message } => {
                Reply::json(409, &json!({"error": error, "message": message}))
            }
            ApiError::PayloadTooLarge { limit } => Reply::json(
                413,
                &json!({"error": "payload_too_large", "message": format!("the body is larger than {limit} bytes")}),
            ),
            ApiError::UnsupportedMediaType => Reply::json(
                415,
                &json!({"error": "unsupported_media_type", "message": "the body must be application/json"}),
            ),
            ApiError::Internal => Reply::json(
                500,
                &json!({"error": "internal_error", "message": "internal error"}),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Reply) -> serde_json::Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn not_found_is_404_json() {
        let r = ApiError::NotFound {
            path: "/nope".into(),
        }
        .reply();
        assert_eq!(r.status, 404);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(body(&r)["error"], "not_found");
    }

    #[test]
    fn method_not_allowed_lists_allow_header() {
        let r = ApiError::MethodNotAllowed {
            method: "DELETE".into(),
            allow: &[Method::Get, Method::Post],
        }
        .reply();
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, POST"));
        assert_eq!(body(&r)["error"], "method_not_allowed");
    }

    #[test]
    fn config_error_names_the_setting() {
        let r = ApiError::Config(ConfigError {
            setting: "SEALING_KEY",
            problem: "is missing".into(),
        })
        .reply();
        assert_eq!(r.status, 500);
        assert_eq!(body(&r)["setting"], "SEALING_KEY");
        assert!(body(&r)["message"]
            .as_str()
            .unwrap()
            .contains("SEALING_KEY is missing"));
    }

    #[test]
    fn internal_error_says_nothing_more() {
        let r = ApiError::Internal.reply();
        assert_eq!(r.status, 500);
        assert_eq!(
            body(&r),
            json!({"error": "internal_error", "message": "internal error"})
        );
    }
}
