//! A small WebDriver client for the browser side of the end-to-end tier: headless Chromium
//! driven by chromedriver (Debian's `chromium` and `chromium-driver`) over the W3C WebDriver
//! protocol, on loopback.
//!
//! - [`Browser::start`] starts chromedriver on a free loopback port and a session in a fresh
//!   headless Chromium with its own profile; dropping the [`Browser`] ends the session and stops
//!   chromedriver (and with it Chromium).
//! - As in the harness, chromedriver runs in its own process group (Chromium joins it) and is
//!   stopped by that group's id; a watchdog outside the test's process group stops the group when
//!   the test process dies, even by SIGKILL.
//! - The commands are async (reqwest), like the rest of the tier. They panic with the WebDriver
//!   error on failure, as a test wants; [`Browser::command`] returns the error instead.
//!
//! ```ignore
//! let b = Browser::start().await;
//! b.goto(&w.url("/setup")).await;
//! b.find("button#connect").await.click().await;
//! b.wait_for_url(|u| u.contains("/done"), Duration::from_secs(10)).await;
//! ```

// Not every test uses every helper.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{free_port, root, spawn_watchdog, stop_group};

/// Debian's chromium launcher.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`), the same version as Chromium.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long [`Browser::find`] waits for an element to appear.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(5);
/// The page load timeout of the session (WebDriver's default is 300 s).
pub const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The W3C name of an element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An error answered by chromedriver (or the failure to reach it, with `status` 0).
#[derive(Clone, Debug)]
pub struct WebDriverError {
    /// The HTTP status, 0 when there was no answer.
    pub status: u16,
    /// The WebDriver error code, e.g. `no such element`, `timeout`.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.message)
    }
}

/// A cookie as WebDriver reports it (`GET /session/{id}/cookie`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    /// As stored: a host-only cookie has the bare host (`127.0.0.1`), a domain cookie a leading
    /// dot.
    pub domain: String,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`. For a cookie set without SameSite, [`Browser::cookies`] says
    /// `Lax` (how Chromium treats it) and [`Browser::all_cookies`] says `""`.
    pub same_site: String,
    /// Seconds since the epoch; `None` for a session cookie.
    pub expiry: Option<u64>,
    /// For a `Partitioned` cookie, the top-level site of its partition (`http://127.0.0.1`).
    /// Only [`Browser::all_cookies`] knows it: [`Browser::cookies`] leaves it `None`.
    pub partition: Option<String>,
}

impl Cookie {
    fn from_json(v: &Value) -> Cookie {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Cookie {
            name: s("name"),
            value: s("value"),
            domain: s("domain"),
            path: s("path"),
            secure: v["secure"].as_bool().unwrap_or(false),
            http_only: v["httpOnly"].as_bool().unwrap_or(false),
            same_site: s("sameSite"),
            expiry: v["expiry"].as_u64(),
            partition: v["partitionKey"]["topLevelSite"]
                .as_str()
                .map(str::to_owned),
        }
    }
}

/// A Content Security Policy violation seen by the page (see [`Browser::watch_csp_violations`]).
#[derive(Clone, Debug)]
pub struct CspViolation {
    /// The blocked URL, or `inline` / `eval`.
    pub blocked_uri: String,
    /// e.g. `script-src-elem` (for a policy that only says `script-src`).
    pub effective_directive: String,
    /// `enforce` or `report`.
    pub disposition: String,
    pub source_file: String,
    pub line: u64,
}

/// One entry of the browser's console log (see [`Browser::browser_log`]).
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    pub message: String,
    /// Milliseconds since the epoch.
    pub timestamp: u64,
}

/// The HTTP side of a session, shared by the browser and its elements.
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    url: String,
}

