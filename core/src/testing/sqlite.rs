//! The [`Database`] natively: SQLite (bundled, so every machine runs the same version) with the
//! schema built from the very `migrations/` files `wrangler d1 migrations apply` runs, executing
//! the very statements the worker sends to D1. D1 is SQLite, so the SQL means the same; what D1
//! adds is kept too: a batch is one transaction, every call is a round trip that lets other
//! tasks run (each call yields first), and a test can make any named statement fail.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::Connection;
use serde_json::Value;

use crate::ports::{Database, PortError, Row, SqlValue, Statement};

/// The repository's migrations folder.
pub const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");

pub struct SqliteDb {
    conn: Connection,
    /// Statement name → (calls still to pass, calls then to fail; `u32::MAX`: until healed).
    failing: RefCell<HashMap<String, (u32, u32)>>,
    /// Every statement name executed, in order (a batch adds each of its statements).
    pub executed: RefCell<Vec<&'static str>>,
    /// While recording ([`SqliteDb::record_plans`]): each statement's name and SQLite's query
    /// plan for it, with its parameters bound.
    plans: RefCell<Option<Vec<(&'static str, String)>>>,
    yields: Cell<bool>,
}

impl SqliteDb {
    /// A fresh in-memory database with every migration applied, recorded in `d1_migrations` as
    /// wrangler records them.
    pub fn migrated() -> SqliteDb {
        let conn = Connection::open_in_memory().expect("SQLite opens in memory");
        conn.execute_batch(
            "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, \
             applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
        )
        .expect("migration table");
        for (name, sql) in migrations() {
            conn.execute_batch(&sql)
                .unwrap_or_else(|e| panic!("migration {name}: {e}"));
            conn.execute("INSERT INTO d1_migrations (name) VALUES (?1)", [&name])
                .expect("record migration");
        }
        SqliteDb {
            conn,
            failing: RefCell::new(HashMap::new()),
            executed: RefCell::new(Vec::new()),
            plans: RefCell::new(None),
            yields: Cell::new(true),
        }
    }

    /// From now on, records each statement's query plan (see [`SqliteDb::plans`]).
    pub fn record_plans(&self) {
        *self.plans.borrow_mut() = Some(Vec::new());
    }

    /// The plans recorded so far: the statement's name and SQLite's `EXPLAIN QUERY PLAN`
    /// lines, joined by ` | `.
    pub fn plans(&self) -> Vec<(&'static str, String)> {
        self.plans.borrow().clone().unwrap_or_default()
    }

    fn record_plan(&self, s: &Statement) -> Result<(), PortError> {
        if self.plans.borrow().is_none() {
            return Ok(());
        }
        let err = |e: rusqlite::Error| PortError(format!("D1 {} plan: {e}", s.name));
        let mut explain = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", s.sql))
            .map_err(err)?;
        let params = rusqlite::params_from_iter(s.params.iter().map(sql));
        let mut rows = explain.query(params).map_err(err)?;
        let mut lines = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            lines.push(row.get::<_, String>(3).map_err(err)?);
        }
        if let Some(plans) = self.plans.borrow_mut().as_mut() {
            plans.push((s.name, lines.join(" | ")));
        }
        Ok(())
    }

    /// Makes the next `times` calls of the statement called `name` fail (a batch containing it
    /// fails whole, as a D1 batch does).
    pub fn fail(&self, name: &str, times: u32) {
        self.fail_after(name, 0, times);
    }

    /// Lets `pass` calls of `name` through, then fails the next `times` (a crash at the
    /// `pass + 1`-th time the statement runs).
    pub fn fail_after(&self, name: &str, pass: u32, times: u32) {
        self.failing
            .borrow_mut()
            .insert(name.to_owned(), (pass, times));
    }

    /// Makes every call of `name` fail until [`SqliteDb::heal`].
    pub fn fail_always(&self, name: &str) {
        self.fail(name, u32::MAX);
    }

