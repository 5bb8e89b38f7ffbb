//! The outbox runner: takes an installation's due jobs one at a time under a lease, runs each
//! event kind's `apply`, and records the outcome (done, retry with backoff, wait, fail or expire
//! at Talkdesk's 7-day deadline). The cron sweep calls it for every installation with due work.

use super::events;
use super::outcome::{done, Outcome};
use super::{JobContext, Ports, Settings};
use crate::ports::{Clock, Log, PortError};
use crate::store::records::{EventStatus, Installation, InstallationState, Job, JobKind, JobState};
use crate::store::{Closing, Take, TakenJob};
use crate::talkdesk::assertion::new_jti;

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
/// How long an installation proven forged is kept (for the operator to see) before the sweep
/// deletes it with its users and cached tokens.
pub const FORGED_KEEP_MS: u64 = 60 * 60 * 1000;
/// Attempts at a later event that Talkdesk keeps failing to serve (timeouts, 5xx, its token
/// endpoint down) before it is parked unconfirmed: with the backoff about five hours, past any
/// ordinary outage, and a bound on what a forged event costs while Talkdesk is failing.
pub const UNREAD_ATTEMPTS: u64 = 12;
/// Attempts at a job whose event cannot be confirmed (or whose token is refused) before it is
/// parked as unconfirmed for the operator. With the backoff this is about a quarter of an hour, past
/// Talkdesk ID's propagation delays, and it bounds what one forged event costs: this many
/// token requests and read-backs, and no other job of its installation waits longer.
pub const UNPROVEN_ATTEMPTS: u64 = 6;

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

/// A job the intake leased in the transaction that stored its event, with its first reads.
pub struct Head {
    pub installation_id: String,
    pub holder: String,
    pub lease_until: u64,
    pub taken: TakenJob,
}

/// Jobs leased by the intake, waiting for the run after the answer. One per request's ports
/// in the worker: the request that stored the event runs the job it leased, and no other
/// runner can take it until that lease lapses (then the sweep does, as after any crash).
#[derive(Default)]
pub struct Handoff(std::cell::RefCell<Vec<Head>>);

impl Handoff {
    pub fn put(&self, head: Head) {
        self.0.borrow_mut().push(head);
    }

    /// The leased job of `installation_id`, if the intake left one.
    pub fn take(&self, installation_id: &str) -> Option<Head> {
        let mut heads = self.0.borrow_mut();
        let at = heads
            .iter()
            .position(|h| h.installation_id == installation_id)?;
        Some(heads.swap_remove(at))
    }
}

/// Runs the due jobs of one installation, soonest due first, at most [`MAX_JOBS_PER_RUN`],
/// until none is due or one waits for the install; then delivers the webhooks they queued.
/// The first is the job the intake leased for this run ([`Handoff`]), when there is one.
pub async fn run_installation<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    installation_id: &str,
) -> Result<(), PortError> {
    let ran = run_jobs(p, s, installation_id).await;
    let delivered = super::notify::deliver(p, s, installation_id).await;
    ran.and(delivered.map(|_| ()))
}

