//! Mapping pieces every provider's client reader uses: the defaults Avnology's client model
//! starts from, the OAuth 2.1 grant set, and reading a JSON list of strings without ever
//! quoting a value that has the wrong type.

use std::collections::HashSet;

use serde_json::Value;

use crate::sources::SourceError;
use crate::sources::json_records::fields::Field;
use crate::sources::json_records::kind_of;

/// Scopes a client gets when its export names none (Auth0 clients never do; scopes live on
/// Auth0's APIs): the OIDC basics, as for a `[[clients]]` entry without `scopes`.
pub(crate) const DEFAULT_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// Grant types a client gets when its export names none, as for a `[[clients]]` entry.
pub(crate) const DEFAULT_GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];

/// The grant types OAuth 2.1 keeps and Avnology supports. Implicit and password are gone from
/// OAuth 2.1; provider-specific grants (Auth0's `password-realm`, device code, token exchange)
/// have no Avnology counterpart.
pub(crate) const OAUTH21_GRANTS: [&str; 3] =
    ["authorization_code", "refresh_token", "client_credentials"];

/// The shared document reader speaks of "a users export" when an object lacks the named array;
/// for a client source the file is not a client export.
pub(crate) fn as_client_export(mut err: SourceError) -> SourceError {
    err.message = err.message.replace("a users export", "a client export");
    err
}

/// `&str`s as owned strings.
pub(crate) fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A JSON list of strings, in order. `null` elements are dropped (hand-edited exports leave
/// them); an element of another type is a problem naming its position and kind, never its
/// value. `name` is the field as the export spells it, for messages.
pub(crate) fn string_list(
    field: Field<Vec<Value>>,
    name: &str,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let Some(items) = field.get(problems) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(s) => out.push(s),
            Value::Null => {}
            other => problems.push(format!(
                "`{name}[{i}]` must be a string, not {}",
                kind_of(&other)
            )),
        }
    }
    out
}

/// Removes later repeats from `list`, keeping the first position of each entry; returns the
/// entries that were repeated (once each).
pub(crate) fn dedupe(list: &mut Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut repeated = Vec::new();
    list.retain(|item| {
        if seen.insert(item.clone()) {
            true
        } else {
            if !repeated.contains(item) {
                repeated.push(item.clone());
            }
            false
        }
    });
    repeated
}

/// `https://app.example.com/` → `https://app.example.com`: an origin whose only path is a
/// trailing `/`. Browsers send `Origin` without it and Auth0's own examples write it with
/// one, so readers drop it (with a warning) rather than fail the client; anything with a
/// real path is left for validation to reject.
pub(crate) fn trim_origin_slash(origin: &str) -> Option<String> {
    let trimmed = origin.strip_suffix('/')?;
    let (scheme, rest) = trimmed.split_once("://")?;
    let plain = !scheme.is_empty()
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#'])
        && !trimmed.ends_with(':');
    plain.then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn string_lists_keep_order_and_name_bad_elements_without_values() {
        let mut problems = Vec::new();
        let list = string_list(
            Field::Present(vec![json!("b"), json!(null), json!("a"), json!(42)]),
            "callbacks",
            &mut problems,
        );
        assert_eq!(list, ["b", "a"]);
        assert_eq!(problems, ["`callbacks[3]` must be a string, not a number"]);
    }

    #[test]
    fn dedupe_keeps_first_positions() {
        let mut list = owned(&["a", "b", "a", "c", "b", "a"]);
        assert_eq!(dedupe(&mut list), ["a", "b"]);
        assert_eq!(list, ["a", "b", "c"]);
    }

    #[test]
    fn only_a_bare_trailing_slash_is_trimmed() {
        assert_eq!(
            trim_origin_slash("https://app.example.com/").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            trim_origin_slash("http://localhost:3000/").as_deref(),
            Some("http://localhost:3000")
        );
        for keep in [
            "https://app.example.com",
            "https://app.example.com/path/",
            "https:///",
            "/",
            "no-scheme/",
        ] {
            assert_eq!(trim_origin_slash(keep), None, "{keep}");
        }
    }
}
