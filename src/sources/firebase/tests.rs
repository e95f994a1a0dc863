//! End-to-end tests of [`read_users`] on the fixtures in `tests/fixtures/firebase/`, one per
//! quirk of the `auth:export` formats (provider-formats 3.1), with assertions on the items and
//! on message texts.

use std::path::{Path, PathBuf};

use aes::cipher::{KeyIvInit, StreamCipher};
use proptest::prelude::*;
use serde_json::json;

use super::hash::decode_base64;
use super::*;
use crate::manifest::Provider;
use crate::model::{LinkedProvider, PasswordHash, Secret};
use crate::sources::test_support::firebase_vector::{HASH, SALT, SEPARATOR, SIGNER_KEY};
use crate::sources::test_support::{self, Read, assert_no_secret, gzip, temp_file, user_source};

fn fixture(name: &str) -> PathBuf {
    test_support::fixture("firebase", name)
}

fn params() -> FirebaseHashParams {
    FirebaseHashParams {
        signer_key: Secret::new(SIGNER_KEY),
        salt_separator: SEPARATOR.to_owned(),
        rounds: 8,
        mem_cost: 14,
    }
}

fn try_read(
    path: &Path,
    params: Option<&FirebaseHashParams>,
) -> (Result<ReadStats, SourceError>, Read) {
    Read::collect(|sink| read_users(path, params, sink))
}

fn read(path: &Path, params: Option<&FirebaseHashParams>) -> (ReadStats, Read) {
    let (result, out) = try_read(path, params);
    (result.expect("readable export"), out)
}

/// Firebase's modified scrypt, written out here so the test checks the reader's output against
/// the algorithm rather than against another part of the crate.
fn firebase_scrypt(password: &str, salt: &str, params: &FirebaseHashParams) -> Vec<u8> {
    let mut full_salt = decode_base64(salt).expect("salt");
    full_salt.extend(decode_base64(&params.salt_separator).expect("separator"));
    let log_n = u8::try_from(params.mem_cost).expect("mem_cost");
    let scrypt_params = scrypt::Params::new(log_n, params.rounds, 1).expect("params");
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), &full_salt, &scrypt_params, &mut key).expect("scrypt");
    let mut out = decode_base64(params.signer_key.expose()).expect("signer key");
    let mut cipher =
        ctr::Ctr128BE::<aes::Aes256>::new_from_slices(&key, &[0u8; 16]).expect("key and iv");
    cipher.apply_keystream(&mut out);
    out
}

#[test]
fn json_export_maps_every_field() {
    let params = params();
    let (stats, out) = read(&fixture("users.json"), Some(&params));
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    assert_eq!(
        stats,
        ReadStats {
            records: 7,
            identities: 5,
            anonymous: 1,
            no_email: 1,
            password_hashes: 1,
            ..ReadStats::default()
        }
    );

    let (user1, location) = out.identity_at("kYi4EvWQlQTKSfnJ3dRSP6IH3ed2");
    assert_eq!(location.line, Some(2));
    assert_eq!(location.index, 0);
    assert_eq!(user1.email.as_deref(), Some("user1@example.com"));
    assert_eq!(user1.email_verified, Some(true));
    assert_eq!(user1.display_name.as_deref(), Some("Test User 1"));
    assert_eq!(
        user1.avatar_url.as_deref(),
        Some("https://photos.example.com/u1.png")
    );
    assert!(user1.active && !user1.mfa_enrolled);
    assert_eq!(user1.phone, None);
    assert_eq!(
        user1.password,
        Some(PasswordHash::FirebaseScrypt {
            hash: Secret::new(HASH),
            salt: Secret::new(SALT),
            params: params.clone(),
        })
    );

    let grace = out.identity("g00gleLinkedUser000000000002");
    assert_eq!(
        grace.linked_providers,
        [
            LinkedProvider {
                provider: "github.com".into(),
                subject: "4815162".into()
            },
            LinkedProvider {
                provider: "google.com".into(),
                subject: "106123456789012345678".into()
            },
        ]
    );
    assert_eq!(
        serde_json::Value::Object(grace.admin_metadata.clone()),
        json!({"admin": true, "tier": "gold"})
    );
    assert!(grace.traits.is_empty());
    assert_eq!(grace.password, None);
    assert_eq!(grace.password_unsupported, None);

    let dora = out.identity("disabledUser0000000000000003");
    assert!(!dora.active);
    assert_eq!(dora.email_verified, Some(false), "absent means unverified");

    let phone_only = out.skipped("phoneOnlyUser000000000000004");
    assert_eq!(phone_only.reason, SkipReason::NoEmail);
    assert_eq!(phone_only.location.line, Some(44));
    let anonymous = out.skipped("anonymousUser000000000000005");
    assert_eq!(anonymous.reason, SkipReason::Anonymous);
    assert_eq!(anonymous.location.line, Some(51));

    // Numeric timestamps are accepted; non-empty `mfaInfo` means enrolled.
    let mia = out.identity("mfaUser000000000000000000006");
    assert!(mia.mfa_enrolled);

    let uma = out.identity("unverifiedUser00000000000007");
    assert_eq!(uma.email_verified, Some(false));
    assert_eq!(uma.phone.as_deref(), Some("+15555550107"));
    assert_eq!(uma.phone_verified, Some(true));
}