async fn run_jobs<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    installation_id: &str,
) -> Result<(), PortError> {
    let mut handed = p.handoff().and_then(|h| h.take(installation_id));
    let holder = handed
        .as_ref()
        .map_or_else(new_jti, |head| head.holder.clone());
    for round in 0..MAX_JOBS_PER_RUN {
        // A job already leased to this run (by the intake or the last close, each of which
        // checked the budget first) runs: its steps pause cleanly if the budget runs low.
        if handed.is_none() && !affords_a_job(p) {
            // A job the intake leased stays leased until its lease lapses, then the sweep
            // runs it (as after a crash).
            return Ok(());
        }
        let now = p.clock().now_ms();
        let (taken, lease_until) = match handed.take() {
            Some(head) => (head.taken, head.lease_until),
            None => {
                let lease_until = now + s.scaled(JOB_LEASE_MS);
                // The head job's lease and the job's first reads in one round trip.
                let Some(taken) = p
                    .store()
                    .take_head_job(installation_id, &holder, now, lease_until)
                    .await?
                else {
                    return Ok(());
                };
                (taken, lease_until)
            }
        };
        let mut job = taken.job;
        // Past Talkdesk's window (a job killed every time it ran never recorded an outcome):
        // it expires now instead of being leased again and again.
        let (outcome, closing) = if now >= job.deadline_at {
            let why = format!(
                "it did not finish in {} attempts",
                job.attempts.saturating_sub(1)
            );
            (Outcome::Retry(why), None)
        } else {
            match taken.installation {
                Ok(inst) => {
                    let cx = JobContext {
                        p,
                        s,
                        job: &job,
                        holder: &holder,
                        confirmed: std::cell::Cell::new(false),
                        lease_until: std::cell::Cell::new(lease_until),
                        event: std::cell::RefCell::new(taken.event),
                        sync_cursor: std::cell::Cell::new(taken.sync_cursor),
                        closing: std::cell::RefCell::new(None),
                    };
                    let outcome = execute(&cx, inst).await;
                    (outcome, cx.closing.take())
                }
                Err(e) => (e.into(), None),
            }
        };
        // Waiting for the install holds every later job too; a job that failed and backs off
        // holds none of them (the next head is whatever is due, if anything).
        let waiting = matches!(outcome, Outcome::Wait(_));
        // A done job's close also takes the next job, when this run has room for one.
        let now = p.clock().now_ms();
        let next_until = now + s.scaled(JOB_LEASE_MS);
        let next = (round + 1 < MAX_JOBS_PER_RUN && affords_another_job(p)).then(|| Take {
            installation_id,
            holder: &holder,
            now_ms: now,
            until_ms: next_until,
        });
        let looked = next.is_some();
        let (finished, taken) =
            record_outcome(p, s, &mut job, &holder, outcome, closing, next).await?;
        if let Some(taken) = taken {
            handed = Some(Head {
                installation_id: installation_id.to_owned(),
                holder: holder.clone(),
                lease_until: next_until,
                taken,
            });
            continue;
        }
        // A close that looked for the next job and found none due and free: nothing to take.
        let closed = finished && job.state == JobState::Done;
        if waiting || (closed && looked) || (!finished && job.state != JobState::Pending) {
            return Ok(());
        }
    }
    Ok(())
}

/// Whether what is left of the invocation's budget (when metered) fits a job's fixed cost.
fn affords_a_job<P: Ports>(p: &P) -> bool {
    p.meter().is_none_or(|m| {
        m.affords(
            super::budget::JOB_COST,
            super::FINISH_COST,
            p.clock().now_ms(),
        )
    })
}

/// [`affords_a_job`] with the close of the job in hand still to pay: whether its close may
/// take the next job.
fn affords_another_job<P: Ports>(p: &P) -> bool {
    use super::budget::{Cost, JOB_COST};
    use super::{CLOSE_AND_TAKE_COST, FINISH_COST};
    // The close itself, then a whole job.
    let both = Cost {
        queries: JOB_COST.queries + CLOSE_AND_TAKE_COST.queries,
        subrequests: JOB_COST.subrequests + CLOSE_AND_TAKE_COST.subrequests,
    };
    p.meter()
        .is_none_or(|m| m.affords(both, FINISH_COST, p.clock().now_ms()))
}

/// Runs the job's event kind, after the checks every kind shares.
async fn execute<P: Ports>(cx: &JobContext<'_, P>, inst: Option<Installation>) -> Outcome {
    let Some(inst) = inst else {
        // Backs off (up to an hour): the install, if it comes, wakes this job at once.
        return Outcome::Retry("the installation has not been received yet".into());
    };
    if cx.job.kind != JobKind::Install {
        // Later events wait for the install, and for a person's decision on it; an uninstall
        // does not wait for a decision that may never come.
        let waiting_for_decision =
            inst.state == InstallationState::Installing && cx.job.kind != JobKind::Uninstall;
        if inst.state == InstallationState::Received || waiting_for_decision {
            return Outcome::Wait("the install is not done yet".into());
        }
        if inst.state.is_closed() {
            return done(
                EventStatus::Ignored,
                format!("the installation is {}; nothing to do", inst.state),
            );
        }
    }
    let result = match cx.job.kind {
        JobKind::Install => events::install::apply(cx, inst).await,
        JobKind::Update => events::update::apply(cx, inst).await,
        JobKind::Uninstall => events::uninstall::apply(cx, inst).await,
        JobKind::Rotate => events::rotate::apply(cx, inst).await,
        JobKind::Trial => events::trial::apply(cx, inst).await,
        JobKind::Logout => events::logout::apply(cx, inst).await,
    };
    match result.unwrap_or_else(|o| o) {
        // A refused token on later events may be Talkdesk ID's propagation delay after a
        // rotation: tolerated as long as an install's delivered credentials are.
        Outcome::Refused { error, .. }
            if cx.job.kind != JobKind::Install
                && cx.job.attempts < events::install::REFUSALS_BEFORE_FORGED =>
        {
            Outcome::Retry(format!("the token was refused ({error}); trying again"))
        }
        // Talkdesk unreachable or erroring before the event could be confirmed: also bounded,
        // so a forged event cannot keep costing calls for the whole 7-day window.
        Outcome::Retry(why)
            if cx.job.kind != JobKind::Install
                && !cx.confirmed.get()
                && cx.job.attempts >= UNREAD_ATTEMPTS =>
        {
            Outcome::Unconfirmed(format!("the event could not be read back: {why}"))
        }
        other => other,
    }
}

