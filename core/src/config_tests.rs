use super::*;
use crate::talkdesk::hosts::{is_loopback, PortRule};
use std::collections::HashMap;

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // bytes 0..32
const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="; // bytes 32..64

fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = [
        (TALKDESK_APP_ID, "app-123"),
        (SEALING_KEY, &*format!("k1:{KEY_A}")),
        (ADMIN_TOKEN, "an-admin-token-of-enough-length"),
        (CALLBACK_TOKEN, "a-callback-token-of-enough-length"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in pairs {
        m.insert(k.to_string(), v.to_string());
    }
    m
}

fn load(m: &HashMap<String, String>) -> Result<Config, ConfigError> {
    Config::from_lookup(|k| m.get(k).cloned())
}

#[test]
fn a_complete_environment_parses() {
    let hosts = "127.0.0.1:9000, localhost ,[::1]:1,127.0.0.1:*,td.example.com";
    let c = load(&settings(&[(TALKDESK_EXTRA_HOSTS, hosts)])).unwrap();
    assert_eq!(c.app_id.as_str(), "app-123");
    let host = |h: &str, port| ExtraHost {
        host: h.into(),
        port,
    };
    assert_eq!(
        c.extra_hosts,
        vec![
            host("127.0.0.1", PortRule::Exact(9000)),
            host("localhost", PortRule::Default),
            host("[::1]", PortRule::Exact(1)),
            host("127.0.0.1", PortRule::Any),
            host("td.example.com", PortRule::Default),
        ]
    );
    assert_eq!(c.sealing_keys.current().0, "k1");
    assert_eq!(c.sealing_keys.current().1.expose()[31], 31);
}

#[test]
fn each_required_setting_is_named_when_missing_or_blank() {
    for name in [TALKDESK_APP_ID, SEALING_KEY, ADMIN_TOKEN, CALLBACK_TOKEN] {
        let mut m = settings(&[]);
        m.remove(name);
        assert_eq!(load(&m).unwrap_err(), err(name, "is missing"));
        m.insert(name.into(), "   ".into());
        assert_eq!(load(&m).unwrap_err(), err(name, "is missing"));
    }
}

#[test]
fn extra_hosts_is_optional() {
    assert!(load(&settings(&[])).unwrap().extra_hosts.is_empty());
}

#[test]
fn malformed_extra_hosts_are_refused_by_entry_number() {
    for bad in [
        "http://127.0.0.1:9000",
        "127.0.0.1:9000/path",
        "user@127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:x",
        "a,,b",
        "[fe80::1]",
        "-bad.example",
        "bad_host.example",
        "exa mple.com",
        "td.example.com:*",
    ] {
        let e = load(&settings(&[(TALKDESK_EXTRA_HOSTS, bad)])).unwrap_err();
        assert_eq!(e.setting, TALKDESK_EXTRA_HOSTS, "{bad}");
        assert!(e.problem.starts_with("entry "), "{bad}: {e}");
    }
}

#[test]
fn loopback_hosts_are_recognised_exactly() {
    for h in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]"] {
        assert!(is_loopback(h), "{h}");
    }
    for h in [
        "127.0.0.1.evil.com",
        "127.0.0",
        "128.0.0.1",
        "127.0.0.256",
        "localhost.evil",
        "0x7f.0.0.1",
    ] {
        assert!(!is_loopback(h), "{h}");
    }
}

#[test]
fn malformed_app_id_is_refused() {
    for bad in ["has space", "slash/", &"x".repeat(129)] {
        let e = load(&settings(&[(TALKDESK_APP_ID, bad)])).unwrap_err();
        assert_eq!(e.setting, TALKDESK_APP_ID);
    }
}

#[test]
fn sealing_keys_rotate_new_first_and_old_still_open() {
    let c = load(&settings(&[(
        SEALING_KEY,
        &format!("new:{KEY_B},old:{KEY_A}"),
    )]))
    .unwrap();
    assert_eq!(c.sealing_keys.current().0, "new");
    assert_eq!(c.sealing_keys.by_id("old").unwrap().expose()[0], 0);
    assert_eq!(c.sealing_keys.by_id("new").unwrap().expose()[0], 32);
    assert!(c.sealing_keys.by_id("other").is_none());
    assert_eq!(c.sealing_keys.ids().collect::<Vec<_>>(), ["new", "old"]);
}

#[test]
fn malformed_sealing_keys_are_refused_without_echoing_the_key() {
    let short = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="; // 31 bytes
    for bad in [
        KEY_A.to_string(),                     // no id
        format!(":{KEY_A}"),                   // empty id
        format!("k1:{KEY_A},k1:{KEY_B}"),      // repeated id
        format!("k1:{short}"),                 // wrong length
        "k1:not base64!!".to_string(),         // not base64
        format!("waytoolongkeyid123:{KEY_A}"), // id too long
    ] {
        let e = load(&settings(&[(SEALING_KEY, &bad)])).unwrap_err();
        assert_eq!(e.setting, SEALING_KEY, "{bad}");
        assert!(
            !e.to_string().contains(KEY_A) && !e.to_string().contains(short),
            "{e}"
        );
    }
}

#[test]
fn url_safe_base64_keys_are_accepted() {
    let url_safe = KEY_B.replace('+', "-").replace('/', "_");
    let c = load(&settings(&[(SEALING_KEY, &format!("k:{url_safe}"))])).unwrap();
    assert_eq!(c.sealing_keys.current().1.expose()[0], 32);
}

#[test]
fn a_short_admin_token_is_refused() {
    let e = load(&settings(&[(ADMIN_TOKEN, "tiny-tok-123")])).unwrap_err();
    assert_eq!(e.setting, ADMIN_TOKEN);
    assert!(!e.to_string().contains("tiny-tok-123"), "{e}");
}

