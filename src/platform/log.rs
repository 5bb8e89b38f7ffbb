//! Log lines: one JavaScript object each (not a string), which Workers Logs indexes field by
//! field and `wrangler tail` shows: `level`, `event`, `request_id` (the request's `cf-ray`, when
//! there is one), then the line's own fields (`installation_id`, `event_id`, …) or `detail`.
//! Callers pass what happened and the context; never a secret (those types print
//! `[redacted]`).

use std::cell::RefCell;

use appconnect_core::ports::Level;
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;

thread_local! {
    /// The request being served (an isolate serves one request at a time per thread).
    static REQUEST_ID: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Sets the request id the free functions' lines carry (`cf-ray`, or one of ours for cron
/// runs); the ports' [`WorkerLog`] carries its request's own.
pub fn set_request_id(id: Option<String>) {
    REQUEST_ID.with(|r| *r.borrow_mut() = id);
}

/// The id set by [`set_request_id`], for a request's [`WorkerLog`].
pub fn request_id() -> Option<String> {
    REQUEST_ID.with(|r| r.borrow().clone())
}

fn emit(level: Level, event: &str, fields: Map<String, Value>) {
    emit_for(
        REQUEST_ID.with(|r| r.borrow().clone()),
        level,
        event,
        fields,
    );
}

fn emit_for(request_id: Option<String>, level: Level, event: &str, fields: Map<String, Value>) {
    let mut line = Map::new();
    line.insert("level".into(), level.as_str().into());
    line.insert("event".into(), event.into());
    if let Some(id) = request_id {
        line.insert("request_id".into(), id.into());
    }
    line.extend(fields);
    let text = Value::Object(line).to_string();
    // An object, so Workers Logs indexes its fields (a string would be one opaque message).
    let object = js_sys::JSON::parse(&text).unwrap_or_else(|_| text.as_str().into());
    emit_later(level, &object);
}

/// Hands the line to `console` from a microtask of its own, still within this invocation,
/// instead of from deep inside the wasm: a console call captures the stack it is made from,
/// and under `wrangler dev` (whose inspector receives every line) capturing a wasm stack costs
/// milliseconds per line (README, "Side by side"). A microtask's stack is one frame.
fn emit_later(level: Level, object: &JsValue) {
    CONSOLE.with(|c| {
        let log = match level {
            Level::Error => &c.error,
            Level::Warn => &c.warn,
            Level::Info => &c.log,
        };
        let queued: JsValue = js_sys::Promise::resolve(object).into();
        if c.then.call1(&queued, log).is_err() {
            // No microtask could be queued: the line goes out now, whatever it costs.
            let _ = log.call1(&c.console, object);
        }
    });
}

/// `console`'s three methods bound to it, and `Promise.prototype.then`, looked up once per
/// isolate.
struct Console {
    console: JsValue,
    log: js_sys::Function,
    warn: js_sys::Function,
    error: js_sys::Function,
    then: js_sys::Function,
}

thread_local! {
    static CONSOLE: Console = {
        let get = |target: &JsValue, name: &str| {
            js_sys::Reflect::get(target, &name.into()).unwrap_or(JsValue::UNDEFINED)
        };
        let console = get(&js_sys::global(), "console");
        let bound = |name: &str| js_sys::Function::from(get(&console, name)).bind0(&console);
        let promise: JsValue = js_sys::Promise::resolve(&JsValue::UNDEFINED).into();
        Console {
            log: bound("log"),
            warn: bound("warn"),
            error: bound("error"),
            then: get(&promise, "then").into(),
            console,
        }
    };
}

fn detail(detail: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("detail".into(), detail.into());
    m
}

/// An internal error with its context. The caller got a generic answer; this line is the detail.
pub fn error(event: &str, text: &str) {
    emit(Level::Error, event, detail(text));
}

/// Something worth knowing that is not an error.
pub fn info(event: &str, text: &str) {
    emit(Level::Info, event, detail(text));
}

/// Something worth knowing, with its figures as fields of the line.
pub fn info_fields(event: &str, fields: Value) {
    let fields = match fields {
        Value::Object(m) => m,
        other => detail(&other.to_string()),
    };
    emit(Level::Info, event, fields);
}

/// The log as the core's [`Log`](appconnect_core::ports::Log) port, for one request: workerd
/// interleaves requests (and their `waitUntil` work) on one thread, so each carries its own id
/// rather than trusting the thread's latest.
#[derive(Debug, Clone, Default)]
pub struct WorkerLog {
    pub request_id: Option<String>,
}

impl WorkerLog {
    fn line(&self, level: Level, event: &str, fields: Map<String, Value>) {
        emit_for(self.request_id.clone(), level, event, fields);
    }
}

impl appconnect_core::ports::Log for WorkerLog {
    fn error(&self, event: &str, text: &str) {
        self.line(Level::Error, event, detail(text));
    }

    fn info(&self, event: &str, text: &str) {
        self.line(Level::Info, event, detail(text));
    }

    fn warn(&self, event: &str, text: &str) {
        self.line(Level::Warn, event, detail(text));
    }

    fn record(&self, level: Level, event: &str, fields: &[(&str, &str)]) {
        // Inserted one by one: collecting into a map sorts first (its own code in the wasm).
        let mut map = Map::new();
        for (k, v) in fields.iter().filter(|(_, v)| !v.is_empty()) {
            map.insert((*k).to_owned(), Value::from(*v));
        }
        self.line(level, event, map);
    }
}
