//! The installation lifecycle: what each Talkdesk event does, after it has been stored.
//!
//! `POST /events` stores the event (and, for an install, the installation with its sealed
//! credentials) and a job in one D1 batch, answers, then runs the installation's jobs; the cron
//! sweep runs whatever is still due, so a crash at any point only delays the work. Jobs of one
//! installation run one at a time under a lease, installs first, then in arrival order.
//!
//! Nothing acts on an event's word alone: an install is proven by minting a token with the
//! delivered credentials and reading the installation back; every later event is confirmed by
//! reading it back from Talkdesk (`GET /apps/{app}/events/{id}`), which answers 404 for a forgery.

pub mod admin;
pub mod intake;

use serde_json::Value;

use self::intake::{fields, seal_set};
use crate::config::AppId;
use crate::crypto::keyring::SealingKeys;
use crate::crypto::keys::{KeyAlgorithm, PrivateKey};
use crate::crypto::seal::{open, open_secret, SealContext};
use crate::ports::{Cache, Clock, LifecycleStore, PortError, Signer, TalkdeskHttp, TokenStore};
use crate::secret::SecretString;
use crate::store::records::{stamped_before, state, Installation, Job, JobKind, User};
use crate::talkdesk::api::{self, ApiError};
use crate::talkdesk::assertion::new_jti;
use crate::talkdesk::events::CredentialSet;
use crate::talkdesk::hosts::{Allowlist, TalkdeskUrl};
use crate::talkdesk::http::{HttpRequest, HttpResponse};
use crate::talkdesk::token::{TokenError, DEFAULT_SCOPES};
use crate::tokens::{self, Credentials, TokenFailure};

/// How long one runner holds a job (longer than the slowest job: a few Talkdesk calls, each
/// with a 10 s deadline, plus user paging).
pub const JOB_LEASE_MS: u64 = 5 * 60 * 1000;
/// Jobs one run takes for an installation before leaving the rest to the sweep.
pub const MAX_JOBS_PER_RUN: usize = 20;
/// Retry backoff: the first retry after this, doubling, capped at [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u64 = 30_000;
pub const MAX_BACKOFF_MS: u64 = 60 * 60 * 1000;
/// An event that waits on another (an update before its install) looks again after this.
pub const WAIT_MS: u64 = 30_000;
/// Token refusals (`invalid_client`, …) taken before new credentials are judged not
/// Talkdesk's: a refusal can be a propagation delay, and the credentials come only once. With
/// the backoff this is about half an hour.
pub const REFUSALS_BEFORE_FORGED: u64 = 6;

/// Everything the lifecycle talks to.
pub trait Ports {
    type Store: LifecycleStore;
    type Cache: Cache;
    type Tokens: TokenStore;
    type Http: TalkdeskHttp;
    type Clock: Clock;
    type Signer: Signer;
    fn store(&self) -> &Self::Store;
    fn cache(&self) -> &Self::Cache;
    fn tokens(&self) -> &Self::Tokens;
    fn http(&self) -> &Self::Http;
    fn clock(&self) -> &Self::Clock;
    fn signer(&self) -> &Self::Signer;
}

/// The settings the lifecycle needs.
pub struct Settings<'a> {
    pub app_id: &'a AppId,
    pub keys: &'a SealingKeys,
    pub allowlist: &'a Allowlist,
    /// `LIFECYCLE_TIME_SCALE`: 1 in production.
    pub time_scale: f64,
}

impl Settings<'_> {
    /// A duration of the lifecycle, scaled for tests (never below 1 ms).
    fn scaled(&self, ms: u64) -> u64 {
        ((ms as f64 * self.time_scale) as u64).max(1)
    }
}

/// How a job attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished; the event's final status and why.
    Done {
        status: &'static str,
        detail: String,
    },
    /// Transient failure: retry with backoff until the deadline.
    Retry(String),
    /// Waiting on something else (an install not yet done): look again soon.
    Wait(String),
    /// Permanent failure: stop; the installation needs attention.
    Fail(String),
    /// Talkdesk's token endpoint refused the credentials (an OAuth error code): permanent.
    Refused { error: String, description: String },
}

impl Outcome {
    /// What happened, in words for the job's record, the log and the operator.
    pub fn reason(self) -> String {
        match self {
            Outcome::Retry(w) | Outcome::Wait(w) | Outcome::Fail(w) => w,
            Outcome::Refused { error, description } => {
                format!("token refused: {error}: {description}")
            }
            Outcome::Done { detail, .. } => detail,
        }
    }
}

