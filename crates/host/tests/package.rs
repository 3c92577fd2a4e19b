//! `scripts/package.sh` produces the layout the Functions platform expects.
//!
//! Set `POLARIS_BINARY` to a release build to package the real binary. Without it the test
//! packages a small stand-in executable, because the layout (not the binary) is under test
//! and a release build of the whole workspace would dominate CI time.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use polaris_host::FUNCTION_NAMES;

use support::zip_listing::{self, ZipEntry};
use support::{read_json, read_text, repo_root};

fn binary(scratch: &Path) -> PathBuf {
    if let Some(prebuilt) = std::env::var_os("POLARIS_BINARY") {
        return PathBuf::from(prebuilt);
    }
    let stand_in = scratch.join("polaris-stand-in");
    fs::write(&stand_in, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&stand_in, fs::Permissions::from_mode(0o755)).unwrap();
    stand_in
}

/// Runs the script with the given zip tool and returns the zip's entries.
fn package(zip_tool: &str) -> (tempfile::TempDir, Vec<ZipEntry>) {
    let scratch = tempfile::tempdir().unwrap();
    let dist = scratch.path().join("dist");

    let output = Command::new("bash")
        .arg(repo_root().join("scripts/package.sh"))
        .env("POLARIS_BINARY", binary(scratch.path()))
        .env("POLARIS_DIST", &dist)
        .env("POLARIS_ZIP", zip_tool)
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "package.sh ({zip_tool}) failed: {stderr}");

    let entries = zip_listing::list(&dist.join("polaris-functions.zip"));
    (scratch, entries)
}

fn expected_names() -> Vec<String> {
    let mut names = vec!["host.json".to_owned(), "polaris".to_owned()];
    names.extend(FUNCTION_NAMES.iter().map(|name| format!("{name}/function.json")));
    names.sort();
    names
}

fn check_layout(zip_tool: &str) {
    let (scratch, entries) = package(zip_tool);
    let mut names: Vec<String> = entries.iter().map(|entry| entry.name.clone()).collect();
    names.sort();

    assert_eq!(names, expected_names(), "{zip_tool}: zip root holds exactly the app");

    let executable = entries.iter().find(|entry| entry.name == "polaris").unwrap();
    assert_eq!(executable.mode & 0o777, 0o755, "{zip_tool}: polaris keeps its executable bit");
    let host = read_json(&repo_root().join("host.json"));
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "polaris");

    let staged = scratch.path().join("dist/app/host.json");
    assert_eq!(read_text(&staged), read_text(&repo_root().join("host.json")));
}

#[test]
fn zip_tool_package_has_the_functions_layout() {
    let has_zip = Command::new("zip").arg("-v").output().is_ok_and(|out| out.status.success());
    let tool = if has_zip { "zip" } else { "auto" };

    check_layout(tool);
}

#[test]
fn python_fallback_package_has_the_functions_layout() {
    check_layout("python");
}

#[test]
fn a_missing_binary_fails_the_script() {
    let scratch = tempfile::tempdir().unwrap();

    let output = Command::new("bash")
        .arg(repo_root().join("scripts/package.sh"))
        .env("POLARIS_BINARY", scratch.path().join("nope"))
        .env("POLARIS_DIST", scratch.path().join("dist"))
        .output()
        .expect("bash runs");

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("binary not found"));
}
