//! A users re-read spread over invocations (migration 0010): each page read goes into a staging
//! set keyed by the job, with the next page to read, in one transaction; when the last page is
//! in, one transaction swaps the staging set in for the installation's users. A reader sees the
//! old set or the new one, never half of one. Every write is conditional on the job's lease, so
//! a runner that lost it (stalled past its lease) writes nothing.

use super::lifecycle::Store;
use super::row_codec::{decode_row, Cols, FromRow};
use crate::ports::{Database, PortError, Statement};
use crate::store::records::User;

/// One `COUNT(*) AS n` row.
struct Count {
    n: u64,
}

impl FromRow for Count {
    fn from_row(c: &mut Cols) -> Self {
        Count { n: c.uint("n") }
    }
}

/// The job whose lease a write is conditional on.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub job_id: i64,
    pub holder: &'a str,
}

/// SQL true while `holder` (parameter `h`) holds job `j`'s lease.
pub fn lease_held(j: usize, h: usize) -> String {
    format!("EXISTS (SELECT 1 FROM jobs WHERE job_id = ?{j} AND lease_holder = ?{h})")
}

/// Users as the JSON array the statements expand with `json_each` (one bound parameter).
fn users_json(users: &[User]) -> Result<String, PortError> {
    serde_json::to_string(
        &users
            .iter()
            .map(|u| {
                serde_json::json!({
                    "id": u.user_id, "email": u.email, "name": u.name, "active": u.active,
                })
            })
            .collect::<Vec<_>>(),
    )
    .map_err(|e| PortError(format!("users: {e}")))
}

/// Ending the sessions of users without a licence, while `lease` is held.
/// ` AND` the installation (its id bound at `?{i}`) is still at `version`, when given: the
/// condition of a write that must land only with the save of its transaction.
pub fn at_version(i: usize, version: Option<u64>) -> String {
    version
        .map(|v| {
            format!(" AND (SELECT version FROM installations WHERE installation_id = ?{i}) = {v}")
        })
        .unwrap_or_default()
}

fn fenced_end_unlicensed(installation_id: &str, lease: Lease<'_>, at: Option<u64>) -> Statement {
    let mut end = super::sessions::end_unlicensed(installation_id);
    end.sql = format!("{} AND {}{}", end.sql, lease_held(2, 3), at_version(1, at)).into();
    end.params
        .extend([lease.job_id.into(), lease.holder.into()]);
    end
}

/// Where a re-read stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncCursor {
    /// The next page to read; [`SyncCursor::SWAPPED`] once the set is swapped in.
    pub next_page: u32,
    pub fetched: u64,
}

impl FromRow for SyncCursor {
    fn from_row(c: &mut Cols) -> Self {
        SyncCursor {
            next_page: c.page("next_page"),
            fetched: c.uint("fetched"),
        }
    }
}

impl SyncCursor {
    /// `next_page` of a re-read whose set is already the installation's: the job, paused or
    /// retried after the swap, does not read the pages again.
    pub const SWAPPED: u32 = 0;

    pub fn swapped(&self) -> bool {
        self.next_page == Self::SWAPPED
    }
}

