//! Rows as the schema has them, flat, and their mapping to the typed records. Writes go column by
//! column from these structs' fields (a new column is one field here, in its `to_row` and
//! `from_row`, plus a migration); reads decode a [`Row`] by column name.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::records::{
    EventRecord, EventStatus, Installation, InstallationState, Job, JobKind, JobState, PlanRecord,
    SealedSecrets, StoredCredentials, TrialRecord,
};
use super::row_codec::{from_json, to_json, Cols, Columns, FromRow, IntoRow};
use crate::crypto::keys::KeyAlgorithm;
use crate::ports::{PortError, Row, SqlValue};

/// Decodes a row into `T`. D1 hands integers over as JS numbers, which may arrive as floats
/// (`1.7e12`); integral ones are made integers again first.
pub fn decode<T: DeserializeOwned>(what: &str, row: Row) -> Result<T, PortError> {
    // Only the last step is generic: everything before it is compiled once, not once per row
    // type (the map rebuild alone carried a sort per row type: 54 KB of the wasm).
    serde_json::from_value(Value::Object(normalized(row))).map_err(|e| undecodable(what, &e))
}

pub(super) fn normalized(mut row: Row) -> Row {
    for v in row.values_mut() {
        let integral = match v {
            Value::Number(n) if n.is_f64() => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15),
            _ => None,
        };
        if let Some(f) = integral {
            *v = Value::from(f as i64);
        }
    }
    row
}

fn undecodable(what: &str, e: &serde_json::Error) -> PortError {
    PortError(format!("{what}: a row does not decode: {e}"))
}

/// A row's columns and bound values, minus `skip`, in column-name order.
pub fn row_columns(row: Row, skip: &[&str]) -> (Vec<String>, Vec<SqlValue>) {
    row.into_iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            let v = match v {
                Value::Null => SqlValue::Null,
                Value::Bool(b) => SqlValue::Integer(i64::from(b)),
                Value::Number(n) => SqlValue::Integer(n.as_i64().unwrap_or(0)),
                Value::String(s) => SqlValue::Text(s),
                other => SqlValue::Text(other.to_string()),
            };
            (k, v)
        })
        .unzip()
}

fn bad(what: &str) -> PortError {
    PortError(format!("stored {what} is not one we know"))
}

fn credentials(
    client_id: Option<String>,
    key_id: Option<String>,
    algorithm: Option<String>,
    secret: Option<String>,
    key: Option<String>,
) -> Result<Option<StoredCredentials>, PortError> {
    let (Some(client_id), Some(algorithm)) = (client_id, algorithm) else {
        return Ok(None);
    };
    Ok(Some(StoredCredentials {
        client_id,
        key_id: key_id.unwrap_or_default(),
        algorithm: KeyAlgorithm::parse(&algorithm).ok_or_else(|| bad("key algorithm"))?,
        sealed: secret
            .zip(key)
            .map(|(secret, key)| SealedSecrets { secret, key }),
    }))
}

type Flat = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn flatten(set: &Option<StoredCredentials>) -> Flat {
    match set {
        None => (None, None, None, None, None),
        Some(c) => (
            Some(c.client_id.clone()),
            Some(c.key_id.clone()),
            Some(c.algorithm.as_str().to_owned()),
            c.sealed.as_ref().map(|s| s.secret.clone()),
            c.sealed.as_ref().map(|s| s.key.clone()),
        ),
    }
}