fn done(status: &'static str, detail: impl Into<String>) -> Outcome {
    Outcome::Done {
        status,
        detail: detail.into(),
    }
}

impl From<PortError> for Outcome {
    fn from(e: PortError) -> Self {
        Outcome::Retry(format!("storage: {e}"))
    }
}

/// The delay before retry number `attempts` (1-based), with ±20 % jitter from `jitter`
/// (0..=1000), so retries of many installations spread out.
pub fn backoff_ms(attempts: u64, jitter: u64) -> u64 {
    let exp = attempts.saturating_sub(1).min(20) as u32;
    let base = FIRST_BACKOFF_MS
        .saturating_mul(1u64 << exp)
        .min(MAX_BACKOFF_MS);
    let spread = base / 5;
    base - spread + spread * 2 * jitter.min(1000) / 1000
}

fn jitter() -> u64 {
    let b: [u8; 2] = crate::crypto::random_bytes();
    u64::from(u16::from_le_bytes(b)) % 1001
}

/// Runs the due jobs of one installation, in order, until one is not finished.
pub async fn run_installation<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    installation_id: &str,
) -> Result<(), PortError> {
    let holder = new_jti();
    for _ in 0..MAX_JOBS_PER_RUN {
        let Some(head) = p.store().head_job(installation_id).await? else {
            return Ok(());
        };
        let now = p.clock().now_ms();
        if head.next_attempt_at > now {
            return Ok(());
        }
        let Some(mut job) = p
            .store()
            .lease_job(head.job_id, &holder, now, now + s.scaled(JOB_LEASE_MS))
            .await?
        else {
            return Ok(());
        };
        let outcome = match p.store().installation(installation_id).await {
            Ok(inst) => execute(p, s, &job, inst).await,
            Err(e) => e.into(),
        };
        let finished = record_outcome(p, s, &mut job, outcome).await?;
        if !finished {
            return Ok(());
        }
    }
    Ok(())
}

/// Writes the outcome to the job (and event and installation); true when the job is over.
async fn record_outcome<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    job: &mut Job,
    outcome: Outcome,
) -> Result<bool, PortError> {
    let now = p.clock().now_ms();
    job.updated_at = now;
    job.attempts += 1;
    let over = match outcome {
        Outcome::Done { status, detail } => {
            job.state = "done".into();
            job.last_error = None;
            if job.kind == JobKind::Install {
                // Events that arrived before the install were waiting for it: run them now.
                p.store().wake_jobs(&job.installation_id, now).await?;
            }
            p.store()
                .finish_event(&job.event_id, status, Some(&detail))
                .await?;
            true
        }
        Outcome::Retry(why) | Outcome::Wait(why) if now >= job.deadline_at => {
            job.state = "expired".into();
            let why = format!("confirmation window passed: {why}");
            flag(p, job, &why).await?;
            job.last_error = Some(why);
            p.store()
                .finish_event(&job.event_id, "failed", job.last_error.as_deref())
                .await?;
            true
        }
        Outcome::Retry(why) => {
            job.next_attempt_at =
                (now + s.scaled(backoff_ms(job.attempts, jitter()))).min(job.deadline_at);
            job.last_error = Some(why);
            false
        }
        Outcome::Wait(why) => {
            job.attempts -= 1; // waiting is not a failed attempt
            job.next_attempt_at = now + s.scaled(WAIT_MS);
            job.last_error = Some(why);
            false
        }
        failed @ (Outcome::Fail(_) | Outcome::Refused { .. }) => {
            let why = failed.reason();
            job.state = "failed".into();
            flag(p, job, &why).await?;
            p.store()
                .finish_event(&job.event_id, "failed", Some(&why))
                .await?;
            job.last_error = Some(why);
            true
        }
    };
    p.store().save_job(job).await?;
    Ok(over)
}

/// Marks an installation as needing attention, with the reason. An uninstall that could not
/// be finished still destroys the credentials: Talkdesk deprovisions uninstalls anyway.
async fn flag<P: Ports>(p: &P, job: &Job, why: &str) -> Result<(), PortError> {
    if let Some(mut inst) = p.store().installation(&job.installation_id).await? {
        if inst.state == state::RECEIVED || inst.state == state::ACTIVE {
            inst.state = state::ATTENTION.into();
        }
        inst.last_error = Some(why.to_owned());
        inst.updated_at = p.clock().now_ms();
        if job.kind == JobKind::Uninstall {
            destroy_credentials(p, &mut inst).await?;
        } else {
            p.store().save_installation(&inst).await?;
        }
    }
    Ok(())
}