/// Writes the outcome to the job (and event and installation); true when the job is over.
async fn record_outcome<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    job: &mut Job,
    holder: &str,
    outcome: Outcome,
    closing: Option<Closing>,
    next: Option<Take<'_>>,
) -> Result<(bool, Option<TakenJob>), PortError> {
    let now = p.clock().now_ms();
    // A runner whose lease passed to another writes nothing: not the event, not the
    // installation, not the job (the runner that holds it now records its own outcome).
    let until = now + s.scaled(JOB_LEASE_MS);
    job.updated_at = now;
    let lease = crate::store::Lease {
        job_id: job.job_id,
        holder,
    };
    // A done job checks its lease in the same batch as its writes (`Store::finish_job`),
    // with the installation's closing save when it has one.
    let outcome = match outcome {
        Outcome::Done { status, detail } => {
            job.state = JobState::Done;
            job.last_error = None;
            let wake = job.kind == JobKind::Install;
            let finished = p
                .store()
                .finish_job(
                    job,
                    holder,
                    until,
                    wake,
                    status,
                    &detail,
                    closing.as_ref(),
                    next.as_ref(),
                )
                .await;
            match finished {
                Ok(Some((kept, taken))) => {
                    log_outcome(p, job);
                    return Ok((kept, taken));
                }
                Ok(None) if closing.is_none() => return Ok((false, None)),
                // The lease is gone, or someone wrote the installation since the job read
                // it: nothing was written; the lease check below tells which.
                Ok(None) => {
                    job.state = JobState::Pending;
                    Outcome::Pause(
                        "the installation changed while this job ran; running it again".into(),
                    )
                }
                Err(e) if closing.is_none() => return Err(e),
                // The installation's last save failed with the close: the job's outcome is
                // that failure, as when the save ran on its own.
                Err(e) => {
                    job.state = JobState::Pending;
                    e.into()
                }
            }
        }
        other => other,
    };
    if !p.store().renew_lease(lease, until).await? {
        return Ok((false, None));
    }
    // `attempts` was counted when the lease was taken (`Store::lease_job`), so a run that is
    // killed before it records anything still counts.
    let over = match outcome {
        Outcome::Done { .. } => unreachable!("a done job is recorded above"),
        Outcome::Retry(why)
        | Outcome::Wait(why)
        | Outcome::Pause(why)
        | Outcome::Hold { why, .. }
        | Outcome::Unconfirmed(why)
            if now >= job.deadline_at =>
        {
            job.state = JobState::Expired;
            if job.kind == JobKind::Install {
                // No one decided in time (manual provisioning): the wait is over.
                p.store().expire_decision(&job.installation_id).await?;
            }
            let why = format!("confirmation window passed: {why}");
            flag(p, job, holder, &why).await?;
            p.store()
                .finish_event(&job.event_id, EventStatus::Failed, Some(&why))
                .await?;
            job.last_error = Some(why);
            true
        }
        Outcome::Unconfirmed(why) if job.attempts >= UNPROVEN_ATTEMPTS => {
            // Parked: it blocks nothing, keeps its data (a rotation's sealed set), and waits
            // for the operator. Nothing about the installation changes.
            let why = format!("unconfirmed after {} attempts: {why}", job.attempts);
            job.state = JobState::Unconfirmed;
            p.store()
                .finish_event(&job.event_id, EventStatus::Unconfirmed, Some(&why))
                .await?;
            job.last_error = Some(why);
            true
        }
        Outcome::Unconfirmed(why) => {
            job.next_attempt_at =
                (now + s.scaled(backoff_ms(job.attempts, jitter()))).min(job.deadline_at);
            job.last_error = Some(format!("unconfirmed: {why}"));
            false
        }
        Outcome::Retry(why) => {
            job.next_attempt_at =
                (now + s.scaled(backoff_ms(job.attempts, jitter()))).min(job.deadline_at);
            job.last_error = Some(why);
            false
        }
        Outcome::Hold { until, why } => {
            job.attempts -= 1; // waiting for a person is not a failed attempt
            job.next_attempt_at = until.min(job.deadline_at);
            job.last_error = Some(why);
            false
        }
        Outcome::Pause(why) => {
            job.attempts -= 1; // a clean stop is progress, not a failed attempt
            job.next_attempt_at = now;
            job.last_error = Some(format!("paused: {why}"));
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
            job.state = JobState::Failed;
            flag(p, job, holder, &why).await?;
            p.store()
                .finish_event(&job.event_id, EventStatus::Failed, Some(&why))
                .await?;
            job.last_error = Some(why);
            true
        }
    };
    // A runner whose lease lapsed mid-job has been overtaken: its record is dropped and it
    // stops, leaving the job to the runner that holds it now.
    let kept = p.store().save_job(job, holder).await?;
    log_outcome(p, job);
    Ok((over && kept, None))
}

