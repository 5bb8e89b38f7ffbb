//! The simulator's one error type. The messages are the ones the control API answers with and
//! the CLI prints, so they name what was missing in the words a user typed.

use std::fmt;
use std::time::Duration;

/// Why a scripting call, a wait or a parse failed. The HTTP endpoints never produce one: a refused
/// request is an HTTP answer, not an error of the simulator.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// No installation has this id.
    UnknownInstallation(String),
    /// The installation has no such user (by id, or for a logout by id or email).
    UnknownUser {
        installation_id: String,
        user: String,
    },
    /// The installation has no credential set with this client id.
    UnknownCredentials {
        installation_id: String,
        client_id: String,
    },
    /// No genuine event has this id.
    UnknownEvent(String),
    /// A scripting input the simulator cannot act on (e.g. an empty account name).
    InvalidSpec(String),
    /// Not one of the six `key_algorithm` names.
    UnknownAlgorithm(String),
    /// Not the snake_case name of an [`crate::Endpoint`].
    UnknownEndpoint(String),
    /// A private key that is neither base64 DER PKCS#8 nor PEM.
    InvalidKey(String),
    /// Not a compact JWS with JSON object header and payload; says which part is wrong.
    MalformedJwt(String),
    /// An installation did not reach the awaited condition in time.
    WaitTimedOut {
        installation_id: String,
        after: Duration,
        /// The installation's last view as JSON (`null` if it never existed).
        last_view: String,
    },
    /// Fewer delivery attempts of an event than awaited were made in time.
    DeliveriesTimedOut {
        event_id: String,
        seen: usize,
        wanted: usize,
    },
}

/// Result of the simulator's scripting, waiting and parsing calls.
pub type SimResult<T> = Result<T, SimError>;

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::UnknownInstallation(id) => write!(f, "unknown installation {id}"),
            SimError::UnknownUser {
                installation_id,
                user,
            } => write!(f, "installation {installation_id} has no user {user}"),
            SimError::UnknownCredentials {
                installation_id,
                client_id,
            } => write!(
                f,
                "installation {installation_id} has no credentials {client_id}"
            ),
            SimError::UnknownEvent(id) => write!(f, "no genuine event {id}"),
            SimError::InvalidSpec(why) => f.write_str(why),
            SimError::UnknownAlgorithm(s) => write!(
                f,
                "unknown algorithm {s:?} (ES256 ES384 ES512 PS256 PS384 PS512)"
            ),
            SimError::UnknownEndpoint(s) => write!(f, "unknown endpoint {s:?}"),
            SimError::InvalidKey(why) | SimError::MalformedJwt(why) => f.write_str(why),
            SimError::WaitTimedOut {
                installation_id,
                after,
                last_view,
            } => write!(
                f,
                "timed out after {after:?} waiting on installation {installation_id}; last view: {last_view}"
            ),
            SimError::DeliveriesTimedOut {
                event_id,
                seen,
                wanted,
            } => write!(f, "timed out: {seen} of {wanted} deliveries of {event_id}"),
        }
    }
}

impl std::error::Error for SimError {}

#[cfg(test)]
mod tests {
    use super::*;

    // The control API answers these texts and the CLI prints them: they must not drift.
    #[test]
    fn messages_name_what_was_missing() {
        let cases = [
            (
                SimError::UnknownInstallation("i1".into()),
                "unknown installation i1",
            ),
            (
                SimError::UnknownUser {
                    installation_id: "i1".into(),
                    user: "u1".into(),
                },
                "installation i1 has no user u1",
            ),
            (
                SimError::UnknownCredentials {
                    installation_id: "i1".into(),
                    client_id: "c1".into(),
                },
                "installation i1 has no credentials c1",
            ),
            (SimError::UnknownEvent("e1".into()), "no genuine event e1"),
            (
                SimError::InvalidSpec("account_name is required".into()),
                "account_name is required",
            ),
            (
                SimError::UnknownAlgorithm("HS256".into()),
                "unknown algorithm \"HS256\" (ES256 ES384 ES512 PS256 PS384 PS512)",
            ),
            (
                SimError::UnknownEndpoint("nope".into()),
                "unknown endpoint \"nope\"",
            ),
            (
                SimError::WaitTimedOut {
                    installation_id: "i1".into(),
                    after: Duration::from_secs(2),
                    last_view: "null".into(),
                },
                "timed out after 2s waiting on installation i1; last view: null",
            ),
            (
                SimError::DeliveriesTimedOut {
                    event_id: "e1".into(),
                    seen: 1,
                    wanted: 3,
                },
                "timed out: 1 of 3 deliveries of e1",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