async fn execute<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    job: &Job,
    inst: Option<Installation>,
) -> Outcome {
    let Some(inst) = inst else {
        // Backs off (up to an hour): the install, if it comes, wakes this job at once.
        return Outcome::Retry("the installation has not been received yet".into());
    };
    if job.kind != JobKind::Install {
        match inst.state.as_str() {
            state::RECEIVED => return Outcome::Wait("the install is not done yet".into()),
            state::FORGED | state::REJECTED | state::UNINSTALLED => {
                return done(
                    "ignored",
                    format!("the installation is {}; nothing to do", inst.state),
                )
            }
            _ => {}
        }
    }
    let result = match job.kind {
        JobKind::Install => install(p, s, inst, job).await,
        JobKind::Update => update(p, s, inst, job).await,
        JobKind::Uninstall => uninstall(p, s, inst, job).await,
        JobKind::Rotate => rotate(p, s, inst, job).await,
        JobKind::Trial => trial(p, s, inst, job).await,
        JobKind::Logout => confirm_only(p, s, &inst, job, "user.logout").await,
    };
    result.unwrap_or_else(|o| o)
}

type Step<T> = Result<T, Outcome>;

/// An open line to Talkdesk for one installation: its credentials and a token.
struct Session {
    api_root: TalkdeskUrl,
    token: SecretString,
}

fn open_credentials(
    s: &Settings<'_>,
    record: &str,
    (secret_field, key_field): (&str, &str),
    algorithm: Option<&str>,
    sealed_secret: Option<&str>,
    sealed_key: Option<&str>,
) -> Step<(SecretString, PrivateKey)> {
    let (Some(alg), Some(sealed_secret), Some(sealed_key)) = (algorithm, sealed_secret, sealed_key)
    else {
        return Err(Outcome::Fail("no credentials are stored".into()));
    };
    let alg =
        KeyAlgorithm::parse(alg).ok_or_else(|| Outcome::Fail("stored algorithm unknown".into()))?;
    let secret = open_secret(
        s.keys,
        SealContext {
            record,
            field: secret_field,
        },
        sealed_secret,
    )
    .map_err(|e| Outcome::Fail(format!("client secret: {e}")))?;
    let der = open(
        s.keys,
        SealContext {
            record,
            field: key_field,
        },
        sealed_key,
    )
    .map_err(|e| Outcome::Fail(format!("private key: {e}")))?;
    let key = PrivateKey::from_der(alg, der).map_err(|e| Outcome::Fail(e.to_string()))?;
    Ok((secret, key))
}

fn api_root(s: &Settings<'_>, inst: &Installation) -> Step<TalkdeskUrl> {
    s.allowlist
        .check(&inst.api_root)
        .map_err(|e| Outcome::Fail(format!("stored API root is not allowed: {e}")))
}

/// A token for the installation's current credentials (`scopes` empty: all it was granted).
async fn session<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    inst: &Installation,
    scopes: &[&str],
) -> Step<Session> {
    let (_, key) = open_credentials(
        s,
        &inst.installation_id,
        (fields::CLIENT_SECRET, fields::PRIVATE_KEY),
        inst.key_algorithm.as_deref(),
        inst.sealed_secret.as_deref(),
        inst.sealed_key.as_deref(),
    )?;
    let client_id = inst.client_id.as_deref().unwrap_or_default();
    let key_id = inst.key_id.as_deref().unwrap_or_default();
    let token = mint(p, s, inst, client_id, key_id, &key, scopes).await?;
    Ok(Session {
        api_root: api_root(s, inst)?,
        token,
    })
}

async fn mint<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    inst: &Installation,
    client_id: &str,
    key_id: &str,
    key: &PrivateKey,
    scopes: &[&str],
) -> Step<SecretString> {
    let token_url = s
        .allowlist
        .check(&inst.token_url)
        .map_err(|e| Outcome::Fail(format!("stored token URL is not allowed: {e}")))?;
    let deps = tokens::Deps {
        cache: p.cache(),
        store: p.tokens(),
        http: p.http(),
        clock: p.clock(),
        signer: p.signer(),
        keys: s.keys,
    };
    let creds = Credentials {
        installation_id: &inst.installation_id,
        client_id,
        key_id,
        key,
        token_url: token_url.as_str(),
    };
    tokens::access_token(&deps, &creds, scopes)
        .await
        .map_err(|e| match e {
            TokenFailure::Talkdesk(TokenError::Permanent { error, description }) => {
                Outcome::Refused { error, description }
            }
            TokenFailure::Talkdesk(TokenError::Transient(why)) => {
                Outcome::Retry(format!("token: {why}"))
            }
            TokenFailure::Storage(why) => Outcome::Retry(format!("token storage: {why}")),
            TokenFailure::Signing(why) => Outcome::Fail(format!("the key does not sign: {why}")),
        })
}