    pub fn heal(&self) {
        self.failing.borrow_mut().clear();
    }

    /// Runs SQL directly, for a test to look at or set up state.
    pub fn raw(&self) -> &Connection {
        &self.conn
    }

    /// Rows of a query as JSON objects, for assertions.
    pub fn select(&self, sql: &str) -> Vec<Row> {
        let stmt = Statement {
            name: "test select",
            sql: sql.to_owned().into(),
            params: Vec::new(),
        };
        self.run_query(&stmt).expect("test select")
    }

    fn check(&self, name: &'static str) -> Result<(), PortError> {
        self.executed.borrow_mut().push(name);
        let mut failing = self.failing.borrow_mut();
        match failing.get_mut(name) {
            Some((pass, _)) if *pass > 0 => {
                *pass -= 1;
                Ok(())
            }
            Some((_, 0)) | None => Ok(()),
            Some((_, times)) => {
                if *times != u32::MAX {
                    *times -= 1;
                }
                Err(PortError(format!("D1 {name}: injected failure")))
            }
        }
    }

    async fn round_trip(&self) {
        if self.yields.get() {
            tokio::task::yield_now().await;
        }
    }

    fn run_query(&self, s: &Statement) -> Result<Vec<Row>, PortError> {
        self.record_plan(s)?;
        let err = |e: rusqlite::Error| PortError(format!("D1 {}: {e}", s.name));
        let mut prepared = self.conn.prepare(&s.sql).map_err(err)?;
        let names: Vec<String> = prepared
            .column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let params = rusqlite::params_from_iter(s.params.iter().map(sql));
        let mut rows = prepared.query(params).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut map = Row::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => return Err(PortError(format!("D1 {}: blob", s.name))),
                };
                map.insert(name.clone(), v);
            }
            out.push(map);
        }
        Ok(out)
    }

    fn run_execute(&self, s: &Statement) -> Result<u64, PortError> {
        self.record_plan(s)?;
        let params = rusqlite::params_from_iter(s.params.iter().map(sql));
        self.conn
            .execute(&s.sql, params)
            .map(|n| n as u64)
            .map_err(|e| PortError(format!("D1 {}: {e}", s.name)))
    }
}

fn sql(v: &SqlValue) -> Sql {
    match v {
        SqlValue::Null => Sql::Null,
        SqlValue::Integer(n) => Sql::Integer(*n),
        SqlValue::Text(t) => Sql::Text(t.clone()),
    }
}

/// The migration files in name order (`0001_….sql`, …), as wrangler applies them.
pub fn migrations() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(Path::new(MIGRATIONS))
        .expect("migrations/ is readable")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            name.ends_with(".sql").then(|| {
                (
                    name,
                    std::fs::read_to_string(&path).expect("migration text"),
                )
            })
        })
        .collect();
    files.sort();
    files
}

impl Database for SqliteDb {
    async fn query(&self, s: &Statement) -> Result<Vec<Row>, PortError> {
        self.round_trip().await;
        self.check(s.name)?;
        self.run_query(s)
    }

    async fn execute(&self, s: &Statement) -> Result<u64, PortError> {
        self.round_trip().await;
        self.check(s.name)?;
        self.run_execute(s)
    }

    async fn batch(&self, statements: &[Statement]) -> Result<(), PortError> {
        self.batch_query(statements).await.map(|_| ())
    }

    async fn batch_query(&self, statements: &[Statement]) -> Result<Vec<Vec<Row>>, PortError> {
        self.round_trip().await;
        for s in statements {
            self.check(s.name)?;
        }
        self.conn
            .execute_batch("BEGIN")
            .map_err(|e| PortError(format!("D1 batch: {e}")))?;
        let mut out = Vec::with_capacity(statements.len());
        for s in statements {
            match self.run_query(s) {
                Ok(rows) => out.push(rows),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| PortError(format!("D1 batch: {e}")))?;
        Ok(out)
    }
}