impl<D: Database> Store<'_, D> {
    /// The job's re-read so far, if it has started one.
    pub async fn sync_cursor(&self, job_id: i64) -> Result<Option<SyncCursor>, PortError> {
        self.one_row(Statement::new(
            "sync cursor",
            "SELECT next_page, fetched FROM user_syncs WHERE job_id = ?1",
            vec![job_id.into()],
        ))
        .await
    }

    /// Starts the job's re-read at page 1, with nothing staged.
    pub async fn start_sync(
        &self,
        lease: Lease<'_>,
        installation_id: &str,
        now_ms: u64,
    ) -> Result<(), PortError> {
        let fence = lease_held(1, 2);
        self.db()
            .batch(&[
                Statement {
                    name: "start sync",
                    sql: format!("DELETE FROM user_staging WHERE job_id = ?1 AND {fence}").into(),
                    params: vec![lease.job_id.into(), lease.holder.into()],
                },
                Statement {
                    name: "start sync",
                    sql: format!(
                        "INSERT OR REPLACE INTO user_syncs \
                         (job_id, installation_id, next_page, fetched, updated_at) \
                         SELECT ?1, ?3, 1, 0, ?4 WHERE {fence}"
                    )
                    .into(),
                    params: vec![
                        lease.job_id.into(),
                        lease.holder.into(),
                        installation_id.into(),
                        now_ms.into(),
                    ],
                },
            ])
            .await
    }

    /// Stages one page of users and moves the cursor past it, in one transaction.
    pub async fn stage_page(
        &self,
        lease: Lease<'_>,
        users: &[User],
        next: SyncCursor,
        now_ms: u64,
    ) -> Result<(), PortError> {
        let fence = lease_held(1, 2);
        let json = users_json(users)?;
        self.db()
            .batch(&[
                Statement {
                    name: "stage users",
                    sql: format!(
                        "INSERT OR REPLACE INTO user_staging (job_id, user_id, email, name, active) \
                         SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.email'), \
                           json_extract(value, '$.name'), \
                           CASE WHEN json_extract(value, '$.active') THEN 1 ELSE 0 END \
                         FROM json_each(?3) WHERE {fence}"
                    )
                    .into(),
                    params: vec![lease.job_id.into(), lease.holder.into(), json.into()],
                },
                Statement {
                    name: "stage users",
                    sql: format!(
                        "UPDATE user_syncs SET next_page = ?3, fetched = ?4, updated_at = ?5 \
                         WHERE job_id = ?1 AND {fence}"
                    )
                    .into(),
                    params: vec![
                        lease.job_id.into(),
                        lease.holder.into(),
                        u64::from(next.next_page).into(),
                        next.fetched.into(),
                        now_ms.into(),
                    ],
                },
            ])
            .await
    }

    /// Makes the staged set the installation's users (and its `users_count`), ends the
    /// sessions of users who lost their licence, drops the staging and marks the cursor
    /// swapped (kept until the job is over), in one transaction. Returns the number of users
    /// now stored.
    pub async fn swap_users(
        &self,
        lease: Lease<'_>,
        installation_id: &str,
    ) -> Result<u64, PortError> {
        let fence = lease_held(1, 2);
        let fenced = |name: &'static str, sql: String| Statement {
            name,
            sql: sql.into(),
            params: vec![
                lease.job_id.into(),
                lease.holder.into(),
                installation_id.into(),
            ],
        };
        let end = fenced_end_unlicensed(installation_id, lease, None);
        self.db()
            .batch(&[
                fenced(
                    "swap users",
                    format!("DELETE FROM installation_users WHERE installation_id = ?3 AND {fence}"),
                ),
                fenced(
                    "swap users",
                    format!(
                        "INSERT INTO installation_users (installation_id, user_id, email, name, active) \
                         SELECT ?3, user_id, email, name, active FROM user_staging \
                         WHERE job_id = ?1 AND {fence}"
                    ),
                ),
                fenced(
                    "swap users",
                    format!(
                        "UPDATE installations SET users_count = \
                         (SELECT COUNT(*) FROM installation_users WHERE installation_id = ?3) \
                         WHERE installation_id = ?3 AND {fence}"
                    ),
                ),
                end,
                fenced(
                    "swap users",
                    format!("DELETE FROM user_staging WHERE job_id = ?1 AND ?3 = ?3 AND {fence}"),
                ),
                fenced(
                    "swap users",
                    format!(
                        "UPDATE user_syncs SET next_page = {} WHERE job_id = ?1 AND ?3 = ?3 \
                         AND {fence}",
                        SyncCursor::SWAPPED
                    ),
                ),
            ])
            .await?;
        self.users_count(installation_id).await
    }

    /// Replaces the installation's users with `users` (one page's worth) in one transaction:
    /// `users_count`, and the sessions of users who lost their licence end. Returns the count.
    pub async fn replace_users(
        &self,
        lease: Lease<'_>,
        installation_id: &str,
        users: &[User],
    ) -> Result<u64, PortError> {
        self.replace_users_around(lease, installation_id, users, None, Vec::new(), Vec::new())
            .await
            .map(|(_, count)| count)
    }

    /// [`Store::replace_users`] in one transaction between `before` and `after`; the rows of
    /// `after` come back with the count. `at`: the version the installation must still be at
    /// for the users to be written (a save in `after`, conditional on the same version, then
    /// writes too, or nothing does).
    pub async fn replace_users_around(
        &self,
        lease: Lease<'_>,
        installation_id: &str,
        users: &[User],
        at: Option<u64>,
        before: Vec<Statement>,
        after: Vec<Statement>,
    ) -> Result<(Vec<Vec<crate::ports::Row>>, u64), PortError> {
        let fence = format!("{}{}", lease_held(1, 2), at_version(3, at));
        let json = users_json(users)?;
        let fenced = |sql: String, extra: Option<String>| {
            let mut params = vec![
                lease.job_id.into(),
                lease.holder.into(),
                installation_id.into(),
            ];
            if let Some(x) = extra {
                params.push(x.into());
            }
            Statement {
                name: "replace users",
                sql: sql.into(),
                params,
            }
        };
        let end = fenced_end_unlicensed(installation_id, lease, at);
        let mut batch = before;
        batch.extend([
            fenced(
                format!("DELETE FROM installation_users WHERE installation_id = ?3 AND {fence}"),
                None,
            ),
            fenced(
                format!(
                    "INSERT OR REPLACE INTO installation_users \
                         (installation_id, user_id, email, name, active) \
                         SELECT ?3, json_extract(value, '$.id'), json_extract(value, '$.email'), \
                           json_extract(value, '$.name'), \
                           CASE WHEN json_extract(value, '$.active') THEN 1 ELSE 0 END \
                         FROM json_each(?4) WHERE {fence}"
                ),
                Some(json),
            ),
            fenced(
                format!(
                    "UPDATE installations SET users_count = \
                         (SELECT COUNT(*) FROM installation_users WHERE installation_id = ?3) \
                         WHERE installation_id = ?3 AND {fence}"
                ),
                None,
            ),
            end,
            // The count as this transaction left it, in the same round trip.
            Statement::new(
                "count users",
                "SELECT COUNT(*) AS n FROM installation_users WHERE installation_id = ?1",
                vec![installation_id.into()],
            ),
        ]);
        let counted = batch.len() - 1;
        batch.extend(after);
        let mut results = self.db().batch_query(&batch).await?;
        let count = match results.get(counted).and_then(|rows| rows.first()).cloned() {
            Some(row) => decode_row::<Count>("count users", row).map(|c| c.n)?,
            None => 0,
        };
        Ok((results.split_off(counted + 1), count))
    }

    /// What swapping the job's staged set in would change: users added (with their facts)
    /// and ids removed.
    pub async fn staged_change(
        &self,
        job_id: i64,
        installation_id: &str,
    ) -> Result<(Vec<User>, Vec<String>), PortError> {
        struct Added {
            user_id: String,
            email: Option<String>,
            name: Option<String>,
            active: i64,
        }
        impl FromRow for Added {
            fn from_row(c: &mut Cols) -> Self {
                Added {
                    user_id: c.text("user_id"),
                    email: c.opt_text("email"),
                    name: c.opt_text("name"),
                    active: c.int("active"),
                }
            }
        }
        struct Removed {
            user_id: String,
        }
        impl FromRow for Removed {
            fn from_row(c: &mut Cols) -> Self {
                Removed {
                    user_id: c.text("user_id"),
                }
            }
        }
        let added: Vec<Added> = self
            .all_rows(Statement::new(
                "users added",
                "SELECT s.user_id, s.email, s.name, s.active FROM user_staging s \
                 WHERE s.job_id = ?1 AND NOT EXISTS (SELECT 1 FROM installation_users u \
                   WHERE u.installation_id = ?2 AND u.user_id = s.user_id) ORDER BY s.user_id",
                vec![job_id.into(), installation_id.into()],
            ))
            .await?;
        let removed: Vec<Removed> = self
            .all_rows(Statement::new(
                "users removed",
                "SELECT u.user_id FROM installation_users u WHERE u.installation_id = ?2 \
                 AND NOT EXISTS (SELECT 1 FROM user_staging s \
                   WHERE s.job_id = ?1 AND s.user_id = u.user_id) ORDER BY u.user_id",
                vec![job_id.into(), installation_id.into()],
            ))
            .await?;
        Ok((
            added
                .into_iter()
                .map(|a| User {
                    user_id: a.user_id,
                    email: a.email,
                    name: a.name,
                    active: a.active != 0,
                })
                .collect(),
            removed.into_iter().map(|r| r.user_id).collect(),
        ))
    }

    /// How many users the installation has stored.
    pub async fn users_count(&self, installation_id: &str) -> Result<u64, PortError> {
        let n: Option<Count> = self
            .one_row(Statement::new(
                "count users",
                "SELECT COUNT(*) AS n FROM installation_users WHERE installation_id = ?1",
                vec![installation_id.into()],
            ))
            .await?;
        Ok(n.map_or(0, |c| c.n))
    }

    /// Drops what re-reads left behind once their job is over (done, failed, expired or purged):
    /// one such job's staging at a time, at most [`super::lifecycle::PURGE_BATCH`] rows per
    /// sweep by its primary key, and cursor rows with no staging left.
    pub async fn purge_syncs(&self) -> Result<(), PortError> {
        let over =
            "NOT EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = s.job_id AND j.state = 'pending')";
        let limit = super::lifecycle::PURGE_BATCH;
        self.db()
            .batch(&[
                Statement {
                    name: "purge syncs",
                    sql: format!(
                        "DELETE FROM user_staging WHERE rowid IN (SELECT rowid FROM user_staging \
                         WHERE job_id = (SELECT s.job_id FROM user_syncs s WHERE {over} LIMIT 1) \
                         LIMIT {limit})"
                    )
                    .into(),
                    params: vec![],
                },
                Statement {
                    name: "purge syncs",
                    sql: format!(
                        "DELETE FROM user_syncs WHERE job_id IN (SELECT s.job_id FROM user_syncs s \
                         WHERE {over} AND NOT EXISTS \
                           (SELECT 1 FROM user_staging t WHERE t.job_id = s.job_id) LIMIT {limit})"
                    )
                    .into(),
                    params: vec![],
                },
            ])
            .await
    }
}
