//! The users file alone: every field mapped, the containers (NDJSON, gzip, JSON array),
//! key spellings, records that are invalid with their file, line and id, and the quickstart
//! example.

use super::*;
use crate::model::{LinkedProvider, PasswordHash};
use crate::sources::SkipReason;
use crate::sources::test_support::gzip;

#[test]
fn ndjson_export_maps_every_field() {
    let files = Files::new();
    let users = files.write("users.ndjson", lines(&sample_users()));
    let (stats, out) = read(&users, None);
    assert!(out.invalid.is_empty(), "{:?}", out.messages());
    assert_eq!(
        (
            stats.records,
            stats.identities,
            stats.skipped,
            stats.invalid
        ),
        (4, 3, 1, 0)
    );

    let ada = out.identity("auth0|5dea9f9c82dd7c0e76e4ec93");
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ada.email_verified, Some(true));
    assert_eq!(ada.first_name.as_deref(), Some("Ada"));
    assert_eq!(ada.last_name.as_deref(), Some("Example"));
    assert_eq!(ada.display_name.as_deref(), Some("Ada Example"));
    assert_eq!(
        ada.avatar_url.as_deref(),
        Some("https://example.com/ada.png")
    );
    assert!(ada.active);
    assert!(ada.mfa_enrolled);
    assert!(
        ada.linked_providers.is_empty(),
        "a database identity is not a linked provider"
    );
    assert_eq!(ada.traits.get("metadata"), Some(&json!({"theme": "dark"})));
    assert_eq!(ada.admin_metadata.get("plan"), Some(&json!("pro")));
    assert_eq!(ada.admin_metadata.get("roles"), Some(&json!(["admin"])));
    assert!(ada.password.is_none());

    let euclid = out.identity("auth0|euclid");
    assert!(!euclid.active, "blocked users are inactive");
    assert_eq!(
        euclid.email_verified,
        Some(false),
        "unverified email stays unverified"
    );
    assert!(
        euclid.traits.is_empty() && euclid.admin_metadata.is_empty(),
        "no metadata, no keys"
    );
    assert!(!euclid.mfa_enrolled);

    let social = out.identity("google-oauth2|1083");
    assert_eq!(
        social.linked_providers,
        vec![LinkedProvider {
            provider: "google-oauth2".into(),
            subject: "1083".into()
        }]
    );
    assert!(social.password.is_none());

    let skipped = &out.skipped[0];
    assert_eq!(skipped.external_id.as_deref(), Some("sms|abc"));
    assert_eq!(skipped.reason, SkipReason::NoEmail);
    assert_eq!(skipped.location.line, Some(4));
    assert_eq!(skipped.location.index, 3);
}

#[test]
fn gzip_and_json_array_read_the_same_as_ndjson() {
    let files = Files::new();
    let gz_path = files.write("users.json.gz", gzip(lines(&sample_users())));
    let pretty = serde_json::to_string_pretty(&sample_users()).expect("json");
    let array_path = files.write("users.json", &pretty);
    let ndjson_path = files.write("users.ndjson", lines(&sample_users()));

    let (_, from_ndjson) = read(&ndjson_path, None);
    for path in [&gz_path, &array_path] {
        let (stats, out) = read(path, None);
        assert_eq!(
            (stats.identities, stats.skipped, stats.invalid),
            (3, 1, 0),
            "{}",
            path.display()
        );
        let ids = |r: &Read| {
            r.identities
                .iter()
                .map(|(i, _)| i.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&out), ids(&from_ndjson));
    }
    // A pretty-printed array still locates each element on its first line.
    let (_, out) = read(&array_path, None);
    let first_lines: Vec<Option<u64>> = out.identities.iter().map(|(_, l)| l.line).collect();
    let expected: Vec<Option<u64>> = pretty
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "  {")
        .map(|(n, _)| Some(n as u64 + 1))
        .take(3)
        .collect();
    assert_eq!(first_lines, expected);
}

