//! The library's layers (see `src/lib.rs`) as a test: a module may use only the modules listed
//! above it, never one below, and only the dashboard may touch a terminal crate. Read from the
//! source files themselves, comments and `#[cfg(test)]` modules left out (tests may reach across).

use std::path::{Path, PathBuf};

/// Lowest first; modules on one rank may not use each other either.
const LAYERS: &[&[&str]] = &[
    &["util"],
    &["weights"],
    &["error"],
    &["flow"],
    &["engine"],
    &["imageio"],
    &["preset"],
    &["video", "watch"],
    &["images"],
    &["session"],
    &["tui"],
];

/// Crates that draw on or read a terminal, or parse a command line: the binary's business, and
/// the dashboard's for ratatui and crossterm.
const TERMINAL_CRATES: &[(&str, &[&str])] =
    &[("ratatui", &["tui"]), ("ratatui_image", &["tui"]), ("crossterm", &["tui"]), ("clap", &[]), ("indicatif", &[])];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|rank| rank.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            // The binary is above every layer.
            if path.file_name().is_some_and(|n| n == "bin") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and without what follows `#[cfg(test)]`.
fn code_of(text: &str) -> String {
    let body = text.split("#[cfg(test)]").next().unwrap_or_default();
    body.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every `crate::NAME` in `code`.
fn crate_uses(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(i, _)| !code[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':'))
        .map(|(i, m)| code[i + m.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
        .collect()
}

#[test]
fn each_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let module = relative.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or_default();
        let module = module.trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let Some(own) = rank(module) else {
            wrong.push(format!("{}: module `{module}` is in no layer of src/lib.rs", relative.display()));
            continue;
        };
        let code = code_of(&std::fs::read_to_string(file).expect("read source"));
        for used in crate_uses(&code) {
            if used == module || used == "Error" || used == "Result" {
                continue;
            }
            match rank(&used) {
                Some(r) if r < own => {}
                _ => wrong.push(format!("{}: `{module}` uses `crate::{used}`", relative.display())),
            }
        }
        for (krate, allowed) in TERMINAL_CRATES {
            let named = code.contains(&format!("{krate}::")) || code.contains(&format!("use {krate}"));
            if named && !allowed.contains(&module) {
                wrong.push(format!("{}: `{module}` uses the terminal crate `{krate}`", relative.display()));
            }
        }
    }
    assert!(files.len() > 100, "found only {} source files", files.len());
    assert!(wrong.is_empty(), "layer violations:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_a_violation() {
    // The scanner itself: an upward use is found, comments and test modules are not.
    let code = code_of("use crate::session::Workspace;\n// crate::tui in a comment\n#[cfg(test)]\nuse crate::tui;");
    assert_eq!(crate_uses(&code), vec!["session".to_string()]);
    assert!(rank("session") > rank("engine"));
    assert_eq!(crate_uses("x::crate::y; crate::flow::Gray"), vec!["flow".to_string()]);
}
