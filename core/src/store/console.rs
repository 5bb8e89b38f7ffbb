//! The operator console's statements (migration 0012): browser sessions kept hashed, the
//! installations list with its filters, and the overview's figures.

use super::lifecycle::Store;
use super::row_codec::{Cols, FromRow};
use crate::ports::{Database, PortError, Statement};

/// One row of the console's installations list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedInstallation {
    pub installation_id: String,
    pub account_id: String,
    pub account_name: String,
    pub state: String,
    pub trial_state: Option<String>,
    pub users_count: u64,
    pub last_error: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
    /// Pending jobs other than the install (an update, a rotation… being applied).
    pub pending: u64,
    /// The state as Talkdesk shows it to its users ([`SHOWN_STATE`]).
    pub shown: String,
}

/// The state as Talkdesk shows it (installing, active, updating, failed, trial expired,
/// uninstalled, needing attention), from an installation row `i`: one expression for the
/// list, its filter and the overview's counts.
pub const SHOWN_STATE: &str = "CASE \
    WHEN i.state IN ('received', 'installing') THEN 'installing' \
    WHEN i.state = 'active' AND EXISTS (SELECT 1 FROM jobs j \
      WHERE j.installation_id = i.installation_id AND j.state = 'pending' AND j.kind <> 'install') \
      THEN 'updating' \
    WHEN i.state = 'active' AND i.trial_state = 'ended' AND i.trial_ended_reason = 'trial_expired' \
      THEN 'trial expired' \
    WHEN i.state = 'active' THEN 'active' \
    WHEN i.state = 'attention' THEN 'needing attention' \
    WHEN i.state IN ('rejected', 'forged') THEN 'failed' \
    WHEN i.state = 'uninstalled' THEN 'uninstalled' \
    ELSE 'unknown' END";

/// A count for one day and one key (state, kind…), for the overview's charts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// Days since the Unix epoch.
    pub day: i64,
    pub key: String,
    pub n: u64,
}

impl FromRow for ListedInstallation {
    fn from_row(c: &mut Cols) -> Self {
        ListedInstallation {
            installation_id: c.text("installation_id"),
            account_id: c.text("account_id"),
            account_name: c.text("account_name"),
            state: c.text("state"),
            trial_state: c.opt_text("trial_state"),
            users_count: c.uint("users_count"),
            last_error: c.opt_text("last_error"),
            created_at: c.uint("created_at"),
            updated_at: c.uint("updated_at"),
            pending: c.uint("pending"),
            shown: c.text("shown"),
        }
    }
}

impl FromRow for DayCount {
    fn from_row(c: &mut Cols) -> Self {
        DayCount {
            day: c.int("day"),
            key: c.text("key"),
            n: c.uint("n"),
        }
    }
}

/// A row of a text and a count.
struct Counted(String, u64);

impl FromRow for Counted {
    fn from_row(c: &mut Cols) -> Self {
        Counted(c.text("shown"), c.uint("n"))
    }
}

/// Most rows the list shows.
pub const LIST_LIMIT: u64 = 200;

