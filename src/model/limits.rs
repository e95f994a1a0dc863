//! The sizes Avnology's admin API accepts, named once. The emulator enforces them and the
//! sources check every record against them offline, so a record `validate` and `plan` accept
//! is never refused halfway through `apply` (after the organization or earlier objects were
//! already created). The values follow `schemas/avnology-admin.openapi.yaml`.

/// Longest `external_id` of an identity, OAuth client or service account, in characters.
pub const MAX_EXTERNAL_ID: usize = 255;

/// Longest OAuth client name and service account name, in characters (documented for service
/// accounts: 1–256).
pub const MAX_NAME_CHARS: usize = 256;

/// Longest redirect URI, post-logout redirect URI or origin, in bytes.
pub const MAX_URI_LEN: usize = 2048;

/// Most entries in one list of a client: redirect URIs, post-logout redirect URIs, allowed
/// origins, grant types, scopes.
pub const MAX_LIST_LEN: usize = 100;

/// Longest scope token, in bytes.
pub const MAX_SCOPE_LEN: usize = 256;

/// Organization names (and slugs): this many characters, at least and at most.
pub const ORG_NAME_LEN: std::ops::RangeInclusive<usize> = 2..=64;

/// Shortens a value too long to quote whole in a message (a 10 KB external id would bury the
/// message it is part of): its first 40 characters and `…`.
pub fn abbreviate(value: &str) -> String {
    const HEAD: usize = 40;
    if value.chars().count() <= HEAD {
        value.to_string()
    } else {
        let head: String = value.chars().take(HEAD).collect();
        format!("{head}…")
    }
}

/// The problem with an `external_id` over [`MAX_EXTERNAL_ID`], if it is.
pub fn external_id(value: &str) -> Option<String> {
    let chars = value.chars().count();
    (chars > MAX_EXTERNAL_ID).then(|| {
        format!("external_id is {chars} characters long; Avnology allows at most {MAX_EXTERNAL_ID}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_up_to_the_limit_pass() {
        assert_eq!(external_id(&"é".repeat(MAX_EXTERNAL_ID)), None);
        let e = external_id(&"x".repeat(MAX_EXTERNAL_ID + 1)).unwrap();
        assert!(
            e.contains("256 characters") && e.contains("at most 255"),
            "{e}"
        );
        assert_eq!(abbreviate("short"), "short");
        assert_eq!(
            abbreviate(&"y".repeat(10_000)),
            format!("{}…", "y".repeat(40))
        );
    }
}
