//! Integration keys: one per account, `{key id}.{secret}`. Talkdesk sends it in every bridge
//! request's `auth`. Only the secret's SHA-256 is stored, found by the public key id and
//! compared in constant time; issuing a new key replaces the old one at once.

use crate::crypto::{b64url, random_text, sha256};
use crate::ports::{Database, PortError};
use crate::secret::{constant_time_eq, SecretString};
use crate::store::bridge::BridgeStore;

fn hash(secret: &str) -> String {
    b64url(&sha256(secret.as_bytes()))
}

/// Makes and stores a new key for the account; the only time it is ever seen.
pub async fn issue<D: Database>(
    store: &BridgeStore<'_, D>,
    account_id: &str,
    now: u64,
) -> Result<SecretString, PortError> {
    let key_id = random_text::<12>();
    let secret = random_text::<32>();
    store
        .put_key(account_id, &key_id, &hash(&secret), now)
        .await?;
    Ok(SecretString::new(format!("{key_id}.{secret}")))
}

/// The account a key belongs to, or `None` for a key that is malformed, unknown or replaced.
pub async fn account_of<D: Database>(
    store: &BridgeStore<'_, D>,
    key: &str,
) -> Result<Option<String>, PortError> {
    let Some((key_id, secret)) = key.split_once('.') else {
        return Ok(None);
    };
    let shaped = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !shaped(key_id, 16) || !shaped(secret, 43) {
        return Ok(None);
    }
    Ok(match store.key(key_id).await? {
        Some((account_id, stored))
            if constant_time_eq(hash(secret).as_bytes(), stored.as_bytes()) =>
        {
            Some(account_id)
        }
        _ => None,
    })
}
