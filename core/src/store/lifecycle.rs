//! The lifecycle's statements: events, installations, users, the outbox and accounts. Every one
//! is built here with bound values and named; the [`Database`] only executes it, so the same
//! statements run on D1 in the worker and on SQLite (built from `migrations/`) in native tests.

use super::records::{
    AccountRecord, EventRecord, EventStatus, Installation, InstallationState, Intake, Job, JobKind,
    JobState, User,
};
use super::row_codec::{decode_all, decode_first, decode_row, Cols, FromRow, IntoRow};
use super::rows::{row_columns, EventRow, InstallationRow, JobRow};
use super::user_sync::{lease_held, Lease};
use crate::ports::{Database, PortError, Row, SqlValue, Statement};

/// Finished jobs and events are kept this long after they were last touched, past Talkdesk's
/// retry schedule (15 minutes) and its 7-day confirmation window, so a redelivery is always
/// recognised.
pub const KEEP_EVENTS_MS: u64 = 8 * 24 * 3600 * 1000;

/// Rows each purge statement deletes per sweep at most: a backlog is cleared over several
/// sweeps, never by one statement that outlives D1's query limits.
pub const PURGE_BATCH: u64 = 500;
/// Bridge actions are kept this long for the operator (they hold the inputs Talkdesk sent).
pub const KEEP_ACTIONS_MS: u64 = 90 * 24 * 3600 * 1000;

/// A job just leased, with its installation and event as they were when it was taken.
pub struct TakenJob {
    pub job: Job,
    pub installation: Result<Option<Installation>, PortError>,
    /// `None` when it could not be read with the lease: the job reads it again itself.
    pub event: Option<EventRecord>,
    /// The job's users-sync cursor (`Some(None)`: it has none); `None` when it could not be
    /// read with the lease: the job reads it again itself.
    pub sync_cursor: Option<Option<super::SyncCursor>>,
}

/// The lifecycle's tables on a [`Database`].
pub struct Store<'a, D> {
    db: &'a D,
}

fn insert(name: &'static str, table: &str, row: impl IntoRow, skip: &[&str]) -> Statement {
    let (cols, params) = row_columns(row.into_row(), skip);
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    Statement {
        name,
        sql: format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            cols.join(", "),
            marks.join(", ")
        )
        .into(),
        params,
    }
}

impl<'a, D: Database> Store<'a, D> {
    pub fn new(db: &'a D) -> Store<'a, D> {
        Store { db }
    }

    pub(super) fn db(&self) -> &'a D {
        self.db
    }

    /// The first row the statement returns, if any.
    pub(super) async fn one_row<T: FromRow>(
        &self,
        stmt: Statement,
    ) -> Result<Option<T>, PortError> {
        decode_first(stmt.name, self.db.query(&stmt).await?)
    }

    /// Every row the statement returns.
    pub(super) async fn all_rows<T: FromRow>(&self, stmt: Statement) -> Result<Vec<T>, PortError> {
        decode_all(stmt.name, self.db.query(&stmt).await?)
    }

    /// Stores the intake atomically. `false`: the event id was already recorded (a duplicate),
    /// and nothing was written.
    pub async fn intake(&self, intake: &Intake) -> Result<bool, PortError> {
        // One batch: D1 runs it as one transaction, so the event, installation and job land
        // together or not at all. A redelivery fails on the event's primary key: only then is
        // a second round trip spent, to tell a duplicate from a real failure.
        match self.db.batch(&intake_statements(intake)).await {
            Ok(()) => Ok(true),
            Err(e) => self
                .duplicate_or(&intake.event.event_id, e)
                .await
                .map(|_| false),
        }
    }

    /// [`Store::intake`] and [`Store::take_head_job`] in one transaction: the event lands and
    /// its installation's head job is leased to `holder` before the answer, so the run after
    /// it starts without a round trip of its own. `None`: a duplicate (nothing stored, nothing
    /// leased); `Some(None)`: stored, and no job was due and free.
    pub async fn intake_and_take(
        &self,
        intake: &Intake,
        take: Take<'_>,
    ) -> Result<Option<Option<TakenJob>>, PortError> {
        let mut batch = intake_statements(intake);
        let stored = batch.len();
        batch.extend(take_statements(&take));
        match self.db.batch_query(&batch).await {
            Ok(results) => match taken_from(results.into_iter().skip(stored)) {
                Ok(taken) => Ok(Some(taken)),
                // Stored, but the leased job did not read back: its lease is freed for the
                // run to take it as usual.
                Err(_) => self.release(&take).await.map(|_| Some(None)),
            },
            Err(e) => {
                self.duplicate_or(&intake.event.event_id, e).await?;
                // The event is stored: a redelivery, or this very batch committed and only its
                // answer was lost. Then the lease is this holder's: freed, the event is new.
                Ok(self.release(&take).await?.then_some(None))
            }
        }
    }

    /// Lets the lease `take` took lapse now; `false` when `take.holder` holds none.
    async fn release(&self, take: &Take<'_>) -> Result<bool, PortError> {
        let freed = self
            .db
            .execute(&Statement::new(
                "release lease",
                "UPDATE jobs SET lease_until = 0 WHERE installation_id = ?1 AND lease_holder = ?2",
                vec![take.installation_id.into(), take.holder.into()],
            ))
            .await?;
        Ok(freed > 0)
    }

    /// After a failed intake batch: `Ok` when the event is stored already (a redelivery),
    /// the batch's error otherwise.
    async fn duplicate_or(&self, event_id: &str, e: PortError) -> Result<(), PortError> {
        match self.event(event_id).await? {
            Some(_) => Ok(()),
            None => Err(PortError(format!("intake: {e}"))),
        }
    }

