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
    let w = Workdir::new();
    w.copy_from_repo("examples/firebase");
    let key =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    // The example project hashed its passwords with rounds 8 and mem_cost 14 (the flags'
    // defaults). Each flag must reach the imported hash: with one of them wrong the import
    // still succeeds (a hash cannot be checked without its password) but no one can log in;
    // with both right, the example's users log in with their own passwords.
    let import = |flags: &[&str]| {
        let emu = Emulator::start(&[]);
        let mut args = vec!["firebase-auth", "--import", "firebase_users.json"];
        args.extend_from_slice(flags);
        let out = w
            .cmd(Some(&emu))
            .env("FIREBASE_SIGNER_KEY", key)
            .args(&args)
            .output()
            .unwrap();
        let text = output_text(&out);
        assert!(out.status.success(), "{flags:?}: {text}");
        assert!(!text.contains(key), "the signer key leaked: {text}");
        assert!(identities(&emu) > 0, "{text}");
        emu
    };
    let (user, password) = ("user1@example.com", "user1password");
    let wrong_rounds = import(&["--rounds", "7", "--mem-cost", "14"]);
    assert_eq!(
        wrong_rounds.login(user, password).0,
        401,
        "rounds 7 verified"
    );
    let wrong_mem_cost = import(&["--rounds", "8", "--mem-cost", "13"]);
    assert_eq!(
        wrong_mem_cost.login(user, password).0,
        401,
        "mem_cost 13 verified"
    );
    let right = import(&["--rounds", "8", "--mem-cost", "14"]);
    assert_eq!(right.login(user, password).0, 200, "the right parameters");
    assert_eq!(right.login(user, "not-the-password").0, 401);

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