/// The job's outcome as one log line.
fn log_outcome<P: Ports>(p: &P, job: &Job) {
    let attempts = job.attempts.to_string();
    p.log().record(
        match job.state {
            JobState::Failed | JobState::Expired => crate::ports::Level::Error,
            JobState::Unconfirmed => crate::ports::Level::Warn,
            _ => crate::ports::Level::Info,
        },
        "job_outcome",
        &[
            ("installation_id", job.installation_id.as_str()),
            ("event_id", job.event_id.as_str()),
            ("kind", job.kind.as_str()),
            ("state", job.state.as_str()),
            ("attempts", attempts.as_str()),
            ("detail", job.last_error.as_deref().unwrap_or("")),
        ],
    );
}

/// Marks an installation as needing attention, with the reason. Credentials stay: only a
/// confirmed uninstall destroys them (an unconfirmed one may be a forgery).
async fn flag<P: Ports>(p: &P, job: &Job, holder: &str, why: &str) -> Result<(), PortError> {
    if let Some(mut inst) = p.store().installation(&job.installation_id).await? {
        // An unproven installation stays unproven: attention would let later events act on
        // credentials no one has shown to be Talkdesk's.
        if matches!(
            inst.state,
            InstallationState::Active | InstallationState::Installing
        ) {
            inst.state = InstallationState::Attention;
        }
        inst.last_error = Some(why.to_owned());
        inst.updated_at = p.clock().now_ms();
        let lease = crate::store::Lease {
            job_id: job.job_id,
            holder,
        };
        // A write from a runner that lost the job, or over a newer copy, changes nothing; the
        // job's own record still carries the reason.
        p.store().save_installation(&inst, lease).await?;
    }
    Ok(())
}

/// How long the ids of the partner's signed calls are kept (their timestamps are accepted for
/// minutes only).
pub const CALL_IDS_KEEP_MS: u64 = 24 * 3600 * 1000;

/// What one sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Installations the sweep ran.
    pub installations: usize,
    /// Due installations left for the next sweep because the budget ran low.
    pub left: usize,
    /// Installations whose run failed on storage, with the error (for the log); the sweep went
    /// on with the others.
    pub failures: Vec<(String, PortError)>,
}

/// The cron sweep: forgets old rows (bounded purges), replays events captured while D1 was
/// down, then runs installations with due work while the invocation's budget lasts; the rest
/// wait for the next sweep, longest-waiting first. One installation's storage failure does not
/// stop the others.
pub async fn sweep<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    limit: u32,
) -> Result<SweepReport, PortError> {
    let now = p.clock().now_ms();
    p.store().purge_events(now).await?;
    p.store().purge_syncs().await?;
    p.store()
        .purge_call_ids(now.saturating_sub(CALL_IDS_KEEP_MS))
        .await?;
    p.sessions().purge(now).await?;
    p.store()
        .purge_forged(now.saturating_sub(s.scaled(FORGED_KEEP_MS)))
        .await?;
    // Events captured in KV while D1 was down go into D1 first, so their work runs now too.
    let replayed = super::capture::replay(p, s).await;
    let due = p.store().due_installations(now, limit).await?;
    let mut report = SweepReport::default();
    if let Err(e) = replayed {
        report.failures.push(("captured events".into(), e));
    }
    for id in due {
        if !affords_a_job(p) {
            report.left += 1;
            continue;
        }
        report.installations += 1;
        if let Err(e) = run_installation(p, s, &id).await {
            report.failures.push((id, e));
        }
    }
    // Webhooks whose retry is due (their installations may have no job left).
    if let Err(e) = super::notify::sweep(p, s, limit).await {
        report.failures.push(("webhooks".into(), e));
    }
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
