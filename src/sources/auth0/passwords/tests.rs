//! Tests of the password export on its own: the bcrypt shape, the join rule, invalid and
//! repeated rows, forced fingerprint collisions, and the spool and its read window.

use super::spool::Kind;
use super::table::SHARED;
use super::*;

/// A real bcrypt hash (of "password", cost 10); only its shape matters here.
const HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

fn claim(index: &PasswordIndex, user_id: &str) -> Claim {
    index
        .claim(user_id, &mut SpoolCache::default())
        .expect("spool readable")
}

fn load_str(text: &str) -> (PasswordIndex, Vec<SourceError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("passwords.ndjson");
    std::fs::write(&path, text).expect("write");
    let mut errors = Vec::new();
    let index = load(&path, &mut |e| errors.push(e)).expect("readable");
    (index, errors)
}

#[test]
fn bcrypt_shapes() {
    assert!(is_bcrypt(HASH));
    assert!(is_bcrypt(&HASH.replacen("$2b$", "$2a$", 1)));
    assert!(is_bcrypt(&HASH.replacen("$2b$", "$2y$", 1)));
    for bad in [
        "",
        "$2b$",
        &HASH.replacen("$2b$", "$2x$", 1),
        &HASH.replacen("$10$", "$99$", 1),
        &HASH.replacen("$10$", "$03$", 1),
        &HASH[..59],
        &format!("{HASH}A"),
        &HASH.replacen('N', "!", 1),
        "$2b$1a$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
        "$2b$10€N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lh",
    ] {
        assert!(!is_bcrypt(bad), "{bad}");
    }
}

#[test]
fn joins_by_alt_id_before_oid_and_accepts_capital_id() {
    let text = format!(
        "{{\"_id\":{{\"$oid\":\"aaa\"}},\"passwordHash\":\"{HASH}\",\"alt_id\":\"euclid\"}}\n\
         {{\"_ID\":{{\"$oid\":\"bbb\"}},\"passwordHash\":\"{HASH}\"}}\n\
         {{\"_id\":\"ccc\",\"password_hash\":\"{HASH}\",\"alt_id\":\"\"}}\n"
    );
    let (index, errors) = load_str(&text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(index.loaded, 3);
    assert!(matches!(claim(&index, "auth0|euclid"), Claim::Hash(_)));
    assert!(matches!(claim(&index, "auth0|aaa"), Claim::None));
    assert!(matches!(claim(&index, "auth0|bbb"), Claim::Hash(_)));
    assert_eq!(index.unclaimed(), 1);
}

#[test]
fn a_bad_hash_is_reported_without_the_hash() {
    let secretish = "$2b$10$tooShortButStillSecretValue";
    let text = format!("\n{{\"_id\":{{\"$oid\":\"abc\"}},\"passwordHash\":\"{secretish}\"}}\n");
    let (index, errors) = load_str(&text);
    assert_eq!(errors.len(), 1);
    let shown = errors[0].to_string();
    assert!(shown.contains("passwords.ndjson:2 (record 1)"), "{shown}");
    assert!(shown.contains("auth0|abc"), "{shown}");
    assert!(shown.contains("not a bcrypt hash"), "{shown}");
    assert!(!shown.contains("tooShort") && !format!("{:?}", errors[0]).contains("tooShort"));
    assert!(matches!(claim(&index, "auth0|abc"), Claim::Rejected(_)));
}

#[test]
fn a_hash_that_is_not_a_string_or_a_line_that_is_not_an_object() {
    let text = format!(
        "{{\"_id\":{{\"$oid\":\"n\"}},\"passwordHash\":12}}\n\"{HASH}\"\n{{\"passwordHash\":\"{HASH}\"}}\n"
    );
    let (_, errors) = load_str(&text);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        shown[0].contains("`passwordHash` must be a string, not a number"),
        "{}",
        shown[0]
    );
    assert!(
        shown[1].contains(":2 (record 2)")
            && shown[1].contains("not a JSON object (found a string)")
    );
    assert!(
        shown[2].contains("neither `_id.$oid` nor `alt_id`"),
        "{}",
        shown[2]
    );
    assert!(shown.iter().all(|s| !s.contains("N9qo8")), "{shown:?}");
}

