//! Statements for `SEALING_KEY` rotation: how many stored secrets each key id still seals, and
//! compare-and-set swaps of sealed values, so a re-seal never overwrites what a job wrote
//! meanwhile (nor a job the re-seal).

use super::records::SealedSecrets;
use super::row_codec::{decode_all, Cols, FromRow};
use crate::ports::{Database, PortError, Statement};

/// Which pair of sealed columns of `installations`.
#[derive(Debug, Clone, Copy)]
pub enum Columns {
    Current,
    Previous,
}

/// An event's sealed data.
#[derive(Debug, Clone)]
pub struct EventSecrets {
    pub event_id: String,
    pub new_client_id: Option<String>,
    pub new_key_id: Option<String>,
    pub new_key_algorithm: Option<String>,
    pub sealed_new_secret: Option<String>,
    pub sealed_new_key: Option<String>,
    pub candidate: Option<String>,
}

impl FromRow for EventSecrets {
    fn from_row(c: &mut Cols) -> Self {
        EventSecrets {
            event_id: c.text("event_id"),
            new_client_id: c.opt_text("new_client_id"),
            new_key_id: c.opt_text("new_key_id"),
            new_key_algorithm: c.opt_text("new_key_algorithm"),
            sealed_new_secret: c.opt_text("sealed_new_secret"),
            sealed_new_key: c.opt_text("sealed_new_key"),
            candidate: c.opt_text("candidate"),
        }
    }
}

pub struct SealedStore<'a, D> {
    db: &'a D,
}

/// Every sealed credential value the database holds (token caches aside: a token sealed with a
/// dropped key is simply minted again). Each row's sealed columns are spread with `json_each`
/// rather than one `UNION ALL` term per column: D1 refuses compound selects of many terms.
const ALL_SEALED: &str = "\
    SELECT j.value AS v FROM installations i, json_each(json_array( \
      i.sealed_secret, i.sealed_key, i.sealed_old_secret, i.sealed_old_key)) j \
    WHERE j.value IS NOT NULL \
    UNION ALL SELECT j.value FROM events e, json_each(json_array( \
      e.sealed_new_secret, e.sealed_new_key, \
      json_extract(e.candidate, '$.sealed_secret'), json_extract(e.candidate, '$.sealed_key'))) j \
    WHERE j.value IS NOT NULL";

impl<'a, D: Database> SealedStore<'a, D> {
    pub fn new(db: &'a D) -> SealedStore<'a, D> {
        SealedStore { db }
    }

    /// How many sealed values each key id seals (`v1.{key id}.…`).
    pub async fn counts(&self) -> Result<Vec<(String, u64)>, PortError> {
        struct Count {
            kid: String,
            n: u64,
        }
        impl FromRow for Count {
            fn from_row(c: &mut Cols) -> Self {
                Count {
                    kid: c.text("kid"),
                    n: c.uint("n"),
                }
            }
        }
        let sql = format!(
            "SELECT substr(v, 4, instr(substr(v, 4), '.') - 1) AS kid, COUNT(*) AS n \
             FROM ({ALL_SEALED}) GROUP BY kid ORDER BY kid"
        );
        let stmt = Statement {
            name: "count sealed values",
            sql: sql.into(),
            params: vec![],
        };
        let counts: Vec<Count> = decode_all(stmt.name, self.db.query(&stmt).await?)?;
        Ok(counts.into_iter().map(|c| (c.kid, c.n)).collect())
    }

    /// Events that hold secrets (a rotation's incoming set, an install's candidate), by id.
    pub async fn events_with_secrets(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EventSecrets>, PortError> {
        let stmt = Statement::new(
            "events with secrets",
            "SELECT event_id, new_client_id, new_key_id, new_key_algorithm, sealed_new_secret, \
               sealed_new_key, candidate FROM events \
             WHERE event_id > ?1 AND (sealed_new_secret IS NOT NULL OR candidate IS NOT NULL) \
             ORDER BY event_id LIMIT ?2",
            vec![after.into(), u64::from(limit).into()],
        );
        decode_all(stmt.name, self.db.query(&stmt).await?)
    }

    /// Replaces an installation's sealed pair if it is still `old`. `false`: it changed meanwhile.
    pub async fn swap_installation(
        &self,
        installation_id: &str,
        columns: Columns,
        old: &SealedSecrets,
        new: &SealedSecrets,
    ) -> Result<bool, PortError> {
        let sql = match columns {
            Columns::Current => {
                "UPDATE installations SET sealed_secret = ?4, sealed_key = ?5, version = version + 1 \
                 WHERE installation_id = ?1 AND sealed_secret = ?2 AND sealed_key = ?3"
            }
            Columns::Previous => {
                "UPDATE installations SET sealed_old_secret = ?4, sealed_old_key = ?5, \
                 version = version + 1 WHERE installation_id = ?1 AND sealed_old_secret = ?2 AND sealed_old_key = ?3"
            }
        };
        let n = self
            .db
            .execute(&Statement::new(
                "reseal installation",
                sql,
                vec![
                    installation_id.into(),
                    old.secret.as_str().into(),
                    old.key.as_str().into(),
                    new.secret.as_str().into(),
                    new.key.as_str().into(),
                ],
            ))
            .await?;
        Ok(n == 1)
    }

    /// Replaces a rotation event's incoming sealed pair if it is still `old`.
    pub async fn swap_incoming(
        &self,
        event_id: &str,
        old: &SealedSecrets,
        new: &SealedSecrets,
    ) -> Result<bool, PortError> {
        let n = self
            .db
            .execute(&Statement::new(
                "reseal incoming set",
                "UPDATE events SET sealed_new_secret = ?4, sealed_new_key = ?5 \
                 WHERE event_id = ?1 AND sealed_new_secret = ?2 AND sealed_new_key = ?3",
                vec![
                    event_id.into(),
                    old.secret.as_str().into(),
                    old.key.as_str().into(),
                    new.secret.as_str().into(),
                    new.key.as_str().into(),
                ],
            ))
            .await?;
        Ok(n == 1)
    }

    /// Replaces an install event's candidate if it is still `old` (JSON texts).
    pub async fn swap_candidate(
        &self,
        event_id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, PortError> {
        let n = self
            .db
            .execute(&Statement::new(
                "reseal candidate",
                "UPDATE events SET candidate = ?3 WHERE event_id = ?1 AND candidate = ?2",
                vec![event_id.into(), old.into(), new.into()],
            ))
            .await?;
        Ok(n == 1)
    }
}
