//! In-memory fakes of the ports, for native tests. Each keeps the real platform's limits (KV's
//! minimum TTL, D1's single-writer consistency) and can be told to fail.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::ports::{
    Cache, Clock, PortError, StoredToken, TalkdeskHttp, TokenStore, KV_MIN_TTL_SECS,
};
use crate::talkdesk::http::{HttpRequest, HttpResponse};

/// A clock on tokio's (pausable) time, starting at a fixed epoch.
pub struct TestClock {
    start: tokio::time::Instant,
    epoch_ms: u64,
}

impl TestClock {
    pub fn new(epoch_ms: u64) -> Self {
        TestClock {
            start: tokio::time::Instant::now(),
            epoch_ms,
        }
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.epoch_ms + self.start.elapsed().as_millis() as u64
    }
    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// KV: values with expiry; refuses TTLs under a minute, as KV does.
#[derive(Default)]
pub struct FakeCache {
    pub values: RefCell<HashMap<String, (String, u64)>>,
    pub fail: Cell<bool>,
    pub refused_ttls: RefCell<Vec<u64>>,
}

impl Cache for FakeCache {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        if self.fail.get() {
            return Err(PortError("kv unavailable".into()));
        }
        Ok(self.values.borrow().get(key).map(|(v, _)| v.clone()))
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), PortError> {
        if ttl_secs < KV_MIN_TTL_SECS {
            self.refused_ttls.borrow_mut().push(ttl_secs);
            return Err(PortError(format!("KV refuses ttl {ttl_secs} < 60")));
        }
        if self.fail.get() {
            return Err(PortError("kv unavailable".into()));
        }
        self.values
            .borrow_mut()
            .insert(key.into(), (value.into(), ttl_secs));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.values.borrow_mut().remove(key);
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct TokenRow {
    pub token: Option<StoredToken>,
    pub lease: Option<(String, u64)>,
}

/// D1's token table: every call sees every earlier write (D1 has one primary).
#[derive(Default)]
pub struct FakeTokenStore {
    pub rows: RefCell<HashMap<String, TokenRow>>,
}

impl TokenStore for FakeTokenStore {
    async fn read(&self, key: &str) -> Result<Option<StoredToken>, PortError> {
        Ok(self.rows.borrow().get(key).and_then(|r| r.token.clone()))
    }
    async fn try_lease(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<bool, PortError> {
        let mut rows = self.rows.borrow_mut();
        let row = rows.entry(key.into()).or_default();
        match &row.lease {
            Some((h, until)) if h != holder && *until > now_ms => Ok(false),
            _ => {
                row.lease = Some((holder.into(), until_ms));
                Ok(true)
            }
        }
    }
    async fn store(&self, key: &str, holder: &str, token: &StoredToken) -> Result<(), PortError> {
        let mut rows = self.rows.borrow_mut();
        let row = rows.entry(key.into()).or_default();
        row.token = Some(token.clone());
        if row.lease.as_ref().is_some_and(|(h, _)| h == holder) {
            row.lease = None;
        }
        Ok(())
    }
    async fn release(&self, key: &str, holder: &str) -> Result<(), PortError> {
        if let Some(row) = self.rows.borrow_mut().get_mut(key) {
            if row.lease.as_ref().is_some_and(|(h, _)| h == holder) {
                row.lease = None;
            }
        }
        Ok(())
    }
    async fn forget_installation(&self, installation_id: &str) -> Result<(), PortError> {
        let prefix = format!("token:{installation_id}:");
        self.rows
            .borrow_mut()
            .retain(|k, _| !k.starts_with(&prefix));
        Ok(())
    }
}

/// One scripted answer of [`FakeTalkdesk`].
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with a fresh, unique access token living this long.
    Token { expires_in: u64 },
    /// This exact answer.
    Http(HttpResponse),
    /// No answer at all (connection error or timeout).
    Unreachable,
}

impl Answer {
    pub fn status(status: u16, body: &str) -> Answer {
        Answer::Http(HttpResponse {
            status,
            body: body.as_bytes().to_vec(),
        })
    }
}

/// Talkdesk, scripted: answers each request with the next scripted answer (the last one
/// repeats), after a delay, and records every request.
pub struct FakeTalkdesk {
    pub answers: RefCell<Vec<Answer>>,
    pub requests: RefCell<Vec<HttpRequest>>,
    pub delay_ms: u64,
    minted: Cell<u64>,
}

impl FakeTalkdesk {
    pub fn answering(answers: Vec<Answer>, delay_ms: u64) -> Self {
        FakeTalkdesk {
            answers: RefCell::new(answers),
            requests: RefCell::new(Vec::new()),
            delay_ms,
            minted: Cell::new(0),
        }
    }
}

impl TalkdeskHttp for FakeTalkdesk {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PortError> {
        self.requests.borrow_mut().push(request.clone());
        tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
        let answer = {
            let mut answers = self.answers.borrow_mut();
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            }
        };
        match answer {
            Answer::Token { expires_in } => {
                self.minted.set(self.minted.get() + 1);
                let body = format!(
                    r#"{{"access_token":"tok-{}","token_type":"Bearer","expires_in":{expires_in}}}"#,
                    self.minted.get()
                );
                Ok(HttpResponse {
                    status: 200,
                    body: body.into_bytes(),
                })
            }
            Answer::Http(r) => Ok(r),
            Answer::Unreachable => Err(PortError("connection refused".into())),
        }
    }
}