/// Forgets every cached token of the installation (after a 401, an uninstall or a rotation):
/// the D1 rows of every credential set, and the KV copies of the current set's.
async fn forget_tokens<P: Ports>(p: &P, inst: &Installation) {
    // Not fatal if it fails: a stale token is refused (401) and dropped again on the next try.
    let _ = p.tokens().forget_installation(&inst.installation_id).await;
    let client_id = inst.client_id.as_deref().unwrap_or_default();
    let scope_sets: [&[&str]; 2] = [DEFAULT_SCOPES, &[]];
    for scopes in scope_sets {
        let key = tokens::token_key(&inst.installation_id, client_id, scopes);
        let _ = p.cache().delete(&key).await;
    }
}

/// Sends a request; no answer at all (connection error, timeout) is transient.
async fn call<P: Ports>(
    p: &P,
    request: Result<HttpRequest, impl std::fmt::Display>,
) -> Step<HttpResponse> {
    let request = request.map_err(|e| Outcome::Fail(format!("request: {e}")))?;
    p.http()
        .send(&request)
        .await
        .map_err(|e| Outcome::Retry(format!("Talkdesk unreachable: {e}")))
}

/// Maps an API failure to an outcome: 401 and transient ones retry, the rest are permanent.
async fn api_failure<P: Ports>(p: &P, inst: &Installation, what: &str, e: ApiError) -> Outcome {
    match e {
        ApiError::Unauthorized => {
            forget_tokens(p, inst).await;
            Outcome::Retry(format!("{what}: token refused; minting a new one"))
        }
        ApiError::Transient(why) => Outcome::Retry(format!("{what}: {why}")),
        other => Outcome::Fail(format!("{what}: {other}")),
    }
}

/// Sends and parses, mapping every failure to an outcome.
async fn fetch<P: Ports, T>(
    p: &P,
    inst: &Installation,
    what: &str,
    request: Result<HttpRequest, impl std::fmt::Display>,
    parse: impl Fn(&HttpResponse) -> Result<T, ApiError>,
) -> Step<T> {
    let resp = call(p, request).await?;
    match parse(&resp) {
        Ok(v) => Ok(v),
        Err(e) => Err(api_failure(p, inst, what, e).await),
    }
}

/// Reads the event back from Talkdesk: `None` when Talkdesk never sent it (a forgery).
async fn confirm_event<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    sess: &Session,
    inst: &Installation,
    job: &Job,
    expected_type: &str,
) -> Step<Option<Value>> {
    let req = api::get_event(
        &sess.api_root,
        s.app_id.as_str(),
        &job.event_id,
        &sess.token,
    );
    let resp = call(p, req).await?;
    match api::parse_event(&resp) {
        Ok(genuine) => {
            let same = genuine["type"] == expected_type
                && genuine["data"]["installation_id"] == inst.installation_id.as_str();
            Ok(same.then_some(genuine))
        }
        Err(ApiError::NotFound) => Ok(None),
        Err(e) => Err(api_failure(p, inst, "reading the event back", e).await),
    }
}

fn forged() -> Outcome {
    done(
        "forged",
        "Talkdesk does not know this event: nothing changed",
    )
}

