//! Entity tags for optimistic concurrency. An identity's ETag is a weak tag derived from its
//! id and a version counter that every change bumps, so it changes exactly when the
//! identity does, survives restarts, and reveals nothing about the content.

use sha2::{Digest, Sha256};

/// `W/"<16 hex>"` for `id` at `version`.
pub fn compute(id: &str, version: i64) -> String {
    let digest = Sha256::digest(format!("{id}:{version}").as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}

/// True when an `If-Match` header value allows a change to an object whose tag is
/// `current`: `*`, or any listed tag equal to it. The `W/` prefix is ignored on both sides
/// because every tag this server issues is weak and the client echoes it back as received.
pub fn if_match_allows(header: &str, current: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").trim().to_string();
    let current = opaque(current);
    header
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_change_with_the_version_and_compare_weakly() {
        let a = compute("usr_1", 1);
        let b = compute("usr_1", 2);
        assert_ne!(a, b);
        assert!(
            a.starts_with("W/\"") && a.ends_with('"') && a.len() == 20,
            "{a}"
        );
        assert!(if_match_allows(&a, &a));
        assert!(if_match_allows(a.trim_start_matches("W/"), &a));
        assert!(if_match_allows(&format!("{b}, {a}"), &a));
        assert!(if_match_allows("*", &a));
        assert!(!if_match_allows(&b, &a));
        assert!(!if_match_allows("", &a));
    }
}
