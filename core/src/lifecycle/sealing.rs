//! Credential sets in and out of their seals. Each sealed value is bound to its record (the
//! installation, or the event that delivered a rotation) and its field, so a sealed value opens
//! only where it was put: moving a set from one place to another means opening and sealing it
//! again.

use super::outcome::{Outcome, Step};
use crate::crypto::keyring::SealingKeys;
use crate::crypto::keys::PrivateKey;
use crate::crypto::seal::{open, open_secret, seal, seal_secret, SealContext};
use crate::secret::SecretString;
use crate::store::records::{SealedSecrets, StoredCredentials};
use crate::talkdesk::events::CredentialSet;

/// Where a set sits, as the seal's field names (client secret, private key).
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    secret: &'static str,
    key: &'static str,
}

/// The installation's set in use.
pub const CURRENT: Slot = Slot {
    secret: "client_secret",
    key: "private_key",
};
/// The set a rotation replaced, until the new one is acknowledged.
pub const PREVIOUS: Slot = Slot {
    secret: "old_client_secret",
    key: "old_private_key",
};
/// A rotation's new set, on its event, until the rotation is confirmed.
pub const INCOMING: Slot = Slot {
    secret: "new_client_secret",
    key: "new_private_key",
};

/// The set sealed for `record` in `slot`.
pub fn seal_set(
    keys: &SealingKeys,
    record: &str,
    slot: Slot,
    set: &CredentialSet,
) -> StoredCredentials {
    let context = |field| SealContext { record, field };
    StoredCredentials {
        client_id: set.client_id.clone(),
        key_id: set.key_id.clone(),
        algorithm: set.private_key.algorithm(),
        sealed: Some(SealedSecrets {
            secret: seal_secret(keys, context(slot.secret), &set.client_secret),
            key: seal(keys, context(slot.key), set.private_key.pkcs8_der()),
        }),
    }
}

/// The stored set opened: client secret and private key. Permanent failure when the secrets
/// are gone or do not open (a sealing key was dropped too early).
pub fn open_set(
    keys: &SealingKeys,
    record: &str,
    slot: Slot,
    stored: Option<&StoredCredentials>,
) -> Step<CredentialSet> {
    let Some((stored, sealed)) = stored.and_then(|c| c.sealed.as_ref().map(|s| (c, s))) else {
        return Err(Outcome::Fail("no credentials are stored".into()));
    };
    let context = |field| SealContext { record, field };
    let client_secret: SecretString = open_secret(keys, context(slot.secret), &sealed.secret)
        .map_err(|e| Outcome::Fail(format!("client secret: {e}")))?;
    let der = open(keys, context(slot.key), &sealed.key)
        .map_err(|e| Outcome::Fail(format!("private key: {e}")))?;
    let private_key =
        PrivateKey::from_der(stored.algorithm, der).map_err(|e| Outcome::Fail(e.to_string()))?;
    Ok(CredentialSet {
        client_id: stored.client_id.clone(),
        client_secret,
        key_id: stored.key_id.clone(),
        private_key,
    })
}

/// The set sealed again under the current key, or `None` when both of its values already are.
/// `SEALING_KEY` rotation: put the new key first, re-seal everything, then drop the old key.
pub fn reseal(
    keys: &SealingKeys,
    record: &str,
    slot: Slot,
    stored: &StoredCredentials,
) -> Step<Option<StoredCredentials>> {
    let Some(sealed) = &stored.sealed else {
        return Ok(None);
    };
    let current = keys.current().0;
    let under = |v: &str| crate::crypto::seal::key_id_of(v) == Some(current);
    if under(&sealed.secret) && under(&sealed.key) {
        return Ok(None);
    }
    let set = open_set(keys, record, slot, Some(stored))?;
    Ok(Some(seal_set(keys, record, slot, &set)))
}
