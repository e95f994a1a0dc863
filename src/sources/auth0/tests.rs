//! End-to-end tests of [`read_users`]: small export files written to a temp dir, read back
//! through the public entry point, with assertions on the items and on message texts.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::model::{Identity, LinkedProvider};

/// A real bcrypt hash (of "password", cost 10).
const HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }
}

/// Everything one read produced.
#[derive(Debug, Default)]
struct Read {
    identities: Vec<(Identity, Location)>,
    skipped: Vec<Skipped>,
    invalid: Vec<SourceError>,
}

impl Read {
    fn identity(&self, id: &str) -> &Identity {
        self.identities
            .iter()
            .map(|(i, _)| i)
            .find(|i| i.external_id.as_str() == id)
            .unwrap_or_else(|| panic!("no identity `{id}` in {:?}", self.identities))
    }

    fn messages(&self) -> Vec<String> {
        self.invalid.iter().map(ToString::to_string).collect()
    }
}

use crate::sources::Location;

fn read(users: &Path, passwords: Option<&Path>) -> (ReadStats, Read) {
    let mut out = Read::default();
    let stats = read_users(users, passwords, &mut |item| match item {
        UserItem::Identity(identity, location) => out.identities.push((*identity, location)),
        UserItem::Skipped(skipped) => out.skipped.push(skipped),
        UserItem::Invalid(err) => out.invalid.push(err),
        UserItem::Warning(w) => panic!("the Auth0 reader emits no warnings: {w}"),
    })
    .expect("readable export");
    (stats, out)
}

