//! Log lines, one JSON object each, so `wrangler tail` and Logpush can filter them.
//! Callers pass what happened and the context; never a secret (those types print `[redacted]`).

use serde_json::json;

/// An internal error with its context. The caller got a generic answer; this line is the detail.
pub fn error(event: &str, detail: &str) {
    worker::console_error!(
        "{}",
        json!({"level": "error", "event": event, "detail": detail})
    );
}

/// Something worth knowing that is not an error.
pub fn info(event: &str, detail: &str) {
    worker::console_log!(
        "{}",
        json!({"level": "info", "event": event, "detail": detail})
    );
}

/// Something worth knowing, with its figures as fields of the line (so Workers Logs indexes
/// each one).
pub fn info_fields(event: &str, fields: serde_json::Value) {
    let mut line = json!({"level": "info", "event": event});
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    worker::console_log!("{}", line);
}

/// The log as the core's [`Log`](appconnect_core::ports::Log) port.
pub struct WorkerLog;

impl appconnect_core::ports::Log for WorkerLog {
    fn error(&self, event: &str, detail: &str) {
        error(event, detail);
    }

    fn info(&self, event: &str, detail: &str) {
        info(event, detail);
    }

    fn warn(&self, event: &str, detail: &str) {
        worker::console_warn!(
            "{}",
            json!({"level": "warn", "event": event, "detail": detail})
        );
    }
}