#[test]
fn title_case_and_case_variant_keys() {
    let files = Files::new();
    let text = "\u{feff}{\"Id\":\"auth0|1\",\"Email\":\"t@example.com\",\"Email Verified\":true,\"Given Name\":\"Tess\",\
                \"Family Name\":\"Title\",\"Name\":\"Tess Title\",\"Nickname\":\"tess\",\"Picture\":\"https://example.com/t.png\",\
                \"Connection\":\"Username-Password-Authentication\",\"Created At\":\"2020-01-01T00:00:00.000Z\",\
                \"Updated At\":\"2020-01-01T00:00:00.000Z\"}\r\n\r\n\
                {\"USER_ID\":\"auth0|2\",\"EMAIL\":\"c@example.com\",\"emailVerified\":\"false\",\"GIVEN_NAME\":\"Cass\",\
                \"Blocked\":true,\"User_Metadata\":{\"a\":1},\"APP_METADATA\":{\"b\":2}}\r\n";
    let users = files.write("users.ndjson", text);
    let (stats, out) = read(&users, None);
    assert!(out.invalid.is_empty(), "{:?}", out.messages());
    assert_eq!(stats.identities, 2);
    let tess = out.identity("auth0|1");
    assert_eq!(tess.email_verified, Some(true));
    assert_eq!(tess.last_name.as_deref(), Some("Title"));
    assert_eq!(tess.display_name.as_deref(), Some("Tess Title"));
    assert_eq!(
        tess.avatar_url.as_deref(),
        Some("https://example.com/t.png")
    );
    let cass = out.identity("auth0|2");
    assert_eq!(cass.email_verified, Some(false));
    assert_eq!(cass.first_name.as_deref(), Some("Cass"));
    assert!(!cass.active);
    assert_eq!(cass.traits.get("metadata"), Some(&json!({"a": 1})));
    assert_eq!(cass.admin_metadata.get("b"), Some(&json!(2)));
    assert_eq!(
        out.identities[1].1.line,
        Some(3),
        "CRLF and blank lines keep line numbers"
    );
}

#[test]
fn bad_records_are_invalid_with_file_line_and_id() {
    let files = Files::new();
    let text = [
        r#"{"user_id":"auth0|ok","email":"ok@example.com"}"#,
        r#"{"email":"noid@example.com"}"#,
        r#"{"user_id":"","email":"emptyid@example.com"}"#,
        r#"{"user_id":"auth0|bademail","email":"alice.example.com"}"#,
        r#"{"user_id":"auth0|badphone","email":"p@example.com","phone_number":"555-0100"}"#,
        r#"{"user_id":"auth0|reserved","email":"r@example.com","app_metadata":{"avnology_migrate":{}}}"#,
        r#"{"user_id":"auth0|types","email":"t@example.com","email_verified":"maybe","blocked":1,"user_metadata":[]}"#,
        r#"{"user_id":"auth0|social","email":"s@example.com","identities":[{"provider":"github","isSocial":true},"x"]}"#,
        r#"{"user_id":"auth0|conflict","Id":"auth0|other","email":"c@example.com"}"#,
        r#"{"user_id":"auth0|emailtype","email":7}"#,
        r#"{"user_id": 12, "email":"n@example.com"}"#,
        r#"{"user_id": "auth0|x", "ema"#,
    ]
    .join("\n");
    let users = files.write("users.ndjson", text);
    let (stats, out) = read(&users, None);
    assert_eq!(stats.records, 12);
    assert_eq!(stats.identities, 1);
    assert_eq!(stats.invalid, 11);
    let m = out.messages();
    let at = |line: usize| -> &str { &m[line - 2] };
    assert!(
        at(2).ends_with("users.ndjson:2 (record 2): record has no user_id"),
        "{}",
        at(2)
    );
    assert!(
        at(3).ends_with(":3 (record 3): record has no user_id"),
        "{}",
        at(3)
    );
    assert!(
        at(4).ends_with(":4 (record 4), external_id `auth0|bademail`: `alice.example.com` is not a valid email address"),
        "{}",
        at(4)
    );
    assert!(
        at(5).contains("external_id `auth0|badphone`")
            && at(5).contains("`555-0100` is not an E.164"),
        "{}",
        at(5)
    );
    assert!(
        at(6).contains("`app_metadata.avnology_migrate` is reserved"),
        "{}",
        at(6)
    );
    assert!(
        at(7).contains("`email_verified` must be a boolean, not a string"),
        "{}",
        at(7)
    );
    assert!(
        at(7).contains("`blocked` must be a boolean, not a number"),
        "{}",
        at(7)
    );
    assert!(
        at(7).contains("`user_metadata` must be a JSON object, not an array"),
        "{}",
        at(7)
    );
    assert!(
        at(8).contains("`identities[0]` is social but has no `user_id`"),
        "{}",
        at(8)
    );
    assert!(
        at(8).contains("`identities[1]` must be an object, not a string"),
        "{}",
        at(8)
    );
    assert!(
        at(9).contains("`user_id` and `Id` are the same field but hold different values"),
        "{}",
        at(9)
    );
    assert!(
        at(10).contains("`email` must be a string, not a number"),
        "{}",
        at(10)
    );
    assert!(
        at(11).ends_with(":11 (record 11): `user_id` must be a string, not a number"),
        "{}",
        at(11)
    );
    assert!(
        at(12).contains("users.ndjson:12 (record 12), external_id `auth0|x`: record is truncated"),
        "{}",
        at(12)
    );
}

