//! The join with the password-hash export: by `_id.$oid`, `alt_id` and a capitalised `_ID`,
//! rows nobody claims, and a bad hash that leaves its user without a password.

use super::*;
use crate::model::PasswordHash;

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