/// `installations` (migrations 0003, 0004, 0007).
#[derive(Debug, Clone)]
pub struct InstallationRow {
    pub installation_id: String,
    pub account_id: String,
    pub account_name: String,
    pub state: String,
    pub api_root: String,
    pub token_url: String,
    pub authorize_url: String,
    pub widget_url: Option<String>,
    pub client_id: Option<String>,
    pub key_id: Option<String>,
    pub key_algorithm: Option<String>,
    pub sealed_secret: Option<String>,
    pub sealed_key: Option<String>,
    pub old_client_id: Option<String>,
    pub old_key_id: Option<String>,
    pub old_key_algorithm: Option<String>,
    pub sealed_old_secret: Option<String>,
    pub sealed_old_key: Option<String>,
    pub company_name: Option<String>,
    pub timezone: Option<String>,
    pub plan: Option<String>,
    pub subscription_type: Option<String>,
    pub total_licenses: Option<u64>,
    pub trial_state: Option<String>,
    pub trial_expires_at: Option<String>,
    pub trial_ended_at: Option<String>,
    pub trial_ended_reason: Option<String>,
    pub users_count: u64,
    pub last_error: Option<String>,
    pub install_event_id: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub approved_at: Option<u64>,
    pub uninstalled_at: Option<u64>,
    pub trial_event_at: Option<String>,
    pub credentials_event_at: Option<String>,
    /// Absent from a candidate stored before migration 0010 added the column: 0.
    pub version: u64,
}

impl From<&Installation> for InstallationRow {
    fn from(i: &Installation) -> Self {
        let (client_id, key_id, key_algorithm, sealed_secret, sealed_key) = flatten(&i.credentials);
        let (old_client_id, old_key_id, old_key_algorithm, sealed_old_secret, sealed_old_key) =
            flatten(&i.previous);
        InstallationRow {
            installation_id: i.installation_id.clone(),
            account_id: i.account_id.clone(),
            account_name: i.account_name.clone(),
            state: i.state.as_str().to_owned(),
            api_root: i.api_root.clone(),
            token_url: i.token_url.clone(),
            authorize_url: i.authorize_url.clone(),
            widget_url: i.widget_url.clone(),
            client_id,
            key_id,
            key_algorithm,
            sealed_secret,
            sealed_key,
            old_client_id,
            old_key_id,
            old_key_algorithm,
            sealed_old_secret,
            sealed_old_key,
            company_name: i.company_name.clone(),
            timezone: i.timezone.clone(),
            plan: i.plan.name.clone(),
            subscription_type: i.plan.kind.clone(),
            total_licenses: i.plan.total_licenses,
            trial_state: i.trial.state.clone(),
            trial_expires_at: i.trial.expires_at.clone(),
            trial_ended_at: i.trial.ended_at.clone(),
            trial_ended_reason: i.trial.ended_reason.clone(),
            users_count: i.users_count,
            last_error: i.last_error.clone(),
            install_event_id: i.install_event_id.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
            approved_at: i.approved_at,
            uninstalled_at: i.uninstalled_at,
            trial_event_at: i.trial.event_at.clone(),
            credentials_event_at: i.credentials_event_at.clone(),
            version: i.version,
        }
    }
}

impl TryFrom<InstallationRow> for Installation {
    type Error = PortError;

    fn try_from(r: InstallationRow) -> Result<Self, PortError> {
        Ok(Installation {
            state: InstallationState::parse(&r.state).ok_or_else(|| bad("installation state"))?,
            credentials: credentials(
                r.client_id,
                r.key_id,
                r.key_algorithm,
                r.sealed_secret,
                r.sealed_key,
            )?,
            previous: credentials(
                r.old_client_id,
                r.old_key_id,
                r.old_key_algorithm,
                r.sealed_old_secret,
                r.sealed_old_key,
            )?,
            installation_id: r.installation_id,
            account_id: r.account_id,
            account_name: r.account_name,
            api_root: r.api_root,
            token_url: r.token_url,
            authorize_url: r.authorize_url,
            widget_url: r.widget_url,
            credentials_event_at: r.credentials_event_at,
            company_name: r.company_name,
            timezone: r.timezone,
            plan: PlanRecord {
                name: r.plan,
                kind: r.subscription_type,
                total_licenses: r.total_licenses,
            },
            trial: TrialRecord {
                state: r.trial_state,
                expires_at: r.trial_expires_at,
                ended_at: r.trial_ended_at,
                ended_reason: r.trial_ended_reason,
                event_at: r.trial_event_at,
            },
            users_count: r.users_count,
            last_error: r.last_error,
            install_event_id: r.install_event_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            approved_at: r.approved_at,
            uninstalled_at: r.uninstalled_at,
            version: r.version,
        })
    }
}

