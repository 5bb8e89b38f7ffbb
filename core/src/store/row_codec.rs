//! Hand-written column mapping for the widest rows (installations, events, jobs). A serde derive
//! on a 37-column struct compiles to a field matcher and visitor per format (about 60 KB of the
//! wasm for these three rows); reading and writing columns by name is a few bytes per column
//! and keeps the same rules: a missing or mistyped column makes the row undecodable, a missing
//! or null optional column is `None`, and columns the struct does not know are ignored.

use serde_json::Value;

use crate::ports::{PortError, Row};

/// A row that reads itself from its columns.
pub trait FromRow: Sized {
    fn from_row(cols: &mut Cols) -> Result<Self, String>;
}

/// A row that becomes its columns (the keys are the schema's column names).
pub trait IntoRow {
    fn into_row(self) -> Row;
}

/// Decodes a row into `T`, under the same rules (and the same error) as
/// [`decode`](super::rows::decode).
pub fn decode_row<T: FromRow>(what: &str, row: Row) -> Result<T, PortError> {
    T::from_row(&mut Cols(super::rows::normalized(row)))
        .map_err(|e| PortError(format!("{what}: a row does not decode: {e}")))
}

/// Parses the JSON text of a row (as [`to_json`] writes it) into `T`.
pub fn from_json<T: FromRow>(what: &str, text: &str) -> Result<T, PortError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(row)) => decode_row(what, row),
        Ok(_) => Err(PortError(format!("{what}: not a JSON object"))),
        Err(e) => Err(PortError(format!("{what}: {e}"))),
    }
}

/// A row as JSON text, its columns in name order.
pub fn to_json(row: impl IntoRow) -> String {
    Value::Object(row.into_row()).to_string()
}

/// A row's columns, each taken once by name.
pub struct Cols(pub(super) Row);

impl Cols {
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    pub fn text(&mut self, name: &str) -> Result<String, String> {
        match self.take(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("column `{name}` is not text")),
            None => Err(format!("missing column `{name}`")),
        }
    }

    pub fn opt_text(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name) {
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(format!("column `{name}` is not text")),
        }
    }

    pub fn int(&mut self, name: &str) -> Result<i64, String> {
        match self.take(name) {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("column `{name}` is not an integer")),
            Some(_) => Err(format!("column `{name}` is not an integer")),
            None => Err(format!("missing column `{name}`")),
        }
    }

    pub fn uint(&mut self, name: &str) -> Result<u64, String> {
        match self.take(name) {
            None => Err(format!("missing column `{name}`")),
            Some(Value::Null) => Err(format!("column `{name}` is null")),
            some => Cols::count(name, some).map(Option::unwrap_or_default),
        }
    }

    pub fn opt_uint(&mut self, name: &str) -> Result<Option<u64>, String> {
        Cols::count(name, self.take(name))
    }

    fn count(name: &str, value: Option<Value>) -> Result<Option<u64>, String> {
        match value {
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("column `{name}` is not a count")),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(format!("column `{name}` is not a count")),
        }
    }

    /// A page number (a count that fits 32 bits).
    pub fn page(&mut self, name: &str) -> Result<u32, String> {
        u32::try_from(self.uint(name)?).map_err(|_| format!("column `{name}` is not a page number"))
    }

    /// A count whose column may be absent (an older row), read as 0 then.
    pub fn uint_or_zero(&mut self, name: &str) -> Result<u64, String> {
        if self.0.contains_key(name) {
            self.uint(name)
        } else {
            Ok(0)
        }
    }
}

/// Builds a row column by column.
#[derive(Default)]
pub struct Columns(Row);

impl Columns {
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    pub fn done(self) -> Row {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stamped {
        at: u64,
        n: i64,
        note: Option<String>,
        version: u64,
    }

    impl FromRow for Stamped {
        fn from_row(c: &mut Cols) -> Result<Self, String> {
            Ok(Stamped {
                at: c.uint("at")?,
                n: c.int("n")?,
                note: c.opt_text("note")?,
                version: c.uint_or_zero("version")?,
            })
        }
    }

    fn row(pairs: &[(&str, Value)]) -> Row {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn refusal(r: Row) -> String {
        match decode_row::<Stamped>("stamped", r) {
            Ok(_) => panic!("decoded"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn integral_javascript_floats_decode_and_absent_optional_columns_are_none() {
        let s: Stamped = decode_row(
            "stamped",
            row(&[("at", 1.7e12.into()), ("n", (-3.0).into())]),
        )
        .unwrap();
        assert_eq!(
            (s.at, s.n, s.note, s.version),
            (1_700_000_000_000, -3, None, 0)
        );
    }

    #[test]
    fn a_missing_required_column_names_itself() {
        assert_eq!(
            refusal(row(&[("n", 1.into())])),
            "stamped: a row does not decode: missing column `at`"
        );
    }

    #[test]
    fn a_mistyped_column_makes_the_row_undecodable() {
        for bad in [
            row(&[("at", "1".into()), ("n", 1.into())]),
            row(&[("at", (-1).into()), ("n", 1.into())]),
            row(&[("at", 1.5.into()), ("n", 1.into())]),
            row(&[("at", 1.into()), ("n", 1.into()), ("note", 2.into())]),
            row(&[("at", 1.into()), ("n", 1.into()), ("version", Value::Null)]),
            row(&[("at", 1.0e16.into()), ("n", 1.into())]),
        ] {
            assert!(refusal(bad).starts_with("stamped: a row does not decode: column"));
        }
    }

    #[test]
    fn a_row_survives_its_json_text() {
        let text = to_json(Probe);
        let s: Stamped = from_json("stamped", &text).unwrap();
        assert_eq!(
            (s.at, s.n, s.note.as_deref(), s.version),
            (7, -2, Some("x"), 3)
        );
        assert!(from_json::<Stamped>("stamped", "[1]").is_err());
    }

    struct Probe;

    impl IntoRow for Probe {
        fn into_row(self) -> Row {
            Columns::default()
                .with("at", 7u64)
                .with("n", -2i64)
                .with("note", Some("x"))
                .with("version", 3u64)
                .done()
        }
    }
}