    pub async fn installation(
        &self,
        installation_id: &str,
    ) -> Result<Option<Installation>, PortError> {
        let row: Option<InstallationRow> = self
            .one_row(installation_statement(installation_id))
            .await?;
        row.map(Installation::try_from).transpose()
    }

    /// Writes every column of the installation if it is still at `inst.version` and `lease`
    /// is still held, adding one to the version. `false`: someone wrote it since this copy was
    /// read (or the lease passed on), and nothing was written.
    pub async fn save_installation(
        &self,
        inst: &Installation,
        lease: Lease<'_>,
    ) -> Result<bool, PortError> {
        Ok(self
            .db
            .execute(&save_installation_statement(inst, lease))
            .await?
            == 1)
    }

    /// Extends `holder`'s lease on the job to `until_ms`; `false` when another runner has it.
    pub async fn renew_lease(&self, lease: Lease<'_>, until_ms: u64) -> Result<bool, PortError> {
        let stmt = Statement::new(
            "renew lease",
            "UPDATE jobs SET lease_until = ?3 WHERE job_id = ?1 AND lease_holder = ?2",
            vec![lease.job_id.into(), lease.holder.into(), until_ms.into()],
        );
        Ok(self.db.execute(&stmt).await? == 1)
    }

    /// Adds or refreshes one user of the installation, and its `users_count`.
    pub async fn upsert_user(&self, installation_id: &str, u: &User) -> Result<(), PortError> {
        self.db
            .batch(&[
                Statement::new(
                    "upsert user",
                    "INSERT OR REPLACE INTO installation_users \
                     (installation_id, user_id, email, name, active) VALUES (?1, ?2, ?3, ?4, ?5)",
                    vec![
                        installation_id.into(),
                        u.user_id.as_str().into(),
                        u.email.as_deref().into(),
                        u.name.as_deref().into(),
                        SqlValue::Integer(i64::from(u.active)),
                    ],
                ),
                Statement::new(
                    "upsert user",
                    "UPDATE installations SET users_count = \
                     (SELECT COUNT(*) FROM installation_users WHERE installation_id = ?1) \
                     WHERE installation_id = ?1",
                    vec![installation_id.into()],
                ),
            ])
            .await
    }