/// `events` (migration 0003).
#[derive(Debug, Clone)]
pub struct EventRow {
    pub event_id: String,
    pub event_type: String,
    pub installation_id: Option<String>,
    pub account_id: Option<String>,
    pub created_at: String,
    pub received_at: u64,
    pub keep_until: u64,
    pub status: String,
    pub detail: Option<String>,
    pub new_client_id: Option<String>,
    pub new_key_id: Option<String>,
    pub new_key_algorithm: Option<String>,
    pub sealed_new_secret: Option<String>,
    pub sealed_new_key: Option<String>,
    pub self_href: Option<String>,
    /// JSON of an [`InstallationRow`].
    pub candidate: Option<String>,
    pub app_version_name: Option<String>,
}

impl From<&EventRecord> for EventRow {
    fn from(e: &EventRecord) -> Self {
        let (new_client_id, new_key_id, new_key_algorithm, sealed_new_secret, sealed_new_key) =
            flatten(&e.incoming);
        EventRow {
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone(),
            installation_id: e.installation_id.clone(),
            account_id: e.account_id.clone(),
            created_at: e.created_at.clone(),
            received_at: e.received_at,
            keep_until: e.keep_until,
            status: e.status.as_str().to_owned(),
            detail: e.detail.clone(),
            new_client_id,
            new_key_id,
            new_key_algorithm,
            sealed_new_secret,
            sealed_new_key,
            self_href: e.self_href.clone(),
            candidate: e
                .candidate
                .as_deref()
                .map(|c| to_json(InstallationRow::from(c))),
            app_version_name: e.app_version.clone(),
        }
    }
}

impl TryFrom<EventRow> for EventRecord {
    type Error = PortError;

    fn try_from(r: EventRow) -> Result<Self, PortError> {
        Ok(EventRecord {
            status: EventStatus::parse(&r.status).ok_or_else(|| bad("event status"))?,
            incoming: credentials(
                r.new_client_id,
                r.new_key_id,
                r.new_key_algorithm,
                r.sealed_new_secret,
                r.sealed_new_key,
            )?,
            event_id: r.event_id,
            event_type: r.event_type,
            installation_id: r.installation_id,
            account_id: r.account_id,
            created_at: r.created_at,
            received_at: r.received_at,
            keep_until: r.keep_until,
            detail: r.detail,
            self_href: r.self_href,
            candidate: match r.candidate {
                None => None,
                Some(json) => {
                    let row: InstallationRow = from_json("stored candidate", &json)?;
                    Some(Box::new(Installation::try_from(row)?))
                }
            },
            app_version: r.app_version_name,
        })
    }
}

/// `jobs` (migration 0003); the lease columns are the store's business, not the record's.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub job_id: i64,
    pub installation_id: String,
    pub event_id: String,
    pub kind: String,
    pub state: String,
    pub attempts: u64,
    pub next_attempt_at: u64,
    pub deadline_at: u64,
    pub last_error: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

