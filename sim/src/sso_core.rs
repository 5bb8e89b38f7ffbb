//! The single sign-on knobs and inspection the library handle and the control API share, as
//! methods of [`Core`]: registered redirect URIs, auto sign-in, the authorize mode, the next
//! `id_token`'s defect, account members, codes and user tokens.

use crate::clock::now_millis;
use crate::error::{SimError, SimResult};
use crate::model::SimUser;
use crate::sso_model::{validate_redirect_uri, AuthorizeMode, IdTokenFault, IssuedUserToken};
use crate::state::Core;

impl Core {
    /// Registers a redirect URI (no effect if it already is).
    pub fn register_redirect_uri(&self, uri: &str) -> SimResult<()> {
        validate_redirect_uri(uri)?;
        let mut s = self.settings.lock().unwrap();
        if !s.redirect_uris.iter().any(|r| r == uri) {
            s.redirect_uris.push(uri.to_string());
        }
        Ok(())
    }

    pub fn set_auto_sign_in(&self, on: bool) {
        self.settings.lock().unwrap().auto_sign_in = on;
    }

    pub fn allow_sign_in_framing(&self, origin: &str) {
        self.settings.lock().unwrap().sign_in_framers = Some(origin.to_owned());
    }

    pub fn set_authorize_mode(&self, mode: AuthorizeMode) {
        self.settings.lock().unwrap().authorize_mode = mode;
    }

    pub fn tamper_next_id_token(&self, fault: IdTokenFault) {
        self.state().sso.next_id_token_fault = Some(fault);
    }

    /// Every member of the installation's account: licensed users first, then unlicensed ones.
    pub fn account_members(&self, installation_id: &str) -> SimResult<Vec<SimUser>> {
        let st = self.state();
        let inst = st
            .inst(installation_id)
            .ok_or_else(|| SimError::UnknownInstallation(installation_id.to_string()))?;
        Ok(inst.members().cloned().collect())
    }

    pub fn issued_user_tokens(&self, installation_id: &str) -> Vec<IssuedUserToken> {
        self.state()
            .sso
            .user_tokens
            .iter()
            .filter(|t| t.installation_id == installation_id)
            .cloned()
            .collect()
    }

    /// How many fresh codes `/oauth/authorize` issued for the installation.
    pub fn codes_issued(&self, installation_id: &str) -> usize {
        self.state()
            .sso
            .codes
            .iter()
            .filter(|c| c.installation_id == installation_id)
            .count()
    }

    /// Makes every code issued so far for the installation expire now.
    pub fn expire_codes(&self, installation_id: &str) {
        let now = now_millis();
        for c in self.state().sso.codes.iter_mut() {
            if c.installation_id == installation_id {
                c.expires_at_ms = now;
            }
        }
    }
}