fn lines(records: &[serde_json::Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

fn sample_users() -> Vec<serde_json::Value> {
    vec![
        json!({
            "user_id": "auth0|5dea9f9c82dd7c0e76e4ec93", "email": "ada@example.com",
            "email_verified": true, "given_name": "Ada", "family_name": "Example",
            "name": "Ada Example", "nickname": "ada", "picture": "https://example.com/ada.png",
            "created_at": "2020-01-02T03:04:05.678Z", "logins_count": 3,
            "identities": [{"connection": "Username-Password-Authentication", "provider": "auth0",
                            "user_id": "5dea9f9c82dd7c0e76e4ec93", "isSocial": false}],
            "user_metadata": {"theme": "dark"}, "app_metadata": {"plan": "pro", "roles": ["admin"]},
            "multifactor": ["guardian"]
        }),
        json!({"user_id": "auth0|euclid", "email": "euclid@example.org", "email_verified": false,
               "blocked": true}),
        json!({"user_id": "google-oauth2|1083", "email": "g@example.com", "email_verified": true,
               "identities": [{"provider": "google-oauth2", "user_id": "1083", "connection": "google-oauth2", "isSocial": true}]}),
        json!({"user_id": "sms|abc", "phone_number": "+15555550100", "phone_verified": true,
               "identities": [{"provider": "sms", "user_id": "abc", "isSocial": false}]}),
    ]
}

fn password_rows() -> String {
    format!(
        "{{\"_id\":{{\"$oid\":\"5dea9f9c82dd7c0e76e4ec93\"}},\"email\":\"ada@example.com\",\"passwordHash\":\"{HASH}\",\
         \"password_set_date\":{{\"$date\":\"2019-12-06T18:36:12.412Z\"}},\"connection\":\"Username-Password-Authentication\",\
         \"identifiers\":[{{\"type\":\"email\",\"value\":\"ada@example.com\",\"verified\":true}}]}}\n\
         {{\"_ID\":{{\"$oid\":\"0000000000000000000000aa\"}},\"passwordHash\":\"{HASH}\",\"alt_id\":\"euclid\"}}\n\
         {{\"_id\":{{\"$oid\":\"ffffffffffffffffffffffff\"}},\"passwordHash\":\"{HASH}\"}}\n"
    )
}

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
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(lines(&sample_users()).as_bytes())
        .expect("gzip");
    let gz_path = files.write("users.json.gz", gz.finish().expect("gzip"));
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
fn passwords_join_by_oid_alt_id_and_capital_id() {
    let files = Files::new();
    let users = files.write("users.ndjson", lines(&sample_users()));
    let passwords = files.write("passwords.ndjson", password_rows());
    let (stats, out) = read(&users, Some(&passwords));
    assert!(out.invalid.is_empty(), "{:?}", out.messages());
    assert_eq!(stats.password_rows, 3);
    assert_eq!(stats.passwords_matched, 2);
    assert_eq!(stats.passwords_unmatched, 1, "the ffff… row has no user");

    for id in ["auth0|5dea9f9c82dd7c0e76e4ec93", "auth0|euclid"] {
        let Some(PasswordHash::Bcrypt(hash)) = &out.identity(id).password else {
            panic!("{id} has no bcrypt hash")
        };
        assert_eq!(hash.expose(), HASH);
    }
    assert!(
        out.identity("google-oauth2|1083").password.is_none(),
        "social-only users have no password"
    );
    let shown = format!("{:?}", out.identity("auth0|euclid"));
    assert!(
        !shown.contains("N9qo8"),
        "Debug must not show the hash: {shown}"
    );
}

#[test]
fn a_password_row_for_a_user_without_email_is_unused_not_unmatched() {
    let files = Files::new();
    let users = files.write(
        "users.ndjson",
        "{\"user_id\":\"auth0|nomail\",\"username\":\"nomail\"}\n",
    );
    let passwords = files.write(
        "passwords.ndjson",
        format!("{{\"_id\":{{\"$oid\":\"nomail\"}},\"passwordHash\":\"{HASH}\"}}\n"),
    );
    let (stats, out) = read(&users, Some(&passwords));
    assert_eq!(out.skipped.len(), 1);
    assert_eq!((stats.passwords_matched, stats.passwords_unmatched), (0, 0));
}

#[test]
fn a_bad_hash_is_invalid_and_its_user_migrates_without_a_password() {
    let files = Files::new();
    let users = files.write("users.ndjson", lines(&sample_users()));
    let bad = "$2b$10$ThisIsNotAValidHashButItIsSecret";
    let passwords = files.write(
        "passwords.ndjson",
        format!(
            "{{\"_id\":{{\"$oid\":\"5dea9f9c82dd7c0e76e4ec93\"}},\"passwordHash\":\"{bad}\"}}\n"
        ),
    );
    let (stats, out) = read(&users, Some(&passwords));
    let messages = out.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert!(
        message.contains("passwords.ndjson:1 (record 1)"),
        "{message}"
    );
    assert!(
        message.contains("external_id `auth0|5dea9f9c82dd7c0e76e4ec93`"),
        "{message}"
    );
    assert!(message.contains("not a bcrypt hash"), "{message}");
    assert!(!message.contains("ThisIsNot") && !format!("{:?}", out.invalid).contains("ThisIsNot"));
    assert_eq!(stats.password_rows_invalid, 1);
    assert_eq!(stats.invalid, 0, "the user record itself is fine");

    let ada = out.identity("auth0|5dea9f9c82dd7c0e76e4ec93");
    assert!(ada.password.is_none());
    let why = ada
        .password_unsupported
        .as_deref()
        .expect("the report says why");
    assert!(why.contains("passwords.ndjson:1"), "{why}");
    assert!(!why.contains("ThisIsNot"));
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

/// A record built from known keys (in random spellings) and random values, or plain garbage.
fn line_strategy() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "user_id",
        "Id",
        "EMAIL",
        "email_verified",
        "phone_number",
        "blocked",
        "identities",
        "app_metadata",
        "user_metadata",
        "multifactor",
        "Given Name",
        "picture",
        "username",
    ]);
    let value = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(|s| json!(s)),
        Just(json!("a@example.com")),
        Just(json!([{"provider": "github", "user_id": 1, "isSocial": true}, 3, "x"])),
        Just(json!({"avnology_migrate": 1, "k": [1]})),
    ];
    let object = prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let body: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect();
        format!("{{{}}}", body.join(","))
    });
    prop_oneof![object, any::<String>(), "[{}\\[\\]\":,a-z0-9 \\\\]{0,40}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn garbage_lines_never_panic_and_each_yields_one_item(lines in prop::collection::vec(line_strategy(), 0..12)) {
        let files = Files::new();
        let text: String = lines.iter().map(|l| format!("{}\n", l.replace(['\n', '\r'], " "))).collect();
        let users = files.write("users.ndjson", &text);
        let mut items = 0u64;
        match read_users(&users, None, &mut |_| items += 1) {
            Ok(stats) => {
                prop_assert_eq!(stats.records, items);
                prop_assert_eq!(stats.identities + stats.skipped + stats.invalid, stats.records);
            }
            // A first line starting with `[` makes the file a JSON array, which may be broken.
            Err(err) => prop_assert!(text.trim_start_matches(['\u{feff}', ' ', '\t', '\n', '\r']).starts_with('['), "{}", err),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let files = Files::new();
        let users = files.write("users.ndjson", &bytes);
        let passwords = files.write("passwords.ndjson", &bytes);
        let _ = read_users(&users, Some(&passwords), &mut |_| {});
    }
}

