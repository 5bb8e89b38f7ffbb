//! Work for one installation reads that installation's rows, not the whole queue or table: with
//! a large backlog of other installations' jobs waiting (a Talkdesk outage, a burst of
//! installs), an event's intake and its job must cost what they cost on an empty database.
//! Checked on SQLite's own query plans for the statements the worker sends.

use appconnect_core::ports::TokenStore;
use appconnect_core::store::tokens::token_prefix;
use appconnect_core::store::SqlTokens;
use appconnect_core::testing::sqlite::SqliteDb;
use talkdesk_sim::{Alg, UpdateSpec};

use crate::app::TestApp;

/// Pending jobs of other installations, due later (in backoff), a fifth of them installs whose
/// events still hold their candidate, as a backlog leaves them.
fn seed_backlog(app: &TestApp, jobs: usize) {
    let c = app.ports.db.raw();
    c.execute_batch("BEGIN").unwrap();
    for i in 0..jobs {
        let install = i % 5 == 0;
        let candidate = install.then(|| format!("{{\"account_name\":\"backlog{}\"}}", i % 50));
        c.execute(
            "INSERT INTO events (event_id, event_type, installation_id, account_id, created_at, \
             received_at, keep_until, status, candidate) \
             VALUES (?1, ?2, ?3, 'a', '2026-11-28T00:00:00Z', 0, 0, 'received', ?4)",
            rusqlite::params![
                format!("backlog-{i}"),
                if install {
                    "app.installed"
                } else {
                    "app.updated"
                },
                format!("backlog-installation-{}", i % 200),
                candidate
            ],
        )
        .unwrap();
        c.execute(
            "INSERT INTO jobs (installation_id, event_id, kind, state, next_attempt_at, \
             deadline_at, created_at, updated_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?4, 0, 0)",
            rusqlite::params![
                format!("backlog-installation-{}", i % 200),
                format!("backlog-{i}"),
                if install { "install" } else { "update" },
                i64::MAX / 2 + i as i64
            ],
        )
        .unwrap();
    }
    c.execute_batch("COMMIT").unwrap();
}

/// The statements whose plan walks the whole queue: a full scan of a table that grows with the
/// backlog, or a search through the indexes that order every installation's jobs.
fn queue_wide(plans: &[(&'static str, String)]) -> Vec<String> {
    plans
        .iter()
        .filter(|(name, _)| *name != "test select")
        .filter(|(_, plan)| {
            plan.split(" | ").any(|step| {
                (step.starts_with("SCAN ")
                    && !step.starts_with("SCAN CONSTANT ROW")
                    && !step.starts_with("SCAN json_each"))
                    || step.contains("INDEX jobs_due")
                    || step.contains("INDEX jobs_finished")
            })
        })
        .map(|(name, plan)| format!("{name}: {plan}"))
        .collect()
}

#[tokio::test]
async fn an_install_an_update_and_an_uninstall_read_only_their_installations_rows_behind_a_backlog()
{
    let app = TestApp::new();
    seed_backlog(&app, 2_000);
    app.ports.db.record_plans();

    let inst = app.install(Alg::ES256).await;
    let id = &inst.installation_id;
    assert_eq!(app.view(id).await["state"], "active");
    app.sim.update(id, UpdateSpec::default()).await.unwrap();
    app.deliver_held().await;
    app.sim.uninstall(id, "user", "bye").await.unwrap();
    app.deliver_held().await;
    assert_eq!(app.view(id).await["state"], "uninstalled");

    let plans = app.ports.db.plans();
    for name in ["pending counts", "wake jobs", "lease job"] {
        assert!(
            plans.iter().any(|(n, _)| *n == name),
            "the flows ran `{name}`"
        );
    }
    assert_eq!(queue_wide(&plans), Vec::<String>::new());
}

/// Token keys of installations whose ids start alike, and of two credential sets of one.
fn token_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for id in ["a", "a:b", "a;", "ab", "a%", "a%3Ab", "ä", "a:"] {
        for client in ["c", "c:d"] {
            keys.push(format!("{}apps:read", token_prefix(id, Some(client))));
        }
    }
    keys
}

fn stored_keys(db: &SqliteDb) -> Vec<String> {
    let mut keys: Vec<String> = db
        .select("SELECT token_key FROM access_tokens")
        .iter()
        .map(|row| row["token_key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn forgetting_tokens_deletes_exactly_the_installations_or_the_credential_sets_keys_through_the_key_index(
) {
    let db = SqliteDb::migrated();
    for key in token_keys() {
        db.raw()
            .execute(
                "INSERT INTO access_tokens (token_key, sealed_token) VALUES (?1, 'sealed')",
                [&key],
            )
            .unwrap();
    }
    db.record_plans();
    let tokens = SqlTokens::new(&db);

    tokens.forget_installation("a").await.unwrap();
    let mut left = token_keys();
    left.retain(|k| !k.starts_with(&token_prefix("a", None)));
    left.sort();
    assert_eq!(stored_keys(&db), left);
    assert_eq!(left.len(), token_keys().len() - 2, "only a's two sets went");

    tokens.forget_client("a:b", "c").await.unwrap();
    left.retain(|k| !k.starts_with(&token_prefix("a:b", Some("c"))));
    assert_eq!(stored_keys(&db), left);
    assert!(left
        .iter()
        .any(|k| k.starts_with(&token_prefix("a:b", Some("c:d")))));

    let forgets: Vec<_> = db
        .plans()
        .into_iter()
        .filter(|(name, _)| name.starts_with("forget"))
        .collect();
    assert_eq!(forgets.len(), 2, "{forgets:?}");
    for (_, plan) in &forgets {
        assert!(
            plan.contains("INDEX sqlite_autoindex_access_tokens_1"),
            "{plan}"
        );
    }
    assert_eq!(queue_wide(&db.plans()), Vec::<String>::new());
}
