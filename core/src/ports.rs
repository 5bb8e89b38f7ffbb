//! The real I/O seams, one small trait each. The core is generic over these; `platform` holds
//! the Workers implementations and tests hold in-memory fakes that keep the platform's limits.
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

use crate::store::records::{AccountRecord, EventRecord, Installation, Intake, Job, User};

/// D1's lifecycle tables (migration 0003).
pub trait LifecycleStore {
    /// Stores the intake atomically. `false`: the event id was already recorded (a duplicate),
    /// and nothing was written.
    async fn intake(&self, intake: &Intake) -> Result<bool, PortError>;
    async fn installation(&self, installation_id: &str) -> Result<Option<Installation>, PortError>;
    /// Writes every column of the installation (it must exist).
    async fn save_installation(&self, installation: &Installation) -> Result<(), PortError>;
    /// Replaces the installation's users and its `users_count`.
    async fn replace_users(&self, installation_id: &str, users: &[User]) -> Result<(), PortError>;
    async fn delete_users(&self, installation_id: &str) -> Result<(), PortError>;
    async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, PortError>;
    /// Sets the event's status and detail and drops any sealed credentials it carried.
    async fn finish_event(
        &self,
        event_id: &str,
        status: &str,
        detail: Option<&str>,
    ) -> Result<(), PortError>;
    /// The next job of an installation to run: installs first, then in arrival order.
    async fn head_job(&self, installation_id: &str) -> Result<Option<Job>, PortError>;
    /// Installations whose next job is due by `now_ms`, the longest-waiting first.
    async fn due_installations(&self, now_ms: u64, limit: u32) -> Result<Vec<String>, PortError>;
    /// Takes the job's lease if it is due and free (one runner per job at a time, across
    /// isolates), returning the job as stored now; `None` when someone else has it or it is
    /// not due.
    async fn lease_job(
        &self,
        job_id: i64,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Option<Job>, PortError>;
    /// Writes the job's state, attempts, next attempt and error, and releases the lease.
    async fn save_job(&self, job: &Job) -> Result<(), PortError>;
    async fn jobs_of(&self, installation_id: &str) -> Result<Vec<Job>, PortError>;
    /// Makes every pending job of the installation due now (they were waiting for its install).
    async fn wake_jobs(&self, installation_id: &str, now_ms: u64) -> Result<(), PortError>;
    /// Installations ordered by id, after `after`, at most `limit`.
    async fn list_installations(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Installation>, PortError>;
    /// Remembers an account (kept across uninstalls for reinstalls).
    async fn upsert_account(
        &self,
        account_id: &str,
        account_name: &str,
        now_ms: u64,
    ) -> Result<(), PortError>;
    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, PortError>;
    /// Replaces an account's settings; `false` when the account is unknown.
    async fn set_account_settings(
        &self,
        account_id: &str,
        settings: &str,
        now_ms: u64,
    ) -> Result<bool, PortError>;
    /// Deletes event records past their keep-until time, and finished jobs as old.
    async fn purge_events(&self, now_ms: u64) -> Result<(), PortError>;
}