impl From<&Job> for JobRow {
    fn from(j: &Job) -> Self {
        JobRow {
            job_id: j.job_id,
            installation_id: j.installation_id.clone(),
            event_id: j.event_id.clone(),
            kind: j.kind.as_str().to_owned(),
            state: j.state.as_str().to_owned(),
            attempts: j.attempts,
            next_attempt_at: j.next_attempt_at,
            deadline_at: j.deadline_at,
            last_error: j.last_error.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

impl TryFrom<JobRow> for Job {
    type Error = PortError;

    fn try_from(r: JobRow) -> Result<Self, PortError> {
        Ok(Job {
            kind: JobKind::parse(&r.kind).ok_or_else(|| bad("job kind"))?,
            state: JobState::parse(&r.state).ok_or_else(|| bad("job state"))?,
            job_id: r.job_id,
            installation_id: r.installation_id,
            event_id: r.event_id,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            deadline_at: r.deadline_at,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

impl IntoRow for InstallationRow {
    fn into_row(self) -> Row {
        Columns::default()
            .with("installation_id", self.installation_id)
            .with("account_id", self.account_id)
            .with("account_name", self.account_name)
            .with("state", self.state)
            .with("api_root", self.api_root)
            .with("token_url", self.token_url)
            .with("authorize_url", self.authorize_url)
            .with("widget_url", self.widget_url)
            .with("client_id", self.client_id)
            .with("key_id", self.key_id)
            .with("key_algorithm", self.key_algorithm)
            .with("sealed_secret", self.sealed_secret)
            .with("sealed_key", self.sealed_key)
            .with("old_client_id", self.old_client_id)
            .with("old_key_id", self.old_key_id)
            .with("old_key_algorithm", self.old_key_algorithm)
            .with("sealed_old_secret", self.sealed_old_secret)
            .with("sealed_old_key", self.sealed_old_key)
            .with("company_name", self.company_name)
            .with("timezone", self.timezone)
            .with("plan", self.plan)
            .with("subscription_type", self.subscription_type)
            .with("total_licenses", self.total_licenses)
            .with("trial_state", self.trial_state)
            .with("trial_expires_at", self.trial_expires_at)
            .with("trial_ended_at", self.trial_ended_at)
            .with("trial_ended_reason", self.trial_ended_reason)
            .with("users_count", self.users_count)
            .with("last_error", self.last_error)
            .with("install_event_id", self.install_event_id)
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
            .with("approved_at", self.approved_at)
            .with("uninstalled_at", self.uninstalled_at)
            .with("trial_event_at", self.trial_event_at)
            .with("credentials_event_at", self.credentials_event_at)
            .with("version", self.version)
            .done()
    }
}

impl FromRow for InstallationRow {
    fn from_row(c: &mut Cols) -> Self {
        InstallationRow {
            installation_id: c.text("installation_id"),
            account_id: c.text("account_id"),
            account_name: c.text("account_name"),
            state: c.text("state"),
            api_root: c.text("api_root"),
            token_url: c.text("token_url"),
            authorize_url: c.text("authorize_url"),
            widget_url: c.opt_text("widget_url"),
            client_id: c.opt_text("client_id"),
            key_id: c.opt_text("key_id"),
            key_algorithm: c.opt_text("key_algorithm"),
            sealed_secret: c.opt_text("sealed_secret"),
            sealed_key: c.opt_text("sealed_key"),
            old_client_id: c.opt_text("old_client_id"),
            old_key_id: c.opt_text("old_key_id"),
            old_key_algorithm: c.opt_text("old_key_algorithm"),
            sealed_old_secret: c.opt_text("sealed_old_secret"),
            sealed_old_key: c.opt_text("sealed_old_key"),
            company_name: c.opt_text("company_name"),
            timezone: c.opt_text("timezone"),
            plan: c.opt_text("plan"),
            subscription_type: c.opt_text("subscription_type"),
            total_licenses: c.opt_uint("total_licenses"),
            trial_state: c.opt_text("trial_state"),
            trial_expires_at: c.opt_text("trial_expires_at"),
            trial_ended_at: c.opt_text("trial_ended_at"),
            trial_ended_reason: c.opt_text("trial_ended_reason"),
            users_count: c.uint("users_count"),
            last_error: c.opt_text("last_error"),
            install_event_id: c.text("install_event_id"),
            created_at: c.uint("created_at"),
            updated_at: c.uint("updated_at"),
            approved_at: c.opt_uint("approved_at"),
            uninstalled_at: c.opt_uint("uninstalled_at"),
            trial_event_at: c.opt_text("trial_event_at"),
            credentials_event_at: c.opt_text("credentials_event_at"),
            version: c.uint_or_zero("version"),
        }
    }
}

impl IntoRow for EventRow {
    fn into_row(self) -> Row {
        Columns::default()
            .with("event_id", self.event_id)
            .with("event_type", self.event_type)
            .with("installation_id", self.installation_id)
            .with("account_id", self.account_id)
            .with("created_at", self.created_at)
            .with("received_at", self.received_at)
            .with("keep_until", self.keep_until)
            .with("status", self.status)
            .with("detail", self.detail)
            .with("new_client_id", self.new_client_id)
            .with("new_key_id", self.new_key_id)
            .with("new_key_algorithm", self.new_key_algorithm)
            .with("sealed_new_secret", self.sealed_new_secret)
            .with("sealed_new_key", self.sealed_new_key)
            .with("self_href", self.self_href)
            .with("candidate", self.candidate)
            .with("app_version_name", self.app_version_name)
            .done()
    }
}

impl FromRow for EventRow {
    fn from_row(c: &mut Cols) -> Self {
        EventRow {
            event_id: c.text("event_id"),
            event_type: c.text("event_type"),
            installation_id: c.opt_text("installation_id"),
            account_id: c.opt_text("account_id"),
            created_at: c.text("created_at"),
            received_at: c.uint("received_at"),
            keep_until: c.uint("keep_until"),
            status: c.text("status"),
            detail: c.opt_text("detail"),
            new_client_id: c.opt_text("new_client_id"),
            new_key_id: c.opt_text("new_key_id"),
            new_key_algorithm: c.opt_text("new_key_algorithm"),
            sealed_new_secret: c.opt_text("sealed_new_secret"),
            sealed_new_key: c.opt_text("sealed_new_key"),
            self_href: c.opt_text("self_href"),
            candidate: c.opt_text("candidate"),
            app_version_name: c.opt_text("app_version_name"),
        }
    }
}

impl IntoRow for JobRow {
    fn into_row(self) -> Row {
        Columns::default()
            .with("job_id", self.job_id)
            .with("installation_id", self.installation_id)
            .with("event_id", self.event_id)
            .with("kind", self.kind)
            .with("state", self.state)
            .with("attempts", self.attempts)
            .with("next_attempt_at", self.next_attempt_at)
            .with("deadline_at", self.deadline_at)
            .with("last_error", self.last_error)
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
            .done()
    }
}

impl FromRow for JobRow {
    fn from_row(c: &mut Cols) -> Self {
        JobRow {
            job_id: c.int("job_id"),
            installation_id: c.text("installation_id"),
            event_id: c.text("event_id"),
            kind: c.text("kind"),
            state: c.text("state"),
            attempts: c.uint("attempts"),
            next_attempt_at: c.uint("next_attempt_at"),
            deadline_at: c.uint("deadline_at"),
            last_error: c.opt_text("last_error"),
            created_at: c.uint("created_at"),
            updated_at: c.uint("updated_at"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Stamped {
        at: u64,
        n: i64,
    }

    fn row(at: f64, n: f64) -> Row {
        let mut row = Row::new();
        row.insert("at".into(), Value::from(at));
        row.insert("n".into(), Value::from(n));
        row
    }

    #[test]
    fn integers_that_arrive_as_javascript_floats_decode_as_integers() {
        let got: Stamped = decode("stamped", row(1.7e12, -3.0)).unwrap();
        assert_eq!(
            got,
            Stamped {
                at: 1_700_000_000_000,
                n: -3
            }
        );
    }

    fn assert_undecodable(row: Row) {
        let err = decode::<Stamped>("stamped", row).unwrap_err();
        assert!(
            err.0.starts_with("stamped: a row does not decode"),
            "{}",
            err.0
        );
    }

    #[test]
    fn an_integral_float_past_two_to_the_53_is_not_trusted_as_an_integer() {
        // Past 2^53 a JavaScript number no longer holds every integer exactly.
        assert_undecodable(row(1.0e16, 1.0));
    }

    #[test]
    fn a_fractional_number_is_not_made_an_integer() {
        assert_undecodable(row(1.5, 1.0));
    }
}
