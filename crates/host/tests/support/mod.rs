//! Paths and loaders shared by the integration tests.

#![allow(dead_code)]

pub mod json_shapes;
pub mod zip_listing;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// `shared/fixtures`, which sits beside the repository both here and in CI's clone.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures"))
}

/// The repository root (this crate lives in `crates/host`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub fn read_text(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Some upstream function.json files start with a UTF-8 byte-order mark.
    text.trim_start_matches('\u{feff}').to_owned()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read_text(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn fixture_json(relative: &str) -> Value {
    read_json(&fixtures().join(relative))
}

/// File names in a directory with the given extension, sorted.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(extension))
        .collect();
    names.sort();
    names
}

/// Splits an `.http` fixture into its header lines and its body (after the first blank line).
pub fn split_http(text: &str) -> (Vec<String>, String) {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
    (head.lines().map(str::to_owned).collect(), body.to_owned())
}
