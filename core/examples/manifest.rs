//! `make manifest [BASE=https://your-worker]`: writes the integration manifest for submission,
//! `integration/manifest.md` and `integration/manifest.json`, from `integration/integration.json`.
//! Without BASE the endpoints read `https://<your-worker>` (the committed document, which a test
//! keeps in step with the configuration).

use appconnect_core::bridge::config::IntegrationConfig;
use appconnect_core::bridge::manifest::{document, manifest, PLACEHOLDER_BASE};

fn main() {
    let base = std::env::args()
        .nth(1)
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| PLACEHOLDER_BASE.to_owned());
    let cfg = IntegrationConfig::load();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../integration");
    let json = serde_json::to_string_pretty(&manifest(&cfg, &base)).expect("serialises");
    std::fs::write(dir.join("manifest.json"), format!("{json}\n")).expect("write manifest.json");
    std::fs::write(dir.join("manifest.md"), document(&cfg, &base)).expect("write manifest.md");
    eprintln!("wrote integration/manifest.md and integration/manifest.json for {base}");
}
