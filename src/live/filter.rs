//! AIP-160 filter strings for list calls, built safely from untrusted values.
//!
//! Avnology documents `field = "value" AND other = "value"` with double-quoted strings. Values
//! come from provider exports (an Auth0 `user_id` such as `auth0|abc` or a hostile
//! `x" OR email = "y`), so every value is quoted here and nowhere else: `\` and `"` are
//! backslash-escaped, which is AIP-160's string-literal escaping.

/// `value` as a double-quoted AIP-160 string literal.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `field = "value"` terms joined with ` AND `. Field names are the caller's constants.
pub fn all_equal(terms: &[(&str, &str)]) -> String {
    terms
        .iter()
        .map(|(field, value)| format!("{field} = {}", quote(value)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(quote("auth0|abc"), r#""auth0|abc""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote(r#"x" OR email = "y"#), r#""x\" OR email = \"y""#);
    }

    #[test]
    fn joins_terms() {
        assert_eq!(
            all_equal(&[("external_id", "u\"1"), ("organization_id", "org_1")]),
            r#"external_id = "u\"1" AND organization_id = "org_1""#
        );
        assert_eq!(all_equal(&[("name", "acme")]), r#"name = "acme""#);
    }
}
