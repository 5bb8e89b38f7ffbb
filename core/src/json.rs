//! Strict reading of JSON objects field by field, for the configuration shapes the worker parses
//! (the integration configuration and its REST connector). A serde derive compiles to a field
//! matcher and a visitor per type and per deserializer, several KB of the wasm each; reading a
//! parsed [`Value`] by name costs a call per field and keeps serde's rules for a
//! `deny_unknown_fields` struct:
//!
//! - a key the shape does not name refuses the object;
//! - a missing required field, or one of the wrong type, refuses it;
//! - a missing or `null` optional field is `None`; a missing optional list is empty.
//!
//! Every problem is named with the path of its field (`actions[0].inputs[1].type`). The first
//! one is kept and the read is refused once, at [`Reader::finish`]: no early return (and its
//! clean-up code) after every field.

use serde_json::{Map, Value};

/// Parses JSON text. Every text the worker parses goes through the one byte-slice parser
/// (`from_slice`), so the wasm carries one copy of `serde_json`'s parser, not one per input type
/// (`from_str` is a second, about 10 KB).
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(text.as_bytes())
}

/// Parses JSON `bytes` and reads the object in them with `read`: its keys each one of `known`,
/// or any keys with `None` (an answer from a server). The syntax error, or the first problem
/// `read` met, is the error.
pub fn read_bytes<T>(
    bytes: &[u8],
    known: Option<&[&str]>,
    read: impl FnOnce(&mut Reader, &Object) -> T,
) -> Result<T, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut r = Reader::new();
    let o = r.object_with(&v, "", known);
    let t = read(&mut r, &o);
    r.finish(t)
}

/// `s` as a JSON string literal in plain ASCII, for quoting untrusted text in a message
/// (`"evil.com"`): printable ASCII as it is, `"` and `\` escaped, and every other character
/// (controls, DEL, and all of Unicode beyond ASCII, so direction overrides and zero-width
/// characters too) as `\uXXXX`. For printable ASCII this reads as `{:?}` does; `{:?}` decides
/// what else to escape with Unicode's tables (about 13 KB of the wasm's gzip), and this escapes
/// it all instead. It parses back as JSON to the text it quotes.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// Texts as `["a", "b"]`, each [`quoted`].
pub fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| quoted(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// A read in progress and the first problem met.
#[derive(Default)]
pub struct Reader {
    problem: Option<String>,
}

/// One object being read, and where it sits in the document. An object that was missing or not
/// an object reads as empty (its problem is already recorded).
pub struct Object<'v> {
    map: Option<&'v Map<String, Value>>,
    path: String,
}

impl<'v> Object<'v> {
    /// The field `key` as it is, if present and not `null`.
    fn present(&self, key: &str) -> Option<&'v Value> {
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }
}

