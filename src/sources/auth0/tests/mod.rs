//! End-to-end tests of [`read_users`]: small export files written to a temp dir, read back
//! through the public entry point, with assertions on the items and on message texts. By
//! topic: the users file (`records`), the join with the password-hash export (`join`),
//! garbage input (`garbage`), and the threaded fast read against a simple reference read
//! (`threads`).

mod garbage;
mod join;
mod records;
mod threads;

use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;
use crate::sources::test_support::Read;

/// A real bcrypt hash (of "password", cost 10).
const HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

/// A temporary directory for one test's export files.
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

/// Reads `users` (joined with `passwords`) into a collector; the Auth0 reader emits no
/// warnings.
fn read(users: &Path, passwords: Option<&Path>) -> (ReadStats, Read) {
    let (result, out) = Read::collect(|sink| read_users(users, passwords, sink));
    (result.expect("readable export"), out.without_warnings())
}

fn lines(records: &[serde_json::Value]) -> String {
    let mut text = String::new();
    for record in records {
        text.push_str(&record.to_string());
        text.push('\n');
    }
    text
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
