//! `GET /healthz`: whether the worker can serve, from the outcome of probing D1 and KV.
//! The probes themselves run in `platform`; this module only judges and words the answer, so
//! the judgement is tested natively.

use serde_json::json;

use crate::http::Reply;

/// The newest migration in `migrations/`. `/healthz` is 503 until D1 has it applied, so a
/// deployment that forgot `wrangler d1 migrations apply` says so at once.
/// A unit test keeps this equal to the newest file in the folder.
pub const SCHEMA_VERSION: &str = "0013_candidate_account.sql";

/// How long a passing probe of D1 and KV answers for, per isolate: a monitor polling many
/// times a second costs D1 and KV one probe a second, and the answer is never older than
/// this. A failing probe is never reused, so recovery shows on the next request.
pub const PASSING_PROBE_MS: u64 = 1_000;

/// Whether the passing probe made at `passed_at` (if any) still answers at `now_ms`.
pub fn reuse_passing(passed_at: Option<u64>, now_ms: u64) -> bool {
    passed_at.is_some_and(|at| now_ms >= at && now_ms - at < PASSING_PROBE_MS)
}

/// What probing one dependency found. The text is ours (never a runtime error message): the
/// runtime's detail goes to the log, not to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Ok,
    Failed(&'static str),
}

/// What D1's migration table says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// The newest applied migration's name (`None`: none applied, or no migration table).
    Applied(Option<String>),
    /// The query failed (binding missing, database unreachable).
    Unreachable,
}

/// Judges D1 by its schema: reachable is not enough, the newest migration must be applied.
pub fn judge_schema(state: &SchemaState) -> Probe {
    match state {
        SchemaState::Applied(Some(name)) if name == SCHEMA_VERSION => Probe::Ok,
        SchemaState::Applied(Some(_)) => Probe::Failed("migrations are not up to date"),
        SchemaState::Applied(None) => Probe::Failed("no migration is applied"),
        SchemaState::Unreachable => Probe::Failed("query failed"),
    }
}

/// The answer: 200 when every probe passed, 503 naming each one that failed.
pub fn reply(version: &str, d1: &Probe, kv: &Probe) -> Reply {
    let check = |p: &Probe| match p {
        Probe::Ok => json!({"ok": true}),
        Probe::Failed(why) => json!({"ok": false, "problem": why}),
    };
    let failed: Vec<&str> = [("d1", d1), ("kv", kv)]
        .iter()
        .filter(|(_, p)| **p != Probe::Ok)
        .map(|(name, _)| *name)
        .collect();
    let mut body = json!({
        "status": if failed.is_empty() { "ok" } else { "unavailable" },
        "version": version,
        "schema": SCHEMA_VERSION,
        "checks": {"d1": check(d1), "kv": check(kv)},
    });
    if failed.is_empty() {
        Reply::json(200, &body)
    } else {
        body["error"] = json!("unavailable");
        body["message"] = json!(format!("failing: {}", failed.join(", ")));
        Reply::json(503, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Reply) -> serde_json::Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn a_passing_probe_answers_for_under_a_second_and_never_from_the_future() {
        assert!(!reuse_passing(None, 5_000), "nothing probed yet");
        assert!(reuse_passing(Some(5_000), 5_000));
        assert!(reuse_passing(Some(5_000), 5_999));
        assert!(
            !reuse_passing(Some(5_000), 6_000),
            "a second old: probe again"
        );
        assert!(
            !reuse_passing(Some(5_000), 4_000),
            "a clock that went back: probe again"
        );
    }

    #[test]
    fn schema_version_is_the_newest_migration_file() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        let newest = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .max()
            .unwrap();
        assert_eq!(SCHEMA_VERSION, newest);
    }

    #[test]
    fn schema_is_ok_only_at_the_newest_migration() {
        assert_eq!(
            judge_schema(&SchemaState::Applied(Some(SCHEMA_VERSION.into()))),
            Probe::Ok
        );
        assert!(matches!(
            judge_schema(&SchemaState::Applied(Some("0000_old.sql".into()))),
            Probe::Failed(_)
        ));
        assert!(matches!(
            judge_schema(&SchemaState::Applied(None)),
            Probe::Failed(_)
        ));
        assert!(matches!(
            judge_schema(&SchemaState::Unreachable),
            Probe::Failed(_)
        ));
    }

    #[test]
    fn all_ok_is_200() {
        let r = reply("1.2.3", &Probe::Ok, &Probe::Ok);
        assert_eq!(r.status, 200);
        let b = body(&r);
        assert_eq!(b["status"], "ok");
        assert_eq!(b["version"], "1.2.3");
        assert_eq!(b["checks"]["d1"]["ok"], true);
        assert!(b.get("error").is_none());
    }

    #[test]
    fn a_failed_probe_is_503_naming_it() {
        let r = reply("1", &Probe::Ok, &Probe::Failed("read failed"));
        assert_eq!(r.status, 503);
        let b = body(&r);
        assert_eq!(
            b["checks"]["kv"],
            json!({"ok": false, "problem": "read failed"})
        );
        assert_eq!(b["message"], "failing: kv");
        let r = reply("1", &Probe::Failed("query failed"), &Probe::Failed("x"));
        assert_eq!(body(&r)["message"], "failing: d1, kv");
    }
}
