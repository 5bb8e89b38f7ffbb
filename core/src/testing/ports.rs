//! The lifecycle's ports natively: SQLite from `migrations/`, in-memory KV, real HTTP to the
//! simulator on loopback, OpenSSL signing, a clock the test can move, and a log it can read.

use std::cell::{Cell, RefCell};

use super::sqlite::SqliteDb;
use super::{FakeCache, OpenSslSigner, ReqwestHttp};
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log};

/// Real time plus an offset the test can move forward (the simulator checks assertion times
/// against real time, so the clock cannot be fully fake).
#[derive(Default)]
pub struct MovableClock {
    offset_ms: Cell<u64>,
}

impl MovableClock {
    pub fn advance(&self, ms: u64) {
        self.offset_ms.set(self.offset_ms.get() + ms);
    }
}

impl Clock for MovableClock {
    fn now_ms(&self) -> u64 {
        super::SystemClock.now_ms() + self.offset_ms.get()
    }
    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// The log lines written, as `(level, event, detail)`.
#[derive(Default)]
pub struct TestLog {
    pub lines: RefCell<Vec<(&'static str, String, String)>>,
}

impl TestLog {
    /// Everything logged, as one text (for "no secret in the log" checks).
    pub fn text(&self) -> String {
        self.lines
            .borrow()
            .iter()
            .map(|(l, e, d)| format!("{l} {e} {d}\n"))
            .collect()
    }
}

impl Log for TestLog {
    fn error(&self, event: &str, detail: &str) {
        self.lines
            .borrow_mut()
            .push(("error", event.to_owned(), detail.to_owned()));
    }
    fn info(&self, event: &str, detail: &str) {
        self.lines
            .borrow_mut()
            .push(("info", event.to_owned(), detail.to_owned()));
    }
    fn warn(&self, event: &str, detail: &str) {
        self.lines
            .borrow_mut()
            .push(("warn", event.to_owned(), detail.to_owned()));
    }
}

/// Every port, native.
pub struct TestPorts {
    pub db: SqliteDb,
    pub cache: FakeCache,
    pub http: ReqwestHttp,
    pub clock: MovableClock,
    pub signer: OpenSslSigner,
    pub log: TestLog,
    /// The partner's hooks (none unless a test picks the example).
    pub hooks: crate::partner::PartnerHooks,
    /// As in the worker, the intake leases the first job for the run after its answer; off
    /// unless a test turns it on (most tests run jobs when they choose, or not at all).
    pub handoff: Option<crate::lifecycle::outbox::Handoff>,
}

impl Default for TestPorts {
    fn default() -> Self {
        TestPorts {
            db: SqliteDb::migrated(),
            cache: FakeCache::default(),
            http: ReqwestHttp(reqwest::Client::new()),
            clock: MovableClock::default(),
            signer: OpenSslSigner,
            log: TestLog::default(),
            hooks: crate::partner::PartnerHooks::None,
            handoff: None,
        }
    }
}

impl Ports for TestPorts {
    type Db = SqliteDb;
    type Cache = FakeCache;
    type Http = ReqwestHttp;
    type Clock = MovableClock;
    type Signer = OpenSslSigner;
    type Log = TestLog;
    type Hooks = crate::partner::PartnerHooks;

    fn db(&self) -> &SqliteDb {
        &self.db
    }
    fn cache(&self) -> &FakeCache {
        &self.cache
    }
    fn http(&self) -> &ReqwestHttp {
        &self.http
    }
    fn clock(&self) -> &MovableClock {
        &self.clock
    }
    fn signer(&self) -> &OpenSslSigner {
        &self.signer
    }
    fn log(&self) -> &TestLog {
        &self.log
    }
    fn hooks(&self) -> &crate::partner::PartnerHooks {
        &self.hooks
    }
    fn handoff(&self) -> Option<&crate::lifecycle::outbox::Handoff> {
        self.handoff.as_ref()
    }
}
