//! Test support (feature `testing`): in-memory fakes of the ports, each keeping the real
//! platform's limits (KV's minimum TTL, D1's single-writer consistency) and able to fail; the
//! SQLite [`Database`](crate::ports::Database) built from `migrations/` ([`sqlite`]); an OpenSSL
//! signer; real HTTP for the simulator; and [`ports::TestPorts`], all of it wired as the
//! lifecycle's ports.

pub mod ports;
pub mod sqlite;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::ports::{
    Cache, Clock, PortError, StoredToken, TalkdeskHttp, TokenStore, KV_MIN_TTL_SECS,
};
use crate::talkdesk::http::{HttpRequest, HttpResponse};

/// A clock on tokio's (pausable) time, starting at a fixed epoch.
pub struct TestClock {
    start: tokio::time::Instant,
    epoch_ms: u64,
}

impl TestClock {
    pub fn new(epoch_ms: u64) -> Self {
        TestClock {
            start: tokio::time::Instant::now(),
            epoch_ms,
        }
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.epoch_ms + self.start.elapsed().as_millis() as u64
    }
    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// KV: values with expiry; refuses TTLs under a minute, as KV does.
#[derive(Default)]
pub struct FakeCache {
    pub values: RefCell<HashMap<String, (String, u64)>>,
    pub fail: Cell<bool>,
    pub refused_ttls: RefCell<Vec<u64>>,
}

impl Cache for FakeCache {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        if self.fail.get() {
            return Err(PortError("kv unavailable".into()));
        }
        Ok(self.values.borrow().get(key).map(|(v, _)| v.clone()))
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), PortError> {
        if ttl_secs < KV_MIN_TTL_SECS {
            self.refused_ttls.borrow_mut().push(ttl_secs);
            return Err(PortError(format!("KV refuses ttl {ttl_secs} < 60")));
        }
        if self.fail.get() {
            return Err(PortError("kv unavailable".into()));
        }
        self.values
            .borrow_mut()
            .insert(key.into(), (value.into(), ttl_secs));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.values.borrow_mut().remove(key);
        Ok(())
    }
    async fn list(&self, prefix: &str, limit: u32) -> Result<Vec<String>, PortError> {
        if self.fail.get() {
            return Err(PortError("kv unavailable".into()));
        }
        let mut keys: Vec<String> = self
            .values
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        keys.truncate(limit as usize);
        Ok(keys)
    }
}

#[derive(Debug, Clone, Default)]
pub struct TokenRow {
    pub token: Option<StoredToken>,
    pub lease: Option<(String, u64)>,
}

/// D1's token table: every call sees every earlier write (D1 has one primary). Each call
/// yields first, as a real round trip lets other requests run.
#[derive(Default)]
pub struct FakeTokenStore {
    pub rows: RefCell<HashMap<String, TokenRow>>,
    /// The next this many reads answer as if they ran just before a concurrent store.
    pub stale_reads: Cell<u32>,
    /// Reads so far (each one a D1 query in the worker).
    pub reads: Cell<u32>,
}

impl TokenStore for FakeTokenStore {
    async fn read(&self, key: &str) -> Result<Option<StoredToken>, PortError> {
        // Every D1 call is a round trip: other requests run in between.
        tokio::task::yield_now().await;
        self.reads.set(self.reads.get() + 1);
        if self.stale_reads.get() > 0 {
            // As if this read happened just before another request stored its token.
            self.stale_reads.set(self.stale_reads.get() - 1);
            return Ok(None);
        }
        Ok(self.rows.borrow().get(key).and_then(|r| r.token.clone()))
    }
    async fn try_lease(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<bool, PortError> {
        tokio::task::yield_now().await;
        let mut rows = self.rows.borrow_mut();
        let row = rows.entry(key.into()).or_default();
        match &row.lease {
            Some((h, until)) if h != holder && *until > now_ms => Ok(false),
            _ => {
                row.lease = Some((holder.into(), until_ms));
                Ok(true)
            }
        }
    }
    async fn store(&self, key: &str, holder: &str, token: &StoredToken) -> Result<(), PortError> {
        // Every D1 call is a round trip: other requests run in between.
        tokio::task::yield_now().await;
        let mut rows = self.rows.borrow_mut();
        let row = rows.entry(key.into()).or_default();
        row.token = Some(token.clone());
        if row.lease.as_ref().is_some_and(|(h, _)| h == holder) {
            row.lease = None;
        }
        Ok(())
    }
    async fn release(&self, key: &str, holder: &str) -> Result<(), PortError> {
        // Every D1 call is a round trip: other requests run in between.
        tokio::task::yield_now().await;
        if let Some(row) = self.rows.borrow_mut().get_mut(key) {
            if row.lease.as_ref().is_some_and(|(h, _)| h == holder) {
                row.lease = None;
            }
        }
        Ok(())
    }
    async fn forget_installation(&self, installation_id: &str) -> Result<(), PortError> {
        let prefix = format!("token:{installation_id}:");
        self.rows
            .borrow_mut()
            .retain(|k, _| !k.starts_with(&prefix));
        Ok(())
    }
}

/// One scripted answer of [`FakeTalkdesk`].
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with a fresh, unique access token living this long.
    Token { expires_in: u64 },
    /// This exact answer.
    Http(HttpResponse),
    /// No answer at all (connection error or timeout).
    Unreachable,
}

impl Answer {
    pub fn status(status: u16, body: &str) -> Answer {
        Answer::Http(HttpResponse {
            status,
            body: body.as_bytes().to_vec(),
        })
    }
}

/// Talkdesk, scripted: answers each request with the next scripted answer (the last one
/// repeats), after a delay, and records every request.
pub struct FakeTalkdesk {
    pub answers: RefCell<Vec<Answer>>,
    pub requests: RefCell<Vec<HttpRequest>>,
    pub delay_ms: u64,
    minted: Cell<u64>,
}