#[test]
fn the_test_vector_survives_parsing_and_verifies() {
    let params = params();
    let (_, out) = read(&fixture("users.json"), Some(&params));
    let Some(PasswordHash::FirebaseScrypt { hash, salt, params }) =
        &out.identity("kYi4EvWQlQTKSfnJ3dRSP6IH3ed2").password
    else {
        panic!("expected a firebase-scrypt hash")
    };
    let expected = decode_base64(hash.expose()).expect("hash");
    assert_eq!(expected.len(), 64);
    assert_eq!(
        firebase_scrypt("user1password", salt.expose(), params),
        expected
    );
    assert_ne!(
        firebase_scrypt("user2password", salt.expose(), params),
        expected
    );
}

#[test]
fn without_hash_parameters_the_hash_is_reported_not_dropped() {
    let (stats, out) = read(&fixture("users.json"), None);
    assert_eq!((stats.password_hashes, stats.hashes_without_params), (0, 1));
    let user1 = out.identity("kYi4EvWQlQTKSfnJ3dRSP6IH3ed2");
    assert_eq!(user1.password, None);
    assert_eq!(
        user1.password_unsupported.as_deref(),
        Some("firebase-scrypt without [users.firebase_hash] parameters")
    );
}

#[test]
fn case_variant_keys_read_the_same() {
    let (stats, out) = read(&fixture("case_variants.json"), None);
    assert_eq!(stats.records, 3);
    let one = out.identity("caseUser1");
    assert_eq!(one.email.as_deref(), Some("case.one@example.com"));
    assert_eq!(one.email_verified, Some(true), "string `true`");
    assert_eq!(one.display_name.as_deref(), Some("Case One"));
    assert!(one.active, "string `false`");
    assert_eq!(
        one.linked_providers,
        [LinkedProvider {
            provider: "apple.com".into(),
            subject: "001234.abcd".into()
        }]
    );
    let two = out.identity("caseUser2");
    assert_eq!(two.admin_metadata.get("role"), Some(&json!("editor")));
    let three = out.invalid("caseUser3");
    assert!(
        three
            .message
            .contains("`localid` and `LOCALID` are the same field but hold different values"),
        "{three}"
    );
}

#[test]
fn base64_in_both_alphabets_normalises_to_standard() {
    let params = params();
    let (stats, out) = read(&fixture("base64_alphabets.json"), Some(&params));
    assert_eq!((stats.identities, stats.invalid), (3, 2));
    for id in ["b64standard", "b64websafe", "b64unpadded"] {
        let Some(PasswordHash::FirebaseScrypt { hash, salt, .. }) = &out.identity(id).password
        else {
            panic!("{id}: expected a hash")
        };
        assert_eq!((hash.expose(), salt.expose()), (HASH, SALT), "{id}");
    }
    let broken = out.invalid("b64broken").to_string();
    assert!(
        broken.ends_with("`passwordHash` is not valid base64"),
        "{broken}"
    );
    assert!(!broken.contains("not*base64"));
    let no_salt = out.invalid("b64nosalt").to_string();
    assert!(no_salt.contains("`salt` is missing"), "{no_salt}");
}

#[test]
fn invalid_records_name_the_user_and_the_problem() {
    let (stats, out) = read(&fixture("invalid_records.json"), None);
    assert_eq!((stats.records, stats.invalid), (9, 9));
    let message = |id: &str| out.invalid(id).message.clone();
    assert!(
        message("claimsNotJson").starts_with("`customAttributes` is not valid JSON"),
        "{}",
        message("claimsNotJson")
    );
    assert_eq!(
        message("claimsArray"),
        "`customAttributes` must hold a JSON object, not an array"
    );
    assert!(
        message("claimsReserved").contains("`avnology_migrate` is reserved"),
        "{}",
        message("claimsReserved")
    );
    let sdk = out
        .invalid
        .iter()
        .find(|e| e.external_id.is_none())
        .expect("the Admin SDK record");
    assert!(sdk.message.contains("Admin SDK"), "{sdk}");
    assert_eq!(sdk.location.index, 3);
    assert_eq!(
        message("badEmail"),
        "`not-an-email` is not a valid email address"
    );
    assert_eq!(
        message("badPhone"),
        "`555-0100` is not an E.164 phone number"
    );
    assert_eq!(
        message("badCreatedAt"),
        "`createdAt` must be epoch milliseconds (digits)"
    );
    assert_eq!(
        message("badProvider"),
        "`providerUserInfo[0]` has no `rawId`; `providerUserInfo[1]` must be an object, not a string"
    );
    assert_eq!(
        message("badDisabled"),
        "`disabled` must be a boolean, not a string"
    );
    let shown = out.invalid("badEmail").to_string();
    assert!(
        shown.contains("invalid_records.json:") && shown.contains("external_id `badEmail`"),
        "{shown}"
    );
}

