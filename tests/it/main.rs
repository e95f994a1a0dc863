//! The integration test binary: the real `avnology-migrate` binary driven against the
//! emulator on 127.0.0.1. One binary, one module per area (a forgotten file fails
//! `no_forgotten_test_files`).

// Test helpers take owned values (`Value`, `PathBuf`, a case struct) so that call sites can
// build them inline; the copies cost nothing that matters in a test.
#![allow(clippy::needless_pass_by_value)]
// A test awaits a whole scenario as one future; its size on the stack is irrelevant here.
#![allow(clippy::large_futures)]

mod apply_engine;
mod cli;
mod common;
mod contract;
mod cutover;
mod emulator_auth;
mod emulator_cli;
mod emulator_faults;
mod emulator_identities;
mod emulator_login;
mod emulator_oauth_clients;
mod emulator_openapi;
mod emulator_organizations;
mod emulator_service_accounts;
mod emulator_support;
mod escaping;
mod exactly_once;
mod final_sync;
mod gitops;
mod inputs;
mod leaks;
mod live_client;
mod live_clients;
mod pins;
mod plans;
mod provider_commands;
mod providers;
mod providers_auth0;
mod providers_clerk;
mod providers_clients;
mod providers_cognito;
mod providers_firebase;
mod quickstart;
mod reliability;
mod scale;
mod schemas;
mod transcripts;
mod trust;
mod verify_cutover;

#[test]
fn no_forgotten_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        if stem == "main" {
            continue;
        }
        assert!(
            main.contains(&format!("mod {stem};")),
            "tests/it/{stem} is not registered in tests/it/main.rs"
        );
    }
}
