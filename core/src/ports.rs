//! The real I/O seams, one small trait each. The core is generic over these; the worker crate's
//! `platform` holds the Workers implementations, and the `testing` module holds natively runnable
//! ones (SQLite built from `migrations/`, in-memory KV that keeps KV's limits, a test signer).
//! Plain `async fn`, no `Send` bounds: Worker values are single-threaded.
#![allow(async_fn_in_trait)]

use crate::crypto::keys::PrivateKey;
use crate::talkdesk::http::{HttpRequest, HttpResponse};

/// A storage or network failure. The text is for the log only, never for a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError(pub String);

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Time, injected: the core never reads the clock itself.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
    async fn sleep_ms(&self, ms: u64);
}

/// KV: the fast, eventually consistent cache. Values expire after `ttl_secs`, which KV requires
/// to be at least [`KV_MIN_TTL_SECS`].
pub trait Cache {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError>;
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Up to `limit` key names starting with `prefix` (KV's list is eventually consistent).
    async fn list(&self, prefix: &str, limit: u32) -> Result<Vec<String>, PortError>;
}

/// KV refuses TTLs below a minute.
pub const KV_MIN_TTL_SECS: u64 = 60;

/// A token row in D1: strongly consistent, so it serialises minting across isolates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub sealed: String,
    pub expires_at: u64,
}

/// D1's access-token table: one row per installation and scope set, holding the current sealed
/// token and a lease that lets exactly one isolate mint the next one.
pub trait TokenStore {
    /// The stored token, if any (expired or not).
    async fn read(&self, key: &str) -> Result<Option<StoredToken>, PortError>;
    /// Takes the lease for `holder` until `until_ms` if no one holds an unexpired lease.
    /// True when `holder` holds it afterwards.
    async fn try_lease(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<bool, PortError>;
    /// Stores a fresh token and releases `holder`'s lease.
    async fn store(&self, key: &str, holder: &str, token: &StoredToken) -> Result<(), PortError>;
    /// Gives the lease up (minting failed).
    async fn release(&self, key: &str, holder: &str) -> Result<(), PortError>;
    /// Forgets every token of an installation (uninstall, rotation).
    async fn forget_installation(&self, installation_id: &str) -> Result<(), PortError>;
}

/// Outbound HTTP to Talkdesk. Only moves bytes: requests are built and answers parsed in
/// `talkdesk`. `Err` means no answer at all (connection error, timeout).
pub trait TalkdeskHttp {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PortError>;
}

/// Signs JWS input with an installation's key: WebCrypto in the runtime (`platform::webcrypto`).
/// ECDSA signatures are in JOSE form (r‖s); PS is RSASSA-PSS with MGF1 and salt = hash length.
pub trait Signer {
    async fn sign(&self, key: &PrivateKey, input: &[u8]) -> Result<Vec<u8>, PortError>;
}

/// A value bound to a statement's `?N` placeholder. D1 and SQLite take the same three kinds for
/// everything we store (times and counts are integers below 2^53, so D1's JS numbers hold them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<u64> for SqlValue {
    fn from(v: u64) -> Self {
        SqlValue::Integer(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One SQL statement with its bound values, named so logs and tests can tell statements apart
/// (a test can make the statement called `save job` fail). Built in the `store` module; a
/// [`Database`] only executes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub name: &'static str,
    pub sql: std::borrow::Cow<'static, str>,
    pub params: Vec<SqlValue>,
}

impl Statement {
    pub fn new(name: &'static str, sql: &'static str, params: Vec<SqlValue>) -> Statement {
        Statement {
            name,
            sql: sql.into(),
            params,
        }
    }
}

/// One result row: column name to value (integers as JSON integers, text as strings).
pub type Row = serde_json::Map<String, serde_json::Value>;

/// D1 (SQLite at the edge). Every statement the core runs goes through these three calls.
pub trait Database {
    /// Runs one statement and returns its rows (none for a write without `RETURNING`).
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, PortError>;
    /// Runs one write and returns how many rows it changed.
    async fn execute(&self, statement: &Statement) -> Result<u64, PortError>;
    /// Runs the statements as one transaction: all of them, or none (a D1 batch).
    async fn batch(&self, statements: &[Statement]) -> Result<(), PortError>;
    /// A batch whose statements' rows are wanted (reads, writes with `RETURNING`): one
    /// transaction and one round trip, each statement's rows in order.
    async fn batch_query(&self, statements: &[Statement]) -> Result<Vec<Vec<Row>>, PortError>;
}

/// The log: one structured line per call, which Workers Logs indexes. Callers pass what happened
/// and its context, never a secret (secret types print `[redacted]`).
pub trait Log {
    /// An internal error; the caller got a generic answer and this line is the detail.
    fn error(&self, event: &str, detail: &str);
    /// Something worth knowing that is not an error.
    fn info(&self, event: &str, detail: &str);
    /// Something a person should act on soon (a deadline approaching).
    fn warn(&self, event: &str, detail: &str) {
        self.info(event, detail);
    }
    /// One line with named fields (ids, states, figures; never a secret), which Workers Logs
    /// indexes one by one. By default the fields become the detail text.
    fn record(&self, level: Level, event: &str, fields: &[(&str, &str)]) {
        let detail = fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        match level {
            Level::Error => self.error(event, &detail),
            Level::Warn => self.warn(event, &detail),
            Level::Info => self.info(event, &detail),
        }
    }
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}