/// `path.key`, or `key` at the top.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Reader {
    pub fn new() -> Self {
        Reader::default()
    }

    /// Records a problem (only the first counts) and reads as the type's default.
    #[inline(never)]
    pub fn fail<T: Default>(&mut self, path: &str, why: &str) -> T {
        if self.problem.is_none() {
            self.problem = Some(if path.is_empty() {
                why.to_owned()
            } else {
                format!("{path}: {why}")
            });
        }
        T::default()
    }

    /// `value` as an object each of whose keys is one of `known`.
    pub fn object<'v>(&mut self, value: &'v Value, path: &str, known: &[&str]) -> Object<'v> {
        self.object_with(value, path, Some(known))
    }

    fn object_with<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        known: Option<&[&str]>,
    ) -> Object<'v> {
        let map = match value {
            Value::Object(map) => Some(map),
            _ => self.fail(path, "must be a JSON object"),
        };
        let unknown = known.and_then(|known| {
            let mut keys = map.into_iter().flat_map(|m| m.keys());
            keys.find(|k| !known.contains(&k.as_str()))
                .map(|k| (k, known))
        });
        if let Some((unknown, known)) = unknown {
            let expected = known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.fail::<()>(
                path,
                &format!("unknown field `{unknown}`, expected one of {expected}"),
            );
        }
        Object {
            map,
            path: path.to_owned(),
        }
    }

    /// `value` as an object whose keys are not checked: an answer from a server, where fields
    /// we do not read may come and go (serde's rule for a struct without
    /// `deny_unknown_fields`).
    pub fn open<'v>(&mut self, value: &'v Value, path: &str) -> Object<'v> {
        self.object_with(value, path, None)
    }

    /// The required field `key`: recorded as missing when absent or `null`.
    fn required<'v>(&mut self, o: &Object<'v>, key: &str) -> Option<&'v Value> {
        let v = o.present(key);
        if v.is_none() && o.map.is_some() {
            self.fail::<()>(&o.path, &format!("missing field `{key}`"));
        }
        v
    }

    /// A required nested object each of whose keys is one of `known`.
    pub fn child<'v>(&mut self, o: &Object<'v>, key: &str, known: &[&str]) -> Object<'v> {
        let path = join(&o.path, key);
        match self.required(o, key) {
            Some(v) => self.object(v, &path, known),
            None => Object { map: None, path },
        }
    }

    /// An optional nested value, handed to `read` when present and not `null`.
    pub fn opt_with<'v, T>(
        &mut self,
        o: &Object<'v>,
        key: &str,
        read: impl FnOnce(&mut Reader, &'v Value, &str) -> T,
    ) -> Option<T> {
        let v = o.present(key)?;
        Some(read(self, v, &join(&o.path, key)))
    }

    pub fn text(&mut self, o: &Object, key: &str) -> String {
        match self.required(o, key) {
            Some(v) => self.as_text(v, &join(&o.path, key)),
            None => String::new(),
        }
    }

    pub fn opt_text(&mut self, o: &Object, key: &str) -> Option<String> {
        self.opt_with(o, key, |r, v, path| r.as_text(v, path))
    }

    pub fn as_text(&mut self, v: &Value, path: &str) -> String {
        match v {
            Value::String(s) => s.clone(),
            _ => self.fail(path, "must be a string"),
        }
    }

    pub fn flag(&mut self, o: &Object, key: &str) -> bool {
        match self.required(o, key) {
            Some(Value::Bool(b)) => *b,
            Some(_) => self.fail(&join(&o.path, key), "must be true or false"),
            None => false,
        }
    }

    /// A required whole number from 0 to `max`.
    pub fn number(&mut self, o: &Object, key: &str, max: u64) -> u64 {
        match self.required(o, key) {
            Some(v) => self.as_number(v, &join(&o.path, key), max),
            None => 0,
        }
    }

    pub fn opt_number(&mut self, o: &Object, key: &str, max: u64) -> Option<u64> {
        self.opt_with(o, key, |r, v, path| r.as_number(v, path, max))
    }

    fn as_number(&mut self, v: &Value, path: &str, max: u64) -> u64 {
        match v.as_u64() {
            Some(n) if n <= max => n,
            _ => self.fail(path, &format!("must be a whole number from 0 to {max}")),
        }
    }

    /// A required array, each item read by `item` with its path (`key[i]`).
    pub fn list<'v, T>(
        &mut self,
        o: &Object<'v>,
        key: &str,
        item: impl FnMut(&mut Reader, &'v Value, &str) -> T,
    ) -> Vec<T> {
        match self.required(o, key) {
            Some(v) => self.as_list(v, &join(&o.path, key), item),
            None => Vec::new(),
        }
    }

    /// An optional array: missing reads as empty (but `null` is not an array).
    pub fn opt_list<'v, T>(
        &mut self,
        o: &Object<'v>,
        key: &str,
        item: impl FnMut(&mut Reader, &'v Value, &str) -> T,
    ) -> Vec<T> {
        match o.map.and_then(|m| m.get(key)) {
            Some(v) => self.as_list(v, &join(&o.path, key), item),
            None => Vec::new(),
        }
    }

    fn as_list<'v, T>(
        &mut self,
        v: &'v Value,
        path: &str,
        mut item: impl FnMut(&mut Reader, &'v Value, &str) -> T,
    ) -> Vec<T> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| item(self, v, &format!("{path}[{i}]")))
                .collect(),
            _ => self.fail(path, "must be an array"),
        }
    }

    /// The value read, or the first problem met on the way.
    pub fn finish<T>(self, value: T) -> Result<T, String> {
        match self.problem {
            None => Ok(value),
            Some(problem) => Err(problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq)]
    struct Shape {
        name: String,
        note: Option<String>,
        on: bool,
        size: u64,
        tags: Vec<String>,
        extra: Vec<String>,
    }

    fn read(v: Value) -> Result<Shape, String> {
        let mut r = Reader::new();
        let known = ["name", "note", "on", "size", "tags", "extra"];
        let o = r.object(&v, "", &known);
        let shape = Shape {
            name: r.text(&o, "name"),
            note: r.opt_text(&o, "note"),
            on: r.flag(&o, "on"),
            size: r.number(&o, "size", 1000),
            tags: r.list(&o, "tags", |r, v, path| r.as_text(v, path)),
            extra: r.opt_list(&o, "extra", |r, v, path| r.as_text(v, path)),
        };
        r.finish(shape)
    }

    fn good() -> Value {
        json!({"name": "a", "on": true, "size": 7, "tags": ["x", "y"]})
    }

    fn with(key: &str, value: Value) -> Result<Shape, String> {
        let mut v = good();
        v[key] = value;
        read(v)
    }

    #[test]
    fn a_complete_object_reads_with_optional_fields_left_out() {
        let s = read(good()).unwrap();
        assert_eq!(s.name, "a");
        assert_eq!(s.note, None);
        assert!(s.on);
        assert_eq!(s.size, 7);
        assert_eq!(s.tags, ["x", "y"]);
        assert!(s.extra.is_empty());
        assert_eq!(with("note", Value::Null).unwrap().note, None);
        assert_eq!(with("note", json!("n")).unwrap().note.as_deref(), Some("n"));
    }

    #[test]
    fn an_unknown_key_refuses_the_object_and_names_the_key() {
        let err = with("surprise", json!(1)).unwrap_err();
        assert!(err.starts_with("unknown field `surprise`"), "{err}");
        assert!(err.contains("`name`"), "{err}");
    }

    #[test]
    fn a_missing_or_null_required_field_is_named() {
        let mut v = good();
        v.as_object_mut().unwrap().remove("size");
        assert_eq!(read(v).unwrap_err(), "missing field `size`");
        assert_eq!(
            with("name", Value::Null).unwrap_err(),
            "missing field `name`"
        );
    }

    #[test]
    fn a_mistyped_field_is_named_with_its_path() {
        assert_eq!(
            with("name", json!(5)).unwrap_err(),
            "name: must be a string"
        );
        assert_eq!(
            with("note", json!(5)).unwrap_err(),
            "note: must be a string"
        );
        assert_eq!(
            with("on", json!("yes")).unwrap_err(),
            "on: must be true or false"
        );
        assert_eq!(
            with("tags", json!(["x", 2])).unwrap_err(),
            "tags[1]: must be a string"
        );
        assert_eq!(
            with("extra", Value::Null).unwrap_err(),
            "extra: must be an array"
        );
        assert!(with("size", json!(1001)).is_err());
        assert!(with("size", json!(-1)).is_err());
        assert!(with("size", json!(1.5)).is_err());
        assert_eq!(read(json!([1])).unwrap_err(), "must be a JSON object");
    }

    #[test]
    fn an_open_object_ignores_keys_it_does_not_read_but_not_a_wrong_type() {
        let v = json!({"name": "a", "later": [1]});
        let mut r = Reader::new();
        let o = r.open(&v, "");
        assert_eq!(r.text(&o, "name"), "a");
        assert_eq!(r.opt_text(&o, "missing"), None);
        assert!(r.finish(()).is_ok());
        let mut r = Reader::new();
        let _ = r.open(&json!("text"), "");
        assert_eq!(r.finish(()).unwrap_err(), "must be a JSON object");
    }

    #[test]
    fn quoted_text_is_plain_ascii_with_everything_else_escaped_and_reads_back_as_json() {
        assert_eq!(quoted("evil.com"), "\"evil.com\"");
        assert_eq!(quoted("a \"b\" \\ ~"), format!("{:?}", "a \"b\" \\ ~"));
        let hostile = "a\"b\\c\nd\u{1b}[31m\u{7f}\u{85}\u{202e}\u{200b}ü\u{1f600}";
        let q = quoted(hostile);
        assert!(q.bytes().all(|b| (b' '..=b'~').contains(&b)), "{q}");
        assert!(q.contains("\\u202e") && q.contains("\\ud83d\\ude00"), "{q}");
        assert_eq!(serde_json::from_str::<String>(&q).unwrap(), hostile);
        assert_eq!(quoted_list(&["x", "y"]), "[\"x\", \"y\"]");
    }

    #[test]
    fn the_first_problem_is_the_one_reported() {
        let mut v = good();
        v["name"] = json!(1);
        v["on"] = json!(1);
        assert_eq!(read(v).unwrap_err(), "name: must be a string");
    }

    #[test]
    fn nested_objects_carry_their_path() {
        let v = json!({"inner": {"deep": {"x": 1}}});
        let mut r = Reader::new();
        let o = r.object(&v, "", &["inner"]);
        let inner = r.child(&o, "inner", &["deep"]);
        let deep = r.child(&inner, "deep", &["x"]);
        let _ = r.text(&deep, "x");
        assert_eq!(r.finish(()).unwrap_err(), "inner.deep.x: must be a string");
        let mut r = Reader::new();
        let empty = json!({});
        let o = r.object(&empty, "", &["inner"]);
        let _ = r.child(&o, "inner", &[]);
        assert_eq!(r.finish(()).unwrap_err(), "missing field `inner`");
    }
}
