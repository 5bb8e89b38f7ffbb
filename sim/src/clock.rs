//! Wall-clock readings in the units the contract uses: NumericDate seconds for assertions,
//! milliseconds for token expiry, RFC 3339 for timestamps in events and answers.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Unix milliseconds `secs` seconds from now: when something issued now with that lifetime
/// expires (honoured to the millisecond, not rounded down).
pub(crate) fn millis_after(secs: u64) -> i64 {
    now_millis().saturating_add((secs as i64).saturating_mul(1000))
}

/// Whole seconds, `Z`: the form of an event's `created_at` and a trial's dates.
pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Now, to the millisecond: the timestamp of records, state changes and deliveries.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