impl Session {
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        send(&self.http, method, &format!("{}{}", self.url, path), body).await
    }

    /// Like [`Session::send`], but panics with the error.
    async fn must(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let what = format!("{method} {path}");
        match self.send(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {what} failed: {e}"),
        }
    }
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let no_answer = |e: reqwest::Error| WebDriverError {
        status: 0,
        error: "no answer".into(),
        message: e.to_string(),
    };
    let mut req = http.request(method.clone(), url);
    // chromedriver wants a JSON body on every POST, `{}` when there are no parameters.
    if method == Method::POST || body.is_some() {
        req = req.json(&body.unwrap_or_else(|| json!({})));
    }
    let resp = req.send().await.map_err(no_answer)?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(no_answer)?;
    let v: Value = serde_json::from_str(&text).map_err(|_| WebDriverError {
        status,
        error: "not json".into(),
        message: text.clone(),
    })?;
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        Err(WebDriverError {
            status,
            error: value["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

/// A headless Chromium session, with its own chromedriver and profile.
pub struct Browser {
    session: Session,
    session_id: String,
    /// The chromedriver port on 127.0.0.1.
    pub port: u16,
    /// Throw-away directory: the profile (`profile/`) and chromedriver's log.
    pub dir: PathBuf,
    driver: Option<Child>,
    watchdog: Option<Child>,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a session in headless Chromium
    /// (`--headless=new`, a fresh `--user-data-dir` under `target/e2e/`). The window is 1280x900;
    /// the page's viewport inside it is 1280x757. Takes under a second.
    pub async fn start() -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: install Debian's chromium and chromium-driver: make setup"
            );
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = root().join("target/e2e").join(format!(
            "browser-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("profile")).unwrap();

        let port = free_port();
        let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let watchdog = spawn_watchdog(driver.id(), &dir);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(PAGE_LOAD_TIMEOUT + Duration::from_secs(30))
            .build()
            .unwrap();
        let mut b = Browser {
            session: Session {
                http,
                url: String::new(),
            },
            session_id: String::new(),
            port,
            dir,
            driver: Some(driver),
            watchdog: Some(watchdog),
        };
        b.wait_ready().await;
        b.new_session().await;
        b
    }

    async fn wait_ready(&mut self) {
        let status_url = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.driver.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "chromedriver exited ({status}) before answering:\n{}",
                    self.driver_log()
                );
            }
            if let Ok(v) = send(&self.session.http, Method::GET, &status_url, None).await {
                if v["ready"] == true {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer in 20 s:\n{}",
                self.driver_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn new_session(&mut self) {
        let profile = self.dir.join("profile");
        let caps = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": {
                    "implicit": 0,
                    "pageLoad": PAGE_LOAD_TIMEOUT.as_millis() as u64,
                    "script": 30_000,
                },
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        format!("--user-data-dir={}", profile.display()),
                        "--window-size=1280,900",
                        "--no-first-run",
                        "--no-default-browser-check",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--password-store=basic",
                    ],
                },
                // Keeps the console for browser_log().
                "goog:loggingPrefs": {"browser": "ALL"},
            }}
        });
        let url = format!("http://127.0.0.1:{}/session", self.port);
        let v = send(&self.session.http, Method::POST, &url, Some(caps))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start Chromium ({CHROMIUM}): {e}\n{}",
                    self.driver_log()
                )
            });
        let id = v["sessionId"].as_str().expect("a session id");
        self.session.url = format!("{url}/{id}");
        self.session_id = id.to_owned();
    }

    /// The WebDriver session's id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The process group id of chromedriver (Chromium runs in the same group).
    pub fn pgid(&self) -> Option<u32> {
        self.driver.as_ref().map(|c| c.id())
    }

    /// Everything chromedriver printed so far.
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
    }

    /// Any WebDriver command on this session: `path` is relative to `/session/{id}` (e.g.
    /// `/window/rect`, or `""` for the session itself). `body` is sent as JSON (`{}` for a POST
    /// without one). The answer's `value`, or the WebDriver error.
    pub async fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        self.session.send(method, path, body).await
    }

    /// Navigates the top-level browsing context and waits for the load (document complete),
    /// following redirects.
    pub async fn goto(&self, url: &str) {
        self.session
            .must(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        let v = self.session.must(Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn title(&self) -> String {
        let v = self.session.must(Method::GET, "/title", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The current DOM serialised as HTML (not the bytes the server sent).
    pub async fn page_source(&self) -> String {
        let v = self.session.must(Method::GET, "/source", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching the CSS selector, waiting up to [`FIND_TIMEOUT`] for it.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no element matches {css:?} after {FIND_TIMEOUT:?} on {}:\n{}",
                    self.current_url().await,
                    truncate(&self.page_source().await, 4000)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching the CSS selector now, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        match self
            .session
            .send(Method::POST, "/element", Some(body))
            .await
        {
            Ok(v) => Some(self.element(&v)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("WebDriver find {css:?} failed: {e}"),
        }
    }

    /// Every element matching the CSS selector now (no waiting).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let body = json!({"using": "css selector", "value": css});
        let v = self
            .session
            .must(Method::POST, "/elements", Some(body))
            .await;
        v.as_array()
            .map(|a| a.iter().map(|e| self.element(e)).collect())
            .unwrap_or_default()
    }

    fn element(&self, v: &Value) -> Element {
        Element {
            session: self.session.clone(),
            id: v[ELEMENT_KEY]
                .as_str()
                .expect("an element reference")
                .to_owned(),
        }
    }

    /// Polls the current URL until `pred` holds, and returns it; panics after `timeout`.
    pub async fn wait_for_url(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let url = self.current_url().await;
            if pred(&url) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "the URL did not change as expected in {timeout:?}; still {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the viewport to `path`, creating its directories.
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let v = self.session.must(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 PNG"))
            .expect("base64 PNG");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// The cookies the current page's URL would be sent (HttpOnly ones included), as WebDriver
    /// reports them. Cookies of other hosts or paths are not listed: see [`Browser::all_cookies`].
    pub async fn cookies(&self) -> Vec<Cookie> {
        let v = self.session.must(Method::GET, "/cookie", None).await;
        v.as_array()
            .map(|a| a.iter().map(Cookie::from_json).collect())
            .unwrap_or_default()
    }

    /// Every cookie in the profile's jar, whatever its host (Chrome DevTools
    /// `Storage.getCookies`), in the same form as [`Browser::cookies`].
    pub async fn all_cookies(&self) -> Vec<Cookie> {
        let v = self.cdp("Storage.getCookies", json!({})).await;
        v["cookies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        let mut c = c.clone();
                        // DevTools: -1 for a session cookie, fractional seconds otherwise.
                        c["expiry"] = match c["expires"].as_f64() {
                            Some(t) if t > 0.0 => json!(t as u64),
                            _ => Value::Null,
                        };
                        Cookie::from_json(&c)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Deletes every cookie in the profile's jar, whatever its host (Chrome DevTools
    /// `Storage.clearCookies`; WebDriver's own `DELETE /cookie` only reaches the current page's).
    pub async fn delete_all_cookies(&self) {
        self.cdp("Storage.clearCookies", json!({})).await;
    }

    /// Runs `script` as the body of a function in the page (`arguments[0]`… are `args`; pass an
    /// element with [`Element::as_arg`]) and returns what it returns. A returned promise is
    /// awaited.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.session
            .must(Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// A Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params });
        self.session
            .must(Method::POST, "/goog/cdp/execute", Some(body))
            .await
    }

    /// The console messages (and the errors Chromium reports there, such as CSP violations and
    /// failed loads) since the last call: chromedriver hands each entry out once.
    pub async fn browser_log(&self) -> Vec<LogEntry> {
        let body = json!({"type": "browser"});
        let v = self.session.must(Method::POST, "/se/log", Some(body)).await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| LogEntry {
                        level: e["level"].as_str().unwrap_or_default().to_owned(),
                        message: e["message"].as_str().unwrap_or_default().to_owned(),
                        timestamp: e["timestamp"].as_u64().unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// From now on, every document this browser loads records the `securitypolicyviolation`
    /// events it sees, for [`Browser::csp_violations`]. The listener is installed through
    /// DevTools before any script of the page runs, so the page's CSP does not stop it.
    pub async fn watch_csp_violations(&self) {
        let source = r#"
            window.__e2eCsp = [];
            document.addEventListener('securitypolicyviolation', e => window.__e2eCsp.push({
                blocked_uri: e.blockedURI, effective_directive: e.effectiveDirective,
                disposition: e.disposition, source_file: e.sourceFile, line: e.lineNumber}));"#;
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await;
    }

    /// The CSP violations the current document has seen so far; needs
    /// [`Browser::watch_csp_violations`] before the navigation. Violations are reported
    /// asynchronously: poll (or wait a moment) after the page loads. They also reach
    /// [`Browser::browser_log`] as `SEVERE` entries.
    pub async fn csp_violations(&self) -> Vec<CspViolation> {
        let v = self.execute("return window.__e2eCsp || []", &[]).await;
        let s = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_owned();
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| CspViolation {
                        blocked_uri: s(e, "blocked_uri"),
                        effective_directive: s(e, "effective_directive"),
                        disposition: s(e, "disposition"),
                        source_file: s(e, "source_file"),
                        line: e["line"].as_u64().unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How long the current page's navigation took, in milliseconds: from the start of the
    /// navigation (redirects included) to the end of the load event (Navigation Timing). Waits up
    /// to [`FIND_TIMEOUT`] for the load event to end.
    pub async fn navigation_ms(&self) -> f64 {
        let script = r#"
            const [n] = performance.getEntriesByType('navigation');
            if (n) return n.loadEventEnd > 0 ? n.loadEventEnd - n.startTime : null;
            const t = performance.timing;
            return t.loadEventEnd > 0 ? t.loadEventEnd - t.navigationStart : null;"#;
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            if let Some(ms) = self.execute(script, &[]).await.as_f64() {
                return ms;
            }
            assert!(
                Instant::now() < deadline,
                "the load event of {} did not end in {FIND_TIMEOUT:?}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends the session and stops chromedriver and Chromium (what dropping does). Blocks for up to
    /// about 2 s: the group counts as alive until its last zombie is reaped.
    pub fn quit(&mut self) {
        if let Some(mut child) = self.driver.take() {
            // Closing the session lets Chromium shut down cleanly; the group is stopped anyway.
            if !self.session_id.is_empty() {
                raw_delete(self.port, &format!("/session/{}", self.session_id));
            }
            stop_group(child.id(), &mut child);
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.quit();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An element of the page, found by [`Browser::find`].
#[derive(Clone)]
pub struct Element {
    session: Session,
    /// The WebDriver element reference.
    pub id: String,
}

impl Element {
    /// The rendered text (as the user sees it: hidden text excluded).
    pub async fn text(&self) -> String {
        let v = self
            .session
            .must(Method::GET, &format!("/element/{}/text", self.id), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// [`Element::text`], or the error (a stale element: the page it was on is gone).
    pub async fn try_text(&self) -> Result<String, WebDriverError> {
        let v = self
            .session
            .send(Method::GET, &format!("/element/{}/text", self.id), None)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Clicks the element's centre (scrolling it into view), as a user would.
    pub async fn click(&self) {
        self.session
            .must(Method::POST, &format!("/element/{}/click", self.id), None)
            .await;
    }

    /// Types `text` into the element.
    pub async fn send_keys(&self, text: &str) {
        let body = json!({ "text": text });
        self.session
            .must(
                Method::POST,
                &format!("/element/{}/value", self.id),
                Some(body),
            )
            .await;
    }

    /// The attribute's value, `None` when the element does not have it.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let path = format!("/element/{}/attribute/{name}", self.id);
        let v = self.session.must(Method::GET, &path, None).await;
        v.as_str().map(str::to_owned)
    }

    /// The element as an argument of [`Browser::execute`].
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A bare blocking HTTP/1.1 DELETE, so that dropping needs no async runtime. Reads the answer
/// by its length: chromedriver says `Connection: close` but keeps the socket open.
fn raw_delete(port: u16, path: &str) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let request =
        format!("DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut chunk) {
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return;
            }
        }
    }
}