/// `app.installed`: prove, provision, approve.
async fn install<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    mut inst: Installation,
    job: &Job,
) -> Step<Outcome> {
    if inst.install_event_id != job.event_id {
        return Ok(done(
            "ignored",
            "a second install event for a known installation",
        ));
    }
    if matches!(
        inst.state.as_str(),
        state::FORGED | state::UNINSTALLED | state::REJECTED
    ) {
        return Ok(done(
            "ignored",
            format!("the installation is {}", inst.state),
        ));
    }
    // 1. The delivered credentials must mint a token at the account's Talkdesk ID host.
    let sess = match session(p, s, &inst, DEFAULT_SCOPES).await {
        Ok(sess) => sess,
        Err(refused @ Outcome::Refused { .. }) if matches!(&refused, Outcome::Refused { error, .. } if error == "invalid_scope") =>
        {
            // Real credentials without the scopes we need: say no, with the reason.
            let sess = session(p, s, &inst, &[]).await?;
            let reason = "the installation lacks the scopes the app needs";
            let req = api::reject(
                &sess.api_root,
                s.app_id.as_str(),
                &inst.installation_id,
                &sess.token,
                reason,
            );
            fetch(p, &inst, "rejecting", req, api::parse_state).await?;
            inst.state = state::REJECTED.into();
            inst.last_error = Some(refused.reason());
            inst.updated_at = p.clock().now_ms();
            p.store().save_installation(&inst).await?;
            return Ok(done("done", "rejected: missing scopes"));
        }
        Err(Outcome::Refused { error, .. }) if job.attempts + 1 < REFUSALS_BEFORE_FORGED => {
            return Err(Outcome::Retry(format!(
                "the delivered credentials were refused ({error}); trying again"
            )));
        }
        Err(refused @ Outcome::Refused { .. }) => {
            // Talkdesk does not know these credentials: a forged install costs only a record.
            let why = refused.reason();
            inst.state = state::FORGED.into();
            inst.last_error = Some(why.clone());
            inst.sealed_secret = None;
            inst.sealed_key = None;
            inst.updated_at = p.clock().now_ms();
            p.store().save_installation(&inst).await?;
            return Ok(done("forged", why));
        }
        Err(other) => return Err(other),
    };
    // 2. The installation read back must be ours and the account's.
    let req = api::get_installation(
        &sess.api_root,
        s.app_id.as_str(),
        &inst.installation_id,
        &sess.token,
    );
    let info = fetch(
        p,
        &inst,
        "reading the installation",
        req,
        api::parse_installation,
    )
    .await?;
    if info.app_id != s.app_id.as_str() || info.account_id != inst.account_id {
        inst.state = state::FORGED.into();
        inst.last_error =
            Some("the installation read back belongs to another app or account".into());
        inst.updated_at = p.clock().now_ms();
        p.store().save_installation(&inst).await?;
        return Ok(done("forged", "installation does not match the event"));
    }
    // 3. Provision: account, users, subscription.
    let account = fetch(
        p,
        &inst,
        "reading the account",
        api::get_account(&sess.api_root, &sess.token),
        api::parse_account,
    )
    .await?;
    inst.company_name = account.company_name.clone();
    inst.timezone = account.timezone.clone();
    provision_users_and_plan(p, s, &sess, &mut inst).await?;
    p.store()
        .upsert_account(&inst.account_id, &inst.account_name, p.clock().now_ms())
        .await?;
    // 4. Approve.
    let req = api::approve(
        &sess.api_root,
        s.app_id.as_str(),
        &inst.installation_id,
        &sess.token,
        "installed and provisioned",
    );
    fetch(p, &inst, "approving", req, api::parse_state).await?;
    let now = p.clock().now_ms();
    inst.state = state::ACTIVE.into();
    inst.last_error = None;
    inst.approved_at = Some(now);
    inst.updated_at = now;
    p.store().save_installation(&inst).await?;
    Ok(done("done", "verified, provisioned and approved"))
}

/// Re-reads users (every page) and the subscription: Talkdesk is the source of truth.
async fn provision_users_and_plan<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    sess: &Session,
    inst: &mut Installation,
) -> Step<()> {
    let mut users: Vec<User> = Vec::new();
    for page in 1..=api::MAX_USER_PAGES {
        let req = api::get_users(
            &sess.api_root,
            s.app_id.as_str(),
            &inst.installation_id,
            &sess.token,
            page,
            api::USERS_PER_PAGE,
        );
        let got = fetch(p, inst, "reading users", req, api::parse_users).await?;
        users.extend(got.users.into_iter().map(|u| User {
            user_id: u.id,
            email: u.email,
            name: u.name,
            active: u.active,
        }));
        if !got.has_next {
            break;
        }
    }
    p.store()
        .replace_users(&inst.installation_id, &users)
        .await?;
    inst.users_count = users.len() as u64;
    let req = api::get_subscription(
        &sess.api_root,
        s.app_id.as_str(),
        &inst.installation_id,
        &sess.token,
    );
    let sub = fetch(
        p,
        inst,
        "reading the subscription",
        req,
        api::parse_subscription,
    )
    .await?;
    inst.plan = sub.name;
    inst.subscription_type = sub.kind;
    inst.total_licenses = sub.total_licenses;
    Ok(())
}

