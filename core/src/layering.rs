//! The layering `lib.rs` states, checked: every `crate::…` path (and every `super::` chain that
//! climbs to the crate root) in a module's production code names a module at its own layer or
//! below. Test code (files named `tests.rs` or `*_tests.rs`, `against_sim.rs`, files under a
//! `tests/` folder, and `#[cfg(test)]` items) may reach anywhere, and so may `testing`. It checks
//! layers, not cycles inside one layer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The layers in `lib.rs` order, lowest first.
fn layers() -> Vec<String> {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_str().unwrap();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name == "against_sim.rs"
        || path.components().any(|c| c.as_os_str() == "tests")
}

/// Every module named after `crate::` in the text, `crate::{a, b::c}` groups included.
fn crate_paths(code: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        match rest.strip_prefix('{') {
            // Top-level names of a group: split at commas outside nested braces.
            Some(group) => {
                let mut depth = 0;
                let mut start = 0;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            out.push(ident(&group[start..j]));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.push(ident(&group[start..j]));
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
            }
            None => out.push(ident(rest)),
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// The text without test code: a `#[cfg(test)]` item that is a one-line declaration
/// (`mod tests;`) is dropped alone; an inline one (`mod tests { … }`) runs to the end of the
/// file, where test modules live.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // Skip further attributes, then the item.
        let item = lines.by_ref().find(|l| !l.trim_start().starts_with("#["));
        match item {
            Some(item) if item.trim_end().ends_with(';') => {}
            _ => break,
        }
    }
    out
}

/// Modules reached through `super::` chains that climb to the crate root from a file whose
/// module is `depth` levels deep (`store/rows.rs` is 2, `store/mod.rs` 1).
fn root_paths_via_super(code: &str, depth: usize) -> Vec<String> {
    let chain = "super::".repeat(depth);
    if depth == 0 {
        return Vec::new();
    }
    code.match_indices(&chain)
        .filter(|(i, _)| !code[..*i].ends_with("super::"))
        .map(|(i, _)| {
            code[i + chain.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty() && m != "super")
        .collect()
}

#[test]
fn no_module_imports_one_above_it() {
    let layers = layers();
    let rank: HashMap<&str, usize> = layers
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    assert!(rank.len() >= 10, "lib.rs lists {layers:?}");
    let mut wrong = Vec::new();
    let mut all = Vec::new();
    files(Path::new(SRC), &mut all);
    for path in all {
        let rel = path.strip_prefix(SRC).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let Some(&own) = rank.get(top.as_str()) else {
            continue; // lib.rs, this file
        };
        if top == "testing" || is_test_file(&path) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let production = production_code(&text);
        let depth = rel.components().count() - usize::from(rel.ends_with("mod.rs"));
        let mut used_modules = crate_paths(&production);
        used_modules.extend(root_paths_via_super(&production, depth));
        for used in used_modules {
            if let Some(&r) = rank.get(used.as_str()) {
                if r > own {
                    wrong.push(format!("{} uses crate::{used}", rel.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up a layer: {wrong:#?}"
    );
}

#[test]
fn the_check_sees_an_import_that_points_up() {
    // The scanner itself: `crate::app` in a lower module would be caught.
    assert_eq!(
        crate_paths("use crate::app::handle;\nlet x = crate::secret::X;"),
        ["app", "secret"]
    );
    assert_eq!(
        crate_paths("use crate::{\n    store::{a, b},\n    tokens::X,\n};"),
        ["store", "tokens"]
    );
    assert_eq!(
        root_paths_via_super("use super::super::app::Head;\nuse super::rows;", 2),
        ["app"]
    );
    let code = "use a;\n#[cfg(test)]\nmod tests;\npub use crate::app::X;\n#[cfg(test)]\nmod t {\nuse crate::app;\n}\n";
    assert_eq!(crate_paths(&production_code(code)), ["app"]);
}
