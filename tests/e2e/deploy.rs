//! `make deploy` in dry-run mode: with no Cloudflare account it checks the settings, names every
//! step and command, writes the deploy configuration, and prints what to paste into Partner
//! Project; without the required settings it stops at once, naming them.

use std::process::Command;

use crate::harness::root;

fn dry_run(vars: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg("scripts/deploy.sh")
        .current_dir(root())
        .env("DRY_RUN", "1")
        .env_remove("TALKDESK_APP_ID")
        .env_remove("PUBLIC_BASE_URL");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_dry_run_names_every_step_and_prints_what_to_paste_into_partner_project() {
    let (ok, out, err) = dry_run(&[
        ("TALKDESK_APP_ID", "app-123"),
        ("PUBLIC_BASE_URL", "https://appconnect.example.com/"),
    ]);
    assert!(ok, "{out}\n{err}");
    for step in ["1/7", "2/7", "3/7", "4/7", "5/7", "6/7", "7/7"] {
        assert!(err.contains(step), "step {step} missing:\n{err}");
    }
    for command in [
        "wrangler whoami",
        "wrangler d1 list --json",
        "wrangler d1 migrations apply DB --remote",
        "wrangler deploy -c build/wrangler.deploy.toml",
        "secret put SEALING_KEY",
        "secret put ADMIN_TOKEN",
        "secret put CALLBACK_TOKEN",
    ] {
        assert!(out.contains(command), "{command} missing:\n{out}");
    }
    for line in [
        "https://appconnect.example.com/events/<CALLBACK_TOKEN>",
        "https://appconnect.example.com/launch",
        "https://appconnect.example.com/oauth/callback",
        "https://appconnect.example.com/bridge/contacts",
        "https://appconnect.example.com/admin",
    ] {
        assert!(out.contains(line), "{line} missing:\n{out}");
    }
    let config = std::fs::read_to_string(root().join("build/wrangler.deploy.toml")).unwrap();
    let parsed: toml::Table = config.parse().expect("valid TOML");
    assert_eq!(parsed["main"].as_str(), Some("index.js"));
    assert!(
        parsed.get("build").is_none(),
        "the deploy builds first itself"
    );
    assert_eq!(
        parsed["vars"]["TALKDESK_APP_ID"].as_str(),
        Some("app-123"),
        "settings from the environment are deployed"
    );
    assert_eq!(
        parsed["d1_databases"][0]["migrations_dir"].as_str(),
        Some("../migrations")
    );
}

#[test]
fn a_dry_run_without_the_required_settings_stops_at_once_naming_them() {
    let (ok, out, err) = dry_run(&[("PUBLIC_BASE_URL", "http://insecure.example.com")]);
    assert!(!ok, "{out}");
    assert!(err.contains("TALKDESK_APP_ID"), "{err}");
    assert!(
        err.contains("PUBLIC_BASE_URL must start with https://"),
        "{err}"
    );
    assert!(!err.contains("1/7"), "nothing ran: {err}");
}
