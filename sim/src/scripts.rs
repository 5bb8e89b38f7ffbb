//! The lifecycle scripts: what Talkdesk does when an account installs, updates, rotates,
//! uninstalls, starts or ends a trial or logs a user out. Each changes the state, builds the
//! genuine event (the envelope Talkdesk sends), records it and hands it to `delivery`.

use crate::clock::{now_rfc3339, now_secs, rfc3339};
use crate::error::{SimError, SimResult};
use crate::jose::Alg;
use crate::model::{
    DeliveryOutcome, EventReads, InstallSpec, Installed, Rotated, Sent, SimUser, Subscription,
    TrialKind, TrialSpec, UpdateSpec, Users,
};
use crate::random::random_hex;
use crate::state::{Core, Cred, Inst};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The `data` members every installation event starts with.
fn base_data(inst: &Inst) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("installation_id".into(), json!(inst.id));
    m.insert("account_id".into(), json!(inst.account_id));
    m.insert("account_name".into(), json!(inst.account_name));
    m
}

/// The credential members of `app.installed` and `app.credentials_rotated`.
fn cred_data(cred: &Cred) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("client_id".into(), json!(cred.client_id));
    m.insert("client_secret".into(), json!(cred.client_secret));
    m.insert("private_key".into(), json!(cred.keys.private_b64()));
    m.insert("public_key".into(), json!(cred.keys.public_b64()));
    m.insert("key_id".into(), json!(cred.key_id));
    m.insert("key_algorithm".into(), json!(cred.keys.alg.as_str()));
    m
}

/// The users a [`Users`] names: the list, or `n` generated ones (`{prefix}{k}@{account}.example`,
/// "{Name} {k}", random ids).
fn generate(users: Users, prefix: &str, name: &str, account: &str) -> Vec<SimUser> {
    match users {
        Users::List(list) => list,
        Users::Count(n) => (1..=n)
            .map(|k| SimUser {
                id: random_hex(12),
                email: format!("{prefix}{k}@{account}.example"),
                name: format!("{name} {k}"),
                active: true,
            })
            .collect(),
    }
}

fn unknown(id: &str) -> SimError {
    SimError::UnknownInstallation(id.to_string())
}

impl Core {
    /// The envelope Talkdesk wraps an event's `data` in, its `_links` pointing at this simulator.
    /// `self` ends in the event's resource id: its own random id, or the envelope id under
    /// [`EventReads::ByEnvelopeId`].
    ///
    /// `app.installed` also links the header widget (`widget_url`), as in Talkdesk's example.
    fn envelope(&self, ty: &str, installation_id: &str, data: Map<String, Value>) -> Value {
        let settings = self.settings();
        let app_id = settings.app_id;
        let id = random_hex(16);
        let resource_id = match settings.event_reads {
            EventReads::ByEnvelopeId => id.clone(),
            EventReads::ByResourceId | EventReads::Status(_) => random_hex(16),
        };
        let root = &self.base_url;
        let mut event = json!({
            "id": id,
            "created_at": rfc3339(now_secs()),
            "api_version": "1",
            "type": ty,
            "app_id": app_id,
            "app_version_id": format!("{app_id}-version-1"),
            "app_version_name": "1.0.0",
            "data": Value::Object(data),
            "_links": {
                "root": {"href": root},
                "self": {"href": format!("{root}/apps/{app_id}/events/{resource_id}")},
                "tokens": {"href": format!("{root}/oauth/token")},
                "authorization": {"href": format!("{root}/oauth/authorize")},
                "installation": {"href": format!("{root}/apps/{app_id}/installations/{installation_id}")},
                "userinfo": {"href": format!("{root}/users/me")},
            }
        });
        if ty == "app.installed" {
            event["_links"]["widget_url"] = json!({"href": format!("{root}/widget/header.js")});
        }
        event
    }

