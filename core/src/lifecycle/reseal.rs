//! `SEALING_KEY` rotation: every sealed credential is opened and sealed again under the current
//! (first) key, in bounded batches, each swap conditional on the value being unchanged. Once
//! [`crate::store::sealed::SealedStore::counts`] shows no value under an old key id, that key can
//! be dropped from `SEALING_KEY`.

use super::sealing::{reseal, Slot, CURRENT, INCOMING, PREVIOUS};
use super::{Ports, Settings};
use crate::crypto::keys::KeyAlgorithm;
use crate::ports::PortError;
use crate::store::records::{SealedSecrets, StoredCredentials};
use crate::store::row_codec::{from_json, to_json};
use crate::store::rows::InstallationRow;
use crate::store::sealed::{Columns, SealedStore};

/// Records looked at per call: one call stays far inside an invocation's D1 queries.
pub const RESEAL_BATCH: u32 = 50;

/// What one call did, and where the next one starts.
#[derive(Debug, Default, serde::Serialize)]
pub struct ResealReport {
    pub resealed: u64,
    /// Values that do not open with any listed key (their key was dropped already).
    pub unreadable: u64,
    /// Pass this back (`?after=`) to go on; `None` when everything was looked at.
    pub next: Option<String>,
}

fn resealed(
    s: &Settings<'_>,
    record: &str,
    slot: Slot,
    stored: &StoredCredentials,
) -> Result<Option<(SealedSecrets, SealedSecrets)>, ()> {
    match reseal(s.keys, record, slot, stored) {
        Ok(Some(new)) => Ok(Some((
            stored.sealed.clone().expect("a resealed set was sealed"),
            new.sealed.expect("reseal seals"),
        ))),
        Ok(None) => Ok(None),
        Err(_) => Err(()),
    }
}

/// Re-seals up to [`RESEAL_BATCH`] installations after `after` (`i:{id}`), then events
/// (`e:{id}`). Idempotent: a value already under the current key is left alone.
pub async fn reseal_batch<P: Ports>(
    p: &P,
    s: &Settings<'_>,
    after: Option<&str>,
) -> Result<ResealReport, PortError> {
    let sealed = SealedStore::new(p.db());
    let mut report = ResealReport::default();
    let (phase, from) = match after.and_then(|a| a.split_once(':')) {
        Some(("e", id)) => ("e", id.to_owned()),
        Some((_, id)) => ("i", id.to_owned()),
        None => ("i", String::new()),
    };
    if phase == "i" {
        let page = p
            .store()
            .list_installations(Some(&from), RESEAL_BATCH)
            .await?;
        for inst in &page {
            for (slot, columns, stored, which) in [
                (CURRENT, Columns::Current, &inst.credentials, "current"),
                (PREVIOUS, Columns::Previous, &inst.previous, "previous"),
            ] {
                let Some(stored) = stored else { continue };
                match resealed(s, &inst.installation_id, slot, stored) {
                    Ok(Some((old, new))) => {
                        if sealed
                            .swap_installation(&inst.installation_id, columns, &old, &new)
                            .await?
                        {
                            report.resealed += 1;
                            p.store()
                                .record_action(
                                    &inst.installation_id,
                                    "reseal",
                                    &format!("{which} credentials re-sealed under the current key"),
                                    crate::ports::Clock::now_ms(p.clock()),
                                )
                                .await?;
                        }
                    }
                    Ok(None) => {}
                    Err(()) => report.unreadable += 1,
                }
            }
        }
        report.next = Some(match page.last() {
            Some(last) if page.len() == RESEAL_BATCH as usize => {
                format!("i:{}", last.installation_id)
            }
            _ => "e:".to_owned(),
        });
        return Ok(report);
    }
    let events = sealed.events_with_secrets(&from, RESEAL_BATCH).await?;
    for e in &events {
        if let (Some(client_id), Some(key_id), Some(alg), Some(secret), Some(key)) = (
            &e.new_client_id,
            &e.new_key_id,
            e.new_key_algorithm.as_deref().and_then(KeyAlgorithm::parse),
            &e.sealed_new_secret,
            &e.sealed_new_key,
        ) {
            let stored = StoredCredentials {
                client_id: client_id.clone(),
                key_id: key_id.clone(),
                algorithm: alg,
                sealed: Some(SealedSecrets {
                    secret: secret.clone(),
                    key: key.clone(),
                }),
            };
            match resealed(s, &e.event_id, INCOMING, &stored) {
                Ok(Some((old, new))) => {
                    if sealed.swap_incoming(&e.event_id, &old, &new).await? {
                        report.resealed += 1;
                    }
                }
                Ok(None) => {}
                Err(()) => report.unreadable += 1,
            }
        }
        if let Some(text) = &e.candidate {
            let Ok(mut row) = from_json::<InstallationRow>("candidate", text) else {
                continue;
            };
            let Ok(inst) = crate::store::records::Installation::try_from(row.clone()) else {
                continue;
            };
            let Some(stored) = &inst.credentials else {
                continue;
            };
            match resealed(s, &inst.installation_id, CURRENT, stored) {
                Ok(Some((_, new))) => {
                    row.sealed_secret = Some(new.secret);
                    row.sealed_key = Some(new.key);
                    let updated = to_json(row);
                    if sealed.swap_candidate(&e.event_id, text, &updated).await? {
                        report.resealed += 1;
                    }
                }
                Ok(None) => {}
                Err(()) => report.unreadable += 1,
            }
        }
    }
    report.next = match events.last() {
        Some(last) if events.len() == RESEAL_BATCH as usize => Some(format!("e:{}", last.event_id)),
        _ => None,
    };
    Ok(report)
}
