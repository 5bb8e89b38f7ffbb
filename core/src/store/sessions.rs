//! Single sign-on's statements: agents' sessions and the sign-in states already used
//! (migration 0007). A session is found by the SHA-256 of its id, never by the id itself.

use super::records::InstallationState;
use super::row_codec::{decode_row, Cols, FromRow};
use crate::ports::{Database, PortError, Statement};

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub session_hash: &'a str,
    pub installation_id: &'a str,
    pub user_id: &'a str,
    pub user_name: Option<&'a str>,
    pub user_email: Option<&'a str>,
    pub created_at: u64,
    pub expires_at: u64,
}

/// A stored session, with whether it may still be used.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub installation_id: String,
    pub user_id: String,
    pub user_name: Option<String>,
    pub user_email: Option<String>,
    pub expires_at: u64,
    /// 1 while the installation is active and the user holds one of its licences.
    pub entitled: u64,
}

impl FromRow for SessionRecord {
    fn from_row(c: &mut Cols) -> Self {
        SessionRecord {
            installation_id: c.text("installation_id"),
            user_id: c.text("user_id"),
            user_name: c.opt_text("user_name"),
            user_email: c.opt_text("user_email"),
            expires_at: c.uint("expires_at"),
            entitled: c.uint("entitled"),
        }
    }
}

/// The sessions and sign-in state tables on a [`Database`].
pub struct Sessions<'a, D> {
    db: &'a D,
}

impl<'a, D: Database> Sessions<'a, D> {
    pub fn new(db: &'a D) -> Sessions<'a, D> {
        Sessions { db }
    }

    /// Marks a sign-in state used at `now`. `false`: it was used before (a replay). Kept until
    /// `expires_at`, after which the sealed state itself is refused as expired.
    pub async fn use_state(
        &self,
        state_id: &str,
        installation_id: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<bool, PortError> {
        let changed = self
            .db
            .execute(&Statement::new(
                "use sign-in state",
                "INSERT INTO sso_states (state_id, installation_id, used_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (state_id) DO NOTHING",
                vec![
                    state_id.into(),
                    installation_id.into(),
                    now.into(),
                    expires_at.into(),
                ],
            ))
            .await?;
        Ok(changed == 1)
    }

    /// How many sign-ins reached the callback for the installation since `since` (ms).
    pub async fn sign_ins_since(
        &self,
        installation_id: &str,
        since: u64,
    ) -> Result<u64, PortError> {
        let rows = self
            .db
            .query(&Statement::new(
                "count sign-ins",
                "SELECT COUNT(*) AS n FROM sso_states WHERE installation_id = ?1 AND used_at >= ?2",
                vec![installation_id.into(), since.into()],
            ))
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("n"))
            .and_then(|n| n.as_f64())
            .map_or(0, |n| n as u64))
    }

    /// Stores a new session and, in the same transaction, ends the one the browser held
    /// before (if any): a sign-in always starts a fresh session id.
    pub async fn start(
        &self,
        s: &NewSession<'_>,
        replacing: Option<&str>,
    ) -> Result<(), PortError> {
        let mut batch = Vec::new();
        if let Some(old) = replacing {
            batch.push(Statement::new(
                "end session",
                "DELETE FROM sessions WHERE session_hash = ?1",
                vec![old.into()],
            ));
        }
        batch.push(Statement::new(
            "start session",
            "INSERT INTO sessions (session_hash, installation_id, user_id, user_name, user_email, \
             created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            vec![
                s.session_hash.into(),
                s.installation_id.into(),
                s.user_id.into(),
                s.user_name.into(),
                s.user_email.into(),
                s.created_at.into(),
                s.expires_at.into(),
            ],
        ));
        self.db.batch(&batch).await
    }

    /// The session with this hash, whatever its state.
    pub async fn find(&self, session_hash: &str) -> Result<Option<SessionRecord>, PortError> {
        let stmt = Statement::new(
            "find session",
            "SELECT s.installation_id, s.user_id, s.user_name, s.user_email, s.expires_at, \
               (i.state = ?2 AND EXISTS (SELECT 1 FROM installation_users u \
                  WHERE u.installation_id = s.installation_id AND u.user_id = s.user_id \
                    AND u.active = 1)) AS entitled \
             FROM sessions s LEFT JOIN installations i ON i.installation_id = s.installation_id \
             WHERE s.session_hash = ?1",
            vec![
                session_hash.into(),
                InstallationState::Active.as_str().into(),
            ],
        );
        match self.db.query(&stmt).await?.into_iter().next() {
            Some(mut row) => {
                // A missing installation makes the comparison NULL: not entitled.
                if row.get("entitled").is_some_and(|v| v.is_null()) {
                    row.insert("entitled".into(), 0.into());
                }
                decode_row(stmt.name, row).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Whether the user holds an active licence of the installation (as last read from
    /// Talkdesk).
    pub async fn licensed(&self, installation_id: &str, user_id: &str) -> Result<bool, PortError> {
        let rows = self
            .db
            .query(&Statement::new(
                "is user licensed",
                "SELECT 1 AS found FROM installation_users \
                 WHERE installation_id = ?1 AND user_id = ?2 AND active = 1",
                vec![installation_id.into(), user_id.into()],
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    /// Ends one session (sign-out).
    pub async fn end(&self, session_hash: &str) -> Result<(), PortError> {
        self.db
            .execute(&Statement::new(
                "end session",
                "DELETE FROM sessions WHERE session_hash = ?1",
                vec![session_hash.into()],
            ))
            .await
            .map(|_| ())
    }

    /// Ends every session of one user of an installation (`user.logout`). Returns how many.
    pub async fn end_user(&self, installation_id: &str, user_id: &str) -> Result<u64, PortError> {
        self.db
            .execute(&Statement::new(
                "end user sessions",
                "DELETE FROM sessions WHERE installation_id = ?1 AND user_id = ?2",
                vec![installation_id.into(), user_id.into()],
            ))
            .await
    }

    /// Ends every session of an installation (uninstall). Returns how many.
    pub async fn end_installation(&self, installation_id: &str) -> Result<u64, PortError> {
        self.db.execute(&end_installation(installation_id)).await
    }

    /// Deletes sessions and used states past their expiry.
    pub async fn purge(&self, now_ms: u64) -> Result<(), PortError> {
        self.db
            .batch(&[
                Statement::new(
                    "purge sessions",
                    "DELETE FROM sessions WHERE expires_at <= ?1",
                    vec![now_ms.into()],
                ),
                Statement::new(
                    "purge sign-in states",
                    "DELETE FROM sso_states WHERE expires_at <= ?1",
                    vec![now_ms.into()],
                ),
            ])
            .await
    }
}

/// Ends every session of an installation.
pub fn end_installation(installation_id: &str) -> Statement {
    Statement::new(
        "end installation sessions",
        "DELETE FROM sessions WHERE installation_id = ?1",
        vec![installation_id.into()],
    )
}

/// Ends the sessions of the installation's users who no longer hold an active licence: run in
/// the same transaction that replaces its users, so a removed licence ends its sessions.
pub fn end_unlicensed(installation_id: &str) -> Statement {
    Statement::new(
        "end unlicensed sessions",
        "DELETE FROM sessions WHERE installation_id = ?1 AND user_id NOT IN \
         (SELECT user_id FROM installation_users WHERE installation_id = ?1 AND active = 1)",
        vec![installation_id.into()],
    )
}