    /// Builds an installation and its `app.installed` event, records both, and (if `send`) sends
    /// the event.
    pub async fn install(self: &Arc<Self>, spec: InstallSpec, send: bool) -> SimResult<Installed> {
        if spec.account_name.is_empty() {
            return Err(SimError::InvalidSpec("account_name is required".into()));
        }
        let cred = Cred::generate(spec.algorithm);
        let id = random_hex(12);
        let account_id = spec.account_id.clone().unwrap_or_else(|| random_hex(12));
        let users = generate(spec.users, "user", "User", &spec.account_name);
        let unlicensed = generate(
            spec.unlicensed_users,
            "member",
            "Member",
            &spec.account_name,
        );
        if let Some(u) = unlicensed
            .iter()
            .find(|m| users.iter().any(|u| u.id == m.id || u.email == m.email))
        {
            return Err(SimError::InvalidSpec(format!(
                "unlicensed user {} has the id or email of a licensed user",
                u.id
            )));
        }
        let subscription = spec.subscription.unwrap_or(Subscription {
            kind: "paid".into(),
            license_type: "per_user".into(),
            name: "Standard".into(),
            total_licenses: users.len() as u32,
        });
        let now = now_rfc3339();
        let mut data = Map::new();
        data.insert("installation_id".into(), json!(id));
        data.insert("account_id".into(), json!(account_id));
        data.insert("account_name".into(), json!(spec.account_name));
        data.extend(cred_data(&cred));
        let event = self.envelope("app.installed", &id, data);
        let installed_base = Installed {
            installation_id: id.clone(),
            account_id: account_id.clone(),
            account_name: spec.account_name.clone(),
            event_id: event["id"].as_str().unwrap().into(),
            client_id: cred.client_id.clone(),
            client_secret: cred.client_secret.clone(),
            key_id: cred.key_id.clone(),
            algorithm: spec.algorithm,
            private_key: cred.keys.private_b64(),
            users: users.clone(),
            unlicensed_users: unlicensed.clone(),
            event: event.clone(),
            delivery: DeliveryOutcome {
                held: false,
                attempt: None,
            },
        };
        {
            let mut st = self.state();
            st.installations.push(Inst {
                id: id.clone(),
                account_id,
                account_name: spec.account_name,
                account_created_at: now.clone(),
                created_at: now.clone(),
                scopes: spec.scopes,
                state: "pending".into(),
                reason: None,
                state_updated_at: now,
                removed: false,
                users,
                unlicensed,
                subscription,
                history: vec![],
                acks: vec![],
                creds: vec![cred],
                events: vec![],
                last_event_type: None,
                trial: None,
            });
            st.record_genuine(&id, &event);
        }
        if !send {
            return Ok(installed_base);
        }
        let delivery = self.dispatch(event, true).await;
        Ok(Installed {
            delivery,
            ..installed_base
        })
    }