#[test]
fn missing_files_are_errors() {
    let files = Files::new();
    let missing = files.dir.path().join("nope.ndjson");
    let err = read_users(&missing, None, &mut |_| {}).expect_err("missing users file");
    assert!(err.to_string().contains("nope.ndjson"), "{err}");
    assert!(
        err.message
            .starts_with("cannot open export: No such file or directory"),
        "{err}"
    );

    let users = files.write("users.ndjson", lines(&sample_users()));
    let err = read_users(&users, Some(&missing), &mut |_| {}).expect_err("missing password file");
    assert!(
        err.message
            .starts_with("password-hash export: cannot open export"),
        "{err}"
    );
}

#[test]
fn quickstart_example_reads_cleanly_and_its_logins_verify() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let (stats, out) = read(
        &dir.join("auth0_users.ndjson"),
        Some(&dir.join("auth0_passwords.ndjson")),
    );
    assert!(out.invalid.is_empty(), "{:?}", out.messages());
    assert_eq!(stats.records, 30);
    assert_eq!(stats.identities, 29);
    assert_eq!(stats.skipped, 1);
    assert_eq!(stats.password_rows, 27);
    assert_eq!(stats.passwords_matched, 27);
    assert_eq!(stats.passwords_unmatched, 0);
    assert_eq!(out.skipped[0].reason, SkipReason::NoEmail);
    assert_eq!(out.identities.iter().filter(|(i, _)| !i.active).count(), 1);
    assert_eq!(
        out.identities
            .iter()
            .filter(|(i, _)| i.mfa_enrolled)
            .count(),
        1
    );
    assert_eq!(
        out.identities
            .iter()
            .filter(|(i, _)| i.email_verified == Some(false))
            .count(),
        2
    );
    assert_eq!(
        out.identities
            .iter()
            .filter(|(i, _)| i.password.is_none())
            .count(),
        2
    );

    let mut logins = csv::Reader::from_path(dir.join("logins.csv")).expect("logins.csv");
    assert_eq!(
        logins.headers().expect("header"),
        vec!["identifier", "password"]
    );
    let mut checked = 0;
    let mut saw_2a = false;
    for row in logins.records() {
        let row = row.expect("row");
        let (email, password) = (&row[0], &row[1]);
        let (user, _) = out
            .identities
            .iter()
            .find(|(i, _)| i.email.as_deref() == Some(email))
            .unwrap_or_else(|| panic!("no user with email {email}"));
        assert!(user.active, "{email} must be able to log in");
        let Some(PasswordHash::Bcrypt(hash)) = &user.password else {
            panic!("{email} has no hash")
        };
        saw_2a |= hash.expose().starts_with("$2a$");
        assert!(
            bcrypt::verify(password, hash.expose()).expect("verifiable"),
            "{email}"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
    assert!(saw_2a, "one login exercises a $2a$ hash");
}