/// Everything a read showed the sink, as text, with each identity's hash exposed (its
/// `Debug` hides it), in order; or the error that ended it.
fn transcript(users: &Path, passwords: Option<&Path>) -> (Vec<String>, Result<ReadStats, String>) {
    let mut shown = Vec::new();
    let result = read_users(users, passwords, &mut |item| {
        shown.push(describe(&item));
    });
    (shown, result.map_err(|e| e.to_string()))
}

fn describe(item: &UserItem) -> String {
    match item {
        UserItem::Identity(identity, location) => {
            let hash = match &identity.password {
                Some(PasswordHash::Bcrypt(hash)) => hash.expose().to_owned(),
                _ => "-".to_owned(),
            };
            format!("identity {identity:?} at {location:?} hash {hash}")
        }
        other => format!("{other:?}"),
    }
}

/// The same read done the simple way: one thread, general path only, hashes from a map. It
/// is what `read_users` did before the password index and the fast path, and what it must
/// still show.
fn reference(users: &Path, passwords: Option<&Path>) -> (Vec<String>, Result<ReadStats, String>) {
    use std::collections::HashMap;

    use crate::sources::json_records::{no_id_key, read_json_records};

    let mut shown = Vec::new();
    let mut stats = ReadStats::default();
    // user id → (hash, or the location of its invalid row)
    let mut rows: HashMap<String, Result<String, Location>> = HashMap::new();
    let mut claimed = std::collections::HashSet::new();
    if let Some(path) = passwords {
        let mut firsts: HashMap<String, (String, Option<u64>)> = HashMap::new();
        let read = read_json_records(path, no_id_key, &mut |record| {
            let row = match record.entries {
                Ok(entries) => passwords::parse_row_for_tests(entries),
                Err(message) => Err((None, message)),
            };
            let location = record.location;
            match row {
                Ok((id, hash)) => {
                    let hash = String::from_utf8(hash.to_vec()).expect("ascii");
                    match firsts.get(&id) {
                        None => {
                            firsts.insert(id.clone(), (hash.clone(), location.line));
                            rows.insert(id, Ok(hash));
                            stats.password_rows += 1;
                        }
                        Some((first, _)) if *first == hash => {}
                        Some((_, line)) => {
                            stats.password_rows_invalid += 1;
                            let first =
                                line.map_or_else(String::new, |l| format!(" (first at line {l})"));
                            shown.push(format!(
                                "{:?}",
                                UserItem::Invalid(SourceError::new(
                                    location,
                                    Some(id),
                                    format!(
                                        "password-hash export: a second, different hash for \
                                         this user{first}; the first is used"
                                    ),
                                ))
                            ));
                        }
                    }
                }
                Err((id, message)) => {
                    stats.password_rows_invalid += 1;
                    if let Some(id) = &id {
                        rows.entry(id.clone())
                            .or_insert_with(|| Err(location.clone()));
                    }
                    shown.push(format!(
                        "{:?}",
                        UserItem::Invalid(SourceError::new(
                            location,
                            id,
                            format!("password-hash export: {message}"),
                        ))
                    ));
                }
            }
        });
        if let Err(mut err) = read {
            err.message = format!("password-hash export: {}", err.message);
            return (shown, Err(err.to_string()));
        }
    }
    let mut claim = |id: &str| {
        let found = rows.get(id).cloned();
        if let Some(Ok(_)) = &found {
            claimed.insert(id.to_owned());
        }
        found
    };
    let read = read_json_records(users, export::is_user_id_key, &mut |record| {
        stats.records += 1;
        let location = record.location;
        let item = match record.entries {
            Err(message) => {
                stats.invalid += 1;
                UserItem::Invalid(SourceError::new(location, record.id_hint, message))
            }
            Ok(entries) => match convert::convert(RawUser::from_entries(entries)) {
                Outcome::Identity(mut identity) => {
                    match claim(identity.external_id.as_str()) {
                        Some(Ok(hash)) => {
                            identity.password =
                                Some(PasswordHash::Bcrypt(crate::model::Secret::new(hash)));
                            stats.passwords_matched += 1;
                        }
                        Some(Err(row)) => {
                            identity.password_unsupported = Some(format!(
                                "its row in the password-hash export is invalid ({row})"
                            ));
                        }
                        None => {}
                    }
                    stats.identities += 1;
                    UserItem::Identity(identity, location)
                }
                Outcome::Skipped { external_id } => {
                    claim(&external_id);
                    stats.skipped += 1;
                    UserItem::Skipped(Skipped {
                        location,
                        external_id: Some(external_id),
                        reason: SkipReason::NoEmail,
                    })
                }
                Outcome::Invalid {
                    external_id,
                    message,
                } => {
                    if let Some(id) = &external_id {
                        claim(id);
                    }
                    stats.invalid += 1;
                    UserItem::Invalid(SourceError::new(location, external_id, message))
                }
            },
        };
        shown.push(describe(&item));
    });
    if let Err(err) = read {
        return (shown, Err(err.to_string()));
    }
    stats.passwords_unmatched = rows
        .iter()
        .filter(|(id, row)| row.is_ok() && !claimed.contains(*id))
        .count() as u64;
    (shown, Ok(stats))
}

