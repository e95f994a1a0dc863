//! Scale-benchmark support (`scripts/bench-emulator.sh`, `examples/bench_emulator.rs`): the
//! create request the load driver sends, and [`seed`], which writes a million of those
//! identities straight into a database file far faster than the API can, through the same
//! code as `POST /v1/identities` ([`create_many`]), so a seeded database holds exactly what
//! the API would have stored.

use std::path::Path;

use anyhow::Context;
use axum::body::Bytes;
use serde_json::json;

use super::config::DbLocation;
use super::routes::identities::create_many;
use super::store::{Store, now_rfc3339, organizations};
use crate::wire::Organization;

/// The `Idempotency-Key` and JSON body of benchmark create number `i` of run `run`: an
/// Auth0 user as `apply` sends it (external id, profile, metadata, an imported bcrypt hash)
/// in organization `org_id`. Emails and external ids are unique per (`run`, `i`).
pub fn create_request(run: &str, i: u64, org_id: &str) -> (String, String) {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // A well-formed bcrypt string (not the hash of any password): throughput, not logins.
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let salt_and_digest: String = (0..53)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[(x % 64) as usize])
        })
        .collect();
    let given = ["Avery", "Blake", "Casey", "Dana", "Emery"][(i % 5) as usize];
    let body = json!({
        "identity": {
            "external_id": format!("auth0|{run}{i:020}"),
            "email": format!("user{i}.{run}@example.com"),
            "email_verified": !i.is_multiple_of(3),
            "first_name": given,
            "last_name": "Placeholder",
            "display_name": format!("{given} Placeholder"),
            "avatar_url": format!("https://avatars.example.com/{i}.png"),
            "locale": "en-US",
            "organization_id": org_id,
            "traits": {"plan": if i.is_multiple_of(5) { "pro" } else { "free" }},
            "admin_metadata": {
                "migrated_from": "auth0",
                "auth0_created_at": "2020-01-01T04:27:12.032Z",
                "logins_count": i % 200,
            },
        },
        "password_hash": {"algorithm": "bcrypt", "hash": format!("$2b$10${salt_and_digest}")},
    });
    (format!("bench-{run}-{i}"), body.to_string())
}

/// Creates per transaction while seeding.
const CHUNK: u64 = 50_000;

/// Creates organization `org_name` and `n` identities in it (bodies from
/// [`create_request`] with run `seed`) in the database file `db`, and returns the
/// organization's id. Commits every 50,000 creates, so progress survives an interruption
/// and the WAL stays small.
pub fn seed(db: &Path, org_name: &str, n: u64) -> anyhow::Result<String> {
    let store = Store::open(&DbLocation::File(db.to_path_buf()))?;
    let org = Organization {
        id: format!("org_{}", uuid::Uuid::new_v4()),
        name: org_name.to_string(),
        display_name: None,
        slug: None,
        registration_mode: "open".to_string(),
        member_count: 0,
        create_time: now_rfc3339(),
    };
    let org_id = org.id.clone();
    store
        .write_blocking(move |tx| {
            organizations::check_unique(tx, &org)?;
            organizations::insert(tx, &org)
        })
        .context("cannot create the organization")?;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let requests = (start..end)
            .map(|i| {
                let (key, body) = create_request("seed", i, &org_id);
                (Some(key), Bytes::from(body))
            })
            .collect();
        create_many(&store, requests).with_context(|| format!("seeding {start}..{end}"))?;
        start = end;
    }
    Ok(org_id)
}