    /// Deletes the installation's users, ends every session it has and revokes its account's
    /// integration key (uninstall), while `lease` is held.
    pub async fn delete_users(
        &self,
        installation_id: &str,
        lease: Lease<'_>,
    ) -> Result<(), PortError> {
        let fence = lease_held(2, 3);
        let fenced = |name: &'static str, sql: String| Statement {
            name,
            sql: sql.into(),
            params: vec![
                installation_id.into(),
                lease.job_id.into(),
                lease.holder.into(),
            ],
        };
        let mut sessions = super::sessions::end_installation(installation_id);
        sessions.sql = format!("{} AND {fence}", sessions.sql).into();
        sessions
            .params
            .extend([lease.job_id.into(), lease.holder.into()]);
        self.db
            .batch(&[
                fenced(
                    "delete users",
                    format!("DELETE FROM installation_users WHERE installation_id = ?1 AND {fence}"),
                ),
                sessions,
                // The account's Talkdesk Integrations key goes with the installation.
                fenced(
                    "revoke integration key",
                    format!(
                        "DELETE FROM integration_keys WHERE account_id = \
                         (SELECT account_id FROM installations WHERE installation_id = ?1) AND {fence}"
                    ),
                ),
            ])
            .await
    }

    /// The installation's users, by id.
    pub async fn users(&self, installation_id: &str) -> Result<Vec<User>, PortError> {
        struct UserRow {
            user_id: String,
            email: Option<String>,
            name: Option<String>,
            active: i64,
        }
        impl FromRow for UserRow {
            fn from_row(c: &mut Cols) -> Self {
                UserRow {
                    user_id: c.text("user_id"),
                    email: c.opt_text("email"),
                    name: c.opt_text("name"),
                    active: c.int("active"),
                }
            }
        }
        let rows: Vec<UserRow> = self
            .all_rows(Statement::new(
                "read users",
                "SELECT user_id, email, name, active FROM installation_users \
                 WHERE installation_id = ?1 ORDER BY user_id",
                vec![installation_id.into()],
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| User {
                user_id: r.user_id,
                email: r.email,
                name: r.name,
                active: r.active != 0,
            })
            .collect())
    }

    pub async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, PortError> {
        let row: Option<EventRow> = self
            .one_row(Statement::new(
                "read event",
                "SELECT * FROM events WHERE event_id = ?1",
                vec![event_id.into()],
            ))
            .await?;
        row.map(EventRecord::try_from).transpose()
    }

    /// Sets the event's status and detail and drops any sealed credentials it carried, except
    /// on a failed or unconfirmed event: those were sent only once, so they stay for the
    /// operator (a failed event's until the row is purged; an unconfirmed one is never purged).
    pub async fn finish_event(
        &self,
        event_id: &str,
        status: EventStatus,
        detail: Option<&str>,
    ) -> Result<(), PortError> {
        self.db
            .execute(&finish_event_statement(event_id, status, detail))
            .await
            .map(|_| ())
    }

    /// A job's successful end in one transaction and one round trip: the lease renewed (the
    /// check that this runner still holds it), the installation's waiting jobs woken when
    /// `wake`, the event finished, the job saved and its lease released. `None` when the lease
    /// had passed to another runner, and nothing was written; otherwise whether the job's
    /// record was kept.
    ///
    /// `closing`: the installation's save that ends the job, in the same transaction and last;
    /// every statement is then also conditional on the installation still being at the
    /// version the job read, so `None` can also mean someone wrote it first (nothing written).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_job(
        &self,
        job: &Job,
        holder: &str,
        until_ms: u64,
        wake: bool,
        status: EventStatus,
        detail: &str,
        closing: Option<&Closing>,
        next: Option<&Take<'_>>,
    ) -> Result<Option<(bool, Option<TakenJob>)>, PortError> {
        let renew = Statement::new(
            "renew lease",
            "UPDATE jobs SET lease_until = ?3 WHERE job_id = ?1 AND lease_holder = ?2 \
             RETURNING job_id",
            vec![job.job_id.into(), holder.into(), until_ms.into()],
        );
        let held = |mut stmt: Statement| {
            let n = stmt.params.len();
            stmt.sql = format!("{} AND {}", stmt.sql, lease_held(n + 1, n + 2)).into();
            stmt.params.push(job.job_id.into());
            stmt.params.push(holder.into());
            stmt
        };
        let mut batch = vec![renew];
        if wake {
            batch.push(held(wake_statement(&job.installation_id, job.updated_at)));
        }
        batch.push(held(finish_event_statement(
            &job.event_id,
            status,
            Some(detail),
        )));
        let mut save = save_job_statement(job, holder);
        save.sql = format!("{} RETURNING job_id", save.sql).into();
        batch.push(save);
        let kept_at = batch.len() - 1;
        if let Some(Closing { installation: inst }) = closing {
            let at = Some(inst.version);
            for stmt in batch.iter_mut() {
                let fence = super::user_sync::at_version(stmt.params.len() + 1, at);
                let sql = match stmt.sql.find(" RETURNING ") {
                    Some(cut) => {
                        let (head, tail) = stmt.sql.split_at(cut);
                        format!("{head}{fence}{tail}")
                    }
                    None => format!("{}{fence}", stmt.sql),
                };
                stmt.sql = sql.into();
                stmt.params.push(inst.installation_id.as_str().into());
            }
            // Last, after the job's row released the lease: conditional on that row being
            // the one this batch wrote (and on the version, as every save).
            let mut save = installation_save(inst, |n| closed_by(job, n));
            save.sql = format!("{} RETURNING version", save.sql).into();
            batch.push(save);
        }
        // The next job's lease and first reads, only once this one is closed by this batch:
        // one round trip where the run would spend another.
        let taking = batch.len();
        // Due from the close's own time on, so the jobs its wake-up made due are.
        let next = next.map(|take| Take {
            now_ms: take.now_ms.max(job.updated_at),
            ..*take
        });
        if let Some(take) = &next {
            let mut stmts = take_statements(take);
            let lease = &mut stmts[0];
            let (fence, params) = closed_by(job, lease.params.len() + 1);
            let cut = lease.sql.find(" RETURNING ").unwrap_or(lease.sql.len());
            let (head, tail) = lease.sql.split_at(cut);
            lease.sql = format!("{head} AND {fence}{tail}").into();
            lease.params.extend(params);
            batch.extend(stmts);
        }
        let mut results = self.db.batch_query(&batch).await?;
        if results.first().is_none_or(|rows| rows.is_empty()) {
            return Ok(None);
        }
        let kept = results.get(kept_at).is_some_and(|rows| !rows.is_empty());
        let taken = match &next {
            Some(take) => match taken_from(results.split_off(taking).into_iter()) {
                Ok(taken) => taken,
                // The close landed; a next job that does not read back is freed, not
                // stranded (the run takes it again itself).
                Err(_) => {
                    self.release(take).await?;
                    None
                }
            },
            None => None,
        };
        Ok(Some((kept, taken)))
    }

    /// An operator's retry of an unconfirmed event: its job is pending again, due now, with its
    /// attempts counted afresh. The installation id, or `None` when the event has no
    /// unconfirmed job.
    pub async fn requeue_unconfirmed(
        &self,
        event_id: &str,
        now_ms: u64,
    ) -> Result<Option<String>, PortError> {
        let job = self
            .job(Statement::new(
                "requeue unconfirmed job",
                "UPDATE jobs SET state = ?3, attempts = 0, next_attempt_at = ?2, \
                 last_error = NULL, updated_at = ?2, lease_holder = NULL, lease_until = 0 \
                 WHERE event_id = ?1 AND state = ?4 RETURNING *",
                vec![
                    event_id.into(),
                    now_ms.into(),
                    JobState::Pending.as_str().into(),
                    JobState::Unconfirmed.as_str().into(),
                ],
            ))
            .await?;
        if job.is_some() {
            let stmt = Statement::new(
                "requeue unconfirmed event",
                "UPDATE events SET status = ?2, detail = NULL WHERE event_id = ?1",
                vec![event_id.into(), EventStatus::Received.as_str().into()],
            );
            self.db.execute(&stmt).await?;
        }
        Ok(job.map(|j| j.installation_id))
    }

    /// An operator's decision to drop an unconfirmed event: its job fails and its data (a
    /// rotation's sealed set, an install's candidate) goes. `false` when the event has no
    /// unconfirmed job.
    pub async fn discard_unconfirmed(
        &self,
        event_id: &str,
        now_ms: u64,
    ) -> Result<bool, PortError> {
        let stmt = Statement::new(
            "discard unconfirmed job",
            "UPDATE jobs SET state = ?3, last_error = ?4, updated_at = ?2 \
             WHERE event_id = ?1 AND state = ?5",
            vec![
                event_id.into(),
                now_ms.into(),
                JobState::Failed.as_str().into(),
                "discarded by the operator".into(),
                JobState::Unconfirmed.as_str().into(),
            ],
        );
        if self.db.execute(&stmt).await? == 0 {
            return Ok(false);
        }
        self.finish_event(
            event_id,
            EventStatus::Ignored,
            Some("discarded by the operator"),
        )
        .await?;
        Ok(true)
    }

    /// Records that Talkdesk confirmed the event, before acting on it.
    pub async fn mark_confirmed(&self, event_id: &str) -> Result<(), PortError> {
        let stmt = Statement::new(
            "mark event confirmed",
            "UPDATE events SET status = ?2 WHERE event_id = ?1 AND status = ?3",
            vec![
                event_id.into(),
                EventStatus::Confirmed.as_str().into(),
                EventStatus::Received.as_str().into(),
            ],
        );
        self.db.execute(&stmt).await.map(|_| ())
    }

    async fn job(&self, stmt: Statement) -> Result<Option<Job>, PortError> {
        let row: Option<JobRow> = self.one_row(stmt).await?;
        row.map(Job::try_from).transpose()
    }

    /// The next job of an installation to run: installs first, then the soonest due, in
    /// arrival order. A job in backoff (an event Talkdesk cannot confirm yet, a forgery) so
    /// never holds up one that is due.
    pub async fn head_job(&self, installation_id: &str) -> Result<Option<Job>, PortError> {
        self.head_job_at(installation_id, i64::MAX as u64).await
    }

    /// [`Store::head_job`] as of `now_ms`: an install goes first only when it is due, so an
    /// install held for a person's decision does not hold up its installation's uninstall.
    pub async fn head_job_at(
        &self,
        installation_id: &str,
        now_ms: u64,
    ) -> Result<Option<Job>, PortError> {
        self.job(Statement::new(
            "head job",
            "SELECT * FROM jobs WHERE installation_id = ?1 AND state = ?2 \
             ORDER BY (kind = ?3 AND next_attempt_at <= ?4) DESC, next_attempt_at, job_id LIMIT 1",
            vec![
                installation_id.into(),
                JobState::Pending.as_str().into(),
                JobKind::Install.as_str().into(),
                now_ms.into(),
            ],
        ))
        .await
    }

    /// Installations whose next job (the one [`Store::head_job`] picks) is due by `now_ms`:
    /// proven installations first, so unproven work (a flood of forged installs, each its own
    /// installation) never takes a sweep's places from theirs; then the longest-waiting first.
    /// A job queued behind a head in backoff must not make its installation look due every
    /// minute, and a head another runner holds (its lease still running) is skipped: the sweep
    /// spends its places and queries on work it can do.
    pub async fn due_installations(
        &self,
        now_ms: u64,
        limit: u32,
    ) -> Result<Vec<String>, PortError> {
        struct Due {
            installation_id: String,
        }
        impl FromRow for Due {
            fn from_row(c: &mut Cols) -> Self {
                Due {
                    installation_id: c.text("installation_id"),
                }
            }
        }
        let rows: Vec<Due> = self
            .all_rows(Statement::new(
                "due installations",
                "SELECT j.installation_id FROM jobs j \
                 WHERE j.state = ?3 AND j.next_attempt_at <= ?1 AND j.lease_until <= ?1 \
                   AND j.job_id = ( \
                   SELECT h.job_id FROM jobs h \
                   WHERE h.installation_id = j.installation_id AND h.state = ?3 \
                   ORDER BY (h.kind = ?4 AND h.next_attempt_at <= ?1) DESC, h.next_attempt_at, \
                     h.job_id LIMIT 1) \
                 ORDER BY EXISTS (SELECT 1 FROM installations i \
                   WHERE i.installation_id = j.installation_id AND i.state NOT IN (?5, ?6)) DESC, \
                   j.next_attempt_at LIMIT ?2",
                vec![
                    now_ms.into(),
                    u64::from(limit).into(),
                    JobState::Pending.as_str().into(),
                    JobKind::Install.as_str().into(),
                    InstallationState::Received.as_str().into(),
                    InstallationState::Forged.as_str().into(),
                ],
            ))
            .await?;
        Ok(rows.into_iter().map(|r| r.installation_id).collect())
    }

    /// Takes the job's lease if it is due and free (one runner per job at a time, across
    /// isolates), returning the job as stored now, so a runner never works from a copy another
    /// runner has since changed; `None` when someone else has it or it is not due.
    pub async fn lease_job(
        &self,
        job_id: i64,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Option<Job>, PortError> {
        self.job(Statement::new(
            "lease job",
            // The attempt is counted as the lease is taken: a run that dies before recording
            // its outcome still used one.
            "UPDATE jobs SET lease_holder = ?2, lease_until = ?4, attempts = attempts + 1 \
             WHERE job_id = ?1 AND state = ?5 AND next_attempt_at <= ?3 \
               AND (lease_until <= ?3 OR lease_holder = ?2) \
             RETURNING *",
            vec![
                job_id.into(),
                holder.into(),
                now_ms.into(),
                until_ms.into(),
                JobState::Pending.as_str().into(),
            ],
        ))
        .await
    }

    /// [`Store::head_job_at`] and [`Store::lease_job`] in one transaction, with what the job
    /// reads first (its installation and its event): one round trip where four were. `None`
    /// when the installation has no due job, or another runner holds it.
    pub async fn take_head_job(
        &self,
        installation_id: &str,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Option<TakenJob>, PortError> {
        let take = Take {
            installation_id,
            holder,
            now_ms,
            until_ms,
        };
        let results = self.db.batch_query(&take_statements(&take)).await?;
        taken_from(results.into_iter())
    }

    /// Writes the job's state, attempts, next attempt and error, and releases `holder`'s
    /// lease. `false` when `holder` no longer holds it: the lease lapsed and another runner
    /// took the job over, so this runner's outcome is not recorded (the other one's will be).
    pub async fn save_job(&self, job: &Job, holder: &str) -> Result<bool, PortError> {
        Ok(self.db.execute(&save_job_statement(job, holder)).await? == 1)
    }

    pub async fn jobs_of(&self, installation_id: &str) -> Result<Vec<Job>, PortError> {
        let rows: Vec<JobRow> = self
            .all_rows(Statement::new(
                "jobs of",
                "SELECT * FROM jobs WHERE installation_id = ?1 ORDER BY job_id",
                vec![installation_id.into()],
            ))
            .await?;
        rows.into_iter().map(Job::try_from).collect()
    }

    /// Makes every pending job of the installation due now (they were waiting for its install).
    pub async fn wake_jobs(&self, installation_id: &str, now_ms: u64) -> Result<(), PortError> {
        self.db
            .execute(&wake_statement(installation_id, now_ms))
            .await
            .map(|_| ())
    }

    /// The installation's events, newest first, for the operator: `[{event_id, event_type,
    /// status, detail, created_at, received_at}]` (never a secret).
    pub async fn events_of(
        &self,
        installation_id: &str,
        before_ms: u64,
        limit: u32,
    ) -> Result<Vec<serde_json::Value>, PortError> {
        #[derive(serde::Serialize)]
        struct EventLine {
            event_id: String,
            event_type: String,
            status: String,
            detail: Option<String>,
            created_at: String,
            received_at: u64,
        }
        impl FromRow for EventLine {
            fn from_row(c: &mut Cols) -> Self {
                EventLine {
                    event_id: c.text("event_id"),
                    event_type: c.text("event_type"),
                    status: c.text("status"),
                    detail: c.opt_text("detail"),
                    created_at: c.text("created_at"),
                    received_at: c.uint("received_at"),
                }
            }
        }
        let rows: Vec<EventLine> = self
            .all_rows(Statement::new(
                "events of installation",
                "SELECT event_id, event_type, status, detail, created_at, received_at FROM events \
                 WHERE installation_id = ?1 AND received_at < ?2 \
                 ORDER BY received_at DESC, event_id DESC LIMIT ?3",
                vec![
                    installation_id.into(),
                    before_ms.into(),
                    u64::from(limit).into(),
                ],
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| serde_json::to_value(r).expect("serialises"))
            .collect())
    }

    /// Installations ordered by id, after `after`, at most `limit`.
    pub async fn list_installations(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Installation>, PortError> {
        let rows: Vec<InstallationRow> = self
            .all_rows(Statement::new(
                "list installations",
                "SELECT * FROM installations WHERE installation_id > ?1 \
                 ORDER BY installation_id LIMIT ?2",
                vec![after.unwrap_or("").into(), u64::from(limit).into()],
            ))
            .await?;
        rows.into_iter().map(Installation::try_from).collect()
    }

    /// Remembers an account (kept across uninstalls for reinstalls).
    pub async fn upsert_account(
        &self,
        account_id: &str,
        account_name: &str,
        now_ms: u64,
    ) -> Result<(), PortError> {
        let stmt = upsert_account_statement(account_id, account_name, now_ms);
        self.db.execute(&stmt).await.map(|_| ())
    }

    pub async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, PortError> {
        self.one_row(Statement::new(
            "read account",
            "SELECT account_id, account_name, settings FROM accounts WHERE account_id = ?1",
            vec![account_id.into()],
        ))
        .await
    }

    /// Replaces an account's settings; `false` when the account is unknown.
    pub async fn set_account_settings(
        &self,
        account_id: &str,
        settings: &str,
        now_ms: u64,
    ) -> Result<bool, PortError> {
        let stmt = Statement::new(
            "account settings",
            "UPDATE accounts SET settings = ?2, updated_at = ?3 WHERE account_id = ?1",
            vec![
                account_id.into(),
                settings.into(),
                now_ms.to_string().into(),
            ],
        );
        Ok(self.db.execute(&stmt).await? == 1)
    }

    /// Deletes installations proven forged, or never proven and with no candidate left to
    /// prove (every install event forged or discarded), last changed before `before_ms` and with
    /// no pending or unconfirmed work, with their users and cached tokens: such a row serves
    /// nobody. Their events stay until purged like any other, so a redelivery is recognised.
    pub async fn purge_forged(&self, before_ms: u64) -> Result<(), PortError> {
        let doomed = "SELECT i.installation_id FROM installations i \
             WHERE i.state IN (?1, ?5) AND i.updated_at < ?2 AND NOT EXISTS ( \
               SELECT 1 FROM jobs j WHERE j.installation_id = i.installation_id \
                 AND j.state IN (?3, ?4))";
        let params = || {
            vec![
                InstallationState::Forged.as_str().into(),
                before_ms.into(),
                JobState::Pending.as_str().into(),
                JobState::Unconfirmed.as_str().into(),
                InstallationState::Received.as_str().into(),
            ]
        };
        let batch = [
            Statement {
                name: "purge forged tokens",
                sql: format!(
                    "DELETE FROM access_tokens WHERE substr(token_key, 7, \
                     instr(substr(token_key, 7), ':') - 1) IN ( \
                       SELECT replace(replace(d.installation_id, '%', '%25'), ':', '%3A') \
                       FROM ({doomed}) d)"
                )
                .into(),
                params: params(),
            },
            Statement {
                name: "purge forged users",
                sql: format!("DELETE FROM installation_users WHERE installation_id IN ({doomed})")
                    .into(),
                params: params(),
            },
            Statement {
                name: "purge forged installations",
                sql: format!("DELETE FROM installations WHERE installation_id IN ({doomed})")
                    .into(),
                params: params(),
            },
        ];
        self.db.batch(&batch).await
    }

    /// Whether an `app.installed` for this installation id is still being worked on (its
    /// installation row is written once it is proven).
    pub async fn install_in_progress(&self, installation_id: &str) -> Result<bool, PortError> {
        let rows = self
            .db
            .query(&Statement::new(
                "install in progress",
                "SELECT 1 AS found FROM jobs WHERE installation_id = ?1 AND kind = ?2 \
                 AND state = ?3 LIMIT 1",
                vec![
                    installation_id.into(),
                    JobKind::Install.as_str().into(),
                    JobState::Pending.as_str().into(),
                ],
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    /// The latest event of the installation that Talkdesk confirmed and the app applied:
    /// its type and when it arrived (ms).
    pub async fn last_applied(
        &self,
        installation_id: &str,
    ) -> Result<Option<(String, u64)>, PortError> {
        struct Last {
            event_type: String,
            received_at: u64,
        }
        impl FromRow for Last {
            fn from_row(c: &mut Cols) -> Self {
                Last {
                    event_type: c.text("event_type"),
                    received_at: c.uint("received_at"),
                }
            }
        }
        let last: Option<Last> = self
            .one_row(Statement::new(
                "last applied event",
                "SELECT event_type, received_at FROM events \
                 WHERE installation_id = ?1 AND status = ?2 \
                 ORDER BY received_at DESC LIMIT 1",
                vec![installation_id.into(), EventStatus::Done.as_str().into()],
            ))
            .await?;
        Ok(last.map(|l| (l.event_type, l.received_at)))
    }

    /// Pending jobs of an installation, and pending installs whose candidate names the
    /// account label, for the caps on queued work.
    pub async fn pending_counts(
        &self,
        installation_id: &str,
        account_name: Option<&str>,
    ) -> Result<(u64, u64), PortError> {
        let counts: Option<Counts> = self
            .one_row(pending_counts_statement(installation_id, account_name))
            .await?;
        Ok(counts.map_or((0, 0), |c| (c.installation, c.account)))
    }

    /// What the intake of an event reads, in one round trip: the installation the event would
    /// create (when it is an install) and the queued-work counts of the installation its job
    /// is for (when it makes one).
    pub async fn intake_reads(
        &self,
        installation_id: Option<&str>,
        job_for: Option<&str>,
        account_name: Option<&str>,
    ) -> Result<(Option<Installation>, (u64, u64)), PortError> {
        let mut batch = Vec::new();
        if let Some(id) = installation_id {
            batch.push(installation_statement(id));
        }
        if let Some(id) = job_for {
            batch.push(pending_counts_statement(id, account_name));
        }
        if batch.is_empty() {
            return Ok((None, (0, 0)));
        }
        let mut results = self.db.batch_query(&batch).await?.into_iter();
        let mut first = || results.next().and_then(|rows| rows.into_iter().next());
        let installation = match installation_id {
            Some(_) => first()
                .map(|row| decode_row::<InstallationRow>("read installation", row))
                .transpose()?
                .map(Installation::try_from)
                .transpose()?,
            None => None,
        };
        let counts = match job_for {
            Some(_) => first()
                .map(|row| decode_row::<Counts>("pending counts", row))
                .transpose()?
                .map_or((0, 0), |c| (c.installation, c.account)),
            None => (0, 0),
        };
        Ok((installation, counts))
    }

    /// Deletes event records past their keep-until time, and finished jobs as old; pending and
    /// unconfirmed ones (and their events) never: they wait for their work or the operator.
    pub async fn purge_events(&self, now_ms: u64) -> Result<(), PortError> {
        let events = Statement::new(
            "purge events",
            "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events \
             WHERE keep_until < ?1 AND status NOT IN (?2, ?3, ?4) LIMIT ?5)",
            vec![
                now_ms.into(),
                EventStatus::Received.as_str().into(),
                EventStatus::Unconfirmed.as_str().into(),
                EventStatus::Confirmed.as_str().into(),
                PURGE_BATCH.into(),
            ],
        );
        let jobs = Statement::new(
            "purge jobs",
            "DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs \
             WHERE state IN (?2, ?3, ?4) AND updated_at < ?1 LIMIT ?5)",
            vec![
                now_ms.saturating_sub(KEEP_EVENTS_MS).into(),
                JobState::Done.as_str().into(),
                JobState::Failed.as_str().into(),
                JobState::Expired.as_str().into(),
                PURGE_BATCH.into(),
            ],
        );
        // Token rows past expiry (a day's grace for a clock that disagrees) whose lease is over.
        let tokens = Statement::new(
            "purge tokens",
            "DELETE FROM access_tokens WHERE rowid IN (SELECT rowid FROM access_tokens \
             WHERE expires_at < ?1 AND lease_until_ms < ?2 LIMIT ?3)",
            vec![
                (now_ms / 1000).saturating_sub(24 * 3600).into(),
                now_ms.into(),
                PURGE_BATCH.into(),
            ],
        );
        let actions = Statement::new(
            "purge bridge actions",
            "DELETE FROM bridge_actions WHERE rowid IN (SELECT rowid FROM bridge_actions \
             WHERE created_at < ?1 LIMIT ?2)",
            vec![
                now_ms.saturating_sub(KEEP_ACTIONS_MS).into(),
                PURGE_BATCH.into(),
            ],
        );
        for stmt in [events, jobs, tokens, actions] {
            self.db.execute(&stmt).await?;
        }
        Ok(())
    }
}

/// Makes every pending job of the installation due at `now_ms`. Through the installation's
/// index: without statistics SQLite walks `jobs_due`, every installation's jobs due later,
/// which in a backlog of 10,000 is half a millisecond per statement instead of microseconds.
fn wake_statement(installation_id: &str, now_ms: u64) -> Statement {
    Statement::new(
        "wake jobs",
        "UPDATE jobs INDEXED BY jobs_installation SET next_attempt_at = ?2 \
         WHERE installation_id = ?1 AND state = ?3 AND next_attempt_at > ?2",
        vec![
            installation_id.into(),
            now_ms.into(),
            JobState::Pending.as_str().into(),
        ],
    )
}

/// The event's status and detail; its sealed credentials dropped unless it failed or is
/// unconfirmed.
fn finish_event_statement(event_id: &str, status: EventStatus, detail: Option<&str>) -> Statement {
    Statement::new(
        "finish event",
        "UPDATE events SET status = ?2, detail = ?3, \
         sealed_new_secret = CASE WHEN ?2 IN (?4, ?5) THEN sealed_new_secret END, \
         sealed_new_key = CASE WHEN ?2 IN (?4, ?5) THEN sealed_new_key END, \
         candidate = CASE WHEN ?2 IN (?4, ?5) THEN candidate END \
         WHERE event_id = ?1",
        vec![
            event_id.into(),
            status.as_str().into(),
            detail.into(),
            EventStatus::Failed.as_str().into(),
            EventStatus::Unconfirmed.as_str().into(),
        ],
    )
}

/// The job's state, attempts, next attempt and error, with `holder`'s lease released, if
/// `holder` still holds it.
fn save_job_statement(job: &Job, holder: &str) -> Statement {
    Statement::new(
        "save job",
        "UPDATE jobs SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5, \
         updated_at = ?6, lease_holder = NULL, lease_until = 0 \
         WHERE job_id = ?1 AND lease_holder = ?7",
        vec![
            job.job_id.into(),
            job.state.as_str().into(),
            job.attempts.into(),
            job.next_attempt_at.into(),
            job.last_error.as_deref().into(),
            job.updated_at.into(),
            holder.into(),
        ],
    )
}

fn installation_statement(installation_id: &str) -> Statement {
    Statement::new(
        "read installation",
        "SELECT * FROM installations WHERE installation_id = ?1",
        vec![installation_id.into()],
    )
}

/// The two counts of [`Store::pending_counts`], as one row.
struct Counts {
    installation: u64,
    account: u64,
}

impl FromRow for Counts {
    fn from_row(c: &mut Cols) -> Self {
        Counts {
            installation: c.uint("installation"),
            account: c.uint("account"),
        }
    }
}

fn pending_counts_statement(installation_id: &str, account_name: Option<&str>) -> Statement {
    Statement::new(
        "pending counts",
        "SELECT \
           (SELECT COUNT(*) FROM jobs WHERE installation_id = ?1 AND state = ?3) \
             AS installation, \
           (SELECT COUNT(*) FROM events e JOIN jobs j ON j.event_id = e.event_id \
             WHERE e.candidate IS NOT NULL \
               AND json_extract(e.candidate, '$.account_name') = ?2 \
               AND j.state = ?3 AND j.kind = ?4) AS account",
        vec![
            installation_id.into(),
            account_name.into(),
            JobState::Pending.as_str().into(),
            JobKind::Install.as_str().into(),
        ],
    )
}

/// The installation's save that ends a job, written with the job's close
/// ([`Store::finish_job`]): the close lands only while the installation is still at the
/// version the job read, and the save only with the close.
pub struct Closing {
    pub installation: Installation,
}

/// `EXISTS` the job row as a close of `job` wrote it (done, lease released, its time), with its
/// parameters from `?{first}`: the condition of what a close's transaction writes after it.
fn closed_by(job: &Job, first: usize) -> (String, Vec<SqlValue>) {
    (
        format!(
            "EXISTS (SELECT 1 FROM jobs WHERE job_id = ?{first} AND state = ?{} \
             AND lease_holder IS NULL AND updated_at = ?{})",
            first + 1,
            first + 2
        ),
        vec![
            job.job_id.into(),
            job.state.as_str().into(),
            job.updated_at.into(),
        ],
    )
}

/// Which installation's head job to lease, to whom, from when until when.
#[derive(Clone, Copy)]
pub struct Take<'a> {
    pub installation_id: &'a str,
    pub holder: &'a str,
    pub now_ms: u64,
    pub until_ms: u64,
}

/// The event, the installation (for an install) and the job, as one transaction's inserts.
fn intake_statements(intake: &Intake) -> Vec<Statement> {
    let mut batch = vec![insert(
        "store event",
        "events",
        EventRow::from(&intake.event),
        &[],
    )];
    if let Some(inst) = &intake.installation {
        batch.push(insert(
            "store installation",
            "installations",
            InstallationRow::from(inst),
            &[],
        ));
    }
    if let Some(job) = &intake.job {
        batch.push(insert("store job", "jobs", JobRow::from(job), &["job_id"]));
    }
    batch
}

/// The head job's lease ([`Store::head_job_at`] and [`Store::lease_job`] at once) and what
/// the job reads first: its installation and its event.
fn take_statements(take: &Take<'_>) -> Vec<Statement> {
    let Take {
        installation_id,
        holder,
        now_ms,
        until_ms,
    } = *take;
    let pending = JobState::Pending.as_str();
    vec![
        Statement::new(
            "lease job",
            "UPDATE jobs SET lease_holder = ?2, lease_until = ?4, attempts = attempts + 1 \
                 WHERE job_id = (SELECT h.job_id FROM jobs h \
                   WHERE h.installation_id = ?1 AND h.state = ?5 \
                   ORDER BY (h.kind = ?6 AND h.next_attempt_at <= ?3) DESC, \
                     h.next_attempt_at, h.job_id LIMIT 1) \
                   AND state = ?5 AND next_attempt_at <= ?3 \
                   AND (lease_until <= ?3 OR lease_holder = ?2) \
                 RETURNING *",
            vec![
                installation_id.into(),
                holder.into(),
                now_ms.into(),
                until_ms.into(),
                pending.into(),
                JobKind::Install.as_str().into(),
            ],
        ),
        // Only when a job was leased: a take that finds nothing due reads no row back.
        Statement::new(
            "read installation",
            "SELECT * FROM installations WHERE installation_id = ?1 AND EXISTS \
             (SELECT 1 FROM jobs WHERE installation_id = ?1 AND lease_holder = ?2 AND state = ?3)",
            vec![installation_id.into(), holder.into(), pending.into()],
        ),
        // The job just leased is the only one of the installation this holder has.
        Statement::new(
            "read event",
            "SELECT e.* FROM events e JOIN jobs j ON j.event_id = e.event_id \
                 WHERE j.installation_id = ?1 AND j.lease_holder = ?2 AND j.state = ?3 \
                 ORDER BY j.lease_until DESC LIMIT 1",
            vec![installation_id.into(), holder.into(), pending.into()],
        ),
        Statement::new(
            "read sync cursor",
            "SELECT c.job_id, c.next_page, c.fetched FROM user_syncs c \
             JOIN jobs j ON j.job_id = c.job_id \
             WHERE j.installation_id = ?1 AND j.lease_holder = ?2 AND j.state = ?3 \
             ORDER BY j.lease_until DESC LIMIT 1",
            vec![installation_id.into(), holder.into(), pending.into()],
        ),
    ]
}

/// The job [`take_statements`] leased, if any, with its first reads.
fn taken_from(mut results: impl Iterator<Item = Vec<Row>>) -> Result<Option<TakenJob>, PortError> {
    let mut first = || -> Option<Row> { results.next().and_then(|rows| rows.into_iter().next()) };
    let (job, inst, event, cursor) = (first(), first(), first(), first());
    let Some(job) = job else {
        return Ok(None);
    };
    let job = Job::try_from(decode_row::<JobRow>("lease job", job)?)?;
    // The lease is taken now: a row that does not decode becomes the job's outcome (the
    // installation's) or a fresh read (the event's), never an error that leaves the job
    // leased with nothing recorded.
    let installation = inst
        .map(|row| decode_row::<InstallationRow>("read installation", row))
        .transpose()
        .and_then(|row| row.map(Installation::try_from).transpose());
    let event = event
        .and_then(|row| decode_row::<EventRow>("read event", row).ok())
        .and_then(|row| EventRecord::try_from(row).ok())
        .filter(|e| e.event_id == job.event_id);
    struct CursorRow {
        job_id: i64,
        next_page: u32,
        fetched: u64,
    }
    impl FromRow for CursorRow {
        fn from_row(c: &mut Cols) -> Self {
            CursorRow {
                job_id: c.int("job_id"),
                next_page: c.page("next_page"),
                fetched: c.uint("fetched"),
            }
        }
    }
    let sync_cursor = match cursor {
        None => Some(None),
        Some(row) => decode_row::<CursorRow>("read sync cursor", row)
            .ok()
            .filter(|c| c.job_id == job.job_id)
            .map(|c| {
                Some(super::SyncCursor {
                    next_page: c.next_page,
                    fetched: c.fetched,
                })
            }),
    };
    Ok(Some(TakenJob {
        job,
        installation,
        event,
        sync_cursor,
    }))
}

/// [`Store::save_installation`] as a statement (one row changed: saved).
pub fn save_installation_statement(inst: &Installation, lease: Lease<'_>) -> Statement {
    installation_save(inst, |n| {
        (
            lease_held(n, n + 1),
            vec![lease.job_id.into(), lease.holder.into()],
        )
    })
}

/// Every column of the installation, if it is still at `inst.version` and `fence` (given the
/// index of its first parameter) holds.
fn installation_save(
    inst: &Installation,
    fence: impl FnOnce(usize) -> (String, Vec<SqlValue>),
) -> Statement {
    let (cols, mut params) = row_columns(
        InstallationRow::from(inst).into_row(),
        &["installation_id", "version"],
    );
    let sets: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect();
    let n = cols.len();
    let (condition, fence_params) = fence(n + 3);
    let sql = format!(
        "UPDATE installations SET {}, version = version + 1 \
         WHERE installation_id = ?{} AND version = ?{} AND {}",
        sets.join(", "),
        n + 1,
        n + 2,
        condition,
    );
    params.push(inst.installation_id.as_str().into());
    params.push(inst.version.into());
    params.extend(fence_params);
    Statement {
        name: "save installation",
        sql: sql.into(),
        params,
    }
}

/// [`Store::upsert_account`] as a job's write: only while `lease` is held and, when given, the
/// installation is still at version `at`.
pub fn fenced_upsert_account_statement(
    inst: &Installation,
    now_ms: u64,
    lease: Lease<'_>,
    at: Option<u64>,
) -> Statement {
    let mut stmt = Statement {
        name: "upsert account",
        sql: format!(
            "INSERT INTO accounts (account_id, account_name, created_at, updated_at) \
             SELECT ?1, ?2, ?3, ?3 WHERE {}{} \
             ON CONFLICT (account_id) DO UPDATE SET account_name = ?2, updated_at = ?3",
            lease_held(4, 5),
            super::user_sync::at_version(6, at)
        )
        .into(),
        // The accounts table (migration 0001) keeps its times as text.
        params: vec![
            inst.account_id.as_str().into(),
            inst.account_name.as_str().into(),
            now_ms.to_string().into(),
            lease.job_id.into(),
            lease.holder.into(),
        ],
    };
    // The version check names the installation as the sixth parameter.
    if at.is_some() {
        stmt.params.push(inst.installation_id.as_str().into());
    }
    stmt
}

/// [`Store::upsert_account`] as a statement.
fn upsert_account_statement(account_id: &str, account_name: &str, now_ms: u64) -> Statement {
    Statement::new(
        "upsert account",
        "INSERT INTO accounts (account_id, account_name, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?3) \
         ON CONFLICT (account_id) DO UPDATE SET account_name = ?2, updated_at = ?3",
        // The accounts table (migration 0001) keeps its times as text.
        vec![
            account_id.into(),
            account_name.into(),
            now_ms.to_string().into(),
        ],
    )
}
