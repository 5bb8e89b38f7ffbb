//! JavaScript values at the boundary: a binding by name, a promise awaited, a thrown value as
//! text, and D1's plain answers as JSON values. D1 and KV are called through these directly,
//! not through the `worker` crate's wrappers, which convert every answer and option with
//! `serde_wasm_bindgen` (its serde code and its number formatting were about 10 KB of the
//! wasm's gzip, README "Figures").

use js_sys::{Array, Object, Promise};
use serde_json::{Map, Number, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

/// The environment's property `name` (a binding, a var or a secret), if it has one.
pub fn property(env: &Env, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()
}

/// The binding `name` of the environment, if it is an object.
pub fn binding(env: &Env, name: &str) -> Result<JsValue, String> {
    property(env, name)
        .filter(JsValue::is_object)
        .ok_or_else(|| format!("binding `{name}` is missing"))
}

/// Awaits a promise a runtime call returned (or the call's own throw).
pub async fn settled(call: Result<Promise, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(call?).await
}

/// A thrown JavaScript value as text: an `Error`'s message, or the value itself.
pub fn error_text(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => e.as_string().unwrap_or_else(|| format!("{e:?}")),
    }
}

/// [`error_text`], with the `Error`'s cause when it adds to the message: D1 and KV put the
/// storage's own words there. Not for `fetch`, whose cause could name the URL with its query.
pub fn storage_error_text(e: &JsValue) -> String {
    let mut text = error_text(e);
    let cause = e.dyn_ref::<js_sys::Error>().map(|error| error.cause());
    if let Some(cause) = cause.as_ref().and_then(|c| c.dyn_ref::<js_sys::Error>()) {
        let cause = String::from(cause.message());
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// A value D1 answers with (plain objects, arrays, strings, numbers, booleans, null) as JSON.
/// A whole number within JavaScript's safe range is an integer, as the store's rows expect;
/// any other number is a float, and one JSON cannot hold (NaN, infinities) is null.
pub fn to_json(v: &JsValue) -> Value {
    if let Some(s) = v.as_string() {
        Value::String(s)
    } else if let Some(n) = v.as_f64() {
        const SAFE: f64 = 9_007_199_254_740_991.0; // 2^53 - 1
        if n.fract() == 0.0 && n.abs() <= SAFE {
            Value::from(n as i64)
        } else {
            Number::from_f64(n).map_or(Value::Null, Value::Number)
        }
    } else if let Some(b) = v.as_bool() {
        Value::Bool(b)
    } else if let Some(items) = v.dyn_ref::<Array>() {
        Value::Array(items.iter().map(|item| to_json(&item)).collect())
    } else if v.is_object() {
        Value::Object(entries(v.unchecked_ref::<Object>()))
    } else {
        Value::Null
    }
}

/// An object's own enumerable properties as a JSON object. Inserted one by one: collecting
/// into a map sorts first, which is code of its own in the wasm.
pub fn entries(o: &Object) -> Map<String, Value> {
    let mut map = Map::new();
    for pair in Object::entries(o).iter() {
        let pair = pair.unchecked_into::<Array>();
        if let Some(key) = pair.get(0).as_string() {
            map.insert(key, to_json(&pair.get(1)));
        }
    }
    map
}
