//! Hand-written column mapping for the rows the store reads. A serde derive compiles to a field
//! matcher and visitor per type (about 60 KB of the wasm for the installation, event and job
//! rows alone); reading and writing columns by name is a few bytes per column and keeps the
//! same rules: a missing or mistyped column makes the row undecodable, a missing
//! or null optional column is `None`, and columns the struct does not know are ignored.

use serde_json::Value;

use crate::ports::{PortError, Row};

/// A row that reads itself from its columns. A column that is missing or mistyped reads as a
/// default and is recorded in `cols`, whose first such problem refuses the row: one check at
/// the end instead of an early return (and its clean-up code) after every column.
pub trait FromRow: Sized {
    fn from_row(cols: &mut Cols) -> Self;
}

/// A row that becomes its columns (the keys are the schema's column names).
pub trait IntoRow {
    fn into_row(self) -> Row;
}

/// Decodes a row into `T`, under the same rules (and the same error) as
/// [`decode`](super::rows::decode).
pub fn decode_row<T: FromRow>(what: &str, row: Row) -> Result<T, PortError> {
    let mut cols = Cols {
        row: super::rows::normalized(row),
        problem: None,
    };
    let decoded = T::from_row(&mut cols);
    match cols.problem {
        None => Ok(decoded),
        Some(e) => Err(PortError(format!("{what}: a row does not decode: {e}"))),
    }
}

/// Decodes every row a statement returned. Plain functions, not async (no future per type),
/// and inlined as the loops they replaced were (0.6 KB of the wasm otherwise). A loop, not
/// `collect::<Result<…>>()`, whose adapter is code of its own per row type.
#[inline]
pub fn decode_all<T: FromRow>(what: &str, rows: Vec<Row>) -> Result<Vec<T>, PortError> {
    let mut decoded = Vec::with_capacity(rows.len());
    for row in rows {
        decoded.push(decode_row(what, row)?);
    }
    Ok(decoded)
}

/// Decodes the first row a statement returned, if any.
#[inline]
pub fn decode_first<T: FromRow>(what: &str, rows: Vec<Row>) -> Result<Option<T>, PortError> {
    rows.into_iter()
        .next()
        .map(|row| decode_row(what, row))
        .transpose()
}

/// Parses the JSON text of a row (as [`to_json`] writes it) into `T`.
pub fn from_json<T: FromRow>(what: &str, text: &str) -> Result<T, PortError> {
    match crate::json::parse(text) {
        Ok(Value::Object(row)) => decode_row(what, row),
        Ok(_) => Err(PortError(format!("{what}: not a JSON object"))),
        Err(e) => Err(PortError(format!("{what}: {e}"))),
    }
}

/// A row as JSON text, its columns in name order.
pub fn to_json(row: impl IntoRow) -> String {
    Value::Object(row.into_row()).to_string()
}

/// A row's columns, each taken once by name, and the first problem met.
pub struct Cols {
    row: Row,
    problem: Option<String>,
}

impl Cols {
    #[inline(never)]
    fn fail<T: Default>(&mut self, name: &str, why: &str) -> T {
        if self.problem.is_none() {
            self.problem = Some(format!("column `{name}` {why}"));
        }
        T::default()
    }

    #[inline(never)]
    pub fn text(&mut self, name: &str) -> String {
        match self.row.remove(name) {
            Some(Value::String(s)) => s,
            Some(_) => self.fail(name, "is not text"),
            None => self.fail(name, "is missing"),
        }
    }

    #[inline(never)]
    pub fn opt_text(&mut self, name: &str) -> Option<String> {
        match self.row.remove(name) {
            Some(Value::String(s)) => Some(s),
            None | Some(Value::Null) => None,
            Some(_) => self.fail(name, "is not text"),
        }
    }

    #[inline(never)]
    pub fn int(&mut self, name: &str) -> i64 {
        match self.row.remove(name) {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => i,
                None => self.fail(name, "is not an integer"),
            },
            Some(_) => self.fail(name, "is not an integer"),
            None => self.fail(name, "is missing"),
        }
    }

    #[inline(never)]
    pub fn uint(&mut self, name: &str) -> u64 {
        match self.row.get(name) {
            None => self.fail(name, "is missing"),
            Some(Value::Null) => self.fail(name, "is null"),
            Some(_) => self.opt_uint(name).unwrap_or_default(),
        }
    }

    #[inline(never)]
    pub fn opt_uint(&mut self, name: &str) -> Option<u64> {
        match self.row.remove(name) {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(u) => Some(u),
                None => self.fail(name, "is not a count"),
            },
            None | Some(Value::Null) => None,
            Some(_) => self.fail(name, "is not a count"),
        }
    }

    /// A page number (a count that fits 32 bits).
    pub fn page(&mut self, name: &str) -> u32 {
        match u32::try_from(self.uint(name)) {
            Ok(page) => page,
            Err(_) => self.fail(name, "is not a page number"),
        }
    }

    /// A count whose column may be absent (an older row), read as 0 then.
    pub fn uint_or_zero(&mut self, name: &str) -> u64 {
        if self.row.contains_key(name) {
            self.uint(name)
        } else {
            0
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
        fn from_row(c: &mut Cols) -> Self {
            Stamped {
                at: c.uint("at"),
                n: c.int("n"),
                note: c.opt_text("note"),
                version: c.uint_or_zero("version"),
            }
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
            "stamped: a row does not decode: column `at` is missing"
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
