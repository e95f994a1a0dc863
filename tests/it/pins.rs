//! Pinned sources: each source file may carry its SHA-256 in the manifest; `validate` and
//! `plan` refuse another file before reading a record, naming it and both digests, and
//! `pin` fills or refreshes the pins in place.

use sha2::{Digest, Sha256};

use super::common::{Workdir, output_text};

fn run(w: &Workdir, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd(None).args(args).output().unwrap();
    (out.status.code(), output_text(&out))
}

fn sha256(w: &Workdir, rel: &str) -> String {
    hex::encode(Sha256::digest(std::fs::read(w.path(rel)).unwrap()))
}

#[test]
fn a_changed_export_is_refused_with_both_digests_until_it_is_pinned_again() {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    let users = sha256(&w, "auth0_users.ndjson");
    let passwords = sha256(&w, "auth0_passwords.ndjson");

    let (code, text) = run(&w, &["pin", "--check"]);
    assert_eq!(code, Some(2), "{text}");
    let (code, text) = run(&w, &["pin"]);
    assert_eq!(code, Some(0), "{text}");
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    assert!(
        manifest.contains(&format!("sha256 = \"{users}\"")),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!("passwords_sha256 = \"{passwords}\"")),
        "{manifest}"
    );
    assert!(
        manifest.contains("# The bcrypt hashes from Auth0's password-hash export"),
        "comments are kept: {manifest}"
    );
    let (code, text) = run(&w, &["pin", "--check"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&w, &["validate"]);
    assert_eq!(code, Some(0), "{text}");

    // Someone swaps the export: refused before a record is read, with both digests.
    let mut export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    export.push_str("{\"user_id\":\"auth0|swapped\",\"email\":\"swapped@example.com\"}\n");
    w.write("auth0_users.ndjson", &export);
    let now = sha256(&w, "auth0_users.ndjson");
    for command in ["validate", "plan"] {
        let (code, text) = run(&w, &[command]);
        assert_eq!(code, Some(1), "{command}: {text}");
        assert!(
            text.contains("auth0_users.ndjson")
                && text.contains(&now)
                && text.contains(&users)
                && text.contains("avnology-migrate pin"),
            "{command}: {text}"
        );
    }

    // Pinned again after review: accepted, and the manifest diff is one line.
    let (code, text) = run(&w, &["pin"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("re-pinned"), "{text}");
    let after = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    let changed: Vec<_> = manifest
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    let (code, text) = run(&w, &["validate"]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn a_malformed_pin_is_an_error_at_its_line() {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    w.write(
        "migration.toml",
        &manifest.replace(
            "path = \"auth0_users.ndjson\"",
            "path = \"auth0_users.ndjson\"\nsha256 = \"not-a-digest\"",
        ),
    );
    let (code, text) = run(&w, &["validate"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("migration.toml:") && text.contains("is not a SHA-256"),
        "{text}"
    );
}