#[test]
fn conflicting_duplicate_rows_keep_the_first() {
    let other = HASH.replacen("N9qo", "M9qo", 1);
    let text = format!(
        "{{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{HASH}\"}}\n\
         {{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{HASH}\"}}\n\
         {{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{other}\"}}\n"
    );
    let (index, errors) = load_str(&text);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("first at line 1"),
        "{}",
        errors[0]
    );
    let Claim::Hash(hash) = claim(&index, "auth0|d") else {
        panic!("expected a hash")
    };
    assert_eq!(hash.expose(), HASH);
}

#[test]
fn a_json_array_export_works_too() {
    let text = format!("[\n  {{\"_id\":{{\"$oid\":\"e\"}},\"passwordHash\":\"{HASH}\"}}\n]\n");
    let (index, errors) = load_str(&text);
    assert!(errors.is_empty());
    assert!(matches!(claim(&index, "auth0|e"), Claim::Hash(_)));
}

fn load_fixed(text: &str, fingerprint: fn(&str) -> u64) -> (PasswordIndex, Vec<SourceError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("passwords.ndjson");
    std::fs::write(&path, text).expect("write");
    let mut errors = Vec::new();
    let index = load_with(&path, Fingerprint::Fixed(fingerprint), &mut |e| {
        errors.push(e);
    })
    .expect("readable");
    (index, errors)
}

fn row(oid: &str, hash: &str) -> String {
    format!("{{\"_id\":{{\"$oid\":\"{oid}\"}},\"passwordHash\":\"{hash}\"}}\n")
}

/// A different valid hash for every `n`.
fn hash_n(n: usize) -> String {
    let tail = format!("{n:0>53}");
    format!("$2b$10${tail}")
}

#[test]
fn every_id_colliding_still_finds_exactly_its_own_row() {
    // Every id has the same fingerprint: each lookup must compare the real ids.
    let text: String = (0..50).map(|n| row(&format!("u{n}"), &hash_n(n))).collect();
    let (index, errors) = load_fixed(&text, |_| 42);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(index.loaded, 50);
    for n in (0..50).rev() {
        let Claim::Hash(hash) = claim(&index, &format!("auth0|u{n}")) else {
            panic!("no hash for u{n}")
        };
        assert_eq!(hash.expose(), hash_n(n));
    }
    assert!(matches!(claim(&index, "auth0|u50"), Claim::None));
    assert!(matches!(claim(&index, "auth0|u"), Claim::None));
    assert_eq!(index.unclaimed(), 0);
}

#[test]
fn duplicates_are_found_among_colliding_ids_and_report_file_and_line() {
    let text = format!(
        "{}{}{}{}{}",
        row("a", HASH),
        row("b", &hash_n(1)),
        row("a", HASH),       // a harmless repeat
        row("b", &hash_n(2)), // a conflict: the first stays
        row("c", &hash_n(3)),
    );
    let (index, errors) = load_fixed(&text, |_| 7);
    assert_eq!(index.loaded, 3, "repeats are not loaded twice");
    assert_eq!(index.invalid, 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let shown = errors[0].to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:4 (record 4), external_id `auth0|b`: password-hash export: a second, \
             different hash for this user (first at line 2); the first is used",
            errors[0].location.file.display()
        )),
        "{shown}"
    );
    assert!(!shown.contains("$2b$") && !format!("{:?}", errors[0]).contains("$2b$"));
    let Claim::Hash(hash) = claim(&index, "auth0|b") else {
        panic!("b has its first hash")
    };
    assert_eq!(hash.expose(), hash_n(1));
}

#[test]
fn unmatched_rows_are_the_ones_no_user_claimed() {
    let text: String = (0..200)
        .map(|n| row(&format!("u{n}"), &hash_n(n)))
        .collect();
    let (index, _) = load_str(&text);
    let mut cache = SpoolCache::default();
    for n in (0..200).filter(|n| n % 3 == 0) {
        let id = format!("auth0|u{n}");
        assert!(matches!(index.claim(&id, &mut cache), Ok(Claim::Hash(_))));
        // Claiming twice (a duplicate user record) counts the row once.
        assert!(matches!(index.claim(&id, &mut cache), Ok(Claim::Hash(_))));
    }
    assert!(matches!(
        index.claim("auth0|nobody", &mut cache),
        Ok(Claim::None)
    ));
    assert_eq!(index.unclaimed(), 200 - 67);
}

