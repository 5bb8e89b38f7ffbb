//! How a job attempt ended, and the shorthand the event files use.

use crate::ports::PortError;
use crate::store::records::EventStatus;

/// How a job attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished; the event's final status and why.
    Done { status: EventStatus, detail: String },
    /// Transient failure: retry with backoff until the deadline.
    Retry(String),
    /// Waiting on something else (an install not yet done): look again soon.
    Wait(String),
    /// Waiting for a person (manual provisioning): look again at `until` (ms); not an attempt.
    Hold { until: u64, why: String },
    /// Stopped cleanly between steps, not failed: the invocation's budget is spent, or the job
    /// or installation moved on under this runner. Due again at once; not an attempt.
    Pause(String),
    /// Permanent failure: stop; the installation needs attention.
    Fail(String),
    /// Talkdesk's token endpoint refused the credentials (an OAuth error code).
    Refused { error: String, description: String },
    /// Talkdesk's answer proves the event neither genuine nor forged (its copy could not be
    /// read: 404, 403, …): retried a few times, then parked for the operator, data kept.
    Unconfirmed(String),
}

impl Outcome {
    /// What happened, in words for the job's record, the log and the operator.
    pub fn reason(self) -> String {
        match self {
            Outcome::Retry(w) | Outcome::Wait(w) | Outcome::Pause(w) | Outcome::Fail(w) => w,
            Outcome::Hold { why, .. } => why,
            Outcome::Unconfirmed(w) => format!("unconfirmed: {w}"),
            Outcome::Refused { error, description } => {
                format!("token refused: {error}: {description}")
            }
            Outcome::Done { detail, .. } => detail,
        }
    }
}

/// A step of a job: `Err` carries the outcome that ends the attempt early.
pub type Step<T> = Result<T, Outcome>;

pub fn done(status: EventStatus, detail: impl Into<String>) -> Outcome {
    Outcome::Done {
        status,
        detail: detail.into(),
    }
}

/// Talkdesk's copy contradicts the event: it is recorded as forged and nothing else changes.
pub fn forged(why: String) -> Outcome {
    done(EventStatus::Forged, format!("{why}: nothing changed"))
}

impl From<PortError> for Outcome {
    fn from(e: PortError) -> Self {
        if super::budget::spent(&e.0) {
            // The meter refused a call: a clean stop, not a storage failure.
            return Outcome::Pause(e.0);
        }
        Outcome::Retry(format!("storage: {e}"))
    }
}