impl<D: Database> Store<'_, D> {
    pub async fn create_console_session(
        &self,
        id_hash: &str,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<(), PortError> {
        self.db()
            .execute(&Statement::new(
                "create console session",
                "INSERT INTO operator_sessions (id_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
                vec![id_hash.into(), now_ms.into(), expires_ms.into()],
            ))
            .await
            .map(|_| ())
    }

    /// Whether the session is known and unexpired.
    pub async fn console_session(&self, id_hash: &str, now_ms: u64) -> Result<bool, PortError> {
        struct Found;
        impl FromRow for Found {
            fn from_row(c: &mut Cols) -> Self {
                c.int("found");
                Found
            }
        }
        let row: Option<Found> = self
            .one_row(Statement::new(
                "console session",
                "SELECT 1 AS found FROM operator_sessions WHERE id_hash = ?1 AND expires_at > ?2",
                vec![id_hash.into(), now_ms.into()],
            ))
            .await?;
        Ok(row.is_some())
    }

    /// Ends the session, and any expired ones.
    pub async fn end_console_session(&self, id_hash: &str, now_ms: u64) -> Result<(), PortError> {
        self.db()
            .execute(&Statement::new(
                "end console session",
                "DELETE FROM operator_sessions WHERE id_hash = ?1 OR expires_at <= ?2",
                vec![id_hash.into(), now_ms.into()],
            ))
            .await
            .map(|_| ())
    }

    /// Installations whose account name contains `search`, or whose account or installation
    /// id is `search` (everything when it is empty), in the shown `state` when given, most
    /// recently changed first.
    pub async fn console_list(
        &self,
        search: &str,
        state: Option<&str>,
    ) -> Result<Vec<ListedInstallation>, PortError> {
        let pattern = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        self.all_rows(Statement {
            name: "console list",
            sql: format!(
                "SELECT * FROM (SELECT i.installation_id, i.account_id, i.account_name, i.state, \
                   i.trial_state, i.users_count, i.last_error, i.created_at, i.updated_at, \
                   (SELECT COUNT(*) FROM jobs j WHERE j.installation_id = i.installation_id \
                      AND j.state = 'pending' AND j.kind <> 'install') AS pending, \
                   {SHOWN_STATE} AS shown \
                 FROM installations i \
                 WHERE ?1 = '' OR i.account_name LIKE ?2 ESCAPE '\\' OR i.account_id = ?1 \
                   OR i.installation_id = ?1) \
                 WHERE ?4 = '' OR shown = ?4 \
                 ORDER BY updated_at DESC LIMIT ?3"
            )
            .into(),
            params: vec![
                search.into(),
                pattern.into(),
                LIST_LIMIT.into(),
                state.unwrap_or_default().into(),
            ],
        })
        .await
    }

    /// How many installations are in each shown state.
    pub async fn console_counts(&self) -> Result<Vec<(String, u64)>, PortError> {
        let rows: Vec<Counted> = self
            .all_rows(Statement {
                name: "console counts",
                sql: format!(
                    "SELECT {SHOWN_STATE} AS shown, COUNT(*) AS n FROM installations i GROUP BY shown"
                )
                .into(),
                params: vec![],
            })
            .await?;
        Ok(rows.into_iter().map(|r| (r.0, r.1)).collect())
    }

    /// Installations created per day (by state now), since `since_ms`.
    pub async fn installs_per_day(&self, since_ms: u64) -> Result<Vec<DayCount>, PortError> {
        self.all_rows(Statement::new(
            "installs per day",
            "SELECT created_at / 86400000 AS day, state AS key, COUNT(*) AS n FROM installations \
             WHERE created_at >= ?1 GROUP BY day, key ORDER BY day",
            vec![since_ms.into()],
        ))
        .await
    }

    /// Events received per day by type, since `since_ms`.
    pub async fn events_per_day(&self, since_ms: u64) -> Result<Vec<DayCount>, PortError> {
        self.all_rows(Statement::new(
            "events per day",
            "SELECT received_at / 86400000 AS day, event_type AS key, COUNT(*) AS n FROM events \
             WHERE received_at >= ?1 GROUP BY day, key ORDER BY day",
            vec![since_ms.into()],
        ))
        .await
    }

    /// Jobs that failed or expired per day, since `since_ms`.
    pub async fn failures_per_day(&self, since_ms: u64) -> Result<Vec<DayCount>, PortError> {
        self.all_rows(Statement::new(
            "failures per day",
            "SELECT updated_at / 86400000 AS day, state AS key, COUNT(*) AS n FROM jobs \
             WHERE updated_at >= ?1 AND state IN ('failed', 'expired', 'unconfirmed') \
             GROUP BY day, key ORDER BY day",
            vec![since_ms.into()],
        ))
        .await
    }

    /// Milliseconds from receipt to approval of the first 1,000 installs approved since
    /// `since_ms`, shortest first (sorted by D1, so the wasm carries no sort for it).
    pub async fn approval_times(&self, since_ms: u64) -> Result<Vec<u64>, PortError> {
        struct Row {
            ms: u64,
        }
        impl FromRow for Row {
            fn from_row(c: &mut Cols) -> Self {
                Row { ms: c.uint("ms") }
            }
        }
        let rows: Vec<Row> = self
            .all_rows(Statement::new(
                "approval times",
                "SELECT ms FROM (SELECT approved_at - created_at AS ms FROM installations \
                 WHERE approved_at IS NOT NULL AND approved_at >= ?1 AND approved_at >= created_at \
                 ORDER BY approved_at LIMIT 1000) ORDER BY ms",
                vec![since_ms.into()],
            ))
            .await?;
        Ok(rows.into_iter().map(|r| r.ms).collect())
    }

    /// The app version of the installation's latest event that named one.
    pub async fn app_version(&self, installation_id: &str) -> Result<Option<String>, PortError> {
        struct Row {
            app_version_name: String,
        }
        impl FromRow for Row {
            fn from_row(c: &mut Cols) -> Self {
                Row {
                    app_version_name: c.text("app_version_name"),
                }
            }
        }
        let row: Option<Row> = self
            .one_row(Statement::new(
                "app version",
                "SELECT app_version_name FROM events WHERE installation_id = ?1 \
                 AND app_version_name IS NOT NULL AND status IN ('done', 'confirmed') \
                 ORDER BY received_at DESC LIMIT 1",
                vec![installation_id.into()],
            ))
            .await?;
        Ok(row.map(|r| r.app_version_name))
    }
}
