//! Where a worker's CPU goes, below the figures of the side-by-side benchmark: with
//! `BENCH_PERF_DIR` set (and Linux `perf` installed, run as root or with
//! `kernel.perf_event_paranoid` at 1 or less), [`crate::peers`] records each worker's workerd
//! processes with `perf record -g` over 100 more installs, once its measured rounds are over (so
//! the figures are not slowed by it), into `{dir}/{peer,ours}.data`, with a summary by process
//! and library beside it (`.txt`). Then, for example,
//! `perf report -i {dir}/ours.data --no-children --sort pid,sym` shows each function.

use std::process::Command;
use std::time::Duration;

/// The workerd processes in process group `pgid` (the `wrangler dev` of one worker: wrangler's
/// proxy, and the runtime serving the worker with D1 and KV inside): each one's id and the
/// fields of its `/proc/{pid}/stat` after the name (state, parent, process group, …).
pub(crate) fn workerd_stats(pgid: u32) -> Vec<(u32, Vec<String>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let name = &stat[stat.find('(').unwrap_or(0) + 1..close];
        let fields: Vec<String> = stat[close + 2..].split(' ').map(str::to_owned).collect();
        let group = fields.get(2).and_then(|g| g.parse::<u32>().ok());
        if name == "workerd" && group == Some(pgid) {
            found.push((pid, fields));
        }
    }
    found
}

/// The folder to write profiles to, when asked for.
pub(crate) fn requested() -> Option<String> {
    std::env::var("BENCH_PERF_DIR")
        .ok()
        .filter(|d| !d.is_empty())
}

/// Records `pids` with `perf` while `work` runs, into `{dir}/{name}.data`, and writes the
/// summary by process and library to `{dir}/{name}.txt`.
pub(crate) async fn record<F: std::future::Future<Output = ()>>(
    dir: &str,
    name: &str,
    pids: &[u32],
    work: F,
) {
    std::fs::create_dir_all(dir).unwrap();
    let data = format!("{dir}/{name}.data");
    let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    let mut perf = Command::new("perf")
        .args([
            "record",
            "-F",
            "4000",
            "-g",
            "-o",
            &data,
            "-p",
            &list.join(","),
        ])
        .spawn()
        .expect("perf runs (Debian: apt install linux-perf)");
    // perf attaches before the work starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    work.await;
    Command::new("kill")
        .args(["-INT", &perf.id().to_string()])
        .status()
        .unwrap();
    // perf ends with the interrupt's status, so its output is what tells.
    perf.wait().unwrap();
    assert!(
        std::fs::metadata(&data).is_ok_and(|m| m.len() > 0),
        "perf recorded nothing to {data}"
    );
    let report = Command::new("perf")
        .args(["report", "-i", &data, "--no-children", "--sort", "pid,dso"])
        .args(["-g", "none", "--stdio"])
        .output()
        .unwrap();
    std::fs::write(format!("{dir}/{name}.txt"), report.stdout).unwrap();
}