#[test]
fn duplicates_identical_are_dropped_and_different_are_invalid() {
    let (stats, out) = read(&fixture("duplicates.json"), None);
    assert_eq!(
        (
            stats.records,
            stats.identities,
            stats.duplicates_dropped,
            stats.invalid
        ),
        (4, 2, 1, 1)
    );
    assert_eq!(out.warnings.len(), 1);
    let warning = out.warnings[0].to_string();
    assert!(
        warning.contains("duplicates.json:12 (record 3), external_id `dupUser`: identical repeat of the record at")
            && warning.contains("duplicates.json:2 (record 1)"),
        "{warning}"
    );
    let different = out.invalid("dupUser").to_string();
    assert!(
        different.contains("duplicates.json:18 (record 4)")
            && different.contains("duplicates.json:2 (record 1), with different content"),
        "{different}"
    );
    assert_eq!(
        out.identity("dupUser").email.as_deref(),
        Some("dup@example.com")
    );
}

#[test]
fn a_document_cut_off_in_the_middle_is_an_error_naming_the_record() {
    let (result, out) = try_read(&fixture("truncated.json"), None);
    assert_eq!(out.identities.len(), 2, "the complete users before the cut");
    let err = result.expect_err("truncated");
    assert_eq!(err.location.line, Some(37));
    assert_eq!(err.location.index, 2);
    assert_eq!(
        err.external_id.as_deref(),
        Some("disabledUser0000000000000003")
    );
    let shown = err.to_string();
    assert!(
        shown.contains("truncated.json:37 (record 3), external_id `disabledUser0000000000000003`: record is truncated"),
        "{shown}"
    );
}

#[test]
fn csv_old_layout_with_trailing_commas_quotes_and_blank_lines() {
    let params = params();
    let (stats, out) = read(&fixture("users_28.csv"), Some(&params));
    assert_eq!(
        (
            stats.records,
            stats.identities,
            stats.anonymous,
            stats.no_email,
            stats.invalid
        ),
        (8, 4, 1, 1, 2)
    );

    let (user1, location) = out.identity_at("kYi4EvWQlQTKSfnJ3dRSP6IH3ed2");
    assert_eq!(location.line, Some(1));
    assert_eq!(user1.email_verified, Some(false));
    assert_eq!(user1.display_name.as_deref(), Some("Test User 1"));
    assert!(matches!(
        &user1.password,
        Some(PasswordHash::FirebaseScrypt { hash, .. }) if hash.expose() == HASH
    ));

    let (quoted, location) = out.identity_at("csvQuoted00000000000000002");
    assert_eq!(location.line, Some(3));
    assert_eq!(quoted.display_name.as_deref(), Some("Doe, Jane \"JD\""));
    assert_eq!(quoted.email_verified, Some(true));
    assert_eq!(
        quoted.linked_providers,
        [LinkedProvider {
            provider: "google.com".into(),
            subject: "1061".into()
        }]
    );
    assert_eq!(
        serde_json::Value::Object(quoted.admin_metadata.clone()),
        json!({"admin": true, "plan": "pro"})
    );

    assert!(!out.identity("csvDisabled000000000000003").active);
    assert_eq!(
        out.skipped("csvPhone000000000000000004").reason,
        SkipReason::NoEmail
    );
    assert_eq!(
        out.skipped("csvAnon0000000000000000005").reason,
        SkipReason::Anonymous
    );
    let bad = out.invalid("csvBadVerified000000000006");
    assert_eq!(bad.location.line, Some(8));
    assert_eq!(
        bad.message,
        "`emailVerified` must be a boolean, not a string"
    );
    let short = out.invalid("csvShort00000000000000007");
    assert_eq!(short.location.line, Some(9));
    assert!(short.message.starts_with("line has 6 fields"), "{short}");
    let (_, location) = out.identity_at("csvNoTrailing0000000000008");
    assert_eq!((location.line, location.index), (Some(10), 7));
}