impl FakeTalkdesk {
    pub fn answering(answers: Vec<Answer>, delay_ms: u64) -> Self {
        FakeTalkdesk {
            answers: RefCell::new(answers),
            requests: RefCell::new(Vec::new()),
            delay_ms,
            minted: Cell::new(0),
        }
    }
}

impl TalkdeskHttp for FakeTalkdesk {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PortError> {
        self.requests.borrow_mut().push(request.clone());
        tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
        let answer = {
            let mut answers = self.answers.borrow_mut();
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            }
        };
        match answer {
            Answer::Token { expires_in } => {
                self.minted.set(self.minted.get() + 1);
                let body = format!(
                    r#"{{"access_token":"tok-{}","token_type":"Bearer","expires_in":{expires_in}}}"#,
                    self.minted.get()
                );
                Ok(HttpResponse {
                    status: 200,
                    body: body.into_bytes(),
                })
            }
            Answer::Http(r) => Ok(r),
            Answer::Unreachable => Err(PortError("connection refused".into())),
        }
    }
}

use openssl::pkey::{PKey, Private};

use crate::crypto::keys::{KeyAlgorithm, PrivateKey};
use crate::ports::Signer;

/// A fresh key pair of the algorithm's kind (RSA 2048 for PS*), from OpenSSL.
pub fn generate_key(alg: KeyAlgorithm) -> PKey<Private> {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    let ec = |nid| {
        PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap())
            .unwrap()
    };
    match alg {
        KeyAlgorithm::ES256 => ec(Nid::X9_62_PRIME256V1),
        KeyAlgorithm::ES384 => ec(Nid::SECP384R1),
        KeyAlgorithm::ES512 => ec(Nid::SECP521R1),
        _ => PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap(),
    }
}

/// The key as Talkdesk sends it: base64 of DER PKCS#8, no armour.
pub fn talkdesk_form(key: &PKey<Private>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key.private_key_to_pkcs8().unwrap())
}

fn digest(alg: KeyAlgorithm) -> openssl::hash::MessageDigest {
    use openssl::hash::MessageDigest;
    match alg {
        KeyAlgorithm::ES256 | KeyAlgorithm::PS256 => MessageDigest::sha256(),
        KeyAlgorithm::ES384 | KeyAlgorithm::PS384 => MessageDigest::sha384(),
        _ => MessageDigest::sha512(),
    }
}

/// The native stand-in for WebCrypto: signs as JOSE wants (ECDSA r‖s, PSS with salt = hash).
pub struct OpenSslSigner;

impl Signer for OpenSslSigner {
    async fn sign(&self, key: &PrivateKey, input: &[u8]) -> Result<Vec<u8>, PortError> {
        let alg = key.algorithm();
        let pkey =
            PKey::private_key_from_pkcs8(key.pkcs8_der()).map_err(|e| PortError(e.to_string()))?;
        let md = digest(alg);
        if let Some(len) = alg.ecdsa_signature_len() {
            let hash = openssl::hash::hash(md, input).unwrap();
            let sig = openssl::ecdsa::EcdsaSig::sign(&hash, &pkey.ec_key().unwrap()).unwrap();
            let mut out = sig.r().to_vec_padded(len as i32 / 2).unwrap();
            out.extend(sig.s().to_vec_padded(len as i32 / 2).unwrap());
            Ok(out)
        } else {
            let mut signer = openssl::sign::Signer::new(md, &pkey).unwrap();
            signer
                .set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS)
                .unwrap();
            signer.set_rsa_mgf1_md(md).unwrap();
            signer
                .set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::DIGEST_LENGTH)
                .unwrap();
            Ok(signer.sign_oneshot_to_vec(input).unwrap())
        }
    }
}

/// Verifies a JOSE signature with OpenSSL.
pub fn openssl_verify(
    alg: KeyAlgorithm,
    key: &PKey<Private>,
    input: &[u8],
    signature: &[u8],
) -> bool {
    let md = digest(alg);
    if let Some(len) = alg.ecdsa_signature_len() {
        if signature.len() != len {
            return false;
        }
        let r = openssl::bn::BigNum::from_slice(&signature[..len / 2]).unwrap();
        let s = openssl::bn::BigNum::from_slice(&signature[len / 2..]).unwrap();
        let hash = openssl::hash::hash(md, input).unwrap();
        openssl::ecdsa::EcdsaSig::from_private_components(r, s)
            .unwrap()
            .verify(&hash, &key.ec_key().unwrap())
            .unwrap_or(false)
    } else {
        let mut v = openssl::sign::Verifier::new(md, key).unwrap();
        v.set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS).unwrap();
        v.set_rsa_mgf1_md(md).unwrap();
        v.set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::DIGEST_LENGTH)
            .unwrap();
        v.verify_oneshot(signature, input).unwrap_or(false)
    }
}

/// Real HTTP (for tests against the simulator on loopback).
pub struct ReqwestHttp(pub reqwest::Client);

impl TalkdeskHttp for ReqwestHttp {
    async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, PortError> {
        let mut builder = self.0.request(req.method.parse().unwrap(), &req.url);
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        let resp = builder
            .body(req.body.expose().to_owned())
            .send()
            .await
            .map_err(|e| PortError(e.to_string()))?;
        Ok(HttpResponse {
            status: resp.status().as_u16(),
            body: resp
                .bytes()
                .await
                .map_err(|e| PortError(e.to_string()))?
                .to_vec(),
        })
    }
}

/// A clock on the real time (for tests against the simulator, which checks `iat`/`exp`).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }
    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}
