//! The sign-in `state`: sealed with `SEALING_KEY` (AES-256-GCM, so it can be neither read nor
//! altered on its way through Talkdesk), short-lived, single-use (its random id is marked used at
//! the callback), and bound to the installation and to the browser that started the sign-in.
//!
//! It also carries the `nonce` and the PKCE verifier, so nothing is stored for a launch: an
//! anonymous `GET /launch` writes no row.

use serde::Serialize;

use crate::json::read_bytes;

use super::StateProblem;
use crate::crypto::keyring::SealingKeys;
use crate::crypto::seal::{open, seal, SealContext};
use crate::crypto::{b64url, random_text, sha256};
use crate::secret::{constant_time_eq, SecretString};

/// The seal's associated data: a state opens as nothing else, and nothing else as a state.
const CONTEXT: SealContext<'static> = SealContext {
    record: "sign-in",
    field: "state",
};

/// What a sign-in in flight remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginState {
    /// Random id, marked used at the callback.
    pub id: String,
    pub installation_id: String,
    pub nonce: String,
    /// PKCE verifier (RFC 7636: 43 characters of base64url).
    pub verifier: String,
    /// SHA-256 of the browser's binding cookie.
    pub binding: String,
    /// ms
    pub expires_at: u64,
}

impl LoginState {
    /// A fresh state for `installation_id`, bound to the browser holding `binding`.
    pub fn new(installation_id: &str, binding: &str, expires_at: u64) -> LoginState {
        LoginState {
            id: random_text::<16>(),
            installation_id: installation_id.to_owned(),
            nonce: random_text::<16>(),
            verifier: random_text::<32>(),
            binding: binding_hash(binding),
            expires_at,
        }
    }

    /// The PKCE S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        b64url(&sha256(self.verifier.as_bytes()))
    }

    pub fn verifier(&self) -> SecretString {
        SecretString::new(self.verifier.clone())
    }

    /// The `state` parameter.
    pub fn seal(&self, keys: &SealingKeys) -> String {
        let json = serde_json::to_vec(self).expect("a state serialises");
        seal(keys, CONTEXT, &json)
    }

    /// Opens a `state` parameter and judges it for the browser presenting `binding` at `now`
    /// (ms). Single use is the caller's to record.
    pub fn open(
        keys: &SealingKeys,
        sealed: &str,
        binding: Option<&str>,
        now: u64,
    ) -> Result<LoginState, StateProblem> {
        let bytes = open(keys, CONTEXT, sealed).map_err(|_| StateProblem::Tampered)?;
        let state = LoginState::read(&bytes).ok_or(StateProblem::Tampered)?;
        if state.expires_at <= now {
            return Err(StateProblem::Expired);
        }
        let same_browser = binding.is_some_and(|b| {
            constant_time_eq(binding_hash(b).as_bytes(), state.binding.as_bytes())
        });
        if !same_browser {
            return Err(StateProblem::OtherBrowser);
        }
        Ok(state)
    }
}

impl LoginState {
    /// The JSON [`seal`](Self::seal) wrote.
    fn read(bytes: &[u8]) -> Option<LoginState> {
        let state = read_bytes(bytes, None, |r, o| LoginState {
            id: r.text(o, "id"),
            installation_id: r.text(o, "installation_id"),
            nonce: r.text(o, "nonce"),
            verifier: r.text(o, "verifier"),
            binding: r.text(o, "binding"),
            expires_at: r.number(o, "expires_at", u64::MAX),
        });
        state.ok()
    }
}

fn binding_hash(binding: &str) -> String {
    b64url(&sha256(binding.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SealingKeys {
        SealingKeys::parse("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap()
    }

    #[test]
    fn a_sealed_state_opens_for_the_browser_that_started_it_before_it_expires() {
        let state = LoginState::new("inst-1", "binding-a", 1_000);
        let opened = LoginState::open(&keys(), &state.seal(&keys()), Some("binding-a"), 999);
        assert_eq!(opened, Ok(state));
    }

    #[test]
    fn a_state_from_another_browser_or_none_is_refused() {
        let sealed = LoginState::new("inst-1", "binding-a", 1_000).seal(&keys());
        for binding in [Some("binding-b"), None] {
            assert_eq!(
                LoginState::open(&keys(), &sealed, binding, 0),
                Err(StateProblem::OtherBrowser)
            );
        }
    }

    #[test]
    fn an_expired_state_is_refused() {
        let sealed = LoginState::new("inst-1", "b", 1_000).seal(&keys());
        assert_eq!(
            LoginState::open(&keys(), &sealed, Some("b"), 1_000),
            Err(StateProblem::Expired)
        );
    }

    #[test]
    fn an_altered_or_made_up_state_is_tampered() {
        let sealed = LoginState::new("inst-1", "b", 1_000).seal(&keys());
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        for bad in [
            String::from_utf8(altered).unwrap(),
            "x".into(),
            String::new(),
        ] {
            assert_eq!(
                LoginState::open(&keys(), &bad, Some("b"), 0),
                Err(StateProblem::Tampered),
                "{bad}"
            );
        }
    }

    #[test]
    fn another_sealed_value_does_not_open_as_a_state() {
        let other = seal(
            &keys(),
            SealContext {
                record: "inst-1",
                field: "client_secret",
            },
            br#"{"id":"x"}"#,
        );
        assert_eq!(
            LoginState::open(&keys(), &other, Some("b"), 0),
            Err(StateProblem::Tampered)
        );
    }

    #[test]
    fn the_challenge_is_the_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let mut state = LoginState::new("i", "b", 1);
        state.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into();
        assert_eq!(
            state.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn each_state_has_its_own_id_nonce_and_verifier() {
        let (a, b) = (LoginState::new("i", "b", 1), LoginState::new("i", "b", 1));
        assert_ne!(a.id, b.id);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.verifier.len(), 43);
    }
}