#[test]
fn csv_new_layout_has_the_later_providers() {
    let (stats, out) = read(&fixture("users_52.csv"), None);
    assert_eq!((stats.records, stats.identities), (2, 2));
    let apple = out.identity("csvNew000000000000000000001");
    let providers: Vec<(&str, &str)> = apple
        .linked_providers
        .iter()
        .map(|l| (l.provider.as_str(), l.subject.as_str()))
        .collect();
    assert_eq!(
        providers,
        [("apple.com", "001234.abcdef"), ("yahoo.com", "yahoo-77")]
    );
    assert_eq!(apple.display_name.as_deref(), Some("Apple User"));
    assert!(apple.password_unsupported.is_some());
    let ms = out.identity("csvNew000000000000000000002");
    let providers: Vec<&str> = ms
        .linked_providers
        .iter()
        .map(|l| l.provider.as_str())
        .collect();
    assert_eq!(providers, ["github.com", "microsoft.com"]);
}

#[test]
fn csv_header_row_is_skipped() {
    let (stats, out) = read(&fixture("with_header.csv"), None);
    assert_eq!(stats.records, 1);
    let (_, location) = out.identity_at("hdrUser");
    assert_eq!((location.line, location.index), (Some(2), 0));
}

#[test]
fn emulator_export_shape_is_read_too() {
    let (stats, out) = read(&fixture("emulator_export.json"), None);
    assert_eq!(stats.identities, 1);
    let user = out.identity("emuUser1");
    assert_eq!(
        user.linked_providers,
        [LinkedProvider {
            provider: "google.com".into(),
            subject: "2222".into()
        }],
        "the account's own `password` method is not a linked provider"
    );
}

#[test]
fn gzip_and_missing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zipped = dir.path().join("users.json.gz");
    let json = std::fs::read(fixture("users.json")).expect("fixture");
    std::fs::write(&zipped, gzip(json)).expect("write");
    let (stats, _) = read(&zipped, None);
    assert_eq!(stats.identities, 5);

    let zipped_csv = dir.path().join("users.csv.gz");
    let csv = std::fs::read(fixture("users_28.csv")).expect("fixture");
    std::fs::write(&zipped_csv, gzip(csv)).expect("write");
    let (stats, out) = read(&zipped_csv, None);
    assert_eq!((stats.records, stats.identities), (8, 4));
    assert_eq!(
        out.invalid("csvShort00000000000000007").location.line,
        Some(9)
    );

    let (result, _) = try_read(Path::new("/nonexistent/firebase_users.json"), None);
    let err = result.expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/firebase_users.json (record 1): cannot open export"),
        "{err}"
    );
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").expect("write");
    assert_eq!(read(&empty, None).0, ReadStats::default());
}

#[test]
fn secrets_never_appear_in_items_or_messages() {
    let params = params();
    let mut shown = String::new();
    for name in [
        "users.json",
        "base64_alphabets.json",
        "users_28.csv",
        "invalid_records.json",
    ] {
        let (_, out) = read(&fixture(name), Some(&params));
        shown.push_str(&out.all_text());
    }
    assert_no_secret(
        &shown,
        &[
            &HASH[..20],
            &SALT[..10],
            &SIGNER_KEY[..20],
            "lSrfV15cpx95_sZS",
        ],
    );
}

#[test]
fn dispatch_maps_the_stats() {
    let source = crate::manifest::UserSource {
        firebase_hash: Some(params()),
        ..user_source(Provider::Firebase, fixture("users.json"))
    };
    assert_eq!(test_support::dispatched(&source), (7, 1, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (_dir, path) = temp_file("garbage", bytes);
        let _ = read_users(&path, Some(&params()), &mut |_| {});
    }

    #[test]
    fn json_shaped_garbage_never_panics(text in "\\{\"users\": \\[(\\{(\"[a-zA-Z]{1,12}\": (\"[a-zA-Z0-9+/=_:\\[\\]{}-]{0,20}\"|[0-9]{1,3}|true|null|\\[\\]|\\{\\}), ?){0,6}\\}, ?){0,4}[\\]}]{0,2}") {
        let (_dir, path) = temp_file("users.json", text);
        let _ = read_users(&path, Some(&params()), &mut |_| {});
    }

    #[test]
    fn csv_shaped_garbage_never_panics(lines in proptest::collection::vec("[a-z0-9@.,\"{}+/= ]{0,80}", 0..8)) {
        let (_dir, path) = temp_file("users.csv", lines.join("\n"));
        let _ = read_users(&path, None, &mut |_| {});
    }
}
