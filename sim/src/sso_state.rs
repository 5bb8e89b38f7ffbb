//! What Talkdesk ID remembers between the authorize request, the sign-in and the code exchange:
//! authorization codes, sign-in sessions (by cookie, per account), the user tokens issued and the
//! pending `id_token` defect. [`crate::state::State`] holds one [`Sso`].

use crate::model::SimUser;
use crate::random::random_token;
use crate::sso_model::{IdTokenFault, IssuedUserToken};
use std::collections::HashMap;

/// An authorization code and everything it is bound to (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC
/// Core §3.1.3.6). Codes are never forgotten: a used or expired one still refuses by name.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub code: String,
    pub client_id: String,
    pub installation_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// When the user signed in (the `id_token`'s `auth_time`), Unix seconds.
    pub auth_time: i64,
    pub expires_at_ms: i64,
    /// Set by the first exchange attempt, successful or not.
    pub used: bool,
    /// Access tokens issued from it: revoked if the code is presented again.
    pub access_tokens: Vec<String>,
}

/// Who is signed in to an account in one browser, and since when.
#[derive(Debug, Clone)]
pub(crate) struct SignIn {
    pub user_id: String,
    pub auth_time: i64,
}

#[derive(Default)]
pub(crate) struct Sso {
    /// Every code issued, oldest first.
    pub codes: Vec<AuthCode>,
    /// Sign-in sessions: cookie value → account id → who signed in there.
    sessions: HashMap<String, HashMap<String, SignIn>>,
    /// Every successful exchange, oldest first.
    pub user_tokens: Vec<IssuedUserToken>,
    /// The defect for the next `id_token` only.
    pub next_id_token_fault: Option<IdTokenFault>,
}

impl Sso {
    pub fn code_index(&self, code: &str) -> Option<usize> {
        self.codes.iter().position(|c| c.code == code)
    }

    /// The code issued most recently to `client_id` (for [`crate::AuthorizeMode::Replay`]).
    pub fn last_code_for(&self, client_id: &str) -> Option<&AuthCode> {
        self.codes.iter().rev().find(|c| c.client_id == client_id)
    }

    /// Who the session named by the cookie `sid` signed in to `account_id`, if anyone.
    pub fn signed_in(&self, sid: Option<&str>, account_id: &str) -> Option<&SignIn> {
        self.sessions.get(sid?)?.get(account_id)
    }

    /// Records that `user` signed in to `account_id` in the session `sid` (a new session if `sid`
    /// names none); returns the session's cookie value.
    pub fn sign_in(
        &mut self,
        sid: Option<&str>,
        account_id: &str,
        user: &SimUser,
        at: i64,
    ) -> String {
        let sid = match sid {
            Some(s) if self.sessions.contains_key(s) => s.to_string(),
            _ => random_token(),
        };
        self.sessions.entry(sid.clone()).or_default().insert(
            account_id.to_string(),
            SignIn {
                user_id: user.id.clone(),
                auth_time: at,
            },
        );
        sid
    }

    /// Ends every session of `user_id` in `account_id` (the user logged out of Talkdesk).
    pub fn sign_out(&mut self, account_id: &str, user_id: &str) {
        for accounts in self.sessions.values_mut() {
            if accounts
                .get(account_id)
                .is_some_and(|s| s.user_id == user_id)
            {
                accounts.remove(account_id);
            }
        }
    }
}

/// The value of the cookie `name` in a `Cookie` header (RFC 6265 §4.2.1: `a=b; c=d`).
pub(crate) fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others_by_exact_name() {
        let h = Some("a=1; td_sim_sso_x=2; td_sim_sso=abc");
        assert_eq!(cookie(h, "td_sim_sso"), Some("abc"));
        assert_eq!(cookie(h, "b"), None);
        assert_eq!(cookie(None, "a"), None);
    }

    #[test]
    fn logging_out_ends_the_users_session_in_that_account_only() {
        let mut sso = Sso::default();
        let u = SimUser::new("u1", "u1@x", "U1");
        let sid = sso.sign_in(None, "acct", &u, 1);
        assert_eq!(sso.sign_in(Some(&sid), "other", &u, 2), sid);
        sso.sign_out("acct", "u1");
        assert!(sso.signed_in(Some(&sid), "acct").is_none());
        assert_eq!(sso.signed_in(Some(&sid), "other").unwrap().auth_time, 2);
        // an unknown cookie starts a new session rather than trusting the client's value
        assert_ne!(sso.sign_in(Some("forged"), "acct", &u, 3), "forged");
    }
}
