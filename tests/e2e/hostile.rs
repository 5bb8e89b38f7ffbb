//! A corpus of malformed and hostile `POST /events` requests, each built from a genuine event of
//! the simulator and broken in one way: every one is refused with a 4xx JSON answer naming what
//! is wrong, nothing is stored in D1, and nothing leaves the worker (neither the simulator nor a
//! trap listener on another loopback port receives anything). A genuine event sent the same way
//! afterwards is accepted, stored and worked on, so the checks can fail.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use openssl::base64::encode_block;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{json, Value};
use talkdesk_sim::{Alg, InstallSpec, SimConfig, Simulator};

use crate::harness::{default_vars, Options, Worker};
use crate::inspect::row_counts;

/// The worker's body limit (`MAX_EVENT_BYTES`).
const MAX_BODY: usize = 64 * 1024;
/// Every table an accepted event can write to.
const TABLES: &[&str] = &[
    "events",
    "installations",
    "jobs",
    "access_tokens",
    "installation_users",
    "accounts",
];

// ---- the trap: a loopback listener that records every connection --------------------------------

struct Trap {
    port: u16,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, from)) => {
                        h.fetch_add(1, Ordering::SeqCst);
                        eprintln!("trap: connection from {from}");
                        drop(conn);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("trap accept: {e}"),
                }
            }
        });
        Trap {
            port,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---- requests -------------------------------------------------------------------------------------

/// How the body is framed on the wire.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// An honest `Content-Length` (sent with reqwest).
    Honest,
    /// `Transfer-Encoding: chunked`, no length.
    Chunked,
    /// `Content-Length: n`, whatever the body's real length.
    Declared(usize),
}

struct Req {
    method: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    framing: Framing,
}

struct Case {
    name: String,
    req: Req,
    status: u16,
    /// The expected `error` code.
    error: &'static str,
    /// The expected `path` (400s only).
    path: Option<String>,
}

impl Case {
    fn json(name: &str, event: &Value, error: &'static str, path: &str) -> Case {
        Case::bytes(
            name,
            Some("application/json"),
            serde_json::to_vec(event).unwrap(),
            400,
            error,
            Some(path),
        )
    }

    fn bytes(
        name: &str,
        content_type: Option<&'static str>,
        body: Vec<u8>,
        status: u16,
        error: &'static str,
        path: Option<&str>,
    ) -> Case {
        Case {
            name: name.to_owned(),
            req: Req {
                method: "POST",
                content_type,
                body,
                framing: Framing::Honest,
            },
            status,
            error,
            path: path.map(str::to_owned),
        }
    }

    fn framed(mut self, framing: Framing) -> Case {
        self.req.framing = framing;
        self
    }
}

/// Sends `req` to the worker's `POST /events`: the status and the body as text.
async fn send(client: &reqwest::Client, w: &Worker, req: &Req) -> (u16, String) {
    match req.framing {
        Framing::Honest => {
            let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
            let mut rb = client
                .request(method, w.events_url())
                .body(req.body.clone());
            if let Some(ct) = req.content_type {
                rb = rb.header("content-type", ct);
            }
            let resp = rb.send().await.expect("send to the worker");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
        _ => raw_send(w.port, req),
    }
}

/// A hand-written HTTP/1.1 request, for framings reqwest will not produce. Write errors are
/// ignored: the worker may answer and close before reading everything.
fn raw_send(port: u16, req: &Req) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{} /events/{} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n",
        req.method,
        default_vars()["CALLBACK_TOKEN"]
    );
    if let Some(ct) = req.content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    let mut wire = Vec::new();
    match req.framing {
        Framing::Chunked => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            for chunk in req.body.chunks(8192) {
                wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                wire.extend_from_slice(chunk);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
        }
        Framing::Declared(_) | Framing::Honest => {
            let n = match req.framing {
                Framing::Declared(n) => n,
                _ => req.body.len(),
            };
            head.push_str(&format!("Content-Length: {n}\r\n\r\n"));
            wire.extend_from_slice(&req.body);
        }
    }
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&wire);
    let _ = s.flush();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    parse_response(&resp)
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (0, text.into_owned());
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return (status, body.to_owned());
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    (status, out)
}

// ---- mutations ------------------------------------------------------------------------------------

/// Sets the value at JSON pointer `ptr` (its parent must be an object).
fn set(v: &mut Value, ptr: &str, new: Value) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"))
        .insert(key.to_owned(), new);
}

/// Removes the member at JSON pointer `ptr`.
fn del(v: &mut Value, ptr: &str) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"))
        .remove(key);
}

fn pkcs8_b64(key: &PKey<openssl::pkey::Private>) -> String {
    encode_block(&key.private_key_to_pkcs8().unwrap())
}

