//! The threaded fast read against a simple reference read (one thread, general path only,
//! hashes from a map): both show the sink exactly the same items, in the same order, and end
//! at the same error.

use super::*;
use crate::model::PasswordHash;
use crate::sources::Skipped;
use crate::sources::record::Outcome;
use crate::sources::test_support::gzip;

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
                Outcome::Converted(mut identity) => {
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
                Outcome::Skipped {
                    external_id,
                    reason,
                } => {
                    if let Some(id) = &external_id {
                        claim(id);
                    }
                    stats.skipped += 1;
                    UserItem::Skipped(Skipped {
                        location,
                        external_id,
                        reason,
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
    let users_gz = files.write("users.ndjson.gz", gzip(&users_text));

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
    let mut bytes = gzip(&users_text);
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
    let mut bytes = gzip(varied_password_rows(6_000));
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