async fn approve<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    sess: &Session,
    inst: &Installation,
    reason: &str,
) -> Step<()> {
    let req = api::approve(
        &sess.api_root,
        s.app_id.as_str(),
        &inst.installation_id,
        &sess.token,
        reason,
    );
    match api::parse_state(&call(p, req).await?) {
        // 409: Talkdesk is already past that step (approving twice is harmless).
        Ok(_) | Err(ApiError::Conflict(_)) => Ok(()),
        Err(e) => Err(api_failure(p, inst, "confirming", e).await),
    }
}

/// `app.updated`: confirm, re-read users and plan, confirm to Talkdesk.
async fn update<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    mut inst: Installation,
    job: &Job,
) -> Step<Outcome> {
    let sess = session(p, s, &inst, DEFAULT_SCOPES).await?;
    if confirm_event(p, s, &sess, &inst, job, "app.updated")
        .await?
        .is_none()
    {
        return Ok(forged());
    }
    provision_users_and_plan(p, s, &sess, &mut inst).await?;
    inst.updated_at = p.clock().now_ms();
    p.store().save_installation(&inst).await?;
    approve(p, s, &sess, &inst, "update applied").await?;
    Ok(done("done", "users and plan re-read and confirmed"))
}

/// `app.uninstalled`: confirm, approve, destroy the credentials; the account is kept.
async fn uninstall<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    mut inst: Installation,
    job: &Job,
) -> Step<Outcome> {
    let sess = session(p, s, &inst, DEFAULT_SCOPES).await?;
    if confirm_event(p, s, &sess, &inst, job, "app.uninstalled")
        .await?
        .is_none()
    {
        return Ok(forged());
    }
    // Confirmed: the credentials go whatever Talkdesk answers to the approval (it deprovisions
    // uninstalls anyway); only a transient failure keeps them, to approve again.
    let refused = match approve(p, s, &sess, &inst, "uninstalled").await {
        Ok(()) => None,
        Err(Outcome::Fail(why)) => Some(why),
        Err(other) => return Err(other),
    };
    inst.state = state::UNINSTALLED.into();
    inst.last_error = refused.clone();
    destroy_credentials(p, &mut inst).await?;
    Ok(done(
        "done",
        match refused {
            None => "uninstall confirmed; credentials destroyed".to_owned(),
            Some(why) => format!("credentials destroyed; the confirmation failed: {why}"),
        },
    ))
}

/// Destroys an installation's credentials, cached tokens and users; keeps the account.
async fn destroy_credentials<P: Ports>(p: &P, inst: &mut Installation) -> Result<(), PortError> {
    let now = p.clock().now_ms();
    forget_tokens(p, inst).await;
    inst.sealed_secret = None;
    inst.sealed_key = None;
    inst.drop_old_credentials();
    inst.uninstalled_at = Some(now);
    inst.updated_at = now;
    p.store().save_installation(inst).await?;
    p.store().delete_users(&inst.installation_id).await
}

