//! The `access_tokens` table (migration 0002) as the [`TokenStore`]: one row per installation,
//! credential set and scope set, with the current sealed token and the lease that lets exactly
//! one request, in any isolate, mint the next one.

use super::row_codec::{decode_first, Cols, FromRow};
use crate::ports::{Database, PortError, Statement, StoredToken, TokenStore};

/// The start of every token key of an installation (and of one of its clients): ids may hold
/// `:`, so each is written with `%` and `:` percent-encoded, and one installation's prefix is
/// never the start of another's.
pub fn token_prefix(installation_id: &str, client_id: Option<&str>) -> String {
    format!("{}:", token_stem(installation_id, client_id))
}

/// [`token_prefix`] without its closing `:`.
fn token_stem(installation_id: &str, client_id: Option<&str>) -> String {
    match client_id {
        None => format!("token:{}", key_part(installation_id)),
        Some(c) => format!("token:{}:{}", key_part(installation_id), key_part(c)),
    }
}

/// Deletes the tokens whose key starts with the [`token_prefix`], as a range of the primary
/// key: every such key is at least `{stem}:` and below `{stem};` (`;` is the byte after `:`),
/// and no other key is. So D1 reads only those rows, not the whole table, and nothing in an id
/// is read as a wildcard, as it would be by `LIKE`.
fn forget_statement(
    name: &'static str,
    installation_id: &str,
    client_id: Option<&str>,
) -> Statement {
    let stem = token_stem(installation_id, client_id);
    Statement::new(
        name,
        "DELETE FROM access_tokens WHERE token_key >= ?1 AND token_key < ?2",
        vec![format!("{stem}:").into(), format!("{stem};").into()],
    )
}

/// An id as written inside a token key.
pub fn key_part(id: &str) -> String {
    id.replace('%', "%25").replace(':', "%3A")
}

pub struct SqlTokens<'a, D> {
    db: &'a D,
}

impl<'a, D: Database> SqlTokens<'a, D> {
    pub fn new(db: &'a D) -> SqlTokens<'a, D> {
        SqlTokens { db }
    }

    /// Forgets the tokens one credential set of an installation minted (a rotation's old set).
    pub async fn forget_client(
        &self,
        installation_id: &str,
        client_id: &str,
    ) -> Result<(), PortError> {
        let stmt = forget_statement("forget client tokens", installation_id, Some(client_id));
        self.db.execute(&stmt).await.map(|_| ())
    }
}

struct TokenRow {
    sealed_token: Option<String>,
    expires_at: Option<u64>,
}

impl FromRow for TokenRow {
    fn from_row(c: &mut Cols) -> Self {
        TokenRow {
            sealed_token: c.opt_text("sealed_token"),
            expires_at: c.opt_uint("expires_at"),
        }
    }
}

impl<D: Database> TokenStore for SqlTokens<'_, D> {
    async fn read(&self, key: &str) -> Result<Option<StoredToken>, PortError> {
        let stmt = Statement::new(
            "read token",
            "SELECT sealed_token, expires_at FROM access_tokens WHERE token_key = ?1",
            vec![key.into()],
        );
        let Some(row) = decode_first::<TokenRow>(stmt.name, self.db.query(&stmt).await?)? else {
            return Ok(None);
        };
        Ok(row
            .sealed_token
            .zip(row.expires_at)
            .map(|(sealed, expires_at)| StoredToken { sealed, expires_at }))
    }

    async fn try_lease(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<bool, PortError> {
        // One statement, so the database's single writer decides: the lease is taken only when
        // free, lapsed, or already ours.
        let stmt = Statement::new(
            "take token lease",
            "INSERT INTO access_tokens (token_key, lease_holder, lease_until_ms) \
             VALUES (?1, ?2, ?4) \
             ON CONFLICT (token_key) DO UPDATE SET lease_holder = ?2, lease_until_ms = ?4 \
             WHERE access_tokens.lease_holder IS NULL \
                OR access_tokens.lease_holder = ?2 \
                OR access_tokens.lease_until_ms <= ?3",
            vec![key.into(), holder.into(), now_ms.into(), until_ms.into()],
        );
        Ok(self.db.execute(&stmt).await? == 1)
    }

    async fn store(&self, key: &str, holder: &str, token: &StoredToken) -> Result<(), PortError> {
        let stmt = Statement::new(
            "store token",
            "UPDATE access_tokens SET sealed_token = ?3, expires_at = ?4, \
             lease_holder = CASE WHEN lease_holder = ?2 THEN NULL ELSE lease_holder END \
             WHERE token_key = ?1",
            vec![
                key.into(),
                holder.into(),
                token.sealed.as_str().into(),
                token.expires_at.into(),
            ],
        );
        self.db.execute(&stmt).await.map(|_| ())
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), PortError> {
        let stmt = Statement::new(
            "release token lease",
            "UPDATE access_tokens SET lease_holder = NULL, lease_until_ms = 0 \
             WHERE token_key = ?1 AND lease_holder = ?2",
            vec![key.into(), holder.into()],
        );
        self.db.execute(&stmt).await.map(|_| ())
    }

    async fn forget_installation(&self, installation_id: &str) -> Result<(), PortError> {
        let stmt = forget_statement("forget tokens", installation_id, None);
        self.db.execute(&stmt).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::token_prefix;

    #[test]
    fn one_installations_token_prefix_is_never_the_start_of_anothers() {
        let a = token_prefix("a", None);
        let ab = token_prefix("a:b", None);
        assert!(!ab.starts_with(&a), "{ab} starts with {a}");
        assert!(!token_prefix("a:b", Some("c")).starts_with(&token_prefix("a", Some("b:c"))));
        assert_eq!(token_prefix("a%3Ab", None), "token:a%253Ab:");
    }
}