#[test]
fn config_debug_prints_no_secret() {
    let c = load(&settings(&[])).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("an-admin-token-of-enough-length"));
    assert!(!dbg.contains("a-callback-token-of-enough-length"));
    assert!(dbg.contains("[redacted]"));
}

#[test]
fn a_short_or_non_path_safe_callback_token_is_refused_without_echoing_it() {
    for bad in [
        "short-token",
        "a-callback-token-with/a-slash-in",
        "a callback token with spaces!",
    ] {
        let e = load(&settings(&[(CALLBACK_TOKEN, bad)])).unwrap_err();
        assert_eq!(e.setting, CALLBACK_TOKEN, "{bad}");
        assert!(!e.to_string().contains(bad), "{e}");
    }
    assert!(load(&settings(&[(CALLBACK_TOKEN, "Abc_123-Abc_123-Abc_123-")])).is_ok());
}

#[test]
fn the_public_base_url_is_an_https_origin_or_loopback_http() {
    let base = |v: &str| load(&settings(&[(PUBLIC_BASE_URL, v)])).map(|c| c.public_base_url);
    let ok = base("https://App.Example.com/").unwrap().unwrap();
    assert_eq!(ok.origin(), "https://app.example.com");
    assert_eq!(ok.redirect_uri(), "https://app.example.com/oauth/callback");
    assert_eq!(
        base("http://127.0.0.1:8787").unwrap().unwrap().origin(),
        "http://127.0.0.1:8787"
    );
    for bad in [
        "http://app.example.com",
        "https://app.example.com/sub",
        "https://app.example.com/?q",
        "https://user@app.example.com",
        "app.example.com",
    ] {
        assert_eq!(base(bad).unwrap_err().setting, PUBLIC_BASE_URL, "{bad}");
    }
    assert_eq!(load(&settings(&[])).unwrap().public_base_url, None);
}

#[test]
fn a_host_name_with_non_ascii_letters_is_refused_and_its_punycode_form_taken() {
    let base = |v: &str| load(&settings(&[(PUBLIC_BASE_URL, v)])).map(|c| c.public_base_url);
    assert_eq!(
        base("https://bücher.example").unwrap_err().setting,
        PUBLIC_BASE_URL
    );
    let ok = base("https://xn--bcher-kva.example").unwrap().unwrap();
    assert_eq!(ok.origin(), "https://xn--bcher-kva.example");
}

#[test]
fn frame_ancestors_take_only_sources_that_cannot_break_the_policy() {
    let fa = |v: &str| load(&settings(&[(FRAME_ANCESTORS, v)])).map(|c| c.frame_ancestors);
    assert_eq!(
        load(&settings(&[])).unwrap().frame_ancestors,
        DEFAULT_FRAME_ANCESTORS
    );
    assert_eq!(
        fa("'self'  https://*.mytalkdesk.com http://localhost:9000").unwrap(),
        "'self' https://*.mytalkdesk.com http://localhost:9000"
    );
    for bad in [
        "*",
        "https://a.com;script-src *",
        "http://talkdesk.com",
        "'unsafe-inline'",
        "data:",
    ] {
        assert_eq!(fa(bad).unwrap_err().setting, FRAME_ANCESTORS, "{bad}");
    }
}

#[test]
fn the_app_name_is_short_plain_text() {
    let name = |v: &str| load(&settings(&[(APP_NAME, v)])).map(|c| c.app_name);
    assert_eq!(load(&settings(&[])).unwrap().app_name, DEFAULT_APP_NAME);
    assert_eq!(name("Acme Helpdesk").unwrap(), "Acme Helpdesk");
    assert!(name(&"x".repeat(61)).is_err());
    assert!(name("a\nb").is_err());
}

#[test]
fn the_workers_plan_defaults_to_paid_and_takes_only_paid_or_free() {
    let plan = |v: &str| load(&settings(&[(WORKERS_PLAN, v)])).map(|c| c.plan);
    assert_eq!(load(&settings(&[])).unwrap().plan, WorkersPlan::Paid);
    assert_eq!(plan("free").unwrap(), WorkersPlan::Free);
    assert_eq!(plan("paid").unwrap(), WorkersPlan::Paid);
    assert_eq!(plan("enterprise").unwrap_err().setting, WORKERS_PLAN);
}

#[test]
fn the_lifecycle_time_scale_is_a_decimal_above_zero_and_at_most_one() {
    let scale = |v: &str| load(&settings(&[(LIFECYCLE_TIME_SCALE, v)])).map(|c| c.time_scale);
    assert_eq!(load(&settings(&[])).unwrap().time_scale, 1.0);
    for (text, want) in [
        ("0.01", 0.01),
        (" 1 ", 1.0),
        (".5", 0.5),
        ("5e-3", 0.005),
        ("+1", 1.0),
        ("25E-2", 0.25),
        ("1.", 1.0),
        ("0.3", 0.3),
        ("0.07", 0.07),
    ] {
        // Read as the standard parser reads it, to the last bit.
        assert_eq!(scale(text).unwrap(), want, "{text}");
    }
    for bad in [
        "0",
        "0.0",
        "1.5",
        "2",
        "-0.5",
        ".",
        "e-3",
        "1e",
        "0x1",
        "abc",
        "inf",
        "NaN",
        "1,5",
        "0.5.1",
        "0.0000000000000001",
    ] {
        let err = scale(bad).unwrap_err().to_string();
        assert!(err.contains("LIFECYCLE_TIME_SCALE"), "{bad}: {err}");
    }
}