/// `app.credentials_rotated`: confirm with the current set, switch to the new one once it mints
/// a token, acknowledge, then destroy the old set.
async fn rotate<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    mut inst: Installation,
    job: &Job,
) -> Step<Outcome> {
    let Some(event) = p.store().event(&job.event_id).await? else {
        return Ok(done("failed", "the event record is gone"));
    };
    let new_client_id = event.new_client_id.clone().unwrap_or_default();
    let current_from = inst.credentials_event_at.as_deref().unwrap_or_default();
    if inst.client_id.as_deref() != Some(new_client_id.as_str())
        && stamped_before(&event.created_at, current_from)
    {
        // A late delivery of an older rotation: the current set is newer.
        return Ok(done(
            "ignored",
            "an older rotation than the credentials in use",
        ));
    }
    if inst.client_id.as_deref() != Some(new_client_id.as_str()) {
        // Not switched yet. Prove the rotation as an install is proven: the new set must mint
        // a token (after a compromise the old set may already be dead), and the event read
        // back with that token must be Talkdesk's.
        let (secret, key) = open_credentials(
            s,
            &job.event_id,
            (fields::NEW_CLIENT_SECRET, fields::NEW_PRIVATE_KEY),
            event.new_key_algorithm.as_deref(),
            event.sealed_new_secret.as_deref(),
            event.sealed_new_key.as_deref(),
        )?;
        let new_key_id = event.new_key_id.clone().unwrap_or_default();
        let token = match mint(
            p,
            s,
            &inst,
            &new_client_id,
            &new_key_id,
            &key,
            DEFAULT_SCOPES,
        )
        .await
        {
            Ok(token) => token,
            Err(Outcome::Refused { error, description }) => {
                if job.attempts + 1 < REFUSALS_BEFORE_FORGED {
                    return Err(Outcome::Retry(format!(
                        "the new credentials were refused ({error}); trying again"
                    )));
                }
                return Ok(done(
                    "forged",
                    format!("the new credentials are not Talkdesk's: {error}: {description}"),
                ));
            }
            Err(other) => return Err(other),
        };
        let sess = Session {
            api_root: api_root(s, &inst)?,
            token,
        };
        if confirm_event(p, s, &sess, &inst, job, "app.credentials_rotated")
            .await?
            .is_none()
        {
            return Ok(forged());
        }
        let (old_secret, old_key) = (inst.sealed_secret.take(), inst.sealed_key.take());
        // Old set: re-sealed under its own field names (a sealed value opens only where it was put).
        if let (Some(os), Some(ok)) = (old_secret, old_key) {
            let (secret_old, key_old) = open_credentials(
                s,
                &inst.installation_id,
                (fields::CLIENT_SECRET, fields::PRIVATE_KEY),
                inst.key_algorithm.as_deref(),
                Some(&os),
                Some(&ok),
            )?;
            let sealed_old = seal_set(
                s.keys,
                &inst.installation_id,
                (fields::OLD_CLIENT_SECRET, fields::OLD_PRIVATE_KEY),
                &CredentialSet {
                    client_id: inst.client_id.clone().unwrap_or_default(),
                    client_secret: secret_old,
                    key_id: inst.key_id.clone().unwrap_or_default(),
                    private_key: key_old,
                },
            );
            inst.sealed_old_secret = Some(sealed_old.secret);
            inst.sealed_old_key = Some(sealed_old.key);
        }
        inst.old_client_id = inst.client_id.take();
        inst.old_key_id = inst.key_id.take();
        inst.old_key_algorithm = inst.key_algorithm.take();
        let sealed_new = seal_set(
            s.keys,
            &inst.installation_id,
            (fields::CLIENT_SECRET, fields::PRIVATE_KEY),
            &CredentialSet {
                client_id: new_client_id.clone(),
                client_secret: secret,
                key_id: new_key_id.clone(),
                private_key: key.clone(),
            },
        );
        inst.client_id = Some(new_client_id.clone());
        inst.key_id = Some(new_key_id);
        inst.key_algorithm = Some(key.algorithm().as_str().to_owned());
        inst.sealed_secret = Some(sealed_new.secret);
        inst.sealed_key = Some(sealed_new.key);
        inst.credentials_event_at = Some(event.created_at.clone());
        inst.updated_at = p.clock().now_ms();
        p.store().save_installation(&inst).await?;
    }
    // Switched: acknowledge with the new set, then destroy the old one.
    let sess = session(p, s, &inst, DEFAULT_SCOPES).await?;
    let req = api::acknowledge_credentials(
        &sess.api_root,
        s.app_id.as_str(),
        &inst.installation_id,
        &new_client_id,
        &sess.token,
    );
    fetch(
        p,
        &inst,
        "acknowledging the new credentials",
        req,
        api::parse_acknowledged,
    )
    .await?;
    inst.drop_old_credentials();
    inst.updated_at = p.clock().now_ms();
    p.store().save_installation(&inst).await?;
    Ok(done(
        "done",
        "switched to the new credentials and acknowledged",
    ))
}

/// `app.trial_*`: confirm, record the trial state and dates from Talkdesk's copy.
async fn trial<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    mut inst: Installation,
    job: &Job,
) -> Step<Outcome> {
    let Some(event) = p.store().event(&job.event_id).await? else {
        return Ok(done("failed", "the event record is gone"));
    };
    let sess = session(p, s, &inst, DEFAULT_SCOPES).await?;
    let Some(genuine) = confirm_event(p, s, &sess, &inst, job, &event.event_type).await? else {
        return Ok(forged());
    };
    // Talkdesk's own stamp, from its copy of the event.
    let stamp = genuine["created_at"]
        .as_str()
        .unwrap_or(&event.created_at)
        .to_owned();
    if stamped_before(&stamp, inst.trial_event_at.as_deref().unwrap_or_default()) {
        return Ok(done("ignored", "an older trial event than the one applied"));
    }
    inst.trial_event_at = Some(stamp);
    let text = |k: &str| {
        genuine["data"][k]
            .as_str()
            .map(|v| v.chars().take(64).collect::<String>())
    };
    inst.trial_state = Some(event.event_type.trim_start_matches("app.trial_").to_owned());
    inst.trial_expires_at = text("expires_at").or(inst.trial_expires_at.take());
    if event.event_type == "app.trial_ended" {
        inst.trial_ended_at = text("ended_at");
        inst.trial_ended_reason = text("ended_reason");
    }
    inst.updated_at = p.clock().now_ms();
    p.store().save_installation(&inst).await?;
    Ok(done("done", "trial recorded"))
}