    /// Applies an update to the installation, then sends `app.updated` with only the keys present.
    pub async fn update(self: &Arc<Self>, id: &str, spec: UpdateSpec) -> SimResult<Sent> {
        let event = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            for uid in &spec.remove_users {
                if !inst.users.iter().any(|u| &u.id == uid) {
                    return Err(SimError::UnknownUser {
                        installation_id: id.to_string(),
                        user: uid.clone(),
                    });
                }
            }
            let mut data = base_data(inst);
            let mut users = Map::new();
            if !spec.add_users.is_empty() {
                users.insert(
                    "adding".into(),
                    json!(spec.add_users.iter().map(|u| &u.id).collect::<Vec<_>>()),
                );
            }
            if !spec.remove_users.is_empty() {
                users.insert("removing".into(), json!(spec.remove_users));
            }
            // A licence removed leaves a member of the account; a licence added to a member moves
            // them from the unlicensed to the licensed users.
            let (removed, kept) = std::mem::take(&mut inst.users)
                .into_iter()
                .partition(|u| spec.remove_users.contains(&u.id));
            inst.users = kept;
            inst.unlicensed
                .retain(|m| !spec.add_users.iter().any(|a| a.id == m.id));
            inst.unlicensed.extend::<Vec<SimUser>>(removed);
            inst.users.extend(spec.add_users.iter().cloned());
            if !users.is_empty() {
                data.insert("users".into(), Value::Object(users));
            }
            if let Some(plan) = &spec.subscription {
                inst.subscription.name = plan.name.clone();
                inst.subscription.total_licenses = plan.licenses;
                data.insert(
                    "subscription".into(),
                    json!({"adding": {"name": plan.name, "licenses": plan.licenses.to_string()}}),
                );
            }
            drop(st);
            let event = self.envelope("app.updated", id, data);
            self.state().record_genuine(id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// New credential set of the same algorithm (or `alg`); the old set keeps working until revoked.
    pub async fn rotate(self: &Arc<Self>, id: &str, alg: Option<Alg>) -> SimResult<Rotated> {
        let (event, new, previous) = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            let cred = Cred::generate(alg.unwrap_or(inst.alg()));
            let previous = inst.creds.last().unwrap().client_id.clone();
            let mut data = base_data(inst);
            data.extend(cred_data(&cred));
            let new = (
                cred.client_id.clone(),
                cred.client_secret.clone(),
                cred.key_id.clone(),
                cred.keys.private_b64(),
            );
            inst.creds.push(cred);
            drop(st);
            let event = self.envelope("app.credentials_rotated", id, data);
            self.state().record_genuine(id, &event);
            (event, new, previous)
        };
        let sent = self.send_genuine(event).await;
        Ok(Rotated {
            client_id: new.0,
            client_secret: new.1,
            key_id: new.2,
            private_key: new.3,
            previous_client_id: previous,
            sent,
        })
    }

    /// Revokes one credential set: its assertions and its tokens stop working.
    pub fn revoke(&self, id: &str, client_id: &str) -> SimResult<()> {
        let mut st = self.state();
        let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
        let cred = inst
            .creds
            .iter_mut()
            .find(|c| c.client_id == client_id)
            .ok_or_else(|| SimError::UnknownCredentials {
                installation_id: id.to_string(),
                client_id: client_id.to_string(),
            })?;
        // Its tokens stop working too: the API checks the minting credential set on every call.
        cred.revoked = true;
        Ok(())
    }

    /// Marks the installation uninstalled and sends `app.uninstalled`. Its credentials keep working
    /// until the app confirms the uninstall (or [`Core::remove`] forces it), so the app can read
    /// the installation back and approve.
    pub async fn uninstall(
        self: &Arc<Self>,
        id: &str,
        reason_type: &str,
        message: &str,
    ) -> SimResult<Sent> {
        let event = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            inst.state = "uninstalled".into();
            inst.reason = Some(message.to_string());
            inst.state_updated_at = now_rfc3339();
            let mut data = base_data(inst);
            data.insert(
                "reason".into(),
                json!({"type": reason_type, "message": message}),
            );
            drop(st);
            let event = self.envelope("app.uninstalled", id, data);
            self.state().record_genuine(id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// Deprovisions an uninstalled installation: every token and credential stops working.
    pub fn remove(&self, id: &str) -> SimResult<()> {
        let mut st = self.state();
        let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
        inst.removed = true;
        inst.state = "uninstalled".into();
        Ok(())
    }

    pub async fn trial(
        self: &Arc<Self>,
        id: &str,
        kind: TrialKind,
        spec: TrialSpec,
    ) -> SimResult<Sent> {
        let event = {
            let mut st = self.state();
            let inst = st.inst_mut(id).ok_or_else(|| unknown(id))?;
            let now = now_secs();
            let expires_at = spec.expires_at.clone().unwrap_or_else(|| match kind {
                TrialKind::Ended => rfc3339(now),
                _ => rfc3339(now + 14 * 86400),
            });
            let mut data = Map::new();
            data.insert("installation_id".into(), json!(inst.id));
            data.insert("account_id".into(), json!(inst.account_id));
            data.insert("expires_at".into(), json!(expires_at));
            let ty = match kind {
                TrialKind::Started => "app.trial_started",
                TrialKind::Extended => "app.trial_extended",
                TrialKind::Ended => "app.trial_ended",
            };
            if kind == TrialKind::Ended {
                data.insert("ended_at".into(), json!(rfc3339(now)));
                data.insert("ended_reason".into(), json!(spec.ended_reason));
                data.insert("ended_by".into(), json!(spec.ended_by));
                if spec.ended_reason == "plan_upgraded" {
                    inst.subscription.kind = "paid".into();
                }
            } else {
                inst.subscription.kind = "trial".into();
            }
            inst.trial = Some(json!({"type": ty, "data": data.clone()}));
            drop(st);
            let event = self.envelope(ty, id, data);
            self.state().record_genuine(id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// Sends `user.logout` for a member (licensed or not) named by id or email, and ends their
    /// sign-in sessions in the account.
    pub async fn logout(self: &Arc<Self>, id: &str, user: &str) -> SimResult<Sent> {
        let event = {
            let mut st = self.state();
            let inst = st.inst(id).ok_or_else(|| unknown(id))?;
            // Any member of the account can log out of Talkdesk, licensed or not.
            let u = inst
                .member(user)
                .ok_or_else(|| SimError::UnknownUser {
                    installation_id: id.to_string(),
                    user: user.to_string(),
                })?
                .clone();
            let account_id = inst.account_id.clone();
            let mut data = Map::new();
            data.insert("account_id".into(), json!(inst.account_id));
            data.insert("user_id".into(), json!(u.id));
            data.insert("user_email".into(), json!(u.email));
            data.insert("installation_id".into(), json!(inst.id));
            // The user left Talkdesk: a browser signed in as them must sign in again.
            st.sso.sign_out(&account_id, &u.id);
            drop(st);
            let event = self.envelope("user.logout", id, data);
            self.state().record_genuine(id, &event);
            event
        };
        Ok(self.send_genuine(event).await)
    }

    /// An event with a real-looking envelope that the simulator never records as genuine.
    pub fn forge(&self, ty: &str, data: Value) -> Value {
        let inst = data["installation_id"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let data = match data {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        self.envelope(ty, &inst, data)
    }
}