/// Builds the corpus; remembers every secret that went into it.
struct Corpus<'a> {
    sim: &'a Simulator,
    cases: Vec<Case>,
    secrets: Vec<String>,
    forged: usize,
}

impl Corpus<'_> {
    /// A genuine `app.installed` of a fresh installation (not sent by the simulator).
    async fn installed(&mut self, alg: Alg) -> Value {
        let inst = self
            .sim
            .install_without_sending(InstallSpec::new("acme", alg))
            .await
            .unwrap();
        self.secrets.push(inst.client_secret.clone());
        self.secrets.push(inst.private_key.clone());
        inst.event
    }

    /// A genuine ES256 `app.installed`, broken by `f`; expected 400 `invalid_event` at `path`.
    async fn bad(&mut self, name: &str, path: &str, f: impl FnOnce(&mut Value)) {
        self.bad_alg(Alg::ES256, name, path, f).await;
    }

    async fn bad_alg(&mut self, alg: Alg, name: &str, path: &str, f: impl FnOnce(&mut Value)) {
        let mut ev = self.installed(alg).await;
        f(&mut ev);
        self.cases
            .push(Case::json(name, &ev, "invalid_event", path));
    }

    /// An event of `ty` for an installation that does not exist (a well-formed envelope from the
    /// simulator, never recorded as genuine), broken by `f`; expected 400 `error` at `path`.
    fn forged(
        &mut self,
        ty: &str,
        name: &str,
        error: &'static str,
        path: &str,
        f: impl FnOnce(&mut Value),
    ) {
        self.forged += 1;
        let n = self.forged;
        let mut data = json!({
            "installation_id": format!("no-such-installation-{n}"),
            "account_id": "no-such-account",
            "account_name": "acme",
        });
        match ty {
            "app.updated" => {
                data["users"] = json!({"adding": ["u-1"], "removing": ["u-2"]});
                data["subscription"] = json!({"adding": {"name": "Pro", "licenses": "10"}});
            }
            "app.uninstalled" => {
                data["reason"] = json!({"type": "user", "message": "bye"});
            }
            _ => {}
        }
        let mut ev = self.sim.forged_event(ty, data);
        f(&mut ev);
        self.cases.push(Case::json(name, &ev, error, path));
    }
}