/// Events that only need recording once confirmed (`user.logout`: sessions come later).
async fn confirm_only<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    inst: &Installation,
    job: &Job,
    expected: &str,
) -> Step<Outcome> {
    let sess = session(p, s, inst, DEFAULT_SCOPES).await?;
    match confirm_event(p, s, &sess, inst, job, expected).await? {
        Some(_) => Ok(done("done", "confirmed and recorded")),
        None => Ok(forged()),
    }
}

/// What one sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    pub installations: usize,
    /// Installations whose run failed on storage, with the error (for the log); the sweep went
    /// on with the others.
    pub failures: Vec<(String, PortError)>,
}

/// The cron sweep: runs every installation with due work, and forgets old event ids. One
/// installation's storage failure does not stop the others.
pub async fn sweep<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    limit: u32,
) -> Result<SweepReport, PortError> {
    let now = p.clock().now_ms();
    let due = p.store().due_installations(now, limit).await?;
    let mut report = SweepReport {
        installations: due.len(),
        failures: Vec::new(),
    };
    for id in due {
        if let Err(e) = run_installation(p, s, &id).await {
            report.failures.push((id, e));
        }
    }
    p.store().purge_events(now).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff_ms(1, 500), FIRST_BACKOFF_MS);
        assert_eq!(backoff_ms(2, 500), 2 * FIRST_BACKOFF_MS);
        assert_eq!(backoff_ms(1, 0), FIRST_BACKOFF_MS * 4 / 5);
        assert_eq!(backoff_ms(1, 1000), FIRST_BACKOFF_MS * 6 / 5);
        assert_eq!(backoff_ms(40, 500), MAX_BACKOFF_MS);
        assert!(backoff_ms(40, 1000) <= MAX_BACKOFF_MS * 6 / 5);
    }
}

/// What storing an event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Stored; the installation whose jobs should run now, if the event made work.
    New { run: Option<String> },
    /// This event id was already stored: nothing more is done.
    Duplicate,
}

/// Stores an intake durably. A second `app.installed` for a known installation id (a
/// redelivery under a new event id, or a forgery reusing a real id) is recorded but never
/// replaces the stored credentials.
pub async fn receive<P: Ports>(
    p: &P,
    mut intake: crate::store::records::Intake,
) -> Result<Received, PortError> {
    if let Some(inst) = &intake.installation {
        if p.store()
            .installation(&inst.installation_id)
            .await?
            .is_some()
        {
            intake.installation = None;
            intake.job = None;
            intake.event.status = "ignored".into();
            intake.event.detail = Some("installation already recorded; credentials kept".into());
        }
    }
    let run = intake.job.as_ref().map(|j| j.installation_id.clone());
    if p.store().intake(&intake).await? {
        Ok(Received::New { run })
    } else {
        Ok(Received::Duplicate)
    }
}

/// `POST /admin/installations/{id}/verify`: what Talkdesk says of the installation now, read
/// with its stored credentials (a token from the cache, or one minted once for all callers).
pub async fn verify<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    inst: &Installation,
) -> Result<Value, String> {
    if inst.sealed_key.is_none() {
        return Err(format!(
            "the installation is {}: no credentials",
            inst.state
        ));
    }
    let sess = session(p, s, inst, DEFAULT_SCOPES)
        .await
        .map_err(Outcome::reason)?;
    let req = api::get_installation(
        &sess.api_root,
        s.app_id.as_str(),
        &inst.installation_id,
        &sess.token,
    );
    let info = fetch(
        p,
        inst,
        "reading the installation",
        req,
        api::parse_installation,
    )
    .await
    .map_err(Outcome::reason)?;
    Ok(serde_json::json!({
        "installation_id": inst.installation_id,
        "local_state": inst.state,
        "talkdesk": {"state": info.state, "scopes": info.scopes, "app_id": info.app_id, "account_id": info.account_id},
        "credentials": "ok",
    }))
}