/// User lines of every shape the readers meet: canonical, Title-Case, unusual types,
/// repeated keys, broken JSON, blank lines, a BOM mid-file, CRLF.
fn varied_user_lines(n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        let line = match i % 16 {
            0 => format!(
                r#"{{"user_id":"auth0|{i:024x}","email":"u{i}@example.com","email_verified":true,"name":"U {i}","given_name":"U","family_name":"{i}","nickname":"u{i}","picture":"https://example.com/{i}.png","identities":[{{"connection":"db","provider":"auth0","user_id":"{i:024x}","isSocial":false}}],"user_metadata":{{"locale":"en-US"}},"app_metadata":{{"plan":"pro"}},"logins_count":{i}}}"#
            ),
            1 => format!(
                r#"{{"Id":"auth0|{i:024x}","Email":"t{i}@example.com","Email Verified":"false","Given Name":"T","Blocked":true}}"#
            ),
            2 => format!(
                r#"{{"user_id":"sms|{i}","phone_number":"+1555555{:04}","phone_verified":true}}"#,
                i % 10000
            ),
            3 => format!(
                r#"{{"user_id":"google-oauth2|{i}","email":"g{i}@example.com","identities":[{{"provider":"google-oauth2","user_id":{i},"isSocial":true}}]}}"#
            ),
            4 => format!(
                r#"{{"user_id":"auth0|{i:024x}","Id":"auth0|other","email":"c{i}@example.com"}}"#
            ),
            5 => format!(r#"{{"user_id":"auth0|{i:024x}","email":"bad-email-{i}"}}"#),
            6 => format!(
                r#"{{"user_id":"auth0|{i:024x}","email":"x{i}@example.com","app_metadata":{{"avnology_migrate":1}}}}"#
            ),
            7 => format!(r#"{{"user_id": "auth0|{i:024x}", "ema"#),
            8 => "\"just a string\"".to_owned(),
            9 => String::new(),
            10 => format!(
                "\u{feff}{{\"user\\u005fid\":\"auth0|{i:024x}\",\"email\":\"e{i}@example.com\"}}\r"
            ),
            11 => format!(
                r#"{{"user_id":"auth0|{i:024x}","email":"m{i}@example.com","multifactor":[],"blocked":false,"locale":"fr"}}"#
            ),
            12 => format!(r#"{{"user_id":{i},"email":"n{i}@example.com"}}"#),
            13 => format!(
                r#"{{"user_id":"auth0|{i:024x}","email":"d{i}@example.com","identities":[{{"provider":"github","isSocial":true}},7]}}"#
            ),
            14 => format!(
                r#"{{"user_id":"auth0|{i:024x}","email":"s{i}@example.com","user_metadata":[1]}}"#
            ),
            _ => format!(r#"  {{"user_id":"auth0|{i:024x}","email":"w{i}@example.com"}}  "#),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Password rows for some of those users, with repeats, conflicts, invalid rows and rows
/// for nobody.
fn varied_password_rows(n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        let hash = format!("$2b$10${i:0>53}");
        let row = match i % 9 {
            0 | 1 | 3 | 4 | 5 | 6 => {
                format!(
                    r#"{{"_id":{{"$oid":"{i:024x}"}},"email":"u{i}@example.com","passwordHash":"{hash}","password_set_date":{{"$date":"2020-01-01T00:00:00.000Z"}},"tenant":"t","connection":"db","_tmp_is_unique":true}}"#
                )
            }
            2 => format!(r#"{{"_ID":{{"$oid":"{i:024x}"}},"passwordHash":"$2b$10$short{i}"}}"#),
            7 => format!(
                "{{\"_id\":{{\"$oid\":\"{:024x}\"}},\"passwordHash\":\"$2b$10${:0>53}\"}}",
                i - 7,
                i + 1
            ),
            _ => format!(r#"{{"_id":"nobody{i}","password_hash":"{hash}","alt_id":""}}"#),
        };
        text.push_str(&row);
        text.push('\n');
        if i % 50 == 0 {
            text.push_str(&row); // an exact repeat
            text.push('\n');
        }
    }
    text
}

#[test]
fn the_threaded_fast_read_shows_exactly_what_the_simple_read_shows() {
    let files = Files::new();
    // Several blocks of each file, so that threads and block edges are exercised.
    let users_text = varied_user_lines(20_000);
    assert!(users_text.len() > 3 * crate::sources::json_records::BLOCK_BYTES);
    let users = files.write("users.ndjson", &users_text);
    let passwords = files.write("passwords.ndjson", varied_password_rows(15_000));
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(users_text.as_bytes()).expect("gzip");
    let users_gz = files.write("users.ndjson.gz", gz.finish().expect("gzip"));

    for (users, passwords) in [
        (&users, Some(&passwords)),
        (&users, None),
        (&users_gz, Some(&passwords)),
    ] {
        let passwords = passwords.map(PathBuf::as_path);
        let (fast, fast_result) = transcript(users, passwords);
        let (simple, simple_result) = reference(users, passwords);
        assert_eq!(fast_result, simple_result);
        assert_eq!(fast.len(), simple.len());
        for (i, (a, b)) in fast.iter().zip(&simple).enumerate() {
            assert_eq!(a, b, "item {i}");
        }
    }
    let (_, stats) = transcript(&users, Some(&passwords));
    let stats = stats.expect("readable");
    assert!(
        stats.passwords_matched > 1000 && stats.passwords_unmatched > 100,
        "{stats:?}"
    );
    assert!(stats.password_rows_invalid > 1000, "{stats:?}");
}

#[test]
fn a_broken_gzip_ends_the_read_where_the_simple_read_ends_it() {
    let files = Files::new();
    let users_text = varied_user_lines(6_000);
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(users_text.as_bytes()).expect("gzip");
    let mut bytes = gz.finish().expect("gzip");
    bytes.truncate(bytes.len() * 2 / 3);
    let users = files.write("users.ndjson.gz", &bytes);

    let (fast, fast_result) = transcript(&users, None);
    let (simple, simple_result) = reference(&users, None);
    let err = fast_result.expect_err("broken gzip");
    assert!(err.contains("cannot read export"), "{err}");
    assert_eq!(Err(err), simple_result);
    assert!(!fast.is_empty());
    assert_eq!(fast, simple);

    // A broken password export ends the read before any user, after its readable rows.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(varied_password_rows(6_000).as_bytes())
        .expect("gzip");
    let mut bytes = gz.finish().expect("gzip");
    bytes.truncate(bytes.len() / 2);
    let passwords = files.write("passwords.ndjson.gz", &bytes);
    let users = files.write("users.ndjson", lines(&sample_users()));
    let (fast, fast_result) = transcript(&users, Some(&passwords));
    let (simple, simple_result) = reference(&users, Some(&passwords));
    let err = fast_result.expect_err("broken gzip");
    assert!(
        err.contains("password-hash export: cannot read export"),
        "{err}"
    );
    assert_eq!(Err(err), simple_result);
    assert!(fast.iter().all(|item| item.starts_with("Invalid")));
    assert_eq!(fast, simple);
}

#[test]
fn an_unreadable_users_file_is_reported_after_the_password_rows() {
    let files = Files::new();
    let passwords = files.write(
        "passwords.ndjson",
        "{\"_id\":{\"$oid\":\"x\"},\"passwordHash\":\"nope\"}\n",
    );
    let missing = files.dir.path().join("missing.ndjson");
    let mut items = Vec::new();
    let err = read_users(&missing, Some(&passwords), &mut |item| items.push(item))
        .expect_err("missing users file");
    assert!(err.message.starts_with("cannot open export"), "{err}");
    assert_eq!(items.len(), 1, "the invalid password row came first");
}