async fn build_corpus(sim: &Simulator, trap: u16) -> (Vec<Case>, Vec<String>) {
    let sp = sim.port();
    let mut c = Corpus {
        sim,
        cases: Vec::new(),
        secrets: Vec::new(),
        forged: 0,
    };

    // -- transport: content type, method, size --------------------------------------------------
    for (name, ct) in [
        ("no content type", None),
        ("text/plain", Some("text/plain")),
        ("text/json", Some("text/json")),
        (
            "multipart/form-data",
            Some("multipart/form-data; boundary=x"),
        ),
    ] {
        let ev = c.installed(Alg::ES256).await;
        let body = serde_json::to_vec(&ev).unwrap();
        c.cases.push(Case::bytes(
            name,
            ct,
            body,
            415,
            "unsupported_media_type",
            None,
        ));
    }
    {
        let ev = c.installed(Alg::ES256).await;
        let form = format!(
            "type=app.installed&app_id=e2e-app&client_secret={}",
            ev["data"]["client_secret"].as_str().unwrap()
        );
        c.cases.push(Case::bytes(
            "form-urlencoded body",
            Some("application/x-www-form-urlencoded"),
            form.into_bytes(),
            415,
            "unsupported_media_type",
            None,
        ));
        let mut put = Case::bytes(
            // 404, not 405: a 405 would tell a caller the callback token is right.
            "PUT instead of POST",
            Some("application/json"),
            serde_json::to_vec(&c.installed(Alg::ES256).await).unwrap(),
            404,
            "not_found",
            None,
        );
        put.req.method = "PUT";
        c.cases.push(put);
    }
    // A genuine event padded with white space to one byte over the limit: only its size is wrong.
    let padded = |ev: &Value, len: usize| {
        let mut b = serde_json::to_vec(ev).unwrap();
        b.resize(len, b' ');
        b
    };
    let ev = c.installed(Alg::ES256).await;
    c.cases.push(Case::bytes(
        "64 KiB + 1 (genuine event padded), honest length",
        Some("application/json"),
        padded(&ev, MAX_BODY + 1),
        413,
        "payload_too_large",
        None,
    ));
    let ev = c.installed(Alg::ES256).await;
    c.cases.push(
        Case::bytes(
            "64 KiB + 1 (genuine event padded), chunked, no length",
            Some("application/json"),
            padded(&ev, MAX_BODY + 1),
            413,
            "payload_too_large",
            None,
        )
        .framed(Framing::Chunked),
    );
    let ev = c.installed(Alg::ES256).await;
    c.cases.push(
        Case::bytes(
            "1 MiB, chunked, no length",
            Some("application/json"),
            padded(&ev, 1 << 20),
            413,
            "payload_too_large",
            None,
        )
        .framed(Framing::Chunked),
    );
    let ev = c.installed(Alg::ES256).await;
    c.cases.push(
        Case::bytes(
            "content-length 1 MiB, honest, raw",
            Some("application/json"),
            padded(&ev, 1 << 20),
            413,
            "payload_too_large",
            None,
        )
        .framed(Framing::Declared(1 << 20)),
    );
    let ev = c.installed(Alg::ES256).await;
    c.cases.push(
        Case::bytes(
            "content-length understates a 70 KiB body (says 100)",
            Some("application/json"),
            padded(&ev, 70 * 1024),
            400,
            "invalid_event",
            Some("$"),
        )
        .framed(Framing::Declared(100)),
    );

    // -- not JSON, or not an object --------------------------------------------------------------
    let ev = c.installed(Alg::ES256).await;
    let genuine = serde_json::to_vec(&ev).unwrap();
    let json_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("truncated JSON", genuine[..genuine.len() - 1].to_vec()),
        ("empty body", Vec::new()),
        ("not JSON at all", b"hello, worker".to_vec()),
        ("JSON array", b"[{\"type\":\"app.installed\"}]".to_vec()),
        ("JSON string", b"\"app.installed\"".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("JSON number", b"42".to_vec()),
        ("trailing garbage after the event", {
            let mut b = genuine.clone();
            b.extend_from_slice(b" x");
            b
        }),
        ("two events back to back", {
            let mut b = genuine.clone();
            b.extend_from_slice(&genuine);
            b
        }),
        ("UTF-8 byte order mark", {
            let mut b = vec![0xef, 0xbb, 0xbf];
            b.extend_from_slice(&genuine);
            b
        }),
        (
            "UTF-16 encoded event",
            String::from_utf8(genuine.clone())
                .unwrap()
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
        ("invalid UTF-8 inside a string", {
            let text = String::from_utf8(genuine.clone()).unwrap();
            let at = text.find("\"acme\"").unwrap() + 1;
            let mut b = genuine[..at].to_vec();
            b.extend_from_slice(&[0xff, 0xfe]);
            b.extend_from_slice(&genuine[at..]);
            b
        }),
        ("5000 levels of nesting in data", {
            let text = String::from_utf8(genuine.clone()).unwrap();
            let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
            text.replacen("\"data\":{", &format!("\"data\":{{\"deep\":{deep},"), 1)
                .into_bytes()
        }),
    ];
    for (name, body) in json_bodies {
        c.cases.push(Case::bytes(
            name,
            Some("application/json"),
            body,
            400,
            "invalid_event",
            Some("$"),
        ));
    }

    // -- the envelope ------------------------------------------------------------------------------
    c.bad("type missing", "type", |e| del(e, "/type")).await;
    c.bad("type a number", "type", |e| set(e, "/type", json!(1)))
        .await;
    c.bad("type empty", "type", |e| set(e, "/type", json!("")))
        .await;
    c.bad("_links missing", "_links", |e| del(e, "/_links"))
        .await;
    c.bad("_links an array", "_links", |e| {
        set(e, "/_links", json!([]))
    })
    .await;
    c.bad("_links.root missing", "_links.root", |e| {
        del(e, "/_links/root")
    })
    .await;
    c.bad("_links.root a bare string", "_links.root", move |e| {
        set(e, "/_links/root", json!(format!("http://127.0.0.1:{sp}")))
    })
    .await;
    c.bad("_links.root.href a number", "_links.root.href", |e| {
        set(e, "/_links/root/href", json!(8080))
    })
    .await;
    c.bad("_links.tokens a bare string", "_links.tokens", move |e| {
        set(
            e,
            "/_links/tokens",
            json!(format!("http://127.0.0.1:{sp}/oauth/token")),
        )
    })
    .await;
    c.bad("data missing", "data", |e| del(e, "/data")).await;
    c.bad("data a string", "data", |e| set(e, "/data", json!("{}")))
        .await;
    c.bad("id missing", "id", |e| del(e, "/id")).await;
    c.bad("id a number", "id", |e| set(e, "/id", json!(12345)))
        .await;
    c.bad("id with slashes", "id", |e| {
        set(e, "/id", json!("../../admin/installations"))
    })
    .await;
    c.bad("id of 129 characters", "id", |e| {
        set(e, "/id", json!("e".repeat(129)))
    })
    .await;
    c.bad("id '..'", "id", |e| set(e, "/id", json!(".."))).await;
    c.bad("created_at missing", "created_at", |e| {
        del(e, "/created_at")
    })
    .await;
    c.bad("created_at an object", "created_at", |e| {
        set(e, "/created_at", json!({"t": 1}))
    })
    .await;
    c.bad("app_id missing", "app_id", |e| del(e, "/app_id"))
        .await;
    c.bad("app_id a number", "app_id", |e| set(e, "/app_id", json!(7)))
        .await;
    c.bad("app_id with a NUL", "app_id", |e| {
        set(e, "/app_id", json!("e2e-app\u{0}"))
    })
    .await;

    // -- the wrong app ---------------------------------------------------------------------------
    for (name, app) in [
        ("another app's id", "someone-elses-app"),
        ("app_id in upper case", "E2E-APP"),
        ("app_id with a trailing space", "e2e-app "),
        ("app_id with a suffix", "e2e-app-2"),
    ] {
        let mut ev = c.installed(Alg::ES256).await;
        set(&mut ev, "/app_id", json!(app));
        c.cases.push(Case::json(name, &ev, "wrong_app", "app_id"));
    }

    // -- data of app.installed -----------------------------------------------------------------
    let field_cases: Vec<(&str, &str, Value)> = vec![
        ("installation_id a number", "installation_id", json!(123)),
        ("installation_id empty", "installation_id", json!("")),
        (
            "installation_id of 129 characters",
            "installation_id",
            json!("i".repeat(129)),
        ),
        ("installation_id with '/'", "installation_id", json!("a/b")),
        ("installation_id '..'", "installation_id", json!("..")),
        ("installation_id '.'", "installation_id", json!(".")),
        (
            "installation_id with a BEL",
            "installation_id",
            json!("abc\u{7}"),
        ),
        (
            "installation_id percent-encoded '..'",
            "installation_id",
            json!("%2e%2e"),
        ),
        (
            "installation_id in full-width letters",
            "installation_id",
            json!("ａｂｃ"),
        ),
        ("account_id an array", "account_id", json!(["x"])),
        ("account_id with '/..'", "account_id", json!("acct/../x")),
        ("account_id null", "account_id", Value::Null),
        ("account_name a number", "account_name", json!(42)),
        ("account_name upper case", "account_name", json!("Acme")),
        (
            "account_name with dots",
            "account_name",
            json!("acme.evil.example"),
        ),
        ("account_name with '/'", "account_name", json!("acme/x")),
        ("account_name with '@'", "account_name", json!("x@evil")),
        (
            "account_name starting with '-'",
            "account_name",
            json!("-acme"),
        ),
        (
            "account_name punycode",
            "account_name",
            json!("xn--80ak6aa92e"),
        ),
        (
            "account_name of 64 characters",
            "account_name",
            json!("a".repeat(64)),
        ),
        ("account_name empty", "account_name", json!("")),
        ("client_id a number", "client_id", json!(123)),
        ("client_id with '../'", "client_id", json!("../x")),
        ("client_id '..'", "client_id", json!("..")),
        ("client_secret a number", "client_secret", json!(12345)),
        ("client_secret empty", "client_secret", json!("")),
        (
            "client_secret of 1025 characters",
            "client_secret",
            json!("s".repeat(1025)),
        ),
        (
            "client_secret with a newline",
            "client_secret",
            json!("secret\nX-Injected: 1"),
        ),
        ("key_id with a space", "key_id", json!("key 1")),
        ("key_id with '/'", "key_id", json!("../k")),
        ("key_algorithm a number", "key_algorithm", json!(256)),
        ("key_algorithm HS256", "key_algorithm", json!("HS256")),
        ("key_algorithm none", "key_algorithm", json!("none")),
        ("key_algorithm lower case", "key_algorithm", json!("es256")),
        ("key_algorithm RS256", "key_algorithm", json!("RS256")),
        ("private_key a number", "private_key", json!(1)),
        ("private_key garbage", "private_key", json!("not a key!")),
        (
            "private_key base64 of random bytes",
            "private_key",
            json!(encode_block(&[7u8; 120])),
        ),
        (
            "private_key 60 000 characters",
            "private_key",
            json!("A".repeat(60_000)),
        ),
    ];
    for (name, field, value) in field_cases {
        let path = format!("data.{field}");
        c.bad(name, &path, move |e| {
            set(e, &format!("/data/{field}"), value)
        })
        .await;
    }
    for field in [
        "installation_id",
        "account_id",
        "account_name",
        "client_id",
        "client_secret",
        "key_id",
        "key_algorithm",
        "private_key",
    ] {
        let path = format!("data.{field}");
        c.bad(&format!("{field} missing"), &path, move |e| {
            del(e, &format!("/data/{field}"))
        })
        .await;
    }

    // -- keys ------------------------------------------------------------------------------------
    c.bad("ES256 key declared PS256", "data.private_key", |e| {
        set(e, "/data/key_algorithm", json!("PS256"))
    })
    .await;
    c.bad("ES256 key declared ES384", "data.private_key", |e| {
        set(e, "/data/key_algorithm", json!("ES384"))
    })
    .await;
    c.bad_alg(
        Alg::PS256,
        "RSA key declared ES384",
        "data.private_key",
        |e| set(e, "/data/key_algorithm", json!("ES384")),
    )
    .await;
    c.bad_alg(
        Alg::ES512,
        "P-521 key declared ES256",
        "data.private_key",
        |e| set(e, "/data/key_algorithm", json!("ES256")),
    )
    .await;
    c.bad(
        "public key where the private key belongs",
        "data.private_key",
        |e| {
            let public = e["data"]["public_key"].clone();
            set(e, "/data/private_key", public)
        },
    )
    .await;
    c.bad("private key truncated", "data.private_key", |e| {
        let k = e["data"]["private_key"].as_str().unwrap().to_owned();
        set(e, "/data/private_key", json!(k[..k.len() / 2]))
    })
    .await;
    let rsa1024 = pkcs8_b64(&PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap());
    let ed25519 = pkcs8_b64(&PKey::generate_ed25519().unwrap());
    let k256 = {
        let group = EcGroup::from_curve_name(Nid::SECP256K1).unwrap();
        pkcs8_b64(&PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap())
    };
    let pkcs1_pem =
        String::from_utf8(Rsa::generate(2048).unwrap().private_key_to_pem().unwrap()).unwrap();
    c.secrets.extend([
        rsa1024.clone(),
        ed25519.clone(),
        k256.clone(),
        pkcs1_pem.clone(),
    ]);
    for (name, alg, key) in [
        ("1024-bit RSA key as PS256", "PS256", rsa1024),
        ("Ed25519 key as ES256", "ES256", ed25519),
        ("secp256k1 key as ES256", "ES256", k256),
        ("PKCS#1 PEM RSA key as PS256", "PS256", pkcs1_pem),
    ] {
        c.bad(name, "data.private_key", move |e| {
            set(e, "/data/key_algorithm", json!(alg));
            set(e, "/data/private_key", json!(key));
        })
        .await;
    }

    // -- hostile _links on app.installed (the simulator, 127.0.0.1:{sp}, is the only extra host) --
    let root_cases: Vec<(&str, String)> = vec![
        ("root to the trap port", format!("http://127.0.0.1:{trap}")),
        ("root to evil.example", "https://evil.example".into()),
        (
            "root to a look-alike suffix",
            "https://api.talkdeskapp.com.evil.example".into(),
        ),
        (
            "root with Talkdesk as userinfo",
            "https://api.talkdeskapp.com@evil.example/".into(),
        ),
        (
            "root with the simulator as userinfo, trap as host",
            format!("http://127.0.0.1:{sp}@127.0.0.1:{trap}/"),
        ),
        (
            "root with user:pass on the simulator",
            format!("http://user:pass@127.0.0.1:{sp}/"),
        ),
        (
            "root plain http to Talkdesk",
            "http://api.talkdeskapp.com".into(),
        ),
        (
            "root to a decimal IP literal",
            format!("http://2130706433:{trap}/"),
        ),
        (
            "root to a hex IP literal of the simulator",
            format!("http://0x7f.0.0.1:{sp}/"),
        ),
        ("root to 127.1 (short form)", format!("http://127.1:{sp}/")),
        ("root to [::1]", format!("http://[::1]:{sp}/")),
        ("root to localhost", format!("http://localhost:{sp}/")),
        ("root to 127.0.0.2", format!("http://127.0.0.2:{sp}/")),
        (
            "root to a punycode look-alike",
            "https://api.xn--talkdskapp-6hb.com".into(),
        ),
        (
            "root with a Cyrillic look-alike letter",
            "https://api.talkdeskаpp.com".into(),
        ),
        (
            "root with a trailing dot",
            "https://api.talkdeskapp.com.".into(),
        ),
        ("root file://", "file:///etc/passwd".into()),
        ("root javascript:", "javascript:alert(1)".into()),
        ("root scheme-relative", "//evil.example/".into()),
        (
            "root with a fragment",
            format!("http://127.0.0.1:{sp}/#@evil.example"),
        ),
        (
            "root with a backslash",
            format!("http://127.0.0.1:{sp}\\@evil.example/"),
        ),
        (
            "root port with a leading zero",
            format!("http://127.0.0.1:0{sp}/"),
        ),
        ("root with a space", format!("http://127.0.0.1:{sp} /")),
        ("root with a tab", format!("http://127.0.0.1:{sp}/\t")),
        (
            "root of 3000 characters",
            format!("http://127.0.0.1:{sp}/{}", "a".repeat(3000)),
        ),
        (
            "root upper-case scheme to the trap",
            format!("HTTP://127.0.0.1:{trap}/"),
        ),
        (
            "root a Talkdesk ID host",
            "https://acme.talkdeskid.com".into(),
        ),
    ];
    for (name, href) in root_cases {
        c.bad(name, "_links.root.href", move |e| {
            set(e, "/_links/root/href", json!(href))
        })
        .await;
    }
    let link_cases: Vec<(&str, &str, String)> = vec![
        (
            "tokens to the trap port",
            "tokens",
            format!("http://127.0.0.1:{trap}/oauth/token"),
        ),
        (
            "tokens to evil.example",
            "tokens",
            "https://evil.example/oauth/token".into(),
        ),
        (
            "tokens to another account's ID host",
            "tokens",
            "https://other.talkdeskid.com/oauth/token".into(),
        ),
        (
            "tokens to a look-alike ID host",
            "tokens",
            "https://acme.talkdeskid.com.evil.example/oauth/token".into(),
        ),
        (
            "tokens to the ID host on another port",
            "tokens",
            "https://acme.talkdeskid.com:8443/oauth/token".into(),
        ),
        (
            "tokens plain http to the ID host",
            "tokens",
            "http://acme.talkdeskid.com/oauth/token".into(),
        ),
        (
            "tokens to the API gateway",
            "tokens",
            "https://api.talkdeskapp.com/oauth/token".into(),
        ),
        (
            "tokens with userinfo",
            "tokens",
            format!("http://acme@127.0.0.1:{sp}/oauth/token"),
        ),
        (
            "authorization to evil.example",
            "authorization",
            "https://evil.example/oauth/authorize".into(),
        ),
        (
            "authorization to the trap port",
            "authorization",
            format!("http://127.0.0.1:{trap}/oauth/authorize"),
        ),
        (
            "authorization to another account's ID host",
            "authorization",
            "https://other.talkdeskid.com/oauth/authorize".into(),
        ),
        (
            "self to the trap port",
            "self",
            format!("http://127.0.0.1:{trap}/apps/e2e-app/events/x"),
        ),
        (
            "self to evil.example",
            "self",
            "https://evil.example/apps/e2e-app/events/x".into(),
        ),
        (
            "self with userinfo on the simulator",
            "self",
            format!("http://user:pass@127.0.0.1:{sp}/apps/e2e-app/events/x"),
        ),
    ];
    for (name, link, href) in link_cases {
        let path = format!("_links.{link}.href");
        c.bad(name, &path, move |e| {
            set(e, &format!("/_links/{link}/href"), json!(href))
        })
        .await;
    }
    c.bad(
        "real gateway with the simulator as token host",
        "_links.tokens.href",
        |e| set(e, "/_links/root/href", json!("https://api.talkdeskapp.com")),
    )
    .await;
    c.bad(
        "EU gateway with a US token host",
        "_links.tokens.href",
        |e| {
            set(e, "/_links/root/href", json!("https://api.talkdeskapp.eu"));
            set(
                e,
                "/_links/tokens/href",
                json!("https://acme.talkdeskid.com/oauth/token"),
            );
            del(e, "/_links/authorization");
        },
    )
    .await;

    // -- other event types, for installations that do not exist --------------------------------
    let up = "app.updated";
    c.forged(
        up,
        "updated: adding a string",
        "invalid_event",
        "data.users.adding",
        |e| set(e, "/data/users/adding", json!("u-1")),
    );
    c.forged(
        up,
        "updated: user id with '../'",
        "invalid_event",
        "data.users.adding[0]",
        |e| set(e, "/data/users/adding", json!(["../admin"])),
    );
    c.forged(
        up,
        "updated: removing a number",
        "invalid_event",
        "data.users.removing",
        |e| set(e, "/data/users/removing", json!(5)),
    );
    c.forged(
        up,
        "updated: users an array",
        "invalid_event",
        "data.users",
        |e| set(e, "/data/users", json!(["u-1"])),
    );
    c.forged(
        up,
        "updated: 10 001 users added",
        "invalid_event",
        "data.users.adding",
        |e| set(e, "/data/users/adding", json!(vec!["a"; 10_001])),
    );
    for (name, v) in [
        ("updated: licenses 'ten'", json!("ten")),
        ("updated: licenses negative", json!(-5)),
        ("updated: licenses fractional", json!(1.5)),
        (
            "updated: licenses overflowing u64",
            json!("99999999999999999999999"),
        ),
        ("updated: licenses an object", json!({"n": 1})),
    ] {
        c.forged(
            up,
            name,
            "invalid_event",
            "data.subscription.adding.licenses",
            move |e| set(e, "/data/subscription/adding/licenses", v),
        );
    }
    c.forged(
        up,
        "updated: plan name missing",
        "invalid_event",
        "data.subscription.adding.name",
        |e| del(e, "/data/subscription/adding/name"),
    );
    c.forged(
        up,
        "updated: subscription a string",
        "invalid_event",
        "data.subscription",
        |e| set(e, "/data/subscription", json!("Pro")),
    );
    c.forged(
        up,
        "updated: installation_id missing",
        "invalid_event",
        "data.installation_id",
        |e| del(e, "/data/installation_id"),
    );
    c.forged(
        up,
        "updated: root to the trap",
        "invalid_event",
        "_links.root.href",
        move |e| {
            set(
                e,
                "/_links/root/href",
                json!(format!("http://127.0.0.1:{trap}")),
            )
        },
    );
    c.forged(
        up,
        "updated: self to evil.example",
        "invalid_event",
        "_links.self.href",
        |e| {
            set(
                e,
                "/_links/self/href",
                json!("https://evil.example/apps/e2e-app/events/x"),
            )
        },
    );
    c.forged(up, "updated: another app", "wrong_app", "app_id", |e| {
        set(e, "/app_id", json!("someone-elses-app"))
    });
    let un = "app.uninstalled";
    c.forged(
        un,
        "uninstalled: reason a string",
        "invalid_event",
        "data.reason",
        |e| set(e, "/data/reason", json!("bye")),
    );
    c.forged(
        un,
        "uninstalled: reason.message a number",
        "invalid_event",
        "data.reason.message",
        |e| set(e, "/data/reason/message", json!(42)),
    );
    c.forged(
        un,
        "uninstalled: reason.message of 1001 characters",
        "invalid_event",
        "data.reason.message",
        |e| set(e, "/data/reason/message", json!("m".repeat(1001))),
    );
    c.forged(
        un,
        "uninstalled: installation_id '/'",
        "invalid_event",
        "data.installation_id",
        |e| set(e, "/data/installation_id", json!("/")),
    );
    c.forged(
        un,
        "uninstalled: installation_id '..'",
        "invalid_event",
        "data.installation_id",
        |e| set(e, "/data/installation_id", json!("..")),
    );
    c.forged(
        un,
        "uninstalled: root to the trap",
        "invalid_event",
        "_links.root.href",
        move |e| {
            set(
                e,
                "/_links/root/href",
                json!(format!("http://127.0.0.1:{trap}")),
            )
        },
    );
    c.forged(un, "uninstalled: another app", "wrong_app", "app_id", |e| {
        set(e, "/app_id", json!("someone-elses-app"))
    });
    c.bad(
        "credentials_rotated: garbage private key",
        "data.private_key",
        |e| {
            set(e, "/type", json!("app.credentials_rotated"));
            set(e, "/data/private_key", json!("garbage"));
        },
    )
    .await;
    c.bad(
        "credentials_rotated: ES256 key declared PS256",
        "data.private_key",
        |e| {
            set(e, "/type", json!("app.credentials_rotated"));
            set(e, "/data/key_algorithm", json!("PS256"));
        },
    )
    .await;
    c.forged(
        "user.logout",
        "logout: user_id with '/'",
        "invalid_event",
        "data.user_id",
        |e| set(e, "/data/user_id", json!("u/1")),
    );
    c.forged(
        "app.trial_started",
        "trial: expires_at a number",
        "invalid_event",
        "data.expires_at",
        |e| set(e, "/data/expires_at", json!(1_700_000_000)),
    );
    c.forged(
        "app.unheard_of",
        "unknown type: installation_id with '/'",
        "invalid_event",
        "data.installation_id",
        |e| set(e, "/data/installation_id", json!("../x")),
    );

    (c.cases, c.secrets)
}

// ---- the test -------------------------------------------------------------------------------------

/// Whether the answer's `path` names `expected`. A link refused while resolving the endpoints is
/// reported at `_links` with the link named in the message; that is accepted, and counted.
fn path_matches(expected: &str, body: &Value, imprecise: &mut Vec<String>, name: &str) -> bool {
    let got = body["path"].as_str().unwrap_or_default();
    if got == expected {
        return true;
    }
    let link = expected.trim_end_matches(".href");
    if got == "_links"
        && expected.starts_with("_links.")
        && body["message"].as_str().unwrap_or_default().contains(link)
    {
        imprecise.push(format!(
            "{name}: path {got:?}, expected {expected:?} ({body})"
        ));
        return true;
    }
    false
}

async fn wait_for(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("timed out waiting for {what}");
    false
}

#[tokio::test]
async fn hostile_corpus_is_refused_stores_nothing_and_calls_nobody() {
    let trap = Trap::start();
    let sim = Simulator::start(SimConfig {
        app_id: default_vars()["TALKDESK_APP_ID"].clone(),
        callback_url: None,
        time_scale: 0.001,
        ..SimConfig::default()
    });
    let mut vars = default_vars();
    vars.insert(
        "TALKDESK_EXTRA_HOSTS".into(),
        format!("127.0.0.1:{}", sim.port()),
    );
    let w = Worker::start(Options {
        vars,
        ..Options::default()
    });
    sim.set_callback_url(w.events_url());
    assert_ne!(trap.port, sim.port());

    let (cases, secrets) = build_corpus(&sim, trap.port).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        // A fresh connection per case: a refused request may leave its connection unusable.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let mut failures = Vec::new();
    let mut imprecise = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for case in &cases {
        assert!(
            names.insert(case.name.clone()),
            "duplicate case {}",
            case.name
        );
        let (status, text) = send(&client, &w, &case.req).await;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        eprintln!(
            "{:>3} {:<60} {}",
            status,
            case.name,
            text.chars().take(200).collect::<String>()
        );
        let mut wrong = Vec::new();
        if status != case.status {
            wrong.push(format!("status {status}, expected {}", case.status));
        }
        if !(400..=415).contains(&status) {
            wrong.push("not a 4xx in 400..=415".into());
        }
        if body["error"] != case.error {
            wrong.push(format!(
                "error {}, expected {:?}",
                body["error"], case.error
            ));
        }
        if !body["message"].is_string() {
            wrong.push("no message".into());
        }
        if let Some(path) = &case.path {
            if !path_matches(path, &body, &mut imprecise, &case.name) {
                wrong.push(format!("path {}, expected {path:?}", body["path"]));
            }
        }
        if let Some(s) = secrets.iter().find(|s| text.contains(s.as_str())) {
            wrong.push(format!(
                "echoed a secret ({}…)",
                s.chars().take(8).collect::<String>()
            ));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {} — answer: {status} {text}",
                case.name,
                wrong.join("; ")
            ));
        }
    }
    eprintln!("{} cases sent", cases.len());

    // Give anything the worker might do after answering, and the cron sweep, a chance to run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sweep = client
        .get(w.url("/__scheduled?cron=*+*+*+*+*"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    eprintln!("sweep: {sweep:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let counts = row_counts(&w, TABLES);
    eprintln!("rows after the corpus: {counts:?}");
    for (table, n) in &counts {
        if *n != 0 {
            failures.push(format!("{n} row(s) in {table} after the corpus"));
        }
    }
    let received = sim.requests();
    if !received.is_empty() {
        let list: Vec<String> = received
            .iter()
            .map(|r| format!("{} {} -> {:?}", r.method, r.path, r.status))
            .collect();
        failures.push(format!(
            "the simulator received {} request(s): {list:?}",
            list.len()
        ));
    }
    if trap.hits() != 0 {
        failures.push(format!("the trap received {} connection(s)", trap.hits()));
    }
    let log = w.log();
    if let Some(s) = secrets.iter().find(|s| log.contains(s.as_str())) {
        failures.push(format!(
            "the worker's log holds a secret ({}…)",
            s.chars().take(8).collect::<String>()
        ));
    }

    // Control: a genuine event sent the same way is accepted, stored and worked on, and the trap
    // does count a connection, so each check above can fail.
    let genuine = sim
        .install_without_sending(InstallSpec::new("acme", Alg::ES256))
        .await
        .unwrap();
    let (status, text) = send(
        &client,
        &w,
        &Req {
            method: "POST",
            content_type: Some("application/json"),
            body: serde_json::to_vec(&genuine.event).unwrap(),
            framing: Framing::Honest,
        },
    )
    .await;
    assert_eq!(status, 200, "the genuine control event: {text}");
    assert!(!text.contains(&genuine.client_secret) && !text.contains(&genuine.private_key));
    let after = row_counts(&w, TABLES);
    eprintln!("rows after the control: {after:?}");
    assert!(
        after["events"] >= 1 && after["installations"] >= 1,
        "{after:?}"
    );
    assert!(
        wait_for(
            "the worker to call the simulator",
            Duration::from_secs(30),
            || { !sim.requests().is_empty() }
        )
        .await,
        "the accepted control event never reached the simulator"
    );
    let hits = trap.hits();
    drop(TcpStream::connect(("127.0.0.1", trap.port)).unwrap());
    assert!(
        wait_for("the trap to count", Duration::from_secs(5), || trap.hits()
            == hits + 1)
        .await
    );

    if !imprecise.is_empty() {
        eprintln!(
            "{} refusal(s) name `_links` rather than the link:\n  {}",
            imprecise.len(),
            imprecise.join("\n  ")
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
    assert!(cases.len() >= 40);
}
