//! The command shape of Avnology's guides: `auth0|clerk|firebase-auth|cognito --import FILE
//! [--dry-run]` builds a one-source manifest from flags and plans, or plans and applies.

use super::common::{Emulator, Workdir, output_text};

fn identities(emu: &Emulator) -> i64 {
    emu.db()
        .query_row(
            "SELECT COUNT(*) FROM identities WHERE state != 'scheduled_deletion'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn auth0_import_dry_run_changes_nothing_then_import_applies_once() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    let args = [
        "auth0",
        "--import",
        "auth0_users.ndjson",
        "--passwords",
        "auth0_passwords.ndjson",
        "--organization",
        "acme",
    ];
    let out = w
        .cmd(Some(&emu))
        .args(args)
        .arg("--dry-run")
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("29 to create") && text.contains("Dry run: nothing was changed."),
        "{text}"
    );
    assert_eq!(identities(&emu), 0);

    let out = w.cmd(Some(&emu)).args(args).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(identities(&emu), 29);

    // Re-running the same import is a no-op, as the guide promises.
    let out = w.cmd(Some(&emu)).args(args).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("No changes."), "{text}");
    assert_eq!(identities(&emu), 29);
}

#[test]
fn firebase_auth_import_takes_the_hash_parameters_as_flags() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.copy_from_repo("examples/firebase");
    let key =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    let out = w
        .cmd(Some(&emu))
        .env("FIREBASE_SIGNER_KEY", key)
        .args([
            "firebase-auth",
            "--import",
            "firebase_users.json",
            "--rounds",
            "8",
            "--mem-cost",
            "14",
        ])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(key), "the signer key leaked: {text}");
    let (status, body) = emu.call("GET", "/v1/identities?page_size=100", None);
    assert_eq!(status, 200, "{body}");
    let with_password = body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["has_password"] == true)
        .count();
    assert!(identities(&emu) > 0);
    assert_ne!(with_password, 0, "{text}");

    // A malformed key is refused before anything is sent.
    let emu = Emulator::start(&[]);
    w.write("signer.key", "not base64!\n");
    let out = w
        .cmd(Some(&emu))
        .args([
            "firebase-auth",
            "--import",
            "firebase_users.json",
            "--hash-key-file",
            "signer.key",
        ])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("signer_key is not base64"), "{text}");
    assert_eq!(identities(&emu), 0);
}
