//! Standard Webhooks signing (<https://www.standardwebhooks.com/>): the partner's backend gets
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, the signature being
//! `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}` with the `whsec_` secret's
//! bytes, one per configured secret separated by spaces (so a receiver can rotate with two
//! valid at once). The same scheme authenticates the partner's calls to us.

use crate::crypto::base64::{self, Alphabet, Padding};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::{constant_time_eq, SecretBytes};

/// How far a signed call's timestamp may be from our clock (the Standard Webhooks default).
pub const TOLERANCE_SECS: u64 = 5 * 60;

fn mac(secret: &SecretBytes, id: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    // An HMAC takes a key of any length: this cannot fail.
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose()).expect("any key length");
    m.update(id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// The `webhook-signature` header value: `v1,{base64}` for each secret.
pub fn signature(secrets: &[SecretBytes], id: &str, timestamp: u64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| {
            format!(
                "v1,{}",
                base64::encode(
                    &mac(s, id, timestamp, body),
                    Alphabet::Standard,
                    Padding::Required
                )
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a signed call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    MissingHeaders,
    /// The timestamp is not a number or is more than [`TOLERANCE_SECS`] away.
    Timestamp,
    /// No `v1` signature matches any of our secrets.
    Signature,
}

impl Refusal {
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::MissingHeaders => {
                "send webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks)"
            }
            Refusal::Timestamp => "webhook-timestamp is not within five minutes of now",
            Refusal::Signature => "webhook-signature does not match",
        }
    }
}

/// Checks a signed call: a `v1` signature made with one of `secrets`, a timestamp within
/// [`TOLERANCE_SECS`] of `now_secs`.
pub fn verify(
    secrets: &[SecretBytes],
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now_secs: u64,
) -> Result<(), Refusal> {
    let (Some(id), Some(ts), Some(sigs)) = (id, timestamp, signatures) else {
        return Err(Refusal::MissingHeaders);
    };
    if id.is_empty() || id.len() > 200 {
        return Err(Refusal::MissingHeaders);
    }
    let ts: u64 = ts.trim().parse().map_err(|_| Refusal::Timestamp)?;
    if ts.abs_diff(now_secs) > TOLERANCE_SECS {
        return Err(Refusal::Timestamp);
    }
    for sig in sigs.split(' ') {
        let Some(b64) = sig.strip_prefix("v1,") else {
            continue;
        };
        let Some(given) = base64::decode(b64, Alphabet::Standard, Padding::Required) else {
            continue;
        };
        if secrets
            .iter()
            .any(|s| constant_time_eq(&mac(s, id, ts, body), &given))
        {
            return Ok(());
        }
    }
    Err(Refusal::Signature)
}

/// A webhook id that is the same every time the same step queues the same webhook:
/// `msg_` + 32 hex characters of SHA-256 over the event id and the type.
pub fn webhook_id(event_id: &str, event_type: &str) -> String {
    let digest = crate::crypto::sha256(format!("{event_id}\n{event_type}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SecretBytes {
        SecretBytes::new(vec![b; 32])
    }

    #[test]
    fn a_signature_verifies_with_any_of_the_rotating_secrets() {
        let both = [key(1), key(2)];
        let header = signature(&both, "msg_1", 1_700_000_000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        for one in [key(1), key(2)] {
            verify(
                &[one],
                Some("msg_1"),
                Some("1700000000"),
                Some(&header),
                b"{}",
                1_700_000_010,
            )
            .unwrap();
        }
        assert_eq!(
            verify(
                &[key(3)],
                Some("msg_1"),
                Some("1700000000"),
                Some(&header),
                b"{}",
                1_700_000_000
            ),
            Err(Refusal::Signature)
        );
    }

    #[test]
    fn a_changed_body_id_or_old_timestamp_is_refused() {
        let k = [key(7)];
        let header = signature(&k, "msg_1", 1_700_000_000, b"{\"a\":1}");
        let check = |id: &str, ts: &str, body: &[u8], now: u64| {
            verify(&k, Some(id), Some(ts), Some(&header), body, now)
        };
        assert!(check("msg_1", "1700000000", b"{\"a\":1}", 1_700_000_000).is_ok());
        assert_eq!(
            check("msg_1", "1700000000", b"{\"a\":2}", 1_700_000_000),
            Err(Refusal::Signature)
        );
        assert_eq!(
            check("msg_2", "1700000000", b"{\"a\":1}", 1_700_000_000),
            Err(Refusal::Signature)
        );
        assert_eq!(
            check("msg_1", "1700000000", b"{\"a\":1}", 1_700_000_301),
            Err(Refusal::Timestamp)
        );
        assert_eq!(
            verify(&k, None, Some("1"), Some(&header), b"", 1),
            Err(Refusal::MissingHeaders)
        );
    }

    #[test]
    fn webhook_ids_are_stable_per_event_and_type() {
        assert_eq!(
            webhook_id("e1", "installation.created"),
            webhook_id("e1", "installation.created")
        );
        assert_ne!(
            webhook_id("e1", "installation.created"),
            webhook_id("e1", "installation.approved")
        );
        assert!(webhook_id("e1", "x").starts_with("msg_"));
    }
}
