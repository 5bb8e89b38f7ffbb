//! `make manifest [BASE=https://your-worker]`: writes the integration manifest for submission
//! from `integration/integration.json`. Without BASE it refreshes the committed
//! `integration/manifest.md` and `.json` (endpoints under `https://<your-worker>`; a test keeps
//! them in step with the configuration); with BASE it writes `build/manifest.md` and `.json`
//! with your worker's endpoints, for submission.

use appconnect_core::bridge::config::IntegrationConfig;
use appconnect_core::bridge::manifest::{document, manifest, PLACEHOLDER_BASE};

fn main() {
    let base = std::env::args()
        .nth(1)
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| PLACEHOLDER_BASE.to_owned());
    let cfg = IntegrationConfig::load();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = if base == PLACEHOLDER_BASE {
        root.join("integration")
    } else {
        root.join("build")
    };
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let json = serde_json::to_string_pretty(&manifest(&cfg, &base)).expect("serialises");
    std::fs::write(dir.join("manifest.json"), format!("{json}\n")).expect("write manifest.json");
    std::fs::write(dir.join("manifest.md"), document(&cfg, &base)).expect("write manifest.md");
    eprintln!(
        "wrote {}/manifest.md and manifest.json for {base}",
        dir.display()
    );
}