#[test]
fn a_valid_row_wins_over_an_invalid_one_for_the_same_user() {
    let text = format!(
        "{}{}{}",
        row("w", HASH),
        row("x", "$2b$10$short"),
        row("x", HASH)
    );
    let (index, errors) = load_str(&text);
    assert_eq!(errors.len(), 1);
    // After `w`, the next spool record is `x`'s invalid row: the lookup must not stop
    // there, whether it starts from that hint or from scratch.
    let mut cache = SpoolCache::default();
    assert!(matches!(
        index.claim("auth0|w", &mut cache),
        Ok(Claim::Hash(_))
    ));
    assert!(matches!(
        index.claim("auth0|x", &mut cache),
        Ok(Claim::Hash(_))
    ));
    assert!(matches!(claim(&index, "auth0|x"), Claim::Hash(_)));
    // Two invalid rows for one user: the report points at the first.
    let text = format!("\n{}{}", row("y", "$2b$10$short"), row("y", "nope"));
    let (index, errors) = load_str(&text);
    assert_eq!(errors.len(), 2);
    let Claim::Rejected(at) = claim(&index, "auth0|y") else {
        panic!("expected the rejected row")
    };
    assert_eq!((at.line, at.index), (Some(2), 0));
    assert_eq!(
        index.unclaimed(),
        0,
        "invalid rows are not counted as unmatched"
    );
}

#[test]
fn gzip_and_arrays_join_like_ndjson() {
    use std::io::Write as _;
    let ndjson: String = (0..30).map(|n| row(&format!("g{n}"), &hash_n(n))).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(ndjson.as_bytes()).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let array = format!("[\n{}\n]", ndjson.trim_end().replace('\n', ",\n"));

    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in [
        ("passwords.ndjson.gz", gz),
        ("passwords.json", array.clone().into_bytes()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let index = load(&path, &mut |e| panic!("{e}")).expect("readable");
        assert_eq!(index.loaded, 30, "{name}");
        for n in 0..30 {
            let Claim::Hash(hash) = claim(&index, &format!("auth0|g{n}")) else {
                panic!("{name}: no hash for g{n}")
            };
            assert_eq!(hash.expose(), hash_n(n));
        }
    }
    // A rejected row in an array is located on its own line.
    let broken = array.replacen(&hash_n(4), "$2b$10$x", 1);
    let path = dir.path().join("broken.json");
    std::fs::write(&path, broken).expect("write");
    let mut errors = Vec::new();
    let index = load(&path, &mut |e| errors.push(e)).expect("readable");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].location.line, errors[0].location.index),
        (Some(6), 4)
    );
    let Claim::Rejected(at) = claim(&index, "auth0|g4") else {
        panic!("expected the rejected row")
    };
    assert_eq!(at.line, Some(6));
}

#[test]
fn the_read_window_serves_lookups_in_any_order() {
    // Enough rows for many windows, looked up forwards, backwards and scattered.
    let text: String = (0..3000)
        .map(|n| row(&format!("w{n}"), &hash_n(n)))
        .collect();
    let (index, _) = load_str(&text);
    let mut cache = SpoolCache::default();
    let order = (0..3000)
        .chain((0..3000).rev())
        .chain((0..3000).map(|n| (n * 7919) % 3000));
    for n in order {
        let Ok(Claim::Hash(hash)) = index.claim(&format!("auth0|w{n}"), &mut cache) else {
            panic!("no hash for w{n}")
        };
        assert_eq!(hash.expose(), hash_n(n));
    }
    assert_eq!(index.unclaimed(), 0);
}

#[test]
fn the_hashes_live_in_the_spool_and_memory_holds_offsets() {
    let text: String = (0..10).map(|n| row(&format!("m{n}"), &hash_n(n))).collect();
    let (index, _) = load_str(&text);
    // In memory: one fingerprint → offset entry per row, nothing else per row.
    assert_eq!(index.table.first.len(), 10);
    assert!(index.table.shared.is_empty());
    assert_eq!(index.claimed.len(), 1, "one bit per row");
    // On disk: each offset leads to the row's id and hash.
    let mut cache = SpoolCache::default();
    for n in 0..10 {
        let id = format!("auth0|m{n}");
        let offset = index
            .table
            .candidates(index.table.key(&id))
            .next()
            .expect("an entry");
        assert_eq!(offset & SHARED, 0);
        let record = cache.record(&index.spool, offset).expect("readable");
        assert_eq!((record.kind, record.id), (Kind::Valid, id.as_bytes()));
        assert_eq!(record.hash, hash_n(n).as_bytes());
        assert_eq!((record.line, record.index), (Some(n as u64 + 1), n as u64));
    }
}
